"""
The mail family: ``netlab mail`` (an ESMTP client) and ``netlab-mailsink``
(an SMTP test server).  One public face, as h11 has: the sans-IO names of
both cores and the Twisted adapters, all resolved lazily (PEP 562), so that
importing a pure module (``_client_core``, ``_sink_core``) loads nothing from Twisted.
"""

from twisted_netlab._lazy import lazy_exports

_EXPORTS = {
    "twisted_netlab.mail._replies": [
        "Capabilities",
        "ConnectionLost",
        "LocalProtocolError",
        "PeerProtocolError",
        "Phase",
        "PolicyError",
        "Reply",
        "ReplyParser",
        "SMTPClientError",
        "SMTPReplyError",
        "Step",
        "StepTimeout",
    ],
    "twisted_netlab.mail._message": [
        "Attachment",
        "Mailbox",
        "build_message",
        "frame_data",
        "make_message_id",
    ],
    "twisted_netlab.mail._client_core": [
        "ClientConfig",
        "ClientDialogue",
        "Credentials",
        "Envelope",
        "MessageResult",
        "RecipientResult",
        "TLSMode",
    ],
    "twisted_netlab.mail.client": [
        "SMTPClientProtocol",
        "SystemTrust",
        "client_tls_options",
        "send_messages",
        "sendmail",
    ],
    "twisted_netlab.mail._sink_core": [
        "MessageReceived",
        "MessageRefused",
        "ReceivedEnvelope",
        "SendReply",
        "SinkPolicy",
        "SinkSession",
    ],
    "twisted_netlab.mail.sink": [
        "MaildirStore",
        "SinkFactory",
        "SinkProtocol",
    ],
}

__all__ = sorted(name for names in _EXPORTS.values() for name in names)

__getattr__, __dir__ = lazy_exports(
    __name__, {name: module for module, names in _EXPORTS.items() for name in names}
)
