"""
The mail family: ``netlab mail`` (an ESMTP client) and, beside it, the
``netlab-mailsink`` test server.  The client's library API is re-exported
here from its private modules, lazily (PEP 562), so that importing
``twisted_netlab.mail._core`` still loads nothing from Twisted.
"""

from twisted_netlab._lazy import lazy_exports

_FROM_CORE = [
    "Attachment",
    "Capabilities",
    "ClientConfig",
    "ConnectionLost",
    "Credentials",
    "Envelope",
    "LocalProtocolError",
    "Mailbox",
    "MessageResult",
    "PeerProtocolError",
    "Phase",
    "PolicyError",
    "RecipientResult",
    "Reply",
    "SMTPClientError",
    "SMTPReplyError",
    "Step",
    "StepTimeout",
    "TLSMode",
    "build_message",
    "make_message_id",
]
_FROM_CLIENT = [
    "SMTPClientProtocol",
    "client_tls_options",
    "send_messages",
    "sendmail",
]


__all__ = sorted(_FROM_CORE + _FROM_CLIENT)


__getattr__, __dir__ = lazy_exports(
    __name__,
    {**{name: "twisted_netlab.mail._core" for name in _FROM_CORE},
     **{name: "twisted_netlab.mail.client" for name in _FROM_CLIENT}},
)
