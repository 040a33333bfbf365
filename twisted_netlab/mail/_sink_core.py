# -*- test-case-name: tests.mail.test_sink_core -*-
"""
Pure, sans-IO server side of one SMTP session of the mail sink: bytes the
client sent in, events out (replies, STARTTLS, the message body to store,
the close).  Standard library only: no reactor, no clock, no files.
"""

# How it works: SinkSession.receive_data appends to a bounded buffer and
# cuts it into lines at CRLF only (RFC 5321 2.3.8).  A bare CR or LF is never
# a line end: in a command it is a syntax error, in DATA it taints the
# message, which is then refused after the final <CRLF>.<CRLF> (the SMTP
# smuggling family: CVE-2023-51764, CVE-2024-27305).  Processing stops while
# the adapter stores a message and resumes in message_stored().  At STARTTLS
# every byte after the command is discarded (CVE-2024-34083) and the session
# forgets EHLO and AUTH (RFC 3207 4.2).
#
# DATA is streamed: the unstuffed body leaves in MessageData chunks of about
# DATA_CHUNK_BYTES as it arrives, the rest with MessageReceived, so a message
# in flight costs a small buffer whatever its size.  Deadlines (a whole
# command line, the DATA phase scaled by its size) come from next_deadline()
# with times the adapter passes in.  With record_dialogue the session also
# reports each command line (AUTH secrets masked) as CommandReceived.
#
# Speed: in DATA, _data_run takes a run of plain body lines in one step
# (what _next_line and _data_line would do line by line, same events).
#
# About 820 lines, over the ~700 guide: one handler per SMTP command, each
# next to the rules it keeps; the events and the address syntax are already
# in _sink_events and _sink_addresses.

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import re
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional

from twisted_netlab.mail._faults import FaultPlan, Stage
from twisted_netlab.mail._sink_addresses import AddressError, parse_mailbox, parse_parameters, split_path
from twisted_netlab.mail._sink_events import (
    AcceptTLS,
    AuthenticationAttempted,
    CloseSession,
    CommandReceived,
    Event,
    FaultInjected,
    MessageData,
    MessageReceived,
    MessageRefused,
    PlaintextDiscarded,
    ReceivedEnvelope,
    SendReply,
    UnstuffedDot,
)

# Refuse everything but printable characters in a command (after UTF-8
# decoding): controls, DEL and the like have no place in SMTP.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

__all__ = [
    "AcceptTLS",
    "AddressError",
    "AuthenticationAttempted",
    "CloseSession",
    "CommandReceived",
    "Event",
    "FaultInjected",
    "MessageData",
    "MessageReceived",
    "MessageRefused",
    "PlaintextDiscarded",
    "ReceivedEnvelope",
    "SendReply",
    "SessionState",
    "SinkPolicy",
    "SinkSession",
    "UnstuffedDot",
    "next_deadline",
    "parse_mailbox",
    "parse_parameters",
    "split_path",
]

# RFC 5321 4.5.3.1.4 allows 512 octets per command line; extensions (AUTH
# initial responses, ESMTP parameters) need more, so like Postfix we allow
# 2048 octets before CRLF.
MAX_COMMAND_LINE = 2048
# RFC 5321 4.5.3.1.6: a text line is at most 1000 octets including CRLF.
MAX_DATA_LINE = 998
# RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted.
MAX_RECIPIENTS = 100
#: The body is handed to the adapter in chunks of about this size.
DATA_CHUNK_BYTES = 64 * 1024
#: Postfix's smtpd_min_data_rate: each octet of DATA buys this much time.
MIN_DATA_RATE = 500


class SessionState(enum.Enum):
    """
    What the session is waiting for.
    """

    AWAITING_COMMAND = "awaiting command"
    AWAITING_AUTH_RESPONSE = "awaiting AUTH response"
    RECEIVING_DATA = "receiving DATA"
    AWAITING_STORAGE = "awaiting storage"
    # A CONNECT fault answered 554: RFC 5321 3.1 wants the server to
    # answer 503 to everything but QUIT.
    REFUSING = "refusing"
    CLOSED = "closed"


