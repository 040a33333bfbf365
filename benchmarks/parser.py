# -*- test-case-name: tests.web.test_server_core -*-
"""
Micro-benchmark of the netlab-http request parser against h11, same
requests, same process, one run.

    .venv/bin/python benchmarks/parser.py [--seconds 1.0]

Prints parses per second for each case and the ratio netlab / h11.  The
cases are what a server sees: one typical ~300-byte browser request per
packet on a keep-alive connection, 16 pipelined requests per packet, a
head split across two packets (all with heads that differ from one request
to the next), and the same head repeated, as benchmark tools and pollers
send it (the parser then skips re-parsing).  Best of five rounds, wall clock.  Then the
time to reject heads crafted against backtracking regular expressions.
"""

from __future__ import annotations

import argparse
import time
from typing import Callable, List, Tuple

import h11

from twisted_netlab.web._server_core import NEED_DATA, Limits, Request, RequestParser

#: A Chrome-like GET for a page, 300 bytes or so.
BROWSER_REQUEST = (
    b"GET /docs/index.html HTTP/1.1\r\n"
    b"Host: 127.0.0.1:8080\r\n"
    b"Connection: keep-alive\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n"
    b"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\n"
    b"Accept-Language: en-US,en;q=0.9\r\n"
    b"\r\n"
)

PIPELINE = 16


def distinct_requests(count: int) -> List[bytes]:
    """
    C{count} requests like L{BROWSER_REQUEST} that differ in their path,
    so no two consecutive heads on a connection are the same.
    """
    return [BROWSER_REQUEST.replace(b"/docs/index.html", b"/docs/page%03d.html" % i) for i in range(count)]


def netlab_per_packet(packets: List[bytes], per_packet: int) -> Callable[[int], int]:
    def run(rounds: int) -> int:
        parser = RequestParser()
        parsed = 0
        for _ in range(rounds):
            for packet in packets:
                parser.receive_data(packet)
                while True:
                    event = parser.next_event()
                    if event is NEED_DATA:
                        break
                    assert event.__class__ is Request
                    parsed += 1
        return parsed

    return run


def h11_per_packet(packets: List[bytes], per_packet: int) -> Callable[[int], int]:
    """
    h11 as a keep-alive server: it needs a response before it reads the
    next request, so a minimal one is sent (its cost is part of h11's
    per-request cycle).
    """
    response = h11.Response(status_code=200, headers=[("Content-Length", "0")])
    end = h11.EndOfMessage()

    def run(rounds: int) -> int:
        connection = h11.Connection(h11.SERVER)
        parsed = 0
        for _ in range(rounds):
            for packet in packets:
                connection.receive_data(packet)
                while True:
                    event = connection.next_event()
                    if event is h11.NEED_DATA:
                        break
                    if event.__class__ is h11.Request:
                        parsed += 1
                    elif event.__class__ is h11.EndOfMessage:
                        connection.send(response)
                        connection.send(end)
                        connection.start_next_cycle()
        return parsed

    return run


def h11_fresh(packets: List[bytes], per_packet: int) -> Callable[[int], int]:
    """
    h11 parsing only: a new connection per request, no response.
    """

    def run(rounds: int) -> int:
        parsed = 0
        for _ in range(rounds):
            for packet in packets:
                connection = h11.Connection(h11.SERVER)
                connection.receive_data(packet)
                if connection.next_event().__class__ is h11.Request:
                    parsed += 1
        return parsed

    return run


#: 16 KB heads built to make a backtracking parser go quadratic, next to a
#: plain head of the same size: every one should cost about the same.
HOSTILE_SIZE = 16000


def hostile_heads() -> List[Tuple[str, bytes]]:
    line = b"GET / HTTP/1.1\r\nHost: h\r\n"
    size = HOSTILE_SIZE
    return [
        ("plain 16 KB value", line + b"X: " + b"a" * size + b"\r\n\r\n"),
        ("spaces then NUL", line + b"X:" + b" " * size + b"\x00\r\n\r\n"),
        ("'a ' repeated then NUL", line + b"X: " + b"a " * (size // 2) + b"\x00\r\n\r\n"),
        ("value then spaces then DEL", line + b"X: a" + b" " * size + b"\x7f\r\n\r\n"),
        ("16 KB name, no colon", line + b"X" * size + b"\r\n\r\n"),
        ("target of %41 then %zz", b"GET /" + b"%41" * (size // 3) + b"%zz HTTP/1.1\r\nHost: h\r\n\r\n"),
        ("chunk extensions", b"GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
         + b"1;" + b"a=b;" * 200 + b"\x00\r\n"),
    ]


def time_hostile(seconds: float) -> None:
    limits = Limits(max_request_line=32768, max_header_bytes=32768, max_chunk_line=4096)
    print()
    print("hostile heads (%d bytes each), microseconds per parse; a quadratic" % HOSTILE_SIZE)
    print("parser would take hundreds of milliseconds on some of these:")
    for name, data in hostile_heads():

        def run(rounds: int, data: bytes = data) -> int:
            for _ in range(rounds):
                parser = RequestParser(limits)
                parser.receive_data(data)
                parser.next_event()
            return rounds

        rate = measure(run, seconds / 4)
        event = RequestParser(limits)
        event.receive_data(data)
        outcome = event.next_event()
        status = getattr(outcome, "status", None) or outcome.__class__.__name__
        print("  %-28s %10.1f us  -> %s" % (name, 1e6 / rate, status))


def measure(make: Callable[[int], int], seconds: float) -> float:
    """
    Requests parsed per second, best of five rounds of about C{seconds}.
    """
    rounds = 1
    while True:
        start = time.perf_counter()
        make(rounds)
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        rounds *= 2
    rounds = max(1, int(rounds * seconds / 10 / elapsed * 2))
    best = 0.0
    for _ in range(5):
        start = time.perf_counter()
        parsed = make(rounds)
        best = max(best, parsed / (time.perf_counter() - start))
    return best


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--seconds", type=float, default=1.0, help="time per measurement round")
    options = arguments.parse_args()
    half = len(BROWSER_REQUEST) // 2
    distinct = distinct_requests(64)
    cases: List[Tuple[str, List[bytes], int]] = [
        ("one request per packet", distinct, 1),
        ("%d pipelined per packet" % PIPELINE, [b"".join(distinct[i : i + PIPELINE]) for i in range(0, 64, PIPELINE)], PIPELINE),
        ("head split in 2 packets", [part for r in distinct for part in (r[:half], r[half:])], 1),
        ("same head again and again", [BROWSER_REQUEST], 1),
    ]
    print("request: %d bytes, %d header fields" % (len(BROWSER_REQUEST), BROWSER_REQUEST.count(b"\r\n") - 2))
    print("(each case but the last cycles through 64 heads that differ in the path)")
    print("%-26s %12s %12s %7s %12s %7s" % ("case", "netlab/s", "h11 cycle/s", "ratio", "h11 parse/s", "ratio"))
    for name, packets, per_packet in cases:
        ours = measure(netlab_per_packet(packets, per_packet), options.seconds)
        theirs = measure(h11_per_packet(packets, per_packet), options.seconds)
        if name == "one request per packet":
            fresh = measure(h11_fresh(packets, per_packet), options.seconds)
            fresh_text = "%12.0f %6.2fx" % (fresh, ours / fresh)
        else:
            fresh_text = "%12s %7s" % ("-", "-")
        print("%-26s %12.0f %12.0f %6.2fx %s" % (name, ours, theirs, ours / theirs, fresh_text))
    time_hostile(options.seconds)


if __name__ == "__main__":
    main()
