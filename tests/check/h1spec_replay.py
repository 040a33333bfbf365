"""
uNetworking/h1spec's 33 requests and its rule for judging the answers,
restated as data (the requests and status ranges are facts taken from
that suite; nothing of its code), replayed with the checker's own runner
so the checker's verdicts can be compared with h1spec's case by case.

h1spec's rule: send the request in one write, read once (at most 1024
bytes) within 500 ms, take the status code from ``HTTP/1.x NNN`` on the
first line (0 when there is none), and pass when it falls in one of the
case's ranges; the 15 fragmented requests pass only when nothing at all
comes back within the 500 ms (the server waited for the rest).
"""

from __future__ import annotations

import re
import selectors
import socket
import time
from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

WAIT = None  # the case passes when the server waits (says nothing)


@dataclass(frozen=True)
class H1Case:
    name: str
    request: bytes
    ranges: Optional[Tuple[Tuple[int, int], ...]]  # None: must wait
    checker: Tuple[str, ...]  # the checker's cases that cover it


_FRAGMENTS = [b"G", b"GET ", b"GET /hello", b"GET /hello ", b"GET /hello HTTP", b"GET /hello HTTP/1.1",
              b"GET /hello HTTP/1.1\r", b"GET /hello HTTP/1.1\r\n", b"GET /hello HTTP/1.1\r\nHos",
              b"GET /hello HTTP/1.1\r\nHost:", b"GET /hello HTTP/1.1\r\nHost: ",
              b"GET /hello HTTP/1.1\r\nHost: localhost", b"GET /hello HTTP/1.1\r\nHost: localhost\r",
              b"GET /hello HTTP/1.1\r\nHost: localhost\r\n", b"GET /hello HTTP/1.1\r\nHost: localhost\r\n\r"]

CASES: Sequence[H1Case] = [H1Case(f"fragment {i + 1}", f, WAIT, ("request.incomplete",)) for i, f in enumerate(_FRAGMENTS)] + [
    H1Case("no version", b"GET / \r\n\r\n", ((400, 599),), ("request-line.trailing-space",)),
    H1Case("Expect on GET", b"GET / HTTP/1.1\r\nHost: example.com\r\nExpect: 100-continue\r\n\r\n",
           ((100, 100), (200, 299)), ("expect.get",)),
    H1Case("valid GET", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", ((200, 299),), ()),
    H1Case("GET edge cases", b"GET / HTTP/1.1\r\nhoSt:\texample.com\r\nempty:\r\n\r\n", ((200, 299),),
           ("field.edge-cases", "field.empty-value")),
    H1Case("invalid header name", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Invalid[]: test\r\n\r\n",
           ((400, 499),), ("field.invalid-name",)),
    H1Case("missing Host", b"GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\n", ((400, 499),), ("host.missing",)),
    H1Case("two Hosts", b"GET / HTTP/1.1\r\nHost: example.com\r\nHost: example.org\r\n\r\n", ((400, 499),),
           ("host.duplicate",)),
    H1Case("overflowing negative length",
           b"GET / HTTP/1.1\r\nHost: example.com\r\nContent-Length: -123456789123456789123456789\r\n\r\n",
           ((400, 499),), ("content-length.overflow",)),
    H1Case("negative length", b"GET / HTTP/1.1\r\nHost: example.com\r\nContent-Length: -1234\r\n\r\n",
           ((400, 499),), ("content-length.negative",)),
    H1Case("non-numeric length", b"GET / HTTP/1.1\r\nHost: example.com\r\nContent-Length: abc\r\n\r\n",
           ((400, 499),), ("content-length.non-numeric",)),
    H1Case("empty value", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Empty-Header: \r\n\r\n", ((200, 299),),
           ("field.empty-value",)),
    H1Case("control character", b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Bad-Control-Char: test\x07\r\n\r\n",
           ((400, 499),), ("field.control-char",)),
    H1Case("HTTP/9.9", b"GET / HTTP/9.9\r\nHost: example.com\r\n\r\n", ((400, 499), (500, 599)),
           ("request-line.bad-version",)),
    H1Case("junk prefix", b"Extra lineGET / HTTP/1.1\r\nHost: example.com\r\n\r\n", ((400, 499), (500, 599)),
           ("request-line.garbage-prefix",)),
    H1Case("bare CR", b"GET / HTTP/1.1\r\nHost: example.com\r\n\rSome-Header: Test\r\n\r\n", ((400, 499),),
           ("field.bare-cr",)),
    H1Case("POST with body", b"POST / HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\r\nhello",
           ((200, 299), (404, 404)), ("body.post-content-length",)),
    H1Case("TE and CL", b"GET / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
           ((400, 499),), ("te-cl.both", "te-cl.both-mixed-case")),
]

READ_SECONDS = 0.5
#: Answers are waited for this long, not 500 ms: on a loaded machine a late
#: answer must not count as a failure.  Silence is still judged at 500 ms.
ANSWER_SECONDS = 2.0
_STATUS = re.compile(rb"HTTP/1\.\d (\d{3})")


def passes(case: H1Case, first: Optional[bytes]) -> bool:
    """
    h1spec's verdict from the first read: C{first} is the chunk (b"" for
    a close) that came within 500 ms, or L{None} when nothing came.
    """
    if case.ranges is None:
        return first is None
    if first is None:
        return False
    found = _STATUS.search(first[:1024].split(b"\r\n")[0])
    status = int(found.group(1)) if found else 0
    return any(low <= status <= high for low, high in case.ranges)


def replay(host: str, port: int) -> Dict[str, bool]:
    """
    Send every case on its own connection, all at once, read each once,
    and judge as h1spec does (answers get L{ANSWER_SECONDS}, silence is
    judged at 500 ms).  Loopback only, bounded.
    """
    sockets = []
    for case in CASES:
        connection = socket.create_connection((host, port), timeout=2)
        connection.sendall(case.request)
        connection.setblocking(False)
        sockets.append(connection)
    firsts: Dict[int, Optional[bytes]] = {}
    started = time.monotonic()
    with selectors.DefaultSelector() as selector:
        for index, connection in enumerate(sockets):
            selector.register(connection, selectors.EVENT_READ, index)
        while len(firsts) < len(sockets):
            remaining = started + ANSWER_SECONDS - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                late = time.monotonic() - started > READ_SECONDS
                try:
                    data = key.fileobj.recv(1024)  # type: ignore[union-attr]
                except OSError:
                    data = b""
                # Something after 500 ms on a case that must wait: it waited.
                firsts[key.data] = None if late and CASES[key.data].ranges is None else data
                selector.unregister(key.fileobj)
    for connection in sockets:
        connection.close()
    return {case.name: passes(case, firsts.get(index)) for index, case in enumerate(CASES)}