# -- policy ---------------------------------------------------------------


@dataclass(frozen=True)
class SinkPolicy:
    """
    What one sink offers and enforces; shared by all its sessions.
    """

    hostname: str = "localhost"
    max_size: int = 10 * 1024 * 1024
    users: Mapping[str, str] = field(default_factory=dict, hash=False)
    tls_available: bool = True
    allow_plaintext_auth: bool = False
    require_tls: bool = False
    require_auth: bool = False
    smtputf8: bool = True
    max_recipients: int = MAX_RECIPIENTS
    max_errors: int = 20
    max_junk_commands: int = 100
    max_command_line: int = MAX_COMMAND_LINE
    max_data_line: int = MAX_DATA_LINE


# -- deadlines ------------------------------------------------------------


def next_deadline(
    deadline: float,
    now: float,
    byte_count: int,
    line_completed: bool,
    was_in_data: bool,
    in_data: bool,
    line_seconds: float,
    min_data_rate: float = MIN_DATA_RATE,
) -> float:
    """
    When the session must next have made progress, after C{byte_count}
    bytes arrived at C{now}.

    Outside DATA a whole command line must arrive within C{line_seconds}
    of the previous one: bytes that complete no line do not move the
    deadline (one byte every few seconds kept the old idle timer alive
    for ever).  The DATA phase gets C{line_seconds} from its start plus
    one second per C{min_data_rate} octets received (Postfix's
    ``smtpd_min_data_rate``; RFC 5321 4.5.3.2 scales with the transfer).
    """
    if in_data and not was_in_data:
        return now + line_seconds + byte_count / min_data_rate
    if in_data:
        return deadline + byte_count / min_data_rate
    if line_completed:
        return now + line_seconds
    return deadline


# -- the session ----------------------------------------------------------

_OVERLONG = object()
_HTTP_VERBS = frozenset({"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE"})
_JUNK = frozenset({"NOOP", "RSET", "VRFY", "HELP"})
_USERNAME_PROMPT = base64.b64encode(b"Username:").decode("ascii")
_PASSWORD_PROMPT = base64.b64encode(b"Password:").decode("ascii")


def _reply(code: int, *lines: str) -> SendReply:
    return SendReply(code, tuple(lines))


_SECRET_VERBS = re.compile(rb"\A\s*AUTH\s+\S+\s+", re.IGNORECASE)


def _masked(line: object) -> str:
    """
    A command line for a transcript: an AUTH initial response is masked,
    control characters are escaped, an overlong line is only named.
    """
    if not isinstance(line, bytes):
        return "[line too long, dropped]"
    match = _SECRET_VERBS.match(line)
    if match is not None:
        line = match.group(0) + b"********"
    text = line.decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


