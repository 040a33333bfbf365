"""
Property tests for L{twisted_netlab.web._server_core.RequestParser}: generated,
then mutated, requests fed in random pieces.  Whatever arrives, the parser
never raises, gives the same events however the bytes are split, and
answers every bad input with a 4xx (or exactly 505 for an HTTP version it
does not speak, 501 for a transfer coding it does not implement).

The generators are shared with the differential test against h11.
"""

import os
import re
from typing import List, Tuple

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._server_core import (
    NEED_DATA,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
)

#: NETLAB_HYPOTHESIS_EXAMPLES=5000 for a deeper run than the suite's.
SETTINGS = settings(
    max_examples=int(os.environ.get("NETLAB_HYPOTHESIS_EXAMPLES", "250")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

METHODS = [b"GET", b"HEAD", b"POST", b"OPTIONS", b"PUT", b"FOO", b"CONNECT", b"get"]
TARGETS = [
    b"/", b"/index.html", b"/a/b?c=d", b"/%41%2F", b"/a#b", b"/%zz", b"*", b"h:443",
    b"http://h/x", b"HTTPS://h:8443", b"http://u@h/", b"ftp://h/", b"//h/x", b"/a b",
]
VERSIONS = [b"HTTP/1.1", b"HTTP/1.0", b"HTTP/1.2", b"HTTP/2.0", b"HTTP/0.9", b"HTTP/1.10", b"http/1.1", b"HTTP/1"]
NAMES = [
    b"Host", b"Content-Length", b"Transfer-Encoding", b"Connection", b"Accept", b"X-A",
    b"Expect", b"Cookie", b"Te", b"content-length", b"TRANSFER-ENCODING",
]
VALUES = [
    b"h", b"0", b"5", b"+5", b"-1", b"0x5", b"5, 5", b"1_0", b"chunked", b"Chunked", b"gzip, chunked",
    b"chunked, gzip", b"identity", b"close", b"keep-alive", b"100-continue", b"*/*", b"", b" a ",
    b"\x0b5", b"[::1]:80", b"a b", b"caf\xc3\xa9",
]
#: Bytes that matter to HTTP framing, used for insertions and swaps.
INTERESTING = b"\r\n \t:;,=\"0123456789aAfFxX+-_/?#%\x00\x0b\x0c\x7f\x80\xff"


def mostly(usual, odd, odds: int = 5):
    """
    Draw from C{usual}, and one time in C{odds} from C{odd}.
    """
    return st.integers(1, odds).flatmap(lambda n: odd if n == 1 else usual)


BENIGN = [(b"Accept", b"*/*"), (b"User-Agent", b"test/1.0"), (b"Accept-Encoding", b"gzip, br"), (b"X-A", b"1"), (b"Cookie", b"a=b; c=d")]


@st.composite
def chunked_body(draw) -> bytes:
    parts = []
    for _ in range(draw(st.integers(0, 3))):
        data = draw(st.binary(min_size=1, max_size=12))
        extension = draw(mostly(st.sampled_from([b"", b";a", b";a=b", b';a="x y"']), st.sampled_from([b" ", b";", b"; a"])))
        size = draw(mostly(st.sampled_from([b"%x", b"%X", b"0%x"]), st.sampled_from([b"0x%x", b"+%x", b" %x"]))) % len(data)
        parts.append(size + extension + b"\r\n" + data + b"\r\n")
    parts.append(draw(st.sampled_from([b"0", b"00", b"0;z"])) + b"\r\n")
    for _ in range(draw(st.integers(0, 2))):
        parts.append(b"%s: %s\r\n" % draw(field()))
    parts.append(b"\r\n")
    return b"".join(parts)


def field():
    return mostly(st.sampled_from(BENIGN), st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)), 4)


