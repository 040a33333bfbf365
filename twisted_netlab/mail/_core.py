# -*- test-case-name: tests.mail.test_core -*-
"""
The sans-IO core of the ``netlab mail`` ESMTP client: reply parsing, EHLO
capabilities, the client dialogue as a state machine that is fed reply lines
and answers with events (L{SendLine}, L{StartTLS}, L{CloseConnection}, ...),
DATA framing (CRLF normalisation, dot-stuffing) and MIME message building.

Standard library only; time and randomness are passed in.  How it works:
the adapter feeds each received line to L{ClientDialogue.receive_line}; the
L{ReplyParser} assembles multi-line replies; a complete reply goes to the
handler chosen from a table keyed by the current L{State}; handlers return
the next events.  Rules kept here: RFC 5321 (replies, DATA framing), RFC 3207
(STARTTLS: nothing read before the handshake counts, capabilities are
forgotten, EHLO again), RFC 4954 (AUTH), RFC 2920 (PIPELINING), RFC 1870
(SIZE), RFC 6152 (8BITMIME), RFC 6531 (SMTPUTF8), RFC 3463 (enhanced codes).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import mimetypes
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Callable, Deque, Dict, FrozenSet, List, Optional, Sequence, Tuple

CRLF = b"\r\n"

#: RFC 5321 4.5.3.1.5 allows 512 octets per reply line; real servers send a
#: little more, so we accept up to this many and call anything longer an error.
MAX_REPLY_LINE_LENGTH = 2048
#: A multi-line reply longer than this is a peer trying to exhaust memory.
MAX_REPLY_LINES = 200
#: RFC 5321 4.5.3.1.6: 1000 octets per text line including CRLF.
MAX_DATA_LINE_LENGTH = 998


# ---------------------------------------------------------------- errors


class LocalProtocolError(ValueError):
    """
    Our caller asked for something illegal (an address with a line break,
    a message line longer than SMTP allows, ...).  Nothing was sent.
    """


class Step(enum.Enum):
    """
    The step of the dialogue a reply, an error or a timeout belongs to.
    """

    CONNECT = "connect"
    GREETING = "greeting"
    EHLO = "EHLO"
    HELO = "HELO"
    STARTTLS = "STARTTLS"
    TLS = "TLS handshake"
    AUTH = "AUTH"
    MAIL = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"
    MESSAGE = "end of data"
    RSET = "RSET"
    QUIT = "QUIT"


class Phase(enum.IntEnum):
    """
    What the user was trying to get done when a step failed; the value is
    the ``netlab mail`` exit code.
    """

    CONNECT = 3
    SESSION = 4
    TLS = 5
    AUTH = 6
    ENVELOPE = 7
    MESSAGE = 8


PHASE_OF_STEP: Dict[Step, Phase] = {
    Step.CONNECT: Phase.CONNECT,
    Step.GREETING: Phase.SESSION,
    Step.EHLO: Phase.SESSION,
    Step.HELO: Phase.SESSION,
    Step.STARTTLS: Phase.TLS,
    Step.TLS: Phase.TLS,
    Step.AUTH: Phase.AUTH,
    Step.MAIL: Phase.ENVELOPE,
    Step.RCPT: Phase.ENVELOPE,
    Step.DATA: Phase.MESSAGE,
    Step.MESSAGE: Phase.MESSAGE,
    Step.RSET: Phase.SESSION,
    Step.QUIT: Phase.SESSION,
}


class SMTPClientError(Exception):
    """
    The dialogue (or one message of it) did not succeed.

    @ivar step: the L{Step} that failed; C{PHASE_OF_STEP[step]} is the
        exit code of ``netlab mail``.
    @ivar result: for errors about one message, its L{MessageResult}
        (per-recipient replies), else L{None}.
    """

    def __init__(self, step: Step, detail: str) -> None:
        super().__init__(f"{step.value}: {detail}")
        self.step = step
        self.detail = detail
        self.result: Optional["MessageResult"] = None

    @property
    def phase(self) -> Phase:
        return PHASE_OF_STEP[self.step]


class SMTPReplyError(SMTPClientError):
    """
    The server answered a step with a refusal (4xx temporary, 5xx permanent).
    """

    def __init__(self, step: Step, reply: "Reply", detail: str = "server refused") -> None:
        super().__init__(step, f"{detail}: {reply.quoted()}")
        self.reply = reply

    @property
    def temporary(self) -> bool:
        return 400 <= self.reply.code < 500


class PeerProtocolError(SMTPClientError):
    """
    The server broke the protocol (malformed reply, data injected before a
    TLS handshake, ...); the connection is aborted, not closed politely.
    """


class PolicyError(SMTPClientError):
    """
    We refused to go on: the server lacks something we need (STARTTLS when
    TLS is required, AUTH, SMTPUTF8) or announced a limit we would exceed.
    """


class StepTimeout(SMTPClientError):
    """
    The server did not complete its reply to a step in time.
    """


class ConnectionLost(SMTPClientError):
    """
    The connection ended (or could not be made, or its TLS handshake
    failed) before the dialogue was over.
    """


# ---------------------------------------------------------------- replies


_REPLY_LINE = re.compile(rb"\A([2-5][0-9][0-9])([ -])?(.*)\Z", re.DOTALL)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_ENHANCED = re.compile(r"\A([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |\Z)")


@dataclass(frozen=True)
class Reply:
    """
    One complete server reply: its code, the text of each line (code and
    separator removed), and the RFC 3463 enhanced status code when the first
    line starts with one whose class matches the code.
    """

    code: int
    lines: Tuple[str, ...]
    enhanced: Optional[Tuple[int, int, int]] = None

    def __post_init__(self) -> None:
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code out of range: {self.code}")
        if not self.lines:
            raise ValueError("a reply has at least one line")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def positive(self) -> bool:
        return 200 <= self.code < 400

    def quoted(self) -> str:
        """
        The reply as the server wrote it, on one line, for error messages.
        """
        return " / ".join(f"{self.code} {line}".rstrip() for line in self.lines)


class ReplyParser:
    """
    Assemble reply lines (without their CRLF) into L{Reply} values.

    RFC 5321 4.2.1: every line of a multi-line reply carries the same code,
    all but the last with ``-`` after it.  A line that does not follow that
    grammar raises L{PeerProtocolError} rather than being guessed at: the
    seed's single ``recv(1024)`` is exactly the bug this replaces.
    """

    def __init__(self) -> None:
        self._code: Optional[int] = None
        self._lines: List[str] = []

    @property
    def in_progress(self) -> bool:
        return self._code is not None

    def feed_line(self, line: bytes, step: Step = Step.GREETING) -> Optional[Reply]:
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > MAX_REPLY_LINE_LENGTH:
            raise PeerProtocolError(step, f"reply line longer than {MAX_REPLY_LINE_LENGTH} bytes")
        match = _REPLY_LINE.match(line)
        if match is None or (match.group(2) is None and match.group(3)):
            raise PeerProtocolError(step, f"malformed reply line {line[:80]!r}")
        code = int(match.group(1))
        if self._code is not None and code != self._code:
            raise PeerProtocolError(
                step, f"reply code changed from {self._code} to {code} inside a multi-line reply"
            )
        text = match.group(3).decode("utf-8", "replace")
        if _CONTROL.search(text):
            raise PeerProtocolError(step, f"control character in reply line {line[:80]!r}")
        self._code = code
        self._lines.append(text)
        if len(self._lines) > MAX_REPLY_LINES:
            raise PeerProtocolError(step, f"reply longer than {MAX_REPLY_LINES} lines")
        if match.group(2) == b"-":
            return None
        lines, self._code, self._lines = tuple(self._lines), None, []
        return Reply(code, lines, parse_enhanced_status(code, lines[0]))


def parse_enhanced_status(code: int, first_line: str) -> Optional[Tuple[int, int, int]]:
    """
    RFC 3463: ``class.subject.detail`` at the start of the text, whose class
    must equal the first digit of the reply code (else it is just text).
    """
    match = _ENHANCED.match(first_line)
    if match is None or int(match.group(1)) != code // 100:
        return None
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)))


# ---------------------------------------------------------------- capabilities


@dataclass(frozen=True)
class Capabilities:
    """
    What an EHLO reply announced.  C{size} is L{None} when SIZE was not
    offered and 0 when offered without a limit (RFC 1870 4).
    """

    keywords: FrozenSet[str] = frozenset()
    size: Optional[int] = None
    auth: Tuple[str, ...] = ()

    @property
    def starttls(self) -> bool:
        return "STARTTLS" in self.keywords

    @property
    def pipelining(self) -> bool:
        return "PIPELINING" in self.keywords

    @property
    def eightbitmime(self) -> bool:
        return "8BITMIME" in self.keywords

    @property
    def smtputf8(self) -> bool:
        return "SMTPUTF8" in self.keywords

    @property
    def enhanced_status_codes(self) -> bool:
        return "ENHANCEDSTATUSCODES" in self.keywords


def parse_capabilities(reply: Reply) -> Capabilities:
    """
    Parse the lines after the first of a 250 EHLO reply (RFC 5321 4.1.1.1).
    ``AUTH=PLAIN LOGIN`` (the pre-standard form) counts as AUTH too.
    """
    keywords = set()
    size: Optional[int] = None
    auth: List[str] = []
    for line in reply.lines[1:]:
        words = line.split()
        if not words:
            continue
        keyword = words[0].upper()
        if keyword.startswith("AUTH="):
            words = ["AUTH", keyword[5:]] + words[1:]
            keyword = "AUTH"
        keywords.add(keyword)
        if keyword == "SIZE":
            size = 0
            if len(words) > 1 and words[1].isdigit():
                size = int(words[1])
        elif keyword == "AUTH":
            for mechanism in words[1:]:
                mechanism = mechanism.upper()
                if mechanism not in auth:
                    auth.append(mechanism)
    return Capabilities(frozenset(keywords), size, tuple(auth))


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


# ---------------------------------------------------------------- addresses


_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>()\[\]\\,;:\"]")


def check_header_text(name: str, value: str) -> str:
    """
    Refuse CR, LF and other control characters in text that goes into a
    header: they would let the text start new headers (header injection).
    """
    for character in value:
        if character in "\r\n" or (ord(character) < 32 and character != "\t") or ord(character) == 127:
            raise LocalProtocolError(
                f"{name} contains a control character ({character!r}): refused, it could inject headers"
            )
    return value


def check_address(address: str, what: str = "address") -> str:
    """
    Validate a bare envelope address (``local@domain``): one ``@``, both
    parts non-empty, no spaces, controls or specials that could break the
    command line or a header.  Non-ASCII is allowed (it needs SMTPUTF8).
    """
    check_header_text(what, address)
    if len(address.encode("utf-8")) > 254:
        raise LocalProtocolError(f"{what} {address!r} is longer than 254 octets")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise LocalProtocolError(f"{what} {address!r} is not of the form local@domain")
    if _FORBIDDEN_IN_ADDRESS.search(domain) or _FORBIDDEN_IN_ADDRESS.search(local.strip('"')):
        raise LocalProtocolError(f"{what} {address!r} contains a character not allowed in an address")
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        raise LocalProtocolError(f"{what} {address!r} has an invalid domain")
    return address


@dataclass(frozen=True)
class Mailbox:
    """
    An address with an optional display name, parsed from ``a@b`` or
    ``Name <a@b>``.
    """

    address: str
    display_name: str = ""

    @classmethod
    def parse(cls, text: str, what: str = "address") -> "Mailbox":
        check_header_text(what, text)
        text = text.strip()
        match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", text)
        if match:
            name = match.group(1).strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = name[1:-1]
            if '"' in name:
                raise LocalProtocolError(f"{what} {text!r}: the display name may not contain quotes")
            return cls(check_address(match.group(2).strip(), what), name)
        return cls(check_address(text, what))

    @property
    def ascii(self) -> bool:
        return self.address.isascii()

    def header(self) -> str:
        """
        The mailbox as header text; the display name is quoted when it has
        specials or non-ASCII (the email package then RFC 2047-encodes it).
        """
        if not self.display_name:
            return self.address
        name = self.display_name
        if name.isascii() and not re.search(r'[()<>\[\]:;@\\,.]', name):
            return f"{name} <{self.address}>"
        escaped = name.replace("\\", "\\\\")
        return f'"{escaped}" <{self.address}>'


# ---------------------------------------------------------------- DATA framing


def normalize_crlf(data: bytes) -> bytes:
    """
    Every CR, LF or CRLF becomes CRLF, and the text ends with CRLF: no bare
    CR or LF ever leaves the client (the SMTP smuggling family, where
    servers disagree about what ends DATA, e.g. ``<LF>.<LF>``).
    """
    normalized = re.sub(rb"\r\n|\r|\n", CRLF, data)
    if not normalized.endswith(CRLF):
        normalized += CRLF
    return normalized


def frame_data(message: bytes) -> bytes:
    """
    The bytes to send after a 354: CRLF-normalised, every line that starts
    with ``.`` gets another one (RFC 5321 4.5.2), then ``.CRLF``.

    @raise LocalProtocolError: a line is longer than RFC 5321 allows.
    """
    normalized = normalize_crlf(message)
    lines = normalized.split(CRLF)
    longest = max(lines, key=len)
    if len(longest) > MAX_DATA_LINE_LENGTH:
        number = lines.index(longest) + 1
        raise LocalProtocolError(
            f"message line {number} is {len(longest)} bytes long; SMTP allows {MAX_DATA_LINE_LENGTH}"
        )
    stuffed = normalized.replace(CRLF + b".", CRLF + b"..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b"." + CRLF


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: Optional[str] = None

    def mime_type(self) -> Tuple[str, str]:
        """
        The MIME type given, else guessed from the file name by
        L{mimetypes}, else ``application/octet-stream``.
        """
        guessed = self.content_type or mimetypes.guess_type(self.filename, strict=False)[0]
        if not guessed or "/" not in guessed:
            guessed = "application/octet-stream"
        maintype, _, subtype = guessed.partition("/")
        return maintype, subtype


#: Headers build_message() writes itself; extra headers may not repeat them.
_BUILT_HEADERS = frozenset(
    ["from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version"]
)


def make_message_id(token: bytes, domain: str) -> str:
    """
    A Message-ID from caller-supplied randomness (the core has none).
    """
    check_header_text("Message-ID domain", domain)
    return f"<{token.hex()}@{domain}>"


def build_message(
    sender: Mailbox,
    to: Sequence[Mailbox],
    cc: Sequence[Mailbox] = (),
    subject: str = "",
    body: str = "",
    attachments: Sequence[Attachment] = (),
    now: float = 0.0,
    message_id: str = "",
    extra_headers: Sequence[Tuple[str, str]] = (),
) -> bytes:
    """
    A complete RFC 5322 message as bytes with CRLF line ends.

    Non-ASCII header text is RFC 2047-encoded, unless an address itself is
    not ASCII: then the message is an RFC 6532 (SMTPUTF8) one.  Bcc
    recipients never appear here.  The text body is quoted-printable when
    not ASCII, so the message is 7-bit unless an address forces UTF-8.
    """
    check_header_text("subject", subject)
    for name, value in extra_headers:
        check_header_text("header name", name)
        check_header_text(f"header {name}", value)
        if not re.fullmatch(r"[!-9;-~]+", name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if name.lower() in _BUILT_HEADERS or name.lower().startswith("content-"):
            raise LocalProtocolError(
                f"header {name} is set by the message builder (use the matching option instead)"
            )
    utf8 = not all(m.ascii for m in [sender, *to, *cc])
    policy = email_policy.SMTPUTF8 if utf8 else email_policy.SMTP
    message = EmailMessage(policy=policy)
    message["From"] = sender.header()
    if to:
        message["To"] = ", ".join(m.header() for m in to)
    if cc:
        message["Cc"] = ", ".join(m.header() for m in cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.fromtimestamp(now, timezone.utc))
    if message_id:
        message["Message-ID"] = message_id
    for name, value in extra_headers:
        try:
            message[name] = value
        except ValueError as error:  # e.g. a second header that may appear once
            raise LocalProtocolError(f"header {name}: {error}")
    normalized_body = body.replace("\r\n", "\n").replace("\r", "\n")
    if normalized_body and not normalized_body.endswith("\n"):
        normalized_body += "\n"
    if normalized_body.isascii():
        message.set_content(normalized_body, cte="7bit" if _short_lines(normalized_body) else "quoted-printable")
    else:
        message.set_content(normalized_body, charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        check_header_text("attachment file name", attachment.filename)
        maintype, subtype = attachment.mime_type()
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    if message.is_multipart():
        # The email package would pick a boundary with the global random
        # module; a hash of the parts is deterministic and cannot occur in
        # them (finding content containing its own hash is a preimage attack).
        digest = hashlib.sha256()
        for part in message.iter_parts():
            digest.update(part.as_bytes())
        message.set_boundary("=_netlab_" + digest.hexdigest()[:40])
    return normalize_crlf(message.as_bytes())


def _short_lines(text: str) -> bool:
    return all(len(line) <= 900 for line in text.split("\n"))


def needs_smtputf8(sender: str, recipients: Sequence[str]) -> bool:
    """
    RFC 6531: a non-ASCII envelope address needs SMTPUTF8.  (UTF-8 in the
    headers alone needs it too; the caller says so with L{Envelope.utf8}.)
    """
    return not all(a.isascii() for a in [sender, *recipients])


def has_8bit(data: bytes) -> bool:
    return not data.isascii()


# ---------------------------------------------------------------- events


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class SendData:
    """
    Write the framed message (already dot-stuffed, ending with ``.CRLF``).
    """

    data: bytes


@dataclass(frozen=True)
class StartTLS:
    """
    Start the TLS handshake now, then call L{ClientDialogue.tls_started}.
    """


@dataclass(frozen=True)
class CloseConnection:
    """
    Close the connection: politely after pending writes, or C{abort} at once
    (after a protocol violation nothing more should be read or written).
    """

    abort: bool = False


@dataclass(frozen=True)
class ReplyReceived:
    step: Step
    reply: Reply


@dataclass(frozen=True)
class RecipientResult:
    address: str
    reply: Optional[Reply]

    @property
    def accepted(self) -> bool:
        return self.reply is not None and 200 <= self.reply.code < 300


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class MessageFinished:
    result: MessageResult


@dataclass(frozen=True)
class DialogueFinished:
    """
    QUIT was answered (or the connection may now be closed): all done.
    """


@dataclass(frozen=True)
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
        self._message_error = None
        self._mail_ok = False
        try:
            framed = frame_data(envelope.data)
        except LocalProtocolError as error:
            self._finish_message(PolicyError(Step.DATA, str(error)))
            return None
        parameters = []
        if capabilities.size is not None:
            # RFC 1870 3: the size after CRLF normalisation, without dot-stuffing.
            message_size = len(normalize_crlf(envelope.data))
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
        rcpt_index = sum(1 for step, _ in self._pending if step is Step.RCPT) + sum(
            1 for r in self._rcpt_replies if r is not None
        )
        while self._queued:
            step, line = self._queued.popleft()
            index = 0
            if step is Step.RCPT:
                index, rcpt_index = rcpt_index, rcpt_index + 1
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
