# -*- test-case-name: tests.mail.test_sink_core -*-
"""
Pure layer of the mail sink: the events a L{SinkSession} returns, what it
asks its adapter to do (L{SendReply}, L{AcceptTLS}, L{CloseSession}, storing
a message) and what it reports (AUTH attempts, faults, transcript lines).
Standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

from twisted_netlab.mail._faults import FaultReply

# -- events ---------------------------------------------------------------


@dataclass(frozen=True)
class SendReply:
    """
    A reply to write: C{code} and one or more text lines (multi-line
    replies use ``code-`` on every line but the last, RFC 5321 4.2.1).
    """

    code: int
    lines: Tuple[str, ...]

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"not an SMTP reply code: {self.code}")
        if not self.lines:
            raise ValueError("a reply has at least one line")
        for line in self.lines:
            if "\r" in line or "\n" in line:
                raise ValueError(f"reply text must not contain CR or LF: {line!r}")

    def to_bytes(self) -> bytes:
        if len(self.lines) == 1:
            return f"{self.code} {self.lines[0]}\r\n".encode("utf-8")
        last = len(self.lines) - 1
        return b"".join(
            f"{self.code}{' ' if index == last else '-'}{line}\r\n".encode("utf-8")
            for index, line in enumerate(self.lines)
        )


@dataclass(frozen=True)
class AcceptTLS:
    """
    Start the TLS handshake now (after writing the preceding 220 reply).
    """


@dataclass(frozen=True)
class CloseSession:
    """
    Close the connection after writing what came before.
    """

    reason: str


@dataclass(frozen=True)
class PlaintextDiscarded:
    """
    Bytes that followed STARTTLS in the plaintext stream were thrown away
    (a client pipelining them, or an injection attempt).
    """

    byte_count: int


@dataclass(frozen=True)
class AuthenticationAttempted:
    """
    An AUTH exchange finished; C{username} is what the client claimed.
    """

    mechanism: str
    username: str
    succeeded: bool


@dataclass(frozen=True)
class FaultInjected:
    """
    A configured fault answered instead of the normal reply.
    """

    fault: FaultReply


@dataclass(frozen=True)
class ReceivedEnvelope:
    """
    The SMTP envelope of one received message.  C{sender} is ``""`` for
    the null reverse-path ``<>``.
    """

    sender: str
    recipients: Tuple[str, ...]
    hello: str
    tls: bool
    authenticated_as: Optional[str]
    smtputf8: bool = False
    body: str = "7BIT"


@dataclass(frozen=True)
class MessageData:
    """
    The next part of the body of the message being received (dot-stuffing
    removed, CRLF line ends): append it to the message's temporary file.
    Whether the message is kept is only known at its end.
    """

    envelope: "ReceivedEnvelope"
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class MessageReceived:
    """
    A complete, acceptable message: append C{data} (the rest of the body
    after any L{MessageData}) and store it, then call
    L{SinkSession.message_stored} or L{SinkSession.message_not_stored}.
    The content is exactly as sent (CRLF line ends), dot-stuffing removed
    (RFC 5321 4.5.2).
    """

    envelope: ReceivedEnvelope
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class MessageRefused:
    """
    A message body arrived in full but was refused (C{reply} says why):
    whatever L{MessageData} gave of it is to be thrown away.
    """

    envelope: ReceivedEnvelope
    reply: SendReply


@dataclass(frozen=True)
class CommandReceived:
    """
    A command line as the client sent it (only with C{record_dialogue});
    AUTH arguments and responses are masked.
    """

    text: str


@dataclass(frozen=True)
class UnstuffedDot:
    """
    Body line C{line_number} began with a single ``.``: the client did not
    dot-stuff (RFC 5321 4.5.2), and that dot was taken away.  Reported only
    with C{record_dialogue}.
    """

    line_number: int


Event = Union[
    SendReply,
    AcceptTLS,
    CloseSession,
    PlaintextDiscarded,
    AuthenticationAttempted,
    FaultInjected,
    MessageData,
    MessageReceived,
    MessageRefused,
    CommandReceived,
    UnstuffedDot,
]
