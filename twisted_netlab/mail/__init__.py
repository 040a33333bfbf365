"""
The mail family: ``netlab mail`` (an ESMTP client) and, beside it, the
``netlab-mailsink`` test server.  The client's library API is re-exported
here from its private modules, lazily (PEP 562), so that importing
``twisted_netlab.mail._core`` still loads nothing from Twisted.
"""

from typing import Any

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


def __getattr__(name: str) -> Any:
    if name in _FROM_CORE:
        from twisted_netlab.mail import _core

        return getattr(_core, name)
    if name in _FROM_CLIENT:
        from twisted_netlab.mail import client

        return getattr(client, name)
    raise AttributeError(f"module 'twisted_netlab.mail' has no attribute {name!r}")


def __dir__() -> list:
    return __all__