class SinkSession:
    """
    One SMTP server session.  Not thread-safe; one per connection.

    @ivar state: a L{SessionState}.
    @ivar tls_active: whether STARTTLS was accepted on this connection.
    @ivar authenticated_as: the user name after a successful AUTH.
    """

    def __init__(
        self, policy: SinkPolicy, faults: Optional[FaultPlan] = None, record_dialogue: bool = False
    ) -> None:
        self.policy = policy
        self.record_dialogue = record_dialogue
        #: Take runs of plain body lines in one step (L{_data_run}); tests
        #: turn it off to hold it to the line-by-line path.
        self.fast_data = True
        #: Complete lines taken from the input so far (deadlines use it).
        self.lines_received = 0
        self.faults = faults if faults is not None else FaultPlan()
        self.state = SessionState.AWAITING_COMMAND
        self.tls_active = False
        self.authenticated_as: Optional[str] = None
        self.hello: Optional[str] = None
        self.error_count = 0
        self.junk_count = 0
        self._buffer = bytearray()
        self._discarding_line = False
        self._reset_transaction()
        self._auth_mechanism = ""
        self._auth_username: Optional[str] = None
        self._data_parts: List[bytes] = []
        self._data_size = 0
        self._data_pending = 0
        self._data_lines = 0
        self._data_envelope: Optional[ReceivedEnvelope] = None
        self._data_problem: Optional[SendReply] = None

    # -- input --------------------------------------------------------

    def start(self) -> List[Event]:
        """
        The greeting (RFC 5321 4.3.1), or a CONNECT fault.
        """
        fault = self.faults.check(Stage.CONNECT)
        if fault is None:
            return [_reply(220, f"{self.policy.hostname} ESMTP netlab-mailsink")]
        # RFC 5321 4.2.3: no enhanced codes in the greeting.
        events: List[Event] = [FaultInjected(fault), _reply(fault.code, f"{self.policy.hostname} {fault.text}")]
        if fault.code == 554:
            self.state = SessionState.REFUSING
        elif fault.closes or fault.code >= 500:
            events.extend(self._close("refused at connect"))
        return events

    def receive_data(self, data: bytes) -> List[Event]:
        """
        Feed bytes from the client; return what to do.
        """
        if self.state is SessionState.CLOSED:
            return []
        self._buffer += data
        return self._process()

    def message_stored(self, queue_id: str) -> List[Event]:
        """
        The adapter stored the message of the last L{MessageReceived}.
        """
        self._expect_storage()
        self.state = SessionState.AWAITING_COMMAND
        # Postfix's rule: the junk command count restarts once mail is
        # delivered (an RSET after every message is no abuse).
        self.junk_count = 0
        return [_reply(250, f"2.0.0 Ok: queued as {queue_id}")] + self._process()

    def message_not_stored(self, reason: str) -> List[Event]:
        """
        Storing failed; the client is told to try again later (nothing is
        acknowledged that is not on disk).
        """
        self._expect_storage()
        self.state = SessionState.AWAITING_COMMAND
        return [_reply(451, f"4.3.0 Could not store the message ({reason}), try again later")] + self._process()

    def timed_out(self, what: str = "idle timeout") -> List[Event]:
        """
        The adapter's deadline passed (RFC 5321 4.5.3.2.7): C{what} names
        it for the log (idle, command line, DATA phase).
        """
        if self.state is SessionState.CLOSED:
            return []
        return [_reply(421, f"4.4.2 {self.policy.hostname} Error: timeout exceeded")] + self._close(what)

    @property
    def partial_line(self) -> bool:
        """
        Whether part of a line is waiting for its CRLF.
        """
        return bool(self._buffer) or self._discarding_line

    def _expect_storage(self) -> None:
        if self.state is not SessionState.AWAITING_STORAGE:
            raise RuntimeError(f"no message is being stored (state {self.state})")

    # -- line splitting ---------------------------------------------------

    def _line_limit(self) -> int:
        if self.state is SessionState.RECEIVING_DATA:
            return self.policy.max_data_line
        return self.policy.max_command_line

    def _next_line(self) -> object:
        """
        The next CRLF-terminated line (without CRLF), L{_OVERLONG} for a
        line that exceeded the limit (its bytes are dropped as they come),
        or L{None} when more data is needed.
        """
        limit = self._line_limit()
        # Search the whole buffer (one packet at most, plus less than one
        # line): an overlong line followed by more lines in the same packet
        # must only cost the overlong line.
        end = self._buffer.find(b"\r\n")
        if end < 0:
            if len(self._buffer) > limit + 1:
                # Too long already: drop it, keeping a trailing CR that may
                # be the first half of the CRLF.
                self._discarding_line = True
                keep = self._buffer[-1:] if self._buffer.endswith(b"\r") else b""
                self._buffer = bytearray(keep)
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 2]
        self.lines_received += 1
        if self._discarding_line:
            self._discarding_line = False
            return _OVERLONG
        if len(line) > limit:
            return _OVERLONG
        return line

    def _process(self) -> List[Event]:
        events: List[Event] = []
        self._pending_events = events
        while self.state not in (SessionState.AWAITING_STORAGE, SessionState.CLOSED):
            if self.state is SessionState.RECEIVING_DATA and self.fast_data and self._data_run():
                continue
            line = self._next_line()
            if line is None:
                break
            if self.state is SessionState.RECEIVING_DATA:
                events.extend(self._data_line(line))
            elif self.state is SessionState.AWAITING_AUTH_RESPONSE:
                events.extend(self._auth_line(line))
            else:
                events.extend(self._command_line(line))
        return events

    def _data_run(self) -> bool:
        """
        The DATA fast path: take every whole body line at the front of the
        buffer that the line-by-line path (L{_next_line}, L{_data_line})
        would only append, in one step, and say whether it took any.  It
        declines (leaving them to that path) at a line starting with ".",
        a bare CR or LF, an overlong line, a pending problem, and where the
        size limit or the next L{MessageData} chunk would be reached.
        """
        buffer = self._buffer
        if not buffer or buffer[0] == 46 or self._discarding_line or self._data_problem is not None:  # 46: "."
            return False
        # Strictly below the chunk size, at most up to the size limit.
        room = min(DATA_CHUNK_BYTES - 1 - self._data_pending, self.policy.max_size - self._data_size)
        dot = buffer.find(b"\r\n.")
        end = buffer.rfind(b"\r\n", 0, min(len(buffer) if dot < 0 else dot + 2, room))
        if end < 0:
            return False
        block = bytes(buffer[: end + 2])
        count = block.count(b"\r\n")
        if block.count(b"\r") != count or block.count(b"\n") != count:
            return False
        limit = self.policy.max_data_line
        if len(block) > limit + 2 and max(map(len, block.split(b"\r\n"))) > limit:
            return False
        del buffer[: end + 2]
        self.lines_received += count
        self._data_lines += count
        self._data_size += len(block)
        self._data_pending += len(block)
        self._data_parts.append(block)
        return True

    # -- helpers ----------------------------------------------------------

    def _close(self, reason: str) -> List[Event]:
        self.state = SessionState.CLOSED
        self._buffer = bytearray()
        return [CloseSession(reason)]

    def _error(self, code: int, text: str) -> List[Event]:
        """
        A protocol error reply; too many of them end the session (a client
        that is lost, or someone probing).
        """
        self.error_count += 1
        events: List[Event] = [_reply(code, text)]
        if self.error_count >= self.policy.max_errors:
            events.append(_reply(421, "4.7.0 Too many errors, closing connection"))
            events.extend(self._close("too many errors"))
        return events

    def _fault(self, stage: Stage) -> Optional[List[Event]]:
        fault = self.faults.check(stage)
        if fault is None:
            return None
        events: List[Event] = [FaultInjected(fault), _reply(fault.code, f"{fault.enhanced} {fault.text}")]
        if fault.closes:
            events.extend(self._close(f"fault {fault.rule.describe()}"))
        return events

    def _reset_transaction(self) -> None:
        self.sender: Optional[str] = None
        self.recipients: List[str] = []
        self._smtputf8 = False
        self._body = "7BIT"

    def _envelope(self) -> ReceivedEnvelope:
        return ReceivedEnvelope(
            sender=self.sender or "",
            recipients=tuple(self.recipients),
            hello=self.hello or "",
            tls=self.tls_active,
            authenticated_as=self.authenticated_as,
            smtputf8=self._smtputf8,
            body=self._body,
        )

    def _auth_offered(self) -> bool:
        return bool(self.policy.users) and (self.tls_active or self.policy.allow_plaintext_auth)

    # -- commands -----------------------------------------------------------

    def _command_line(self, line: object) -> List[Event]:
        if self.record_dialogue:
            self._pending_events.append(CommandReceived(_masked(line)))
        if line is _OVERLONG:
            return self._error(500, f"5.5.2 Line too long (at most {self.policy.max_command_line} octets)")
        assert isinstance(line, bytes)
        if b"\r" in line or b"\n" in line:
            return self._error(500, "5.5.2 Bare CR or LF in command: lines end with CRLF")
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return self._error(500, "5.5.2 Command is not valid UTF-8")
        if _CONTROL.search(text):
            return self._error(500, "5.5.2 Control character in command")
        verb, _, argument = text.strip(" ").partition(" ")
        verb = verb.upper()
        argument = argument.strip(" ")
        if self.state is SessionState.REFUSING:
            if verb == "QUIT":
                return [_reply(221, "2.0.0 Bye")] + self._close("quit")
            return self._error(503, "5.3.2 No SMTP service here; only QUIT is accepted")
        if verb in _HTTP_VERBS:
            return [_reply(502, "5.5.1 This is an SMTP server, not a web server")] + self._close(
                "HTTP request"
            )
        if verb in _JUNK:
            self.junk_count += 1
            if self.junk_count > self.policy.max_junk_commands:
                return [_reply(421, "4.7.0 Too many commands without mail, closing connection")] + self._close(
                    "too many junk commands"
                )
        handler: Optional[Callable[[str], List[Event]]] = getattr(self, "_do_" + verb, None) if verb.isalpha() else None
        if handler is None:
            return self._error(500, "5.5.2 Command not recognized")
        return handler(argument)

    def _do_EHLO(self, argument: str) -> List[Event]:
        return self._hello(argument, extended=True)

    def _do_HELO(self, argument: str) -> List[Event]:
        return self._hello(argument, extended=False)

    def _hello(self, argument: str, extended: bool) -> List[Event]:
        verb = "EHLO" if extended else "HELO"
        if not argument or " " in argument:
            return self._error(501, f"5.5.4 Syntax: {verb} your.domain (or an address literal)")
        fault = self._fault(Stage.EHLO if extended else Stage.HELO)
        if fault is not None:
            return fault
        # RFC 5321 4.1.4: a new EHLO also resets any transaction.
        self._reset_transaction()
        self.hello = argument
        greeting = f"{self.policy.hostname} Hello {argument}"
        if not extended:
            return [_reply(250, greeting)]
        lines = [greeting, "PIPELINING", f"SIZE {self.policy.max_size}", "8BITMIME"]
        if self.policy.smtputf8:
            lines.append("SMTPUTF8")
        lines.append("ENHANCEDSTATUSCODES")
        if self.policy.tls_available and not self.tls_active:
            lines.append("STARTTLS")
        if self._auth_offered():
            lines.append("AUTH PLAIN LOGIN")
        return [SendReply(250, tuple(lines))]

    def _do_STARTTLS(self, argument: str) -> List[Event]:
        if argument:
            return self._error(501, "5.5.4 Syntax: STARTTLS (no parameters)")
        if not self.policy.tls_available:
            return self._error(502, "5.5.1 STARTTLS not offered by this server")
        if self.tls_active:
            return self._error(503, "5.5.1 TLS already active")
        if self.sender is not None:
            return self._error(503, "5.5.1 STARTTLS not allowed during a mail transaction")
        fault = self._fault(Stage.STARTTLS)
        if fault is not None:
            return fault
        discarded = len(self._buffer)
        # CVE-2024-34083: whatever the client pipelined after STARTTLS
        # arrived in plaintext and must not be read as if protected.
        self._buffer = bytearray()
        self._discarding_line = False
        # RFC 3207 4.2: forget everything learned from the client.
        self.tls_active = True
        self.hello = None
        self.authenticated_as = None
        self._reset_transaction()
        events: List[Event] = [_reply(220, "2.0.0 Ready to start TLS"), AcceptTLS()]
        if discarded:
            events.append(PlaintextDiscarded(discarded))
        return events

    def _do_AUTH(self, argument: str) -> List[Event]:
        if not self.policy.users:
            return self._error(502, "5.5.1 AUTH not available (the sink has no --users file)")
        if not self._auth_offered():
            # RFC 4954 6: 538 when the mechanism needs an encrypted channel.
            return self._error(538, "5.7.11 Encryption required for requested authentication mechanism: STARTTLS first")
        if self.hello is None:
            return self._error(503, "5.5.1 Send EHLO first")
        if self.authenticated_as is not None:
            return self._error(503, "5.5.1 Already authenticated")
        if self.sender is not None:
            return self._error(503, "5.5.1 AUTH not allowed during a mail transaction")
        mechanism, _, initial = argument.partition(" ")
        mechanism = mechanism.upper()
        if mechanism not in ("PLAIN", "LOGIN"):
            return self._error(504, "5.5.4 Unrecognized authentication type; offered: PLAIN LOGIN")
        self._auth_mechanism = mechanism
        self._auth_username = None
        initial = initial.strip(" ")
        if not initial:
            self.state = SessionState.AWAITING_AUTH_RESPONSE
            return [_reply(334, "" if mechanism == "PLAIN" else _USERNAME_PROMPT)]
        return self._auth_response(initial)

    def _auth_line(self, line: object) -> List[Event]:
        self.state = SessionState.AWAITING_COMMAND
        if self.record_dialogue:
            self._pending_events.append(CommandReceived("********"))
        if line is _OVERLONG or not isinstance(line, bytes):
            return self._error(500, "5.5.2 Line too long")
        try:
            text = line.decode("ascii").strip(" ")
        except UnicodeDecodeError:
            return self._error(501, "5.5.2 AUTH response is not base64")
        return self._auth_response(text)

    def _auth_response(self, text: str) -> List[Event]:
        """
        One client response of an AUTH exchange (RFC 4954 4).
        """
        self.state = SessionState.AWAITING_COMMAND
        if text == "*":
            return self._error(501, "5.0.0 Authentication cancelled")
        try:
            # RFC 4954 4: "=" is an empty initial response.
            decoded = b"" if text == "=" else base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            return self._error(501, "5.5.2 Cannot decode base64 response")
        if self._auth_mechanism == "LOGIN" and self._auth_username is None:
            try:
                self._auth_username = decoded.decode("utf-8")
            except UnicodeDecodeError:
                return self._error(501, "5.5.2 User name is not UTF-8")
            self.state = SessionState.AWAITING_AUTH_RESPONSE
            return [_reply(334, _PASSWORD_PROMPT)]
        if self._auth_mechanism == "LOGIN":
            username, password_bytes = self._auth_username or "", decoded
        else:
            # RFC 4616: authzid NUL authcid NUL passwd.
            parts = decoded.split(b"\x00")
            if len(parts) != 3:
                return self._error(501, "5.5.2 Malformed PLAIN response (authzid NUL user NUL password)")
            authzid, user_bytes, password_bytes = parts
            try:
                username = user_bytes.decode("utf-8")
                if authzid and authzid.decode("utf-8") != username:
                    return self._finish_auth(username, succeeded=False)
            except UnicodeDecodeError:
                return self._error(501, "5.5.2 User name is not UTF-8")
        fault = self._fault(Stage.AUTH)
        if fault is not None:
            return [AuthenticationAttempted(self._auth_mechanism, username, False)] + fault
        expected = self.policy.users.get(username)
        succeeded = expected is not None and hmac.compare_digest(expected.encode("utf-8"), password_bytes)
        if expected is None:
            # Compare anyway so a missing user costs the same time.
            hmac.compare_digest(password_bytes, password_bytes)
        return self._finish_auth(username, succeeded)

    def _finish_auth(self, username: str, succeeded: bool) -> List[Event]:
        attempt = AuthenticationAttempted(self._auth_mechanism, username, succeeded)
        if succeeded:
            self.authenticated_as = username
            return [attempt, _reply(235, "2.7.0 Authentication successful")]
        return [attempt] + self._error(535, "5.7.8 Authentication credentials invalid")

    def _do_MAIL(self, argument: str) -> List[Event]:
        if self.hello is None:
            return self._error(503, "5.5.1 Send EHLO or HELO first")
        if self.sender is not None:
            return self._error(503, "5.5.1 Nested MAIL command")
        if self.policy.require_tls and not self.tls_active:
            return self._error(530, "5.7.0 Must issue a STARTTLS command first")
        if self.policy.require_auth and self.authenticated_as is None:
            return self._error(530, "5.7.0 Authentication required")
        keyword, colon, rest = argument.partition(":")
        if keyword.upper() != "FROM" or not colon:
            return self._error(501, "5.5.4 Syntax: MAIL FROM:<address> [parameters]")
        try:
            path, parameter_text = split_path(rest.strip(" "))
            parameters = parse_parameters(parameter_text)
        except ValueError as error:
            return self._error(501, f"5.5.4 Syntax: {error}")
        smtputf8 = False
        body = "7BIT"
        for key, value in parameters.items():
            if key == "SIZE":
                if value is None or not value.isdigit() or len(value) > 20:
                    return self._error(501, "5.5.4 SIZE needs a number of octets")
                if int(value) > self.policy.max_size:
                    return self._error(
                        552, f"5.3.4 Message size exceeds fixed maximum message size ({self.policy.max_size} octets)"
                    )
            elif key == "BODY":
                if value is None or value.upper() not in ("7BIT", "8BITMIME"):
                    return self._error(501, "5.5.4 BODY must be 7BIT or 8BITMIME")
                body = value.upper()
            elif key == "SMTPUTF8" and self.policy.smtputf8:
                if value is not None:
                    return self._error(501, "5.5.4 SMTPUTF8 takes no value")
                smtputf8 = True
            elif key == "AUTH":
                pass  # RFC 4954 5: accepted; we do not relay, so it is not used.
            else:
                return self._error(555, f"5.5.4 Unsupported MAIL parameter {key}")
        if path:
            try:
                path = parse_mailbox(path, allow_utf8=smtputf8)
            except AddressError as error:
                code = 553 if "SMTPUTF8" in str(error) else 501
                enhanced = "5.6.7" if code == 553 else "5.1.7"
                return self._error(code, f"{enhanced} Bad sender address: {error}")
        fault = self._fault(Stage.MAIL)
        if fault is not None:
            return fault
        self.sender = path
        self._smtputf8 = smtputf8
        self._body = body
        return [_reply(250, f"2.1.0 Sender <{path}> ok")]

    def _do_RCPT(self, argument: str) -> List[Event]:
        if self.sender is None:
            return self._error(503, "5.5.1 Need MAIL before RCPT")
        keyword, colon, rest = argument.partition(":")
        if keyword.upper() != "TO" or not colon:
            return self._error(501, "5.5.4 Syntax: RCPT TO:<address>")
        try:
            path, parameter_text = split_path(rest.strip(" "))
            parameters = parse_parameters(parameter_text)
        except ValueError as error:
            return self._error(501, f"5.5.4 Syntax: {error}")
        if parameters:
            return self._error(555, f"5.5.4 Unsupported RCPT parameter {next(iter(parameters))}")
        if path.lower() == "postmaster":
            path = "postmaster"  # RFC 5321 4.5.1: accepted without a domain.
        else:
            try:
                path = parse_mailbox(path, allow_utf8=self._smtputf8)
            except AddressError as error:
                code = 553 if "SMTPUTF8" in str(error) else 501
                enhanced = "5.6.7" if code == 553 else "5.1.3"
                return self._error(code, f"{enhanced} Bad recipient address: {error}")
        if len(self.recipients) >= self.policy.max_recipients:
            # RFC 5321 4.5.3.1.10: 452 for too many recipients.
            return [_reply(452, f"4.5.3 Too many recipients (at most {self.policy.max_recipients})")]
        fault = self._fault(Stage.RCPT)
        if fault is not None:
            return fault
        self.recipients.append(path)
        return [_reply(250, f"2.1.5 Recipient <{path}> ok")]

    def _do_DATA(self, argument: str) -> List[Event]:
        if argument:
            return self._error(501, "5.5.4 Syntax: DATA (no parameters)")
        if self.sender is None:
            return self._error(503, "5.5.1 Need MAIL command")
        if not self.recipients:
            # RFC 5321 3.3: 554 when no recipient was accepted.
            return self._error(554, "5.5.1 No valid recipients")
        self.state = SessionState.RECEIVING_DATA
        self._data_parts = []
        self._data_size = 0
        self._data_pending = 0
        self._data_lines = 0
        self._data_envelope = self._envelope()
        self._data_problem = None
        return [_reply(354, "End data with <CR><LF>.<CR><LF>")]

    def _data_line(self, line: object) -> List[Event]:
        if line == b".":
            return self._end_of_data()
        if self._data_problem is not None and self._data_problem.code == 552:
            return []  # Already too big: only look for the end.
        if line is _OVERLONG:
            self._data_problem = self._data_problem or _reply(
                500, f"5.5.2 Line too long (RFC 5321 4.5.3.1.6: at most {self.policy.max_data_line} octets + CRLF)"
            )
            return []
        assert isinstance(line, bytes)
        self._data_lines += 1
        if b"\r" in line or b"\n" in line:
            # SMTP smuggling: a bare LF or CR is not a line end here, and a
            # message carrying one is refused rather than passed on.
            self._data_problem = self._data_problem or _reply(
                554, "5.5.2 Bare CR or LF in message: lines must end with CRLF"
            )
        events: List[Event] = []
        if line.startswith(b"."):
            line = line[1:]  # RFC 5321 4.5.2: a leading "." was doubled.
            if self.record_dialogue and not line.startswith(b"."):
                # Only an unstuffed line can start with a lone dot.
                events.append(UnstuffedDot(self._data_lines))
        self._data_size += len(line) + 2
        if self._data_size > self.policy.max_size:
            self._data_problem = _reply(
                552, f"5.3.4 Message size exceeds fixed maximum message size ({self.policy.max_size} octets)"
            )
            self._data_parts = []
            return events
        self._data_parts.append(line + b"\r\n")
        self._data_pending += len(line) + 2
        if self._data_pending >= DATA_CHUNK_BYTES:
            assert self._data_envelope is not None
            events.append(MessageData(self._data_envelope, b"".join(self._data_parts)))
            self._data_parts, self._data_pending = [], 0
        return events

    def _end_of_data(self) -> List[Event]:
        envelope = self._data_envelope or self._envelope()
        data = b"".join(self._data_parts)
        self._data_parts, self._data_pending, self._data_envelope = [], 0, None
        self._reset_transaction()
        self.state = SessionState.AWAITING_COMMAND
        if self.record_dialogue:
            self._pending_events.append(
                CommandReceived(f"[message body: {self._data_lines} lines, {self._data_size} octets unstuffed]")
            )
            self._pending_events.append(CommandReceived("."))
        if self._data_problem is not None:
            reply = self._data_problem
            self.error_count += 1
            return [MessageRefused(envelope, reply), reply]
        fault = self.faults.check(Stage.DATA)
        if fault is not None:
            reply = _reply(fault.code, f"{fault.enhanced} {fault.text}")
            events: List[Event] = [FaultInjected(fault), MessageRefused(envelope, reply), reply]
            if fault.closes:
                events.extend(self._close(f"fault {fault.rule.describe()}"))
            return events
        self.state = SessionState.AWAITING_STORAGE
        return [MessageReceived(envelope, data)]

    def _do_RSET(self, argument: str) -> List[Event]:
        if argument:
            return self._error(501, "5.5.4 Syntax: RSET (no parameters)")
        self._reset_transaction()
        return [_reply(250, "2.0.0 Ok")]

    def _do_NOOP(self, argument: str) -> List[Event]:
        return [_reply(250, "2.0.0 Ok")]

    def _do_QUIT(self, argument: str) -> List[Event]:
        return [_reply(221, "2.0.0 Bye")] + self._close("quit")

    def _do_VRFY(self, argument: str) -> List[Event]:
        return [_reply(252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery")]

    def _do_EXPN(self, argument: str) -> List[Event]:
        return self._error(502, "5.5.1 EXPN not implemented")

    def _do_HELP(self, argument: str) -> List[Event]:
        return [
            SendReply(
                214,
                (
                    "2.0.0 netlab-mailsink: a local test server that stores mail in a Maildir",
                    "2.0.0 Commands: EHLO HELO STARTTLS AUTH MAIL RCPT DATA RSET NOOP VRFY QUIT",
                ),
            )
        ]

