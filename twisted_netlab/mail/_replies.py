# -*- test-case-name: tests.mail.test_replies -*-
"""
Pure layer of the ``netlab mail`` client: server replies and what they say.
L{ReplyParser} assembles reply lines into L{Reply} values (RFC 5321 4.2,
RFC 3463 enhanced codes), L{parse_capabilities} reads an EHLO reply, and
the error classes name the L{Step} that failed.  Standard library only.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, FrozenSet, List, Optional, Tuple

if TYPE_CHECKING:
    from twisted_netlab.mail._client_core import MessageResult

#: RFC 5321 4.5.3.1.5 allows 512 octets per reply line; real servers send a
#: little more, so we accept up to this many and call anything longer an error.
MAX_REPLY_LINE_LENGTH = 2048
#: A multi-line reply longer than this is a peer trying to exhaust memory.
MAX_REPLY_LINES = 200

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
_CONTROL_ASCII = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_ENHANCED = re.compile(r"\A([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: |\Z)")
#: The common reply in one match: a last line (code, space, text) of
#: printable ASCII or tab, with the RFC 3463 code captured when its class is
#: the reply's first digit (\1).  Anything else takes the general path.
_LAST_LINE_ASCII = re.compile(
    rb"([2-5])[0-9][0-9] ((?:(\1)\.([0-9]{1,3})\.([0-9]{1,3})(?= |\Z))?[\t\x20-\x7e]*)"
)


@dataclass(frozen=True, slots=True)
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

    def quoted(self) -> str:
        """
        The reply as the server wrote it, on one line, for error messages.
        """
        return " / ".join(f"{self.code} {line}".rstrip() for line in self.lines)


_new, _set = object.__new__, object.__setattr__


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
        if not self._lines and len(line) <= MAX_REPLY_LINE_LENGTH:
            # One match for the usual one-line ASCII reply ("250 2.1.0 Ok").
            match = _LAST_LINE_ASCII.fullmatch(line)
            if match is not None:
                klass, text, enhanced_class, subject, detail = match.groups()
                # The match proved what Reply.__post_init__ checks: build
                # it without running that again (this runs for every reply).
                reply = _new(Reply)
                _set(reply, "code", int(line[:3]))
                _set(reply, "lines", (text.decode("ascii"),))
                _set(reply, "enhanced", None if enhanced_class is None else (klass[0] - 48, int(subject), int(detail)))
                return reply
        return self._feed_line(line, step)

    def _feed_line(self, line: bytes, step: Step) -> Optional[Reply]:
        """
        The general path: every line L{feed_line}'s single match does not
        take (continuations, non-ASCII text, anything malformed).
        """
        if line[-1:] == b"\r":
            line = line[:-1]
        if len(line) > MAX_REPLY_LINE_LENGTH:
            raise PeerProtocolError(step, f"reply line longer than {MAX_REPLY_LINE_LENGTH} bytes")
        # The grammar of _REPLY_LINE, spelled out: this runs for every reply.
        digits, separator = line[:3], line[3:4]
        if (
            len(digits) != 3
            or not digits.isdigit()
            or not 0x32 <= digits[0] <= 0x35
            or separator not in (b" ", b"-", b"")
        ):
            raise PeerProtocolError(step, f"malformed reply line {line[:80]!r}")
        code = int(digits)
        if self._code is not None and code != self._code:
            raise PeerProtocolError(
                step, f"reply code changed from {self._code} to {code} inside a multi-line reply"
            )
        raw = line[4:]
        if raw.isascii():
            text = raw.decode("ascii")
            control = _CONTROL_ASCII.search(raw) is not None
        else:
            text = raw.decode("utf-8", "replace")
            control = _CONTROL.search(text) is not None
        if control:
            raise PeerProtocolError(step, f"control character in reply line {line[:80]!r}")
        if separator == b"-":
            self._code = code
            self._lines.append(text)
            if len(self._lines) > MAX_REPLY_LINES:
                raise PeerProtocolError(step, f"reply longer than {MAX_REPLY_LINES} lines")
            return None
        if self._lines:
            self._lines.append(text)
            if len(self._lines) > MAX_REPLY_LINES:
                raise PeerProtocolError(step, f"reply longer than {MAX_REPLY_LINES} lines")
            lines, self._code, self._lines = tuple(self._lines), None, []
        else:
            lines = (text,)
        return Reply(code, lines, parse_enhanced_status(code, lines[0]))


def parse_enhanced_status(code: int, first_line: str) -> Optional[Tuple[int, int, int]]:
    """
    RFC 3463: ``class.subject.detail`` at the start of the text, whose class
    must equal the first digit of the reply code (else it is just text).
    """
    if first_line[:1] != str(code // 100):
        return None  # the class must equal the code's first digit
    match = _ENHANCED.match(first_line)
    if match is None:
        return None
    klass, subject, detail = match.groups()
    return (int(klass), int(subject), int(detail))


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

