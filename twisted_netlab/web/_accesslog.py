# -*- test-case-name: tests.web.test_accesslog -*-
"""
Pure formatting of access-log lines in the Combined Log Format (as
Apache and nginx write them).  The time is passed in; request-controlled
text is escaped so a client cannot forge extra log lines.
"""

from __future__ import annotations

import re
import time
from typing import Optional

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
) -> str:
    """
    One Combined Log Format line (without newline):
    C{host - - [time] "request" status bytes "referer" "user-agent"};
    C{stamp} comes from L{log_time}; C{size} is body bytes sent.
    """
    referer_text = _escape(referer.decode("latin-1")) if referer else "-"
    agent_text = _escape(user_agent.decode("latin-1")) if user_agent else "-"
    body = str(size) if size else "-"
    return f'{client} - - {stamp} "{_escape(request_line)}" {status} {body} "{referer_text}" "{agent_text}"'
