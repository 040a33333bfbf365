# -*- test-case-name: tests.mail.test_client_core -*-
"""
The sans-IO dialogue of the ``netlab mail`` ESMTP client, driven by
L{twisted_netlab.mail.client}: fed reply lines, it answers with events
(L{SendLine}, L{StartTLS}, L{CloseConnection}, ...).  Pure: standard library
and the family's pure modules (L{_replies}, L{_message}) only.
"""

# How it works: the adapter feeds each received line to receive_line(); the
# ReplyParser assembles multi-line replies; a complete reply goes to the
# handler chosen from a table keyed by the current State; handlers return the
# next events.  Rules kept here: RFC 5321 (dialogue order, RSET between
# messages), RFC 3207 (STARTTLS: nothing read before the handshake counts,
# capabilities are forgotten, EHLO again), RFC 4954 (AUTH), RFC 2920
# (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8).
#
# About 750 lines, over the ~700 guide: the state table, its handlers and the
# events they return read as one unit.

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from twisted_netlab.mail._message import (
    CRLF,
    check_address,
    check_header_text,
    frame_normalized,
    has_8bit,
    needs_smtputf8,
    normalize_crlf,
)
from twisted_netlab.mail._replies import (
    Capabilities,
    ConnectionLost,
    LocalProtocolError,
    PeerProtocolError,
    PolicyError,
    Reply,
    ReplyParser,
    SMTPClientError,
    SMTPReplyError,
    Step,
    StepTimeout,
    parse_capabilities,
)

# ---------------------------------------------------------------- AUTH

#: Preference when the user does not choose: CRAM-MD5 never sends the
#: password itself (it still helps if the TLS peer is not who we think, e.g.
#: with --insecure); PLAIN is one round trip; LOGIN is the legacy fallback.
AUTH_PREFERENCE = ("CRAM-MD5", "PLAIN", "LOGIN")
MASK = "********"


def choose_auth_mechanism(offered: Sequence[str], wanted: Optional[str] = None) -> Optional[str]:
    """
    The mechanism to use: C{wanted} if offered, else the most preferred one
    we support that the server offers, else L{None}.
    """
    offered_upper = [m.upper() for m in offered]
    if wanted is not None:
        return wanted.upper() if wanted.upper() in offered_upper else None
    for mechanism in AUTH_PREFERENCE:
        if mechanism in offered_upper:
            return mechanism
    return None


def _b64(data: bytes) -> bytes:
    return base64.b64encode(data)


