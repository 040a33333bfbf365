# -*- test-case-name: tests.check.test_smtp_client -*-
"""
The pure side of ``netlab check smtp-client``: the session the mail sink
instrument records (every byte the client sent, with whether TLS was on,
and every reply line, in the order they happened), how it is read back
into the client's I{units} (command lines, AUTH continuation lines, the
DATA body) each paired with its reply, and the judges.  Standard library
only (the C{email} package reads the message).

Unit I{k} is answered by reply I{k+1}; reply 0 is the greeting.  Whether a
unit was sent before the reply it had to wait for is read from the order of
events: the sink writes a reply in the reactor turn that read its command,
so bytes that arrived in an earlier event than a reply were sent before the
client could have seen it.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

from twisted_netlab.check._case import Profile, escape, failed, passed, skipped, warned
from twisted_netlab.check._session import Finding, SessionCase
from twisted_netlab.check._student_output import OutputLine


@dataclass(frozen=True)
class WireEvent:
    """
    One thing the instrument saw on the client's connection: C{kind} is
    ``"client"`` (C{data}: bytes as received, decrypted when C{tls}),
    ``"server"`` (C{data}: one reply line, without CRLF) or ``"warning"``
    (the sink's own remark, e.g. an unstuffed dot).
    """

    at: float
    kind: str
    data: bytes
    tls: bool = False


@dataclass(frozen=True)
class Reply:
    code: Optional[int]
    lines: Tuple[str, ...]
    event: int

    @property
    def text(self) -> str:
        return " / ".join(self.lines)[:160]


@dataclass(frozen=True)
class Unit:
    """
    One thing the client said: a C{command} line, an C{auth} continuation
    line (a secret) or the C{body} of DATA (without its final dot line);
    C{raw} as sent (line end included, stuffed), C{event} the index of the
    event holding its first byte, C{tls} whether TLS was on then.
    """

    kind: str
    raw: bytes
    event: int
    tls: bool

    @property
    def verb(self) -> str:
        if self.kind != "command":
            return self.kind.upper()
        return self.raw.split(b" ", 1)[0].strip().upper().decode("ascii", "replace")

    def shown(self, show_auth: bool = False) -> str:
        if self.kind == "auth" and not show_auth:
            return "<credentials masked>"
        if self.kind == "command" and self.verb == "AUTH" and not show_auth:
            words = self.raw.strip().split(b" ")
            return " ".join(w.decode("ascii", "replace") for w in words[:2]) + (" <credentials masked>" if len(words) > 2 else "")
        if self.kind == "body":
            return f"<message: {len(self.raw)} bytes>"
        return escape(self.raw)


@dataclass(frozen=True)
class ClientRun:
    """
    One run of the student's client against the sink.
    """

    events: Tuple[WireEvent, ...]
    output: Tuple[OutputLine, ...] = ()
    exit_code: Optional[int] = None
    exit_description: str = ""
    connections: int = 1
    fault: str = ""


@dataclass(frozen=True)
class SmtpClientSession:
    """
    The normal run, the run with a 450 on RCPT (L{None} when not run), and
    what the checker was told.
    """

    normal: ClientRun
    faulted: Optional[ClientRun] = None
    user: Optional[str] = None
    attachment_sha256: Optional[str] = None
    show_auth: bool = False
    units: Tuple[Unit, ...] = field(default=())
    replies: Tuple[Reply, ...] = field(default=())


def replies_of(events: Sequence[WireEvent]) -> List[Reply]:
    replies: List[Reply] = []
    lines: List[str] = []
    for index, event in enumerate(events):
        if event.kind != "server":
            continue
        line = event.data.decode("utf-8", "replace")
        lines.append(line)
        if len(line) >= 4 and line[3] == "-":
            continue
        head = line[:3]
        replies.append(Reply(int(head) if head.isdigit() else None, tuple(lines), index))
        lines = []
    return replies


def units_of(events: Sequence[WireEvent], replies: Sequence[Reply]) -> List[Unit]:
    """
    The client's units in order (see the module docstring).
    """
    stream = bytearray()
    owners: List[Tuple[int, int, bool]] = []  # (start offset, event index, tls)
    for index, event in enumerate(events):
        if event.kind == "client" and event.data:
            owners.append((len(stream), index, event.tls))
            stream += event.data
    data = bytes(stream)

    def owner(offset: int) -> Tuple[int, bool]:
        found = (owners[0][1], owners[0][2]) if owners else (0, False)
        for start, index, tls in owners:
            if start > offset:
                break
            found = (index, tls)
        return found

    units: List[Unit] = []
    position = 0
    next_kind = "command"
    while position < len(data):
        where, tls = owner(position)
        if next_kind == "body":
            end = data.find(b"\r\n.\r\n", position - 2 if position >= 2 else position)
            if data.startswith(b".\r\n", position):
                end, stop = position, position + 3
                body = b""
            elif end < 0:
                units.append(Unit("body", data[position:], where, tls))
                break
            else:
                body = data[position:end + 2]
                stop = end + 5
            units.append(Unit("body", body, where, tls))
            position = stop
            next_kind = "command"
            continue
        end = data.find(b"\n", position)
        line = data[position:] if end < 0 else data[position:end + 1]
        unit = Unit(next_kind, line, where, tls)
        units.append(unit)
        position += len(line)
        reply = replies[len(units)] if len(units) < len(replies) else None
        code = reply.code if reply is not None else None
        if unit.kind == "command" and unit.verb == "DATA" and code == 354:
            next_kind = "body"
        elif unit.verb in ("AUTH",) and code == 334 or unit.kind == "auth" and code == 334:
            next_kind = "auth"
        else:
            next_kind = "command"
    return units


def read_session(session: SmtpClientSession) -> SmtpClientSession:
    """
    C{session} with its normal run's units and replies filled in.
    """
    from dataclasses import replace

    replies = replies_of(session.normal.events)
    return replace(session, replies=tuple(replies), units=tuple(units_of(session.normal.events, replies)))


def reply_to(session: SmtpClientSession, index: int) -> Optional[Reply]:
    """
    The reply answering unit C{index}.
    """
    position = index + 1
    return session.replies[position] if position < len(session.replies) else None


def dialogue(session: SmtpClientSession) -> List[str]:
    """
    The session as a person reads it: C:/S: lines, TLS shown, AUTH masked.
    """
    out: List[str] = []
    replies = {reply.event: reply for reply in session.replies}
    units = {unit.event: [] for unit in session.units}  # type: dict
    for unit in session.units:
        units[unit.event].append(unit)
    tls_shown = False
    for index, event in enumerate(session.normal.events):
        for unit in units.get(index, []):
            if unit.tls and not tls_shown:
                out.append("        -- TLS --")
                tls_shown = True
            out.append(f"{event.at:7.3f} C: {unit.shown(session.show_auth)[:200]}")
        if index in replies:
            for line in replies[index].lines:
                out.append(f"{event.at:7.3f} S: {line[:200]}")
        if event.kind == "warning":
            out.append(f"{event.at:7.3f} !! {event.data.decode('utf-8', 'replace')[:200]}")
    return out


# -- judges -------------------------------------------------------------------

#: Commands after which a client must wait for the reply even when the
#: server offers PIPELINING (RFC 2920 §3.1; STARTTLS RFC 3207 §4.2 and AUTH
#: RFC 4954 §4 end a group too).
MUST_WAIT = {"EHLO", "HELO", "DATA", "QUIT", "NOOP", "VRFY", "EXPN", "TURN", "STARTTLS", "AUTH", "BODY"}


def _nothing(session: SmtpClientSession) -> Optional[Finding]:
    if not session.units:
        lines = tuple(f"| {line.text}" for line in session.normal.output[-6:])
        return Finding(failed(f"the client said nothing to the instrument ({session.normal.exit_description or 'no exit'})"), lines)
    return None


def judge_waits_greeting(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    first = session.units[0]
    if not session.replies or first.event < session.replies[0].event:
        return Finding(failed(f"the client sent {first.shown(session.show_auth)!r} before the 220 greeting (the instrument greets 0.3 s after the connection)"))
    return Finding(passed("the first command came after the 220 greeting"))


def judge_ehlo(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    first = session.units[0]
    if first.verb == "EHLO":
        return Finding(passed(f"opens with {first.shown()}"))
    if first.verb == "HELO":
        return Finding(warned("opens with HELO: no extensions (STARTTLS, AUTH) can be used; EHLO is the greeting of ESMTP"))
    return Finding(failed(f"expected EHLO first, got {first.shown(session.show_auth)!r}"))


def judge_starttls_before_auth(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    clear = [u for u in session.units if not u.tls and (u.verb == "AUTH" or u.kind == "auth")]
    if clear:
        shown = "; ".join(u.shown(session.show_auth) for u in clear)
        return Finding(failed(f"credentials crossed in clear, before STARTTLS: {shown}"), tuple(f"C: {u.shown(session.show_auth)}" for u in clear))
    if any(u.verb == "AUTH" for u in session.units):
        return Finding(passed("AUTH only after STARTTLS, over TLS"))
    if any(u.verb == "STARTTLS" for u in session.units):
        return Finding(passed("STARTTLS was used; no AUTH was sent"))
    return Finding(passed("no credentials were sent (and no STARTTLS)"))


def judge_auth(session: SmtpClientSession) -> Finding:
    if session.user is None:
        return Finding(skipped("no --user given: the instrument offers no AUTH"))
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    for index, unit in enumerate(session.units):
        reply = reply_to(session, index)
        if reply is not None and reply.code == 235 and (unit.verb == "AUTH" or unit.kind == "auth"):
            return Finding(passed(f"authenticated ({reply.text})"))
    attempts = [(u, reply_to(session, i)) for i, u in enumerate(session.units) if u.verb == "AUTH" or u.kind == "auth"]
    if attempts:
        unit, reply = attempts[-1]
        return Finding(failed(f"AUTH did not succeed: {unit.shown(session.show_auth)} got {reply.text if reply else 'no reply'}"))
    return Finding(failed(f"the client never sent AUTH (the instrument requires it for user {session.user!r})"))


def judge_waits_replies(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    pipelining = any(
        r.code == 250 and any(line[4:].strip().upper() == "PIPELINING" for line in r.lines) for r in session.replies
    )
    early = []
    for index, unit in enumerate(session.units[1:], start=1):
        previous = session.units[index - 1]
        awaited = reply_to(session, index - 1)
        if awaited is None or unit.event > awaited.event:
            continue
        if pipelining and previous.kind == "command" and previous.verb not in MUST_WAIT:
            continue
        early.append(f"{unit.shown(session.show_auth)!r} was sent before the reply to {previous.shown(session.show_auth)!r}")
    if early:
        return Finding(failed(f"{len(early)} time(s) the client did not wait for a reply: " + early[0]), tuple(early[:5]))
    return Finding(passed("every command waited for the reply it depends on" + (" (PIPELINING offered)" if pipelining else "")))


def _lines_with_ends(raw: bytes) -> List[Tuple[bytes, bytes]]:
    """
    C{raw} split into (line, ending) with ending CRLF, LF, CR or b"".
    """
    out = []
    for match in re.finditer(rb"([^\r\n]*)(\r\n|\n|\r(?!\n)|$)", raw):
        if match.group(0) == b"" and match.end() == len(raw):
            break
        out.append((match.group(1), match.group(2)))
    return out


def judge_line_endings(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    bad = []
    for unit in session.units:
        for line, ending in _lines_with_ends(unit.raw):
            if ending not in (b"\r\n",) and not (unit.kind == "body" and ending == b""):
                where = "the message" if unit.kind == "body" else unit.shown(session.show_auth)
                bad.append(f"bare {escape(ending) or 'end'} after {escape(line[:60])!r} in {where[:60]}")
    if bad:
        return Finding(failed(f"{len(bad)} line(s) not ended by CRLF (RFC 5321 §2.3.8); first: {bad[0]}"), tuple(bad[:5]))
    return Finding(passed("every command and message line ends with CRLF"))


def _body(session: SmtpClientSession) -> Optional[bytes]:
    for unit in session.units:
        if unit.kind == "body":
            return unit.raw
    return None


def _unstuffed(body: bytes) -> bytes:
    # RFC 5321 §4.5.2: the receiver removes the first dot of a line.
    return b"\r\n".join(line[1:] if line.startswith(b".") else line for line in body.split(b"\r\n"))


def judge_message_parses(session: SmtpClientSession) -> Finding:
    body = _body(session)
    if body is None:
        return Finding(skipped("no message reached DATA (see the other cases for why)"))
    message = email.message_from_bytes(_unstuffed(body), policy=email.policy.default)
    problems: List[str] = []
    notes: List[str] = []
    if not message.get("From"):
        problems.append("no From header (RFC 5322 §3.6 requires it)")
    if not message.get("Date"):
        notes.append("no Date header (RFC 5322 §3.6 requires it; many servers add one)")
    for part in message.walk():
        for defect in part.defects:
            problems.append(f"{type(defect).__name__}: {defect}")
    evidence = []
    if session.attachment_sha256 is not None:
        found = []
        for part in message.walk():
            if part.is_multipart() or part.get_content_maintype() == "text":
                continue
            payload = part.get_payload(decode=True)
            found.append(hashlib.sha256(payload if isinstance(payload, bytes) else b"").hexdigest())
        if session.attachment_sha256 not in found:
            problems.append(
                "the attachment does not match --expect-attachment"
                + (f" (sha256 of the parts: {', '.join(h[:16] for h in found)})" if found else " (no non-text part found)")
            )
        else:
            evidence.append(f"attachment sha256 {session.attachment_sha256} matches")
    parts = sum(1 for _ in message.walk())
    if problems:
        return Finding(failed("; ".join(problems[:3])), tuple(problems[:6]))
    if notes:
        return Finding(warned(f"parses ({parts} MIME part(s)) but: " + "; ".join(notes)), tuple(evidence))
    return Finding(passed(f"parses as RFC 5322 + MIME ({parts} part(s))" + ("; attachment matches" if evidence else "")), tuple(evidence))


def judge_dot_stuffing(session: SmtpClientSession) -> Finding:
    body = _body(session)
    if body is None:
        return Finding(skipped("no message reached DATA"))
    stuffed, unsafe = [], []
    for line in body.split(b"\r\n"):
        pieces = re.split(rb"\n|\r", line)
        if line.startswith(b"."):
            if line.startswith(b".."):
                stuffed.append(line)
            else:
                unsafe.append(f"{escape(line[:60])!r} begins with a single '.': the server removes it")
        for piece in pieces[1:]:
            if piece.startswith(b"."):
                unsafe.append(f"{escape(piece[:60])!r} follows a bare LF and begins with '.': not stuffed on a CRLF line, eaten by servers that end lines at LF")
    if unsafe:
        return Finding(failed(f"{len(unsafe)} line(s) starting with '.' are not doubled (RFC 5321 §4.5.2); first: {unsafe[0]}"), tuple(unsafe[:5]))
    if stuffed:
        return Finding(passed(f"{len(stuffed)} line(s) starting with '.' were doubled"))
    return Finding(skipped("the message has no line starting with '.': dot-stuffing was not exercised"))


def judge_quit(session: SmtpClientSession) -> Finding:
    nothing = _nothing(session)
    if nothing is not None:
        return nothing
    last = session.units[-1]
    if last.verb == "QUIT":
        reply = reply_to(session, len(session.units) - 1)
        return Finding(passed("ends with QUIT" + (f" ({reply.text})" if reply else "")))
    if any(u.verb == "QUIT" for u in session.units):
        return Finding(warned("QUIT was sent but not last"))
    return Finding(failed(f"the client closed without QUIT (last: {last.shown(session.show_auth)!r})"))


_SUCCESS = re.compile(r"\b(?:sent|delivered|success(?:ful(?:ly)?)?|accepted|done)\b", re.IGNORECASE)
_NEGATED = re.compile(r"\b(?:not|never|n't|fail(?:ed|ure)?|error|unable|could not|cannot|refused|rejected)\b", re.IGNORECASE)


#: A printed server reply or dialogue line ("S: 235 ... successful"), not a claim.
_ECHOED_REPLY = re.compile(r"^\s*(?:[SC]:|<-|->|<<|>>|server:|client:)|^\s*[2-5][0-9][0-9](?:[ -]|$)", re.IGNORECASE)


def judge_reports_4xx(session: SmtpClientSession) -> Finding:
    run = session.faulted
    if run is None:
        return Finding(skipped("the run with a 450 on RCPT was not made"))
    replies = replies_of(run.events)
    if not any(r.code == 450 for r in replies):
        return Finding(skipped(f"the client never reached RCPT in the run with a 450 ({run.exit_description})"), tuple(f"| {l.text}" for l in run.output[-5:]))
    claims = [
        line for line in run.output
        if _SUCCESS.search(line.text) and not _NEGATED.search(line.text) and not _ECHOED_REPLY.search(line.text)
    ]
    evidence = tuple(f"{'!' if l.stream == 'err' else '|'} {l.text}" for l in run.output[-6:])
    if claims:
        return Finding(failed(f"after 450 on RCPT the client says {claims[-1].text.strip()!r} ({run.exit_description})"), evidence)
    if run.exit_code == 0:
        return Finding(warned("after 450 on RCPT the client claims nothing but exits with status 0 (a script cannot tell it failed)"), evidence)
    return Finding(passed(f"after 450 on RCPT the client claims no success and {run.exit_description}"), evidence)


def all_cases() -> List[SessionCase]:
    lab = Profile.LAB
    return [
        SessionCase("smtp.waits-greeting", "waits for the 220 greeting", "RFC 5321 §3.1", judge_waits_greeting, lab),
        SessionCase("smtp.ehlo", "greets with EHLO", "RFC 5321 §4.1.1.1", judge_ehlo, lab),
        SessionCase("smtp.starttls-before-auth", "credentials never cross in clear", "RFC 3207 §4, RFC 4954 §4", judge_starttls_before_auth, lab),
        SessionCase("smtp.auth", "authenticates", "RFC 4954 §4", judge_auth, lab),
        SessionCase("smtp.waits-replies", "waits for each reply (unless PIPELINING)", "RFC 5321 §4.3, RFC 2920", judge_waits_replies, lab),
        SessionCase("smtp.line-endings", "CRLF line endings only", "RFC 5321 §2.3.8", judge_line_endings, lab),
        SessionCase("smtp.message-parses", "the message parses (RFC 5322, MIME)", "RFC 5322 §3.6", judge_message_parses, lab),
        SessionCase("smtp.dot-stuffing", "lines starting with '.' are doubled", "RFC 5321 §4.5.2", judge_dot_stuffing, lab),
        SessionCase("smtp.quit", "ends with QUIT", "RFC 5321 §4.1.1.10", judge_quit, lab),
        SessionCase("smtp.reports-4xx", "a 450 on RCPT is reported, not success", "RFC 5321 §4.2.5", judge_reports_4xx, lab),
    ]


__all__ = ["ClientRun", "SmtpClientSession", "WireEvent", "all_cases", "dialogue", "read_session", "replies_of", "units_of"]
