# -*- test-case-name: tests.web.test_client -*-
"""
Errors of ``netlab get`` with curl's exit codes, and L{classify}, which
turns any failure of a transfer into one of them (the Twisted side of the
web client; re-exported by L{twisted_netlab.web.client}).
"""

from __future__ import annotations

import re
import sys
from typing import Any, Optional

from twisted.internet import defer, error as internet_error
from twisted.python.failure import Failure

from twisted_netlab.web._client_core import (
    EmptyResponse,
    LocalProtocolError,
    MalformedURL,
    PeerProtocolError,
    TruncatedResponse,
    UnsafeFileName,
    UnsupportedScheme,
)


class GetError(Exception):
    """
    A failed transfer, with the curl exit code that names its kind.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: Optional[int] = None) -> None:
        Exception.__init__(self, message)
        if exit_code is not None:
            self.exit_code = exit_code


class ResolveFailed(GetError):
    exit_code = 6


class ConnectFailed(GetError):
    exit_code = 7


class TimedOut(GetError):
    exit_code = 28


class TLSFailed(GetError):
    exit_code = 35


class CertificateRejected(GetError):
    exit_code = 60


class TooManyRedirects(GetError):
    exit_code = 47


class ReceiveFailed(GetError):
    exit_code = 56


class WriteFailed(GetError):
    exit_code = 23


class BodyTooLarge(GetError):
    exit_code = 63


class ClosedPipe(GetError):
    """
    The reader of stdout went away (``netlab get URL | head -c 10``): the
    command ends quietly with 141 (128 + SIGPIPE), as C tools do.
    """

    exit_code = 141

    def __init__(self) -> None:
        GetError.__init__(self, "")


class _ConnectionReuseFailed(Exception):
    """
    The server closed a kept-alive connection before answering a request
    that was queued or pipelined on it.  GET and HEAD are idempotent, so
    the client resends them on a new connection (RFC 9112 9.3.1).
    """


def classify(reason: Any) -> GetError:
    """
    Turn any failure of a transfer into a L{GetError} with curl's code.
    """
    value = reason.value if isinstance(reason, Failure) else reason
    if isinstance(value, GetError):
        return value
    if isinstance(value, EmptyResponse):
        return GetError(f"empty reply from server: {value}", 52)
    if isinstance(value, TruncatedResponse):
        return GetError(f"transfer closed early: {value}", 18)
    if isinstance(value, PeerProtocolError):
        return GetError(f"weird server reply: {value}", 8)
    if isinstance(value, UnsupportedScheme):
        return GetError(str(value), 1)
    if isinstance(value, MalformedURL):
        return GetError(str(value), 3)
    if isinstance(value, UnsafeFileName):
        return GetError(str(value), 23)
    if isinstance(value, LocalProtocolError):
        return GetError(str(value), 2)
    if isinstance(value, internet_error.DNSLookupError):
        return ResolveFailed(f"could not resolve host: {value}")
    if isinstance(value, (internet_error.ConnectingCancelledError, defer.CancelledError)):
        return TimedOut("connection timed out")
    if isinstance(value, internet_error.TimeoutError):
        return TimedOut(f"connection timed out: {value}")
    if isinstance(value, internet_error.ConnectError):
        return ConnectFailed(f"failed to connect: {_describe(value)}")
    tls_error = _classify_tls(value)
    if tls_error is not None:
        return tls_error
    if isinstance(value, OSError):
        return WriteFailed(f"write error: {value}")
    if isinstance(value, internet_error.ConnectionLost) or isinstance(value, internet_error.ConnectionDone):
        return ReceiveFailed(f"connection lost while receiving: {_describe(value)}")
    return GetError(f"{type(value).__name__}: {value}", 1)


def _classify_tls(value: BaseException) -> Optional[GetError]:
    """
    The error for a TLS failure, or L{None}.  Only consulted when TLS was
    loaded: a plain http:// transfer never imports it for an error.
    """
    if sys.modules.get("OpenSSL") is None:
        return None
    from OpenSSL import SSL
    from service_identity import VerificationError

    if isinstance(value, VerificationError):
        return CertificateRejected(f"certificate does not match the host name: {value}")
    if isinstance(value, SSL.Error):
        text = str(value)
        if "certificate verify failed" in text:
            return CertificateRejected("certificate verification failed (unknown issuer, expired or self-signed; see --cafile)")
        return TLSFailed(f"TLS handshake failed: {_ssl_text(value)}")
    return None


def _describe(value: BaseException) -> str:
    text = str(value).strip().rstrip(".")
    return re.sub(r"\s+", " ", text) or type(value).__name__


def _ssl_text(value: BaseException) -> str:
    try:
        parts = [entry[2] for entry in value.args[0] if entry[2]]
    except Exception:
        parts = []
    return ", ".join(parts) or _describe(value)


__all__ = [
    "BodyTooLarge", "CertificateRejected", "ClosedPipe", "ConnectFailed", "GetError", "ReceiveFailed",
    "ResolveFailed", "TLSFailed", "TimedOut", "TooManyRedirects", "WriteFailed", "classify",
]