@st.composite
def request(draw) -> bytes:
    """
    A request that is usually well-formed: valid pieces are the common
    draw, odd ones are mixed in.
    """
    method = draw(mostly(st.sampled_from(METHODS[:3]), st.sampled_from(METHODS)))
    target = draw(mostly(st.sampled_from(TARGETS[:3]), st.sampled_from(TARGETS)))
    version = draw(mostly(st.sampled_from(VERSIONS[:2]), st.sampled_from(VERSIONS)))
    lines = [method + b" " + target + b" " + version]
    if draw(st.booleans()) or version == b"HTTP/1.1":
        lines.append(b"Host: " + draw(mostly(st.sampled_from([b"h", b"example.com:8080"]), st.sampled_from(VALUES))))
    for _ in range(draw(st.integers(0, 4))):
        lines.append(b"%s: %s" % draw(field()))
    body = b""
    framing = draw(st.sampled_from(["none", "length", "chunked", "none"]))
    if framing == "length":
        body = draw(st.binary(max_size=20))
        lines.append(b"Content-Length: %d" % len(body))
    elif framing == "chunked" and version != b"HTTP/1.0":
        lines.append(b"Transfer-Encoding: chunked")
        body = draw(chunked_body())
    if version == b"HTTP/1.0" and draw(st.booleans()):
        lines.append(b"Connection: keep-alive")
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


@st.composite
def mutated(draw, source=None) -> bytes:
    """
    One to four edits of a stream of one to three pipelined requests:
    insert, delete, replace, duplicate a line, change a separator.
    """
    if source is not None:
        data = draw(source)
    else:
        # Requests, each sometimes sent twice in a row (a keep-alive client
        # repeating itself takes a different path through the parser).
        repeated = request().flatmap(lambda one: st.sampled_from([1, 1, 2]).map(lambda count: one * count))
        data = b"".join(draw(st.lists(repeated, min_size=1, max_size=3)))
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2, 3, 4]))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "duplicate", "separator", "crlf"]))
        byte = draw(st.sampled_from(INTERESTING) | st.integers(0, 255))
        if kind == "insert":
            data = data[:at] + bytes([byte]) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 4)) :]
        elif kind == "replace":
            data = data[:at] + bytes([byte]) + data[at + 1 :]
        elif kind == "duplicate":
            start = data.rfind(b"\n", 0, at) + 1
            end = data.find(b"\n", at)
            if end > 0:
                data = data[:start] + data[start : end + 1] + data[start:]
        elif kind == "separator":
            old, new = draw(st.sampled_from([(b" ", b"  "), (b" ", b"\t"), (b": ", b" : "), (b": ", b":\x0b"), (b":", b""), (b"/", b"")]))
            where = data.find(old, at)
            if where >= 0:
                data = data[:where] + new + data[where + len(old) :]
        else:
            old, new = draw(st.sampled_from([(b"\r\n", b"\n"), (b"\r\n", b"\r"), (b"\r\n", b"\r\n "), (b"\r\n", b"\r\r\n")]))
            where = data.find(old, at)
            if where >= 0:
                data = data[:where] + new + data[where + len(old) :]
    return data


def run(data: bytes, cuts: List[int], eof: bool, limits: Limits = Limits()) -> List[object]:
    """
    Feed C{data} cut at C{cuts}, asking for events after every piece, and
    return every event up to the final one.
    """
    parser = RequestParser(limits)
    out: List[object] = []
    bounds = [0] + sorted(set(c for c in cuts if 0 < c < len(data))) + [len(data)]
    pieces = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    if eof:
        pieces.append(b"")
    for piece in pieces:
        if piece == b"" and not eof:
            continue
        parser.receive_data(piece)
        assert 0 <= parser.buffered <= len(data)
        while True:
            event = parser.next_event()
            if event is NEED_DATA:
                break
            out.append(event)
            if isinstance(event, (Rejection, ConnectionClosed)):
                return out
    return out


VERSION_505 = re.compile(rb"HTTP/[02-9]\.[0-9]")