def auth_plain_response(username: str, password: str) -> bytes:
    """
    RFC 4616: base64 of ``authzid NUL authcid NUL password`` (empty authzid).
    """
    return _b64(b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8"))


def cram_md5_response(username: str, password: str, challenge: bytes) -> bytes:
    """
    RFC 2195: base64 of ``user SP hex(HMAC-MD5(password, challenge))``.
    """
    digest = hmac.new(password.encode("utf-8"), challenge, hashlib.md5).hexdigest()
    return _b64(username.encode("utf-8") + b" " + digest.encode("ascii"))


def decode_challenge(reply: Reply) -> bytes:
    text = reply.lines[0].strip()
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise PeerProtocolError(Step.AUTH, f"AUTH challenge is not base64: {reply.quoted()}")


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class SendLine:
    """
    Write C{line} followed by CRLF.  C{display} is what a transcript may
    show: secrets (AUTH arguments) are masked there.
    """

    line: bytes
    display: str

    def __post_init__(self) -> None:
        if b"\r" in self.line or b"\n" in self.line:
            raise LocalProtocolError(f"command line contains CR or LF: {self.display!r}")


@dataclass(frozen=True, slots=True)
class SendData:
    """
    Write the framed message (already dot-stuffed, ending with ``.CRLF``).
    """

    data: bytes


@dataclass(frozen=True, slots=True)
class StartTLS:
    """
    Start the TLS handshake now, then call L{ClientDialogue.tls_started}.
    """


@dataclass(frozen=True, slots=True)
class CloseConnection:
    """
    Close the connection: politely after pending writes, or C{abort} at once
    (after a protocol violation nothing more should be read or written).
    """

    abort: bool = False


@dataclass(frozen=True, slots=True)
class ReplyReceived:
    step: Step
    reply: Reply


@dataclass(frozen=True, slots=True)
class RecipientResult:
    address: str
    reply: Optional[Reply]

    @property
    def accepted(self) -> bool:
        return self.reply is not None and 200 <= self.reply.code < 300


@dataclass(frozen=True, slots=True)
class MessageResult:
    """
    What happened to one message: the reply to each RCPT, the final reply
    after the data, and the error when it was not delivered to anyone.
    """

    sender: str
    recipients: Tuple[RecipientResult, ...]
    reply: Optional[Reply] = None
    error: Optional[SMTPClientError] = None

    @property
    def delivered(self) -> bool:
        return self.error is None and any(r.accepted for r in self.recipients)

    @property
    def accepted(self) -> Tuple[str, ...]:
        return tuple(r.address for r in self.recipients if r.accepted) if self.delivered else ()

    @property
    def refused(self) -> Tuple[RecipientResult, ...]:
        return tuple(r for r in self.recipients if not r.accepted)


@dataclass(frozen=True, slots=True)
class MessageFinished:
    result: MessageResult


@dataclass(frozen=True, slots=True)
class DialogueFinished:
    """
    QUIT was answered (or the connection may now be closed): all done.
    """


@dataclass(frozen=True, slots=True)
class DialogueFailed:
    error: SMTPClientError


Event = object


# ---------------------------------------------------------------- the dialogue


class TLSMode(enum.Enum):
    REQUIRED = "required"
    OPPORTUNISTIC = "opportunistic"
    NONE = "none"
    IMPLICIT = "implicit"


class State(enum.Enum):
    AWAITING_GREETING = enum.auto()
    AWAITING_EHLO_REPLY = enum.auto()
    AWAITING_HELO_REPLY = enum.auto()
    AWAITING_STARTTLS_REPLY = enum.auto()
    NEGOTIATING_TLS = enum.auto()
    AWAITING_AUTH_REPLY = enum.auto()
    AWAITING_TRANSACTION_REPLY = enum.auto()
    AWAITING_MESSAGE_REPLY = enum.auto()
    AWAITING_QUIT_REPLY = enum.auto()
    DONE = enum.auto()


@dataclass(frozen=True)
class Envelope:
    """
    One message to send: envelope sender, recipients and the message bytes
    (any line ends; they are normalised).  C{utf8} marks a message whose
    headers are UTF-8 (RFC 6532), which needs SMTPUTF8 like a non-ASCII
    address does.
    """

    sender: str
    recipients: Tuple[str, ...]
    data: bytes
    utf8: bool = False

    def __post_init__(self) -> None:
        check_address(self.sender, "sender")
        if not self.recipients:
            raise LocalProtocolError("at least one recipient is required")
        for recipient in self.recipients:
            check_address(recipient, "recipient")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        check_header_text("username", self.username)
        check_header_text("password", self.password)


@dataclass(frozen=True)
class ClientConfig:
    tls: TLSMode = TLSMode.REQUIRED
    credentials: Optional[Credentials] = None
    auth_mechanism: Optional[str] = None
    ehlo_name: str = "[127.0.0.1]"
    #: Say QUIT once this step succeeded (swaks' --quit-after), to check a
    #: server's greeting, EHLO, TLS or AUTH without sending mail.
    quit_after: Optional[Step] = None

    def __post_init__(self) -> None:
        if self.quit_after is not None and self.quit_after not in QUIT_AFTER_STEPS:
            raise LocalProtocolError(f"cannot quit after {self.quit_after.value}")
        check_header_text("EHLO name", self.ehlo_name)
        if not self.ehlo_name or " " in self.ehlo_name:
            raise LocalProtocolError(f"invalid EHLO name {self.ehlo_name!r}")
        if self.auth_mechanism is not None and self.auth_mechanism.upper() not in AUTH_PREFERENCE:
            raise LocalProtocolError(
                f"unsupported AUTH mechanism {self.auth_mechanism!r} (use one of {', '.join(AUTH_PREFERENCE)})"
            )


#: Steps after which the dialogue can stop early (ClientConfig.quit_after).
QUIT_AFTER_STEPS = (Step.GREETING, Step.EHLO, Step.TLS, Step.AUTH)

# RFC 5321 4.1.4 / 4.2.4: these EHLO refusals mean "I do not speak ESMTP";
# a 421 or other 4xx is a real refusal and HELO would not help.
_EHLO_UNKNOWN = {500, 502, 504, 550}


class ClientDialogue:
    """
    The client side of one SMTP connection, sans I/O.

    Feed it each reply line (L{receive_line}); after a L{StartTLS} event the
    adapter starts the handshake and calls L{tls_started} with whatever
    plaintext it had read but not yet delivered (anything is an attack).
    L{connection_lost} and L{timed_out} turn those adapter facts into
    L{DialogueFailed}.  Messages are queued up front; they are sent one
    after another with RSET between, then QUIT.
    """

    def __init__(self, config: ClientConfig, messages: Sequence[Envelope]) -> None:
        self.config = config
        self.state = State.AWAITING_GREETING
        self.capabilities: Optional[Capabilities] = None
        self.tls_active = config.tls is TLSMode.IMPLICIT
        self.results: List[MessageResult] = []
        self.error: Optional[SMTPClientError] = None
        self._messages: Deque[Envelope] = deque(messages)
        self._parser = ReplyParser()
        self._step = Step.GREETING
        self._tls_handshake_pending = self.tls_active
        self._auth_stage = 0
        self._auth_mechanism: Optional[str] = None
        # transaction bookkeeping
        self._current: Optional[Envelope] = None
        self._queued: Deque[Tuple[Step, SendLine]] = deque()
        self._pending: Deque[Tuple[Step, int]] = deque()
        self._rcpt_replies: List[Optional[Reply]] = []
        self._rcpt_sent = 0
        self._message_error: Optional[SMTPClientError] = None
        self._mail_ok = False
        self._abandoned = False
        self._framed = b""
        self._handlers: Dict[State, Callable[[Reply], List[Event]]] = {
            State.AWAITING_GREETING: self._on_greeting,
            State.AWAITING_EHLO_REPLY: self._on_ehlo,
            State.AWAITING_HELO_REPLY: self._on_helo,
            State.AWAITING_STARTTLS_REPLY: self._on_starttls,
            State.AWAITING_AUTH_REPLY: self._on_auth,
            State.AWAITING_TRANSACTION_REPLY: self._on_transaction,
            State.AWAITING_MESSAGE_REPLY: self._on_message_reply,
            State.AWAITING_QUIT_REPLY: self._on_quit,
        }

    # -- adapter entry points

    @property
    def step(self) -> Step:
        """
        The step whose reply we are waiting for (for timeouts and errors).
        """
        return self._step

    @property
    def awaiting_reply(self) -> bool:
        return self.state not in (State.DONE, State.NEGOTIATING_TLS)

    def receive_line(self, line: bytes) -> List[Event]:
        if self.state is State.DONE:
            return []
        if self.state is State.NEGOTIATING_TLS:
            return self._fail(
                PeerProtocolError(Step.STARTTLS, "server sent data before the TLS handshake (STARTTLS injection)"),
                abort=True,
            )
        try:
            reply = self._parser.feed_line(line, self._step)
        except PeerProtocolError as error:
            return self._fail(error, abort=True)
        if reply is None:
            return []
        events: List[Event] = [ReplyReceived(self._step, reply)]
        if self._tls_handshake_pending:
            # The first reply read through TLS proves the handshake worked.
            self._tls_handshake_pending = False
        if reply.code == 421 and self.state is not State.AWAITING_QUIT_REPLY:
            # RFC 5321 3.8: the server is closing the transmission channel.
            closing = SMTPReplyError(self._step, reply, "server is shutting down the connection")
            self._record_message_error(closing)
            return events + self._fail(closing, quit=False)
        events.extend(self._handlers[self.state](reply))
        return events

    def tls_started(self, unread_plaintext: bytes = b"") -> List[Event]:
        """
        The adapter started the handshake.  RFC 3207 5: bytes received
        before it cannot be trusted; here they are proof of an attack (or a
        broken server), so we abort.  Otherwise forget the capabilities and
        say EHLO again.
        """
        if self.state is not State.NEGOTIATING_TLS:
            raise LocalProtocolError("tls_started() without a StartTLS event")
        if unread_plaintext:
            return self._fail(
                PeerProtocolError(
                    Step.STARTTLS,
                    f"server sent {len(unread_plaintext)} bytes after its 220 reply to STARTTLS, "
                    "before the TLS handshake (STARTTLS injection)",
                ),
                abort=True,
            )
        self.tls_active = True
        self._tls_handshake_pending = True
        self.capabilities = None
        return self._send_ehlo()

    def connection_lost(self, detail: str) -> List[Event]:
        if self.state is State.DONE:
            return []
        if self.state is State.AWAITING_QUIT_REPLY and self.error is None:
            self.state = State.DONE
            return [DialogueFinished()]
        step = Step.TLS if self._tls_handshake_pending else self._step
        what = "the TLS handshake failed or the connection closed" if step is Step.TLS else "connection closed"
        error = ConnectionLost(step, f"{what} while waiting for the reply: {detail}")
        self._record_message_error(error)
        return self._fail(error, abort=True)

    def timed_out(self, seconds: float) -> List[Event]:
        if self.state is State.DONE:
            return []
        if self.state is State.AWAITING_QUIT_REPLY and self.error is None:
            # Everything was handed over already; a silent QUIT costs nothing.
            self.state = State.DONE
            return [CloseConnection(abort=True), DialogueFinished()]
        step = Step.TLS if self._tls_handshake_pending else self._step
        error = StepTimeout(step, f"no complete reply within {seconds:g} seconds")
        self._record_message_error(error)
        return self._fail(error, abort=True)

    # -- session setup

    def _on_greeting(self, reply: Reply) -> List[Event]:
        if reply.code != 220:
            # RFC 5321 3.1: a 554 greeting still expects QUIT.
            return self._fail(SMTPReplyError(Step.GREETING, reply, "server refused the session"))
        return self._quit_if_asked(Step.GREETING) or self._send_ehlo()

    def _send_ehlo(self) -> List[Event]:
        self.state, self._step = State.AWAITING_EHLO_REPLY, Step.EHLO
        return [self._line(f"EHLO {self.config.ehlo_name}")]

    def _on_ehlo(self, reply: Reply) -> List[Event]:
        if reply.code == 250:
            self.capabilities = parse_capabilities(reply)
            return self._after_capabilities()
        if reply.code in _EHLO_UNKNOWN and not self.tls_active:
            self.state, self._step = State.AWAITING_HELO_REPLY, Step.HELO
            return [self._line(f"HELO {self.config.ehlo_name}")]
        return self._fail(SMTPReplyError(Step.EHLO, reply, "server refused EHLO"))

    def _on_helo(self, reply: Reply) -> List[Event]:
        if reply.code != 250:
            return self._fail(SMTPReplyError(Step.HELO, reply, "server refused HELO"))
        self.capabilities = Capabilities()
        return self._after_capabilities()

    def _after_capabilities(self) -> List[Event]:
        capabilities = self.capabilities or Capabilities()
        mode = self.config.tls
        quitting = self._quit_if_asked(Step.EHLO)
        if quitting:
            return quitting
        if not self.tls_active and mode in (TLSMode.REQUIRED, TLSMode.OPPORTUNISTIC):
            if capabilities.starttls:
                self.state, self._step = State.AWAITING_STARTTLS_REPLY, Step.STARTTLS
                return [self._line("STARTTLS")]
            if mode is TLSMode.REQUIRED:
                return self._fail(
                    PolicyError(
                        Step.STARTTLS,
                        "server does not offer STARTTLS and TLS is required "
                        "(--tls opportunistic or --tls none to allow plaintext)",
                    )
                )
        # "After TLS" means after the decision about TLS, whatever it was.
        quitting = self._quit_if_asked(Step.TLS)
        if quitting:
            return quitting
        if self.config.credentials is not None:
            return self._start_auth()
        return self._quit_if_asked(Step.AUTH) or self._next_message()

    def _on_starttls(self, reply: Reply) -> List[Event]:
        if reply.code != 220:
            if self.config.tls is TLSMode.OPPORTUNISTIC and self.config.credentials is None:
                # Plaintext is allowed, so a refused STARTTLS is not fatal.
                return self._continue_without_tls()
            return self._fail(SMTPReplyError(Step.STARTTLS, reply, "server refused STARTTLS"))
        self.state, self._step = State.NEGOTIATING_TLS, Step.TLS
        return [StartTLS()]

    def _continue_without_tls(self) -> List[Event]:
        quitting = self._quit_if_asked(Step.TLS)
        if quitting:
            return quitting
        if self.config.credentials is not None:
            return self._start_auth()
        return self._quit_if_asked(Step.AUTH) or self._next_message()

    # -- AUTH (RFC 4954)

    def _start_auth(self) -> List[Event]:
        credentials = self.config.credentials
        assert credentials is not None
        capabilities = self.capabilities or Capabilities()
        if not self.tls_active:
            return self._fail(
                PolicyError(Step.AUTH, "refusing to send credentials over a connection without TLS")
            )
        if not capabilities.auth:
            return self._fail(PolicyError(Step.AUTH, "server does not offer AUTH but credentials were given"))
        mechanism = choose_auth_mechanism(capabilities.auth, self.config.auth_mechanism)
        if mechanism is None:
            wanted = self.config.auth_mechanism or " or ".join(AUTH_PREFERENCE)
            return self._fail(
                PolicyError(
                    Step.AUTH,
                    f"server offers AUTH {' '.join(capabilities.auth)}, not {wanted}",
                )
            )
        self._auth_mechanism, self._auth_stage = mechanism, 0
        self.state, self._step = State.AWAITING_AUTH_REPLY, Step.AUTH
        if mechanism == "PLAIN":
            response = auth_plain_response(credentials.username, credentials.password)
            return [SendLine(b"AUTH PLAIN " + response, f"AUTH PLAIN {MASK}")]
        return [self._line(f"AUTH {mechanism}")]

    def _on_auth(self, reply: Reply) -> List[Event]:
        credentials = self.config.credentials
        assert credentials is not None
        if reply.code == 235:
            return self._quit_if_asked(Step.AUTH) or self._next_message()
        if reply.code != 334:
            return self._fail(
                SMTPReplyError(Step.AUTH, reply, f"authentication ({self._auth_mechanism}) failed")
            )
        self._auth_stage += 1
        mechanism = self._auth_mechanism
        if mechanism == "LOGIN" and self._auth_stage == 1:
            return [SendLine(_b64(credentials.username.encode("utf-8")), MASK)]
        if mechanism == "LOGIN" and self._auth_stage == 2:
            return [SendLine(_b64(credentials.password.encode("utf-8")), MASK)]
        if mechanism == "CRAM-MD5" and self._auth_stage == 1:
            challenge = decode_challenge(reply)
            return [SendLine(cram_md5_response(credentials.username, credentials.password, challenge), MASK)]
        # An unexpected extra challenge: cancel the exchange (RFC 4954 4).
        return [SendLine(b"*", "*")] + self._fail(
            PeerProtocolError(Step.AUTH, f"unexpected AUTH challenge: {reply.quoted()}")
        )

    # -- transactions

    def _next_message(self, reset_first: bool = False) -> List[Event]:
        """
        Start the next message that can be sent, with RSET first when a
        transaction came before it (RFC 5321 4.1.1.5); QUIT when none is left.
        """
        while self._messages:
            envelope = self._messages.popleft()
            events = self._start_transaction(envelope, reset_first)
            if events is not None:
                return events
        self.state, self._step = State.AWAITING_QUIT_REPLY, Step.QUIT
        return [self._line("QUIT")]

    def _start_transaction(self, envelope: Envelope, reset_first: bool = False) -> Optional[List[Event]]:
        """
        Queue [RSET,] MAIL, RCPT..., DATA; with PIPELINING send them in one
        flight (RFC 2920 3.1 allows RSET in it), else one at a time.  Returns
        L{None} when the message was refused locally (it is recorded as a
        result) without a command sent.
        """
        capabilities = self.capabilities or Capabilities()
        self._current = envelope
        self._rcpt_replies = [None] * len(envelope.recipients)
        self._rcpt_sent = 0
        self._message_error = None
        self._mail_ok = False
        normalized = normalize_crlf(envelope.data)
        try:
            framed = frame_normalized(normalized)
        except LocalProtocolError as error:
            self._finish_message(PolicyError(Step.DATA, str(error)))
            return None
        parameters = []
        if capabilities.size is not None:
            # RFC 1870 3: the size after CRLF normalisation, without dot-stuffing.
            message_size = len(normalized)
            if capabilities.size and message_size > capabilities.size:
                self._finish_message(
                    PolicyError(
                        Step.MAIL,
                        f"message is {message_size} bytes, the server accepts at most {capabilities.size} (SIZE)",
                    )
                )
                return None
            parameters.append(f"SIZE={message_size}")
        if has_8bit(envelope.data):
            if not capabilities.eightbitmime:
                self._finish_message(
                    PolicyError(Step.MAIL, "message contains 8-bit data and the server does not offer 8BITMIME")
                )
                return None
            parameters.append("BODY=8BITMIME")
        if envelope.utf8 or needs_smtputf8(envelope.sender, envelope.recipients):
            if not capabilities.smtputf8:
                self._finish_message(
                    PolicyError(
                        Step.MAIL,
                        "an address or header is not ASCII and the server does not offer SMTPUTF8",
                    )
                )
                return None
            parameters.append("SMTPUTF8")
        self._framed = framed
        mail = " ".join([f"MAIL FROM:<{envelope.sender}>"] + parameters)
        self._queued = deque([(Step.MAIL, self._line(mail))])
        for recipient in envelope.recipients:
            self._queued.append((Step.RCPT, self._line(f"RCPT TO:<{recipient}>")))
        self._queued.append((Step.DATA, self._line("DATA")))
        if reset_first:
            self._queued.appendleft((Step.RSET, self._line("RSET")))
        self._pending = deque()
        self.state = State.AWAITING_TRANSACTION_REPLY
        if capabilities.pipelining:
            return self._flush_queue(all_of_them=True)
        return self._flush_queue(all_of_them=False)

    def _flush_queue(self, all_of_them: bool) -> List[Event]:
        events: List[Event] = []
        while self._queued:
            step, line = self._queued.popleft()
            index = 0
            if step is Step.RCPT:
                # RCPT replies are matched to recipients in the order sent.
                index, self._rcpt_sent = self._rcpt_sent, self._rcpt_sent + 1
            self._pending.append((step, index))
            events.append(line)
            if not all_of_them:
                break
        self._step = self._pending[0][0]
        return events

    def _on_transaction(self, reply: Reply) -> List[Event]:
        step, index = self._pending.popleft()
        assert self._current is not None
        if step is Step.RSET:
            if reply.code != 250:
                # The server would not forget the last transaction: going on
                # could mix two messages.  This message was not started.
                self._current = None
                return self._fail(SMTPReplyError(Step.RSET, reply, "server refused RSET"))
        elif step is Step.MAIL:
            self._mail_ok = 200 <= reply.code < 300
            if not self._mail_ok:
                self._message_error = SMTPReplyError(Step.MAIL, reply, "server refused the sender")
        elif step is Step.RCPT:
            self._rcpt_replies[index] = reply
            if self._mail_ok and not 200 <= reply.code < 300 and all(
                r is not None and not 200 <= r.code < 300 for r in self._rcpt_replies
            ):
                self._message_error = SMTPReplyError(
                    Step.RCPT, reply, "server refused every recipient; last reply"
                )
        elif step is Step.DATA:
            if reply.code == 354:
                if self._message_error is not None:
                    # RFC 2920 3.1: DATA was accepted although nothing can
                    # be delivered; end it empty so the server drops it.
                    self.state, self._step = State.AWAITING_MESSAGE_REPLY, Step.MESSAGE
                    self._abandoned = True
                    return [SendData(b"." + CRLF)]
                self.state, self._step = State.AWAITING_MESSAGE_REPLY, Step.MESSAGE
                self._abandoned = False
                return [SendData(self._framed)]
            if self._message_error is None:
                self._message_error = SMTPReplyError(Step.DATA, reply, "server refused DATA")
            return self._end_transaction()
        if self._pending:
            self._step = self._pending[0][0]
            return []
        if self._queued:
            # Not pipelining: stop early when nothing can be delivered.
            if self._message_error is not None:
                rcpt_left = any(step is Step.RCPT for step, _ in self._queued)
                if step is Step.MAIL or not rcpt_left:
                    self._queued.clear()
                    return self._end_transaction()
            return self._flush_queue(all_of_them=False)
        return self._end_transaction()

    def _on_message_reply(self, reply: Reply) -> List[Event]:
        if not self._abandoned and not 200 <= reply.code < 300:
            self._message_error = SMTPReplyError(Step.MESSAGE, reply, "server refused the message")
        return self._end_transaction(final=reply)

    def _end_transaction(self, final: Optional[Reply] = None) -> List[Event]:
        events: List[Event] = [self._finish_message(self._message_error, final)]
        # RSET between transactions: the server forgets whatever is left of
        # the previous envelope (RFC 5321 4.1.1.5).
        return events + self._next_message(reset_first=True)

    def _finish_message(
        self, error: Optional[SMTPClientError], final: Optional[Reply] = None
    ) -> MessageFinished:
        assert self._current is not None
        envelope = self._current
        recipients = tuple(
            RecipientResult(address, reply) for address, reply in zip(envelope.recipients, self._rcpt_replies)
        )
        result = MessageResult(envelope.sender, recipients, final, error)
        if error is not None:
            error.result = result
        self.results.append(result)
        self._current = None
        return MessageFinished(result)

    def _on_quit(self, reply: Reply) -> List[Event]:
        self.state = State.DONE
        return [CloseConnection(), DialogueFinished()]

    # -- helpers

    def _quit_if_asked(self, reached: Step) -> List[Event]:
        """
        QUIT now if the caller asked to stop after C{reached} (an empty list
        means: go on).
        """
        if self.config.quit_after is not reached:
            return []
        self.state, self._step = State.AWAITING_QUIT_REPLY, Step.QUIT
        return [self._line("QUIT")]

    def _line(self, text: str) -> SendLine:
        return SendLine(text.encode("utf-8"), text)

    def _record_message_error(self, error: SMTPClientError) -> None:
        """
        A dialogue failure in the middle of a transaction is that message's
        failure too; messages never started are not reported as results.
        """
        if self._current is not None:
            self._finish_message(self._message_error or error)

    def _fail(self, error: SMTPClientError, abort: bool = False, quit: bool = True) -> List[Event]:
        """
        End the dialogue with C{error}: say QUIT (RFC 5321 4.1.1.10) and
        close after a refusal; abort without another word after a protocol
        violation, a timeout or a lost connection.
        """
        self.error = error
        self.state = State.DONE
        events: List[Event] = []
        if not abort and quit:
            events.append(self._line("QUIT"))
        events.append(CloseConnection(abort=abort))
        events.append(DialogueFailed(error))
        return events
