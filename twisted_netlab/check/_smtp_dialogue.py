# -*- test-case-name: tests.check.test_smtp_server -*-
"""
How ``netlab check smtp`` talks SMTP (pure, standard library only): the
reply reader, the EHLO keywords, the addresses under C{--domain}, the
dialogue builder (greeting, then each command with an L{Await} for one more
reply; the TLS and login preamble when the server wants them) and the
helpers judges use to find reply I{n} of a recorded dialogue.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Tuple

from twisted_netlab.check._case import (
    Await,
    Context,
    EntryKind,
    Outcome,
    Recording,
    Send,
    StartTLS,
    Step,
    Stream,
    StreamRecord,
    failed,
)


@dataclass(frozen=True)
class Reply:
    """
    One SMTP reply: its code (L{None} when the last line does not start
    with three digits) and its lines, without line ends.
    """

    code: Optional[int]
    lines: Tuple[str, ...]

    @property
    def text(self) -> str:
        return " / ".join(self.lines)[:200]


def parse_replies(data: bytes) -> List[Reply]:
    """
    The complete replies in C{data} (RFC 5321 §4.2: ``NNN-`` lines go on,
    an ``NNN `` or bare ``NNN`` line ends a reply).  Lines end in CRLF or,
    leniently, LF; a line that is not a reply line ends a reply with code
    L{None}.  A last line without its end is not counted.
    """
    replies: List[Reply] = []
    lines: List[str] = []
    for raw in data.split(b"\n")[:-1]:
        line = raw.rstrip(b"\r").decode("utf-8", "replace")
        lines.append(line)
        head = line[:3]
        if head.isdigit() and len(line) >= 4 and line[3] == "-":
            continue
        code = int(head) if head.isdigit() and (len(line) == 3 or line[3] == " ") else None
        replies.append(Reply(code, tuple(lines)))
        lines = []
    return replies


def replies_seen(count: int) -> Callable[[bytes, bool], bool]:
    """
    An L{Await} predicate: C{count} complete replies have come.
    """
    return lambda received, closed: len(parse_replies(received)) >= count


def features(ehlo: Reply) -> Tuple[str, ...]:
    """
    The EHLO keywords with their parameters (``SIZE 10240000``), upper-cased,
    without the first line (the server's name).
    """
    return tuple(line[4:].strip().upper() for line in ehlo.lines[1:])


def keyword(found: Sequence[str], name: str) -> Optional[str]:
    """
    The parameters of EHLO keyword C{name} (``""`` when it has none), or
    L{None} when it was not offered.
    """
    for entry in found:
        word, _, rest = entry.partition(" ")
        if word == name:
            return rest.strip()
    return None


def sender(context: Context) -> str:
    return f"netlab-check@{context.extra.get('domain', 'example.com')}"


def recipient(context: Context) -> str:
    return f"netlab-check-rcpt@{context.extra.get('domain', 'example.com')}"


def tls_first(context: Context) -> bool:
    """
    Whether the server refuses the mail commands in clear (530, RFC 3207
    §4), so the dialogue cases run over TLS, after EHLO and STARTTLS.
    """
    return bool(context.extra.get("tls_first"))


def login_line(context: Context) -> Optional[bytes]:
    """
    ``AUTH PLAIN <token>`` for the C{--user} the checker was given, or L{None}.
    """
    login = context.extra.get("login")
    if not login:
        return None
    token = base64.b64encode(b"\0" + login[0].encode("utf-8") + b"\0" + login[1].encode("utf-8"))
    return b"AUTH PLAIN " + token + b"\r\n"


def offset(context: Context, login: bool = True) -> int:
    """
    The replies a dialogue's preamble adds before its own: EHLO and 220
    for TLS, EHLO and 235 for a login.
    """
    return (2 if tls_first(context) else 0) + (2 if login and login_line(context) is not None else 0)


def dialogue(context: Context, commands: Sequence[object], greet: bool = True, clear: bool = False, login: bool = True) -> Stream:
    """
    A stream that waits for the greeting, then plays C{commands}: bytes are
    sent with an L{Await} for one more reply; other steps (L{Pause},
    L{StartTLS}, an L{Await}) are played as they are.  When the server
    wants TLS first (L{tls_first}) and not C{clear}, EHLO and STARTTLS come
    before C{commands}, so they meet a fresh session over TLS; with a
    C{--user} (and C{login}), EHLO and AUTH PLAIN too.
    """
    bound = context.timeout_seconds
    steps: List[Step] = []
    expected = 0
    if greet:
        expected = 1
        steps.append(Await(replies_seen(1), bound))
        if tls_first(context) and not clear:
            steps += [Send(ehlo_line(context)), Await(replies_seen(2), bound), Send(b"STARTTLS\r\n"), Await(replies_seen(3), bound), StartTLS()]
            expected = 3
        auth = login_line(context)
        if auth is not None and login and not clear:
            steps += [Send(ehlo_line(context)), Await(replies_seen(expected + 1), bound), Send(auth), Await(replies_seen(expected + 2), bound)]
            expected += 2
    for command in commands:
        if isinstance(command, bytes):
            expected += 1
            steps.append(Send(command))
            steps.append(Await(replies_seen(expected), bound))
        else:
            steps.append(command)  # type: ignore[arg-type]
    return Stream(tuple(steps))


def ehlo_line(context: Context) -> bytes:
    return b"EHLO checker." + context.extra.get("domain", "example.com").encode("ascii") + b"\r\n"


def only_stream(recording: Recording) -> StreamRecord:
    return recording.streams[0]


def replies_in(recording: Recording) -> List[Reply]:
    return parse_replies(only_stream(recording).received)


def reply_at(recording: Recording, index: int, context: Optional[Context] = None, login: bool = True) -> Optional[Reply]:
    """
    Reply C{index} of the dialogue (0: the greeting), past the TLS preamble
    when C{context} says there is one.
    """
    got = replies_in(recording)
    if index > 0 and context is not None:
        index += offset(context, login)
    return got[index] if index < len(got) else None


def missing(recording: Recording, what: str) -> Outcome:
    stream = only_stream(recording)
    if stream.connect_failed:
        entry = stream.first(EntryKind.CONNECT_FAILED)
        return failed("could not connect: " + (entry.data.decode("ascii", "replace") if entry else ""))
    if stream.peer_closed:
        return failed(f"the server closed the connection before {what}")
    return failed(f"no complete reply to {what} within the time bound")


def says(reply: Reply) -> str:
    return f"{reply.text!r}"


__all__ = [
    "Reply",
    "dialogue",
    "ehlo_line",
    "features",
    "keyword",
    "login_line",
    "missing",
    "offset",
    "only_stream",
    "parse_replies",
    "recipient",
    "replies_in",
    "replies_seen",
    "reply_at",
    "says",
    "sender",
    "tls_first",
]
