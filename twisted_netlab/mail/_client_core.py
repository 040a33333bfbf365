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
# next events.  Rules kept here: RFC 5321 (dialogue order, RSET only while
# the server may hold an envelope), RFC 3207 (STARTTLS: nothing read before
# the handshake counts, capabilities are forgotten, EHLO again), RFC 4954
# (AUTH), RFC 2920 (PIPELINING), RFC 1870 (SIZE), RFC 6152 (8BITMIME),
# RFC 6531 (SMTPUTF8).
#
# About 860 lines, over the ~700 guide: the state table, its handlers, the
# pipelined transaction bookkeeping and the events they return read as one
# unit.

from __future__ import annotations

import base64
import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from twisted_netlab.mail._message import (
    CRLF,
    check_address,
    check_header_text,
    frame_message,
    has_8bit,
    needs_smtputf8,
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
    import hashlib  # only for CRAM-MD5: not at every start
    import hmac

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
    # Members are singletons: hash them by identity, in C (Enum's own
    # __hash__ is Python code, run for every reply by the handler table).
    __hash__ = object.__hash__

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


class _Transaction:
    """
    One message on its way: its commands until sent, its framed content
    until the 354, the replies so far and, once finished, its result.
    """

    __slots__ = ("envelope", "commands", "framed", "rcpt_replies", "refused", "mail_ok", "error", "result")

    def __init__(self, envelope: Envelope) -> None:
        self.envelope = envelope
        self.commands: List[Tuple[Step, SendLine]] = []
        self.framed = b""
        self.rcpt_replies: List[Optional[Reply]] = [None] * len(envelope.recipients)
        self.refused = 0
        self.mail_ok = False
        self.error: Optional[SMTPClientError] = None
        self.result: Optional[MessageResult] = None


_NO_CAPABILITIES = Capabilities()
_IN_TRANSACTION = frozenset([State.AWAITING_TRANSACTION_REPLY, State.AWAITING_MESSAGE_REPLY])
_DATA = SendLine(b"DATA", "DATA")
#: RFC 2920 3.1: what ends a DATA accepted when no recipient was.
_EMPTY_CONTENT = SendData(b"." + CRLF)


class ClientDialogue:
    """
    The client side of one SMTP connection, sans I/O.

    Feed it each reply line (L{receive_line}); after a L{StartTLS} event the
    adapter starts the handshake and calls L{tls_started} with whatever
    plaintext it had read but not yet delivered (anything is an attack).
    L{connection_lost} and L{timed_out} turn those adapter facts into
    L{DialogueFailed}.  Messages are queued up front; they are sent one
    after another (with PIPELINING, a message's content and the next
    message's envelope in one group), then QUIT.
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
        # transaction bookkeeping (see "transactions" below)
        self._pipelining = False
        self._pending: Deque[Tuple[Step, _Transaction, int]] = deque()
        self._queued: Deque[Tuple[Step, SendLine]] = deque()
        self._rcpt_sent = 0
        self._reset_needed = False
        self._in_order: Deque[_Transaction] = deque()
        self._ready: Optional[_Transaction] = None
        self._handlers: Dict[State, Callable[[Reply], List[Event]]] = {
            State.AWAITING_GREETING: self._on_greeting,
            State.AWAITING_EHLO_REPLY: self._on_ehlo,
            State.AWAITING_HELO_REPLY: self._on_helo,
            State.AWAITING_STARTTLS_REPLY: self._on_starttls,
            State.AWAITING_AUTH_REPLY: self._on_auth,
            State.AWAITING_TRANSACTION_REPLY: self._on_transaction,
            State.AWAITING_MESSAGE_REPLY: self._on_transaction,
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
    #
    # Each message is a _Transaction; _pending lists the commands sent and
    # not yet answered, in order, each with its transaction, so replies are
    # matched to commands in the order sent (RFC 2920 3.1).  With PIPELINING
    # one group carries [RSET,] MAIL, every RCPT and DATA; after the 354 the
    # next group is the message content, its final dot and the next
    # message's MAIL, RCPT and DATA (RFC 2920 3.1: content may be the first
    # "command" of a group).  Without PIPELINING one command is sent per
    # reply (_queued holds the rest).  RSET is sent only when the server may
    # still hold an envelope: a completed transaction (any reply to the
    # final dot) already cleared it (RFC 5321 4.1.1.4 and 4.1.1.5).

    def _next_message(self) -> List[Event]:
        """
        The commands of the next message that can be sent; QUIT when none
        is left.
        """
        events = self._next_envelope()
        if events:
            return events
        self.state, self._step = State.AWAITING_QUIT_REPLY, Step.QUIT
        return [self._line("QUIT")]

    def _next_envelope(self) -> List[Event]:
        """
        [RSET,] MAIL, RCPT..., DATA of the next message that can be sent
        (messages refused locally are recorded as results on the way), or
        nothing when none is left.
        """
        while True:
            transaction, self._ready = self._ready, None
            if transaction is None:
                if not self._messages:
                    return []
                transaction = self._prepare(self._messages.popleft())
                if transaction is None:
                    continue
            commands = transaction.commands
            if self._reset_needed:
                self._reset_needed = False
                commands.insert(0, (Step.RSET, self._line("RSET")))
            transaction.commands = []
            if self._pipelining:
                events: List[Event] = []
                rcpt = 0
                for step, line in commands:
                    self._pending.append((step, transaction, rcpt if step is Step.RCPT else 0))
                    rcpt += step is Step.RCPT
                    events.append(line)
                self._advance()
                return events
            self._queued = deque(commands)
            self._rcpt_sent = 0
            return self._send_queued(transaction)

    def prepare_next(self) -> None:
        """
        Check and frame the next message now, while a reply is awaited, so
        that its commands are ready when the reply comes: the adapter calls
        this after a write, when the server is working and we are not.
        Messages refused locally on the way are recorded as results (in
        their order, after the messages before them).
        """
        if self._ready is not None or self.state not in _IN_TRANSACTION:
            return
        while self._messages and self._ready is None:
            self._ready = self._prepare(self._messages.popleft())

    def _prepare(self, envelope: Envelope) -> Optional["_Transaction"]:
        """
        Check C{envelope} against the server's capabilities and build its
        commands; L{None} when it was refused locally (recorded as a
        result, nothing sent).
        """
        capabilities = self.capabilities or _NO_CAPABILITIES
        self._pipelining = capabilities.pipelining
        transaction = _Transaction(envelope)
        self._in_order.append(transaction)
        try:
            # RFC 1870 3: the size after CRLF normalisation, without dot-stuffing.
            message_size, transaction.framed = frame_message(envelope.data)
        except LocalProtocolError as error:
            self._finish(transaction, PolicyError(Step.DATA, str(error)))
            return None
        mail = f"MAIL FROM:<{envelope.sender}>"
        if capabilities.size is not None:
            if capabilities.size and message_size > capabilities.size:
                self._finish(
                    transaction,
                    PolicyError(
                        Step.MAIL,
                        f"message is {message_size} bytes, the server accepts at most {capabilities.size} (SIZE)",
                    ),
                )
                return None
            mail += f" SIZE={message_size}"
        if has_8bit(envelope.data):
            if not capabilities.eightbitmime:
                self._finish(
                    transaction,
                    PolicyError(Step.MAIL, "message contains 8-bit data and the server does not offer 8BITMIME"),
                )
                return None
            mail += " BODY=8BITMIME"
        if envelope.utf8 or needs_smtputf8(envelope.sender, envelope.recipients):
            if not capabilities.smtputf8:
                self._finish(
                    transaction,
                    PolicyError(
                        Step.MAIL,
                        "an address or header is not ASCII and the server does not offer SMTPUTF8",
                    ),
                )
                return None
            mail += " SMTPUTF8"
        commands = [(Step.MAIL, self._line(mail))]
        for recipient in envelope.recipients:
            commands.append((Step.RCPT, self._line(f"RCPT TO:<{recipient}>")))
        commands.append((Step.DATA, _DATA))
        transaction.commands = commands
        return transaction

    def _send_queued(self, transaction: "_Transaction") -> List[Event]:
        """
        Without PIPELINING: send the next queued command of C{transaction}.
        """
        step, line = self._queued.popleft()
        index = 0
        if step is Step.RCPT:
            # RCPT replies are matched to recipients in the order sent.
            index, self._rcpt_sent = self._rcpt_sent, self._rcpt_sent + 1
        self._pending.append((step, transaction, index))
        self._step = step
        self.state = State.AWAITING_TRANSACTION_REPLY
        return [line]

    def _advance(self) -> None:
        """
        Wait for the reply to the oldest command still unanswered.
        """
        step = self._pending[0][0]
        self._step = step
        self.state = State.AWAITING_MESSAGE_REPLY if step is Step.MESSAGE else State.AWAITING_TRANSACTION_REPLY

    def _on_transaction(self, reply: Reply) -> List[Event]:
        """
        The reply to the oldest unanswered command of a transaction.
        """
        step, transaction, index = self._pending.popleft()
        code = reply.code
        if step is Step.RCPT:
            transaction.rcpt_replies[index] = reply
            if not 200 <= code < 300:
                transaction.refused += 1
                if transaction.mail_ok and transaction.refused == len(transaction.rcpt_replies):
                    transaction.error = SMTPReplyError(Step.RCPT, reply, "server refused every recipient; last reply")
        elif step is Step.MAIL:
            transaction.mail_ok = 200 <= code < 300
            if not transaction.mail_ok:
                transaction.error = SMTPReplyError(Step.MAIL, reply, "server refused the sender")
        elif step is Step.DATA:
            if code == 354:
                return self._send_content(transaction)
            if transaction.error is None:
                transaction.error = SMTPReplyError(Step.DATA, reply, "server refused DATA")
            return self._end_transaction(transaction)
        elif step is Step.MESSAGE:
            # Any reply to the final dot ends the transaction (RFC 5321
            # 4.1.1.4): the server has cleared its envelope.
            if transaction.error is None and not 200 <= code < 300:
                transaction.error = SMTPReplyError(Step.MESSAGE, reply, "server refused the message")
            events: List[Event] = [self._finish(transaction, transaction.error, reply)]
            if self._pending:
                # The next message's envelope rode with this content.
                self._advance()
                return events
            return events + self._next_message()
        elif code != 250:  # RSET
            # The server would not forget the last envelope: going on could
            # mix two messages.  This message was not started.
            self._in_order.clear()
            return self._fail(SMTPReplyError(Step.RSET, reply, "server refused RSET"))
        if self._pending:
            self._advance()
            return []
        # Not pipelining: stop early when nothing can be delivered.
        if transaction.error is not None and (
            step is Step.MAIL or not any(queued is Step.RCPT for queued, _ in self._queued)
        ):
            self._queued.clear()
            return self._end_transaction(transaction)
        return self._send_queued(transaction)

    def _send_content(self, transaction: "_Transaction") -> List[Event]:
        """
        DATA was answered 354: the message content and its final dot, and
        with PIPELINING the next message's envelope in the same group.
        """
        if transaction.error is not None:
            # RFC 2920 3.1: DATA was accepted although nothing can be
            # delivered; end it empty so the server drops it.
            events: List[Event] = [_EMPTY_CONTENT]
        else:
            events = [SendData(transaction.framed)]
        transaction.framed = b""
        self._pending.append((Step.MESSAGE, transaction, 0))
        if self._pipelining:
            events.extend(self._next_envelope())
        self._advance()
        return events

    def _end_transaction(self, transaction: "_Transaction") -> List[Event]:
        """
        C{transaction} ended without its content being sent.  If MAIL was
        accepted the server still holds the envelope: RSET before the next.
        """
        self._reset_needed = transaction.mail_ok
        return [self._finish(transaction, transaction.error)] + self._next_message()

    def _finish(
        self, transaction: "_Transaction", error: Optional[SMTPClientError], final: Optional[Reply] = None
    ) -> MessageFinished:
        envelope = transaction.envelope
        recipients = tuple(map(RecipientResult, envelope.recipients, transaction.rcpt_replies))
        result = MessageResult(envelope.sender, recipients, final, error)
        if error is not None and error.result is None:
            # One error can end two messages in flight (a 421, a timeout):
            # it names the first, whose step failed.
            error.result = result
        transaction.result = result
        # Results keep the order of the messages: one refused locally while
        # the one before it waits for its reply comes after it.
        in_order = self._in_order
        while in_order and in_order[0].result is not None:
            self.results.append(in_order.popleft().result)  # type: ignore[arg-type]
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
        A dialogue failure in the middle of a transaction is the failure of
        every message with a command unanswered (with PIPELINING the next
        message's envelope may ride with a message's content); messages
        never started are not reported as results.
        """
        for transaction in dict.fromkeys(entry[1] for entry in self._pending):
            self._finish(transaction, transaction.error or error)
        self._pending.clear()

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