class ParserPropertyTests(SynchronousTestCase):
    def check_outcomes(self, data: bytes, got: List[object]) -> None:
        for event in got:
            self.assertIsInstance(event, (Request, Rejection, ConnectionClosed))
        for event in got[:-1]:
            self.assertIsInstance(event, Request)
        if got and isinstance(got[-1], Rejection):
            status, reason = got[-1].status, got[-1].reason
            if status == 505:
                self.assertEqual(reason, "HTTP version not supported")
                self.assertIsNotNone(VERSION_505.search(data))
            elif status == 501:
                self.assertEqual(reason, "unsupported transfer coding")
                self.assertIn(b"transfer-encoding", data.lower())
            else:
                self.assertIn(status, (400, 413, 414, 431))

    @SETTINGS
    @given(data=mutated(), cuts=st.lists(st.integers(0, 400), max_size=6), eof=st.booleans())
    def test_mutated_requests(self, data, cuts, eof):
        """
        Mutated pipelines never make the parser raise; every event is a
        Request, or a final Rejection with a 4xx (505 only for a version,
        501 only for a transfer coding) or clean close; and cutting the
        stream into pieces changes nothing.
        """
        got = run(data, cuts, eof)
        self.check_outcomes(data, got)
        self.assertEqual(got, run(data, [], eof))

    @SETTINGS
    @given(data=st.binary(max_size=300), cuts=st.lists(st.integers(0, 300), max_size=4), eof=st.booleans())
    def test_random_bytes(self, data, cuts, eof):
        """
        Arbitrary bytes get the same guarantees.
        """
        got = run(data, cuts, eof)
        self.check_outcomes(data, got)
        self.assertEqual(got, run(data, [], eof))

    @SETTINGS
    @given(data=mutated(), eof=st.booleans())
    def test_small_limits(self, data, eof):
        """
        With tiny limits every cap is hit often: still no exception, the
        same outcome a byte at a time, and only the allowed statuses.
        """
        limits = Limits(max_request_line=24, max_header_bytes=40, max_headers=2, max_chunk_line=8, max_body_bytes=30, max_empty_lines=1)
        got = run(data, list(range(len(data))), eof, limits)
        self.check_outcomes(data, got)
        self.assertEqual(got, run(data, [], eof, limits))

    @SETTINGS
    @given(data=st.lists(request(), min_size=1, max_size=3).map(b"".join))
    def test_generated_requests_frame_consistently(self, data):
        """
        Unmutated generated pipelines: each Request's body was consumed,
        so no event is ever a request whose target came from a body.
        """
        got = run(data, [], True)
        self.check_outcomes(data, got)
        self.assertLessEqual(sum(isinstance(e, Request) for e in got), data.count(b"\r\n\r\n"))


#: Field sections a connection may repeat (with any body their framing
#: announces), for the repeated-section fast lane.
SECTIONS = [
    b"Host: h\r\nUser-Agent: UA/1\r\nAccept: */*\r\n\r\n",
    b"Host: h\r\nConnection: close\r\n\r\n",
    b"Host: h\r\nConnection: keep-alive\r\n\r\n",
    b"Accept: */*\r\n\r\n",
    b"Host: h\r\nContent-Length: 0\r\n\r\n",
    b"Host: h\r\nContent-Length: 3\r\n\r\nabc",
    b"Host: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"Host: h\r\nExpect: 100-continue\r\n\r\n",
    b"Host: h\r\nHost: h\r\n\r\n",
    b"Host: h h\r\n\r\n",
    b"Host: [::1]:8080\r\nConnection: Keep-Alive, Upgrade\r\n\r\n",
]
REQUEST_LINES = [method + b" " + target + b" " + version for method in (b"GET", b"HEAD", b"CONNECT", b"FOO")
                 for target in TARGETS + [b"/a?1", b"/a?2", b"/%41?%zz"] for version in VERSIONS[:5]]


