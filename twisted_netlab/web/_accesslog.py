# -*- test-case-name: tests.web.test_accesslog -*-
"""
netlab-http's access log: the line format (Combined Log Format, as
Apache and nginx write it; pure: the time is passed in, request-controlled
text escaped so a client cannot forge lines) and L{AccessLog}, which
batches lines on any clock with C{callLater} (no Twisted import here).
"""

from __future__ import annotations

import re
import time
from typing import Any, Callable, List, Optional, Tuple

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def log_time(now: float) -> str:
    """
    C{[10/Oct/2000:13:55:36 +0000]}, always in UTC.
    """
    t = time.gmtime(now)
    return f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000]"


# Printable ASCII except the quote and the backslash: written as is.
_NEEDS_ESCAPE = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')


def _escape(text: str) -> str:
    # As nginx does: quote, backslash and anything not printable ASCII
    # become \xHH, so one request is always exactly one line.
    if _NEEDS_ESCAPE.search(text) is None:
        return text  # the common case, without a loop per character
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\' or code < 0x20 or code > 0x7E:
            out.append(f"\\x{code:02X}" if code < 0x100 else char.encode("unicode_escape").decode("ascii"))
        else:
            out.append(char)
    return "".join(out)


def combined_line(
    client: str,
    stamp: str,
    request_line: str,
    status: int,
    size: int,
    referer: Optional[bytes],
    user_agent: Optional[bytes],
    reason: Optional[str] = None,
) -> str:
    """
    One Combined Log Format line (without newline):
    C{host - - [time] "request" status bytes "referer" "user-agent"};
    C{stamp} comes from L{log_time}; C{size} is the body bytes sent.
    When the answer has a C{reason} worth knowing (why the parser
    rejected the request, an errno behind a 503), it follows the user
    agent as one more quoted field, which Combined Log readers ignore.
    """
    referer_text = _escape(referer.decode("latin-1")) if referer else "-"
    agent_text = _escape(user_agent.decode("latin-1")) if user_agent else "-"
    body = str(size) if size else "-"
    line = f'{client} - - {stamp} "{_escape(request_line)}" {status} {body} "{referer_text}" "{agent_text}"'
    if reason:
        line += f' "{_escape(reason)}"'
    return line


class AccessLog:
    """
    Buffer access-log lines and hand them to C{write} in batches: every
    C{interval} seconds of C{clock} (anything with C{callLater}), when
    C{max_lines} are waiting, and on L{close}.  One write per batch
    instead of per request keeps logging cheap.
    """

    def __init__(self, write: Callable[[List[str]], None], clock: Any, interval: float = 1.0, max_lines: int = 512) -> None:
        self._write = write
        self._lines: List[str] = []
        self._max_lines = max_lines
        self._clock = clock
        self._interval = interval
        self._call: Any = clock.callLater(interval, self._tick)

    def _tick(self) -> None:
        self._call = self._clock.callLater(self._interval, self._tick)
        self.flush()

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self._write(lines)

    def close(self) -> None:
        if self._call is not None:
            if self._call.active():
                self._call.cancel()
            self._call = None
        self.flush()


def file_access_log(path: str, clock: Any) -> Tuple[AccessLog, Callable[[], None]]:
    """
    An L{AccessLog} appending to the file at C{path} (O_APPEND, so
    several worker processes can share it), and a function closing it.
    """
    handle = open(path, "a", encoding="utf-8", buffering=1 << 16)

    def write(lines: List[str]) -> None:
        handle.write("\n".join(lines) + "\n")
        handle.flush()

    log = AccessLog(write, clock)

    def close() -> None:
        log.close()
        handle.close()

    return log, close