def fresh_events(pieces: List[bytes], limits: Limits = Limits()) -> List[object]:
    """
    The events of each piece parsed by a new parser, up to what a single
    connection would still parse: nothing after a rejection or after a
    request that does not keep the connection.
    """
    out: List[object] = []
    for piece in pieces:
        got = run(piece, [], False, limits)
        out.extend(got)
        if not got or not isinstance(got[-1], Request) or not got[-1].keep_alive:
            break
    return out


class RepeatedSectionTests(SynchronousTestCase):
    @SETTINGS
    @given(
        section=st.sampled_from(SECTIONS),
        lines=st.lists(st.sampled_from(REQUEST_LINES), min_size=1, max_size=6),
    )
    def test_same_events_as_fresh_parses(self, section, lines):
        """
        Requests sharing one field section on one connection (where the
        parser reuses the section's parse and verdict) give exactly the
        events of fresh parses of each request, also byte by byte.
        """
        pieces = [line + b"\r\n" + section for line in lines]
        data = b"".join(pieces)
        got = run(data, [], False)
        self.assertEqual(got, fresh_events(pieces))
        self.assertEqual(got, run(data, list(range(len(data))), False))

    def test_every_line_after_a_warm_section(self):
        """
        Exhaustively: after a request that leaves the section's verdict
        behind (HTTP/1.1 and HTTP/1.0 GETs), every request line of the
        table with that section gives what a fresh parse gives.
        """
        warms = (b"GET /warm HTTP/1.1", b"GET /warm HTTP/1.0", b"HEAD /warm?x HTTP/1.1", b"GET http://other/ HTTP/1.1")
        for section in SECTIONS:
            for warm in warms:
                for line in REQUEST_LINES:
                    pieces = [warm + b"\r\n" + section, line + b"\r\n" + section, warm + b"\r\n" + section]
                    self.assertEqual(run(b"".join(pieces), [], False), fresh_events(pieces), (section, warm, line))

    def test_a_new_section_forgets_the_old_verdict(self):
        """
        When the field section changes, what the old one decided (its
        Host, its keep-alive) is not applied to the new one.
        """
        sections = [b"Host: a\r\nConnection: keep-alive\r\n\r\n", b"Host: b\r\nConnection: keep-alive\r\n\r\n",
                    b"Host: b\r\n\r\n", b"Accept: x\r\nConnection: keep-alive\r\n\r\n"]
        for first in sections:
            for second in sections:
                for one, other in ((b"HTTP/1.1", b"HTTP/1.0"), (b"HTTP/1.0", b"HTTP/1.1"), (b"HTTP/1.1", b"HTTP/1.1")):
                    pieces = [b"GET /1 " + one + b"\r\n" + first, b"GET /2 " + other + b"\r\n" + second,
                              b"GET /3 " + one + b"\r\n" + second]
                    self.assertEqual(run(b"".join(pieces), [], False), fresh_events(pieces), (first, second, one, other))

    def test_longer_heads_and_lines_are_parsed_afresh(self):
        """
        A head that merely starts with the previous head (one more field),
        and a request line over the limit under a repeated section, get
        what a fresh parse gives (the extra field; a 414), not the reuse.
        """
        line = b"GET /a HTTP/1.1\r\n"
        pieces = [line + b"Host: h\r\n\r\n", line + b"Host: h\r\nAccept: x\r\n\r\n", line + b"Host: h\r\n\r\n"]
        got = run(b"".join(pieces), [], False)
        self.assertEqual(got, fresh_events(pieces))
        self.assertEqual([len(e.headers) for e in got], [1, 2, 1])
        limits = Limits(max_request_line=40)
        long_line = b"GET /" + b"a" * 40 + b" HTTP/1.1\r\n"
        pieces = [line + b"Host: h\r\n\r\n", long_line + b"Host: h\r\n\r\n"]
        got = run(b"".join(pieces), [], False, limits)
        self.assertEqual(got, fresh_events(pieces, limits))
        self.assertEqual(got[-1], Rejection(414, "request target too long"))
