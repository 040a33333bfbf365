"""
Tests for L{twisted_netlab.web._server_core}: the sans-IO request parser, one
table per rule of RFC 9110 / 9112 it enforces, plus the response helpers.

Every table case is also fed one byte at a time and must give exactly the
same events as when fed in one piece (L{ByteAtATimeTests}).
"""

from typing import List, Optional, Sequence, Tuple

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._server_core import (
    NEED_DATA,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
    UnsafePath,
    http_date,
    parse_http_date,
    response_head,
    target_segments,
)

SMALL = Limits(max_request_line=64, max_header_bytes=128, max_headers=4, max_chunk_line=32, max_body_bytes=256)


def events(data: bytes, limits: Limits = Limits(), eof: bool = False) -> list:
    """
    Every event the parser gives for C{data} fed in one piece, up to
    NEED_DATA or a final event.
    """
    parser = RequestParser(limits)
    if data:
        parser.receive_data(data)
    if eof:
        parser.receive_data(b"")
    return drain(parser)


def drain(parser: RequestParser) -> list:
    out: list = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return out
        out.append(event)
        if isinstance(event, (Rejection, ConnectionClosed)):
            return out


def bytewise(data: bytes, limits: Limits = Limits(), eof: bool = False) -> list:
    """
    The same as L{events}, but fed one byte at a time, asking for events
    after every byte.
    """
    parser = RequestParser(limits)
    out: list = []
    for i in range(len(data)):
        parser.receive_data(data[i : i + 1])
        out.extend(drain(parser))
        if out and isinstance(out[-1], (Rejection, ConnectionClosed)):
            return out
    if eof:
        parser.receive_data(b"")
        out.extend(drain(parser))
    return out


def head(request_line: bytes = b"GET / HTTP/1.1", *fields: bytes) -> bytes:
    return request_line + b"\r\n" + b"".join(f + b"\r\n" for f in fields) + b"\r\n"


def get(*fields: bytes, target: bytes = b"/") -> bytes:
    return head(b"GET " + target + b" HTTP/1.1", b"Host: h", *fields)


NEXT = b"GET /next HTTP/1.1\r\nHost: h\r\n\r\n"

#: (name, bytes fed, limits) for the byte-at-a-time check; filled by the
#: tables below as they are declared.
ALL_CASES: List[Tuple[str, bytes, Limits]] = []


def table(cases: Sequence[Tuple], limits: Limits = Limits()) -> Sequence[Tuple]:
    for case in cases:
        ALL_CASES.append((repr(case[0]), case[0], limits))
    return cases


class ParserTestCase(SynchronousTestCase):
    def assert_outcome(self, data: bytes, expected, limits: Limits = Limits()) -> Optional[Request]:
        """
        C{expected} is a C{(status, reason)} pair or a status (a
        Rejection), or C{"ok"} (a Request whose body, if any, was discarded
        so C{NEXT} comes out after it).  Tables give the reason: two
        rejections with one status (a duplicate Content-Length, a bad one)
        must still say different things.
        """
        got = events(data + (NEXT if expected == "ok" else b""), limits)
        if expected == "ok":
            self.assertEqual(len(got), 2, f"{data[:300]!r}: {got!r}")
            self.assertIsInstance(got[0], Request, f"{data[:300]!r}: {got!r}")
            self.assertEqual(got[1].path, "/next", f"{data[:300]!r}: {got!r}")
            return got[0]
        self.assertEqual(len(got), 1, f"{data[:300]!r}: {got!r}")
        self.assertIsInstance(got[0], Rejection, f"{data[:300]!r}: {got!r}")
        if isinstance(expected, tuple):
            self.assertEqual((got[0].status, got[0].reason), expected, f"{data[:300]!r}: {got!r}")
        else:
            self.assertEqual(got[0].status, expected, f"{data[:300]!r}: {got!r}")
        return None

    def check_table(self, cases, limits: Limits = Limits()) -> None:
        for data, expected in cases:
            self.assert_outcome(data, expected, limits)


class BasicTests(ParserTestCase):
    def test_simple_get(self):
        """
        A complete HTTP/1.1 GET becomes one Request with lowercase header
        names, its path and query split, and keep-alive on.
        """
        [request] = events(b"GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
        self.assertIsInstance(request, Request)
        self.assertEqual(request.method, "GET")
        self.assertEqual(request.target, "/a/b?x=1")
        self.assertEqual(request.version, (1, 1))
        self.assertEqual(request.path, "/a/b")
        self.assertEqual(request.query, "x=1")
        self.assertEqual(request.host, "example")
        self.assertTrue(request.keep_alive)
        self.assertEqual(request.headers, ((b"host", b"example"), (b"accept", b"*/*")))
        self.assertEqual(request.header(b"accept"), b"*/*")
        self.assertIsNone(request.header(b"range"))

    def test_repeated_fields_joined(self):
        """
        Repeated list fields keep their order in C{headers} and are joined
        by ", " in L{Request.header}.
        """
        [request] = events(get(b"Accept: a", b"X: 1", b"Accept: b"))
        self.assertEqual(request.header(b"accept"), b"a, b")
        self.assertEqual([v for n, v in request.headers if n == b"accept"], [b"a", b"b"])

    def test_repeated_heads(self):
        """
        A connection repeating the exact same head gets equal requests
        each time (the parser may hand back the same immutable object),
        interleaved with different heads and with heads carrying bodies.
        """
        first = get(b"Accept: */*", target=b"/a")
        other = get(target=b"/b")
        with_body = get(b"Content-Length: 3", target=b"/c") + b"GET"
        stream = first + first + other + first + with_body + with_body + first
        got = events(stream)
        self.assertEqual([e.path for e in got], ["/a", "/a", "/b", "/a", "/c", "/c", "/a"])
        self.assertEqual(got[0], got[1])
        self.assertEqual(got, bytewise(stream))

    def test_repeated_field_sections(self):
        """
        Heads that share their field section but not their request line
        (a browser's fields with a new target each time) each get the
        request of a fresh parse: their own method, target, version and
        keep-alive, the shared fields, and the same rejections.
        """
        fields = b"Host: h\r\nUser-Agent: UA/1\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n"
        lines = [b"GET /a?1 HTTP/1.1", b"GET /a?2 HTTP/1.1", b"HEAD /b HTTP/1.1", b"GET /c HTTP/1.0",
                 b"OPTIONS * HTTP/1.1", b"GET http://x:1/d?q HTTP/1.1", b"GET /e HTTP/1.1"]
        stream = b"".join(line + b"\r\n" + fields for line in lines)
        got = events(stream)
        self.assertEqual([(e.method, e.target, e.version, e.host) for e in got], [
            ("GET", "/a?1", (1, 1), "h"), ("GET", "/a?2", (1, 1), "h"), ("HEAD", "/b", (1, 1), "h"),
            ("GET", "/c", (1, 0), "h"), ("OPTIONS", "*", (1, 1), "h"), ("GET", "http://x:1/d?q", (1, 1), "x:1"),
            ("GET", "/e", (1, 1), "h"),
        ])
        self.assertEqual(got, bytewise(stream))
        self.assertEqual(got, [events(line + b"\r\n" + fields)[0] for line in lines])
        duplicate = b"Host: h\r\nHost: h\r\n\r\n"
        bad = b"GET /1 HTTP/1.1\r\n" + duplicate + b"GET /2 HTTP/1.1\r\n" + duplicate
        self.assertEqual(events(bad), [Rejection(400, "duplicate host field")])
        # HTTP/1.0 without Host is fine, then the same section on 1.1 is not.
        fields10 = b"Accept: */*\r\nConnection: keep-alive\r\n\r\n"
        self.assertEqual(
            [getattr(e, "status", e.__class__.__name__) for e in
             events(b"GET /1 HTTP/1.0\r\n" + fields10 + b"GET /2 HTTP/1.1\r\n" + fields10)],
            ["Request", 400],
        )

    def test_index_is_read_only(self):
        """
        The field index of a Request cannot be changed, so a Request is a
        value that can be shared.
        """
        [request] = events(get(b"Accept: */*"))
        with self.assertRaises(TypeError):
            request.index[b"accept"] = b"x"  # type: ignore[index]

    def test_header_without_index(self):
        """
        A Request built by hand (no index) still answers L{Request.header}.
        """
        request = Request("GET", "/", (1, 1), ((b"a", b"1"), (b"a", b"2")), "/", "", "h", True)
        self.assertEqual(request.header(b"a"), b"1, 2")
        self.assertIsNone(request.header(b"b"))

    def test_pipelined_in_order(self):
        """
        Pipelined requests come out in the order they were sent.
        """
        raw = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(3))
        self.assertEqual([e.path for e in events(raw)], ["/0", "/1", "/2"])

    def test_final_event_repeats_and_drops_input(self):
        """
        After a Rejection the parser keeps answering it and buffers nothing.
        """
        parser = RequestParser()
        parser.receive_data(b"BAD\r\n\r\n")
        first = parser.next_event()
        self.assertEqual(first.status, 400)
        parser.receive_data(NEXT)
        self.assertEqual(parser.next_event(), first)
        self.assertEqual(parser.buffered, 0)


class MethodTests(ParserTestCase):
    CASES = table([
        (head(b"GET / HTTP/1.1", b"Host: h"), "ok"),
        (head(b"FOO / HTTP/1.1", b"Host: h"), "ok"),
        (head(b"get / HTTP/1.1", b"Host: h"), "ok"),
        (head(b"M-SEARCH / HTTP/1.1", b"Host: h"), "ok"),
        (head(b"G(T / HTTP/1.1", b"Host: h"), (400, 'malformed method')),
        (head(b"G\x00T / HTTP/1.1", b"Host: h"), (400, 'malformed method')),
        (head(b"G\xc3\xa9T / HTTP/1.1", b"Host: h"), (400, 'malformed method')),
        (head(b"\"GET\" / HTTP/1.1", b"Host: h"), (400, 'malformed method')),
        (head(b"GET@ / HTTP/1.1", b"Host: h"), (400, 'malformed method')),
    ])

    def test_methods(self):
        """
        RFC 9110 9.1: a method is a case-sensitive token; a valid unknown
        token is a Request (the server answers 501), anything else 400.
        """
        self.check_table(self.CASES)
        [request] = events(head(b"get / HTTP/1.1", b"Host: h"))
        self.assertEqual(request.method, "get")


class VersionTests(ParserTestCase):
    CASES = table([
        (head(b"GET / HTTP/1.1", b"Host: h"), "ok"),
        (head(b"GET / HTTP/1.0", b"Connection: keep-alive"), "ok"),
        (head(b"GET / HTTP/1.9", b"Host: h"), "ok"),
        (head(b"GET / HTTP/2.0", b"Host: h"), (505, 'HTTP version not supported')),
        (head(b"GET / HTTP/0.9", b"Host: h"), (505, 'HTTP version not supported')),
        (head(b"GET / HTTP/3.1", b"Host: h"), (505, 'HTTP version not supported')),
        (head(b"PRI * HTTP/2.0"), (505, 'HTTP version not supported')),
        (head(b"GET / HTTP/1.10", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTP/1", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTP/2", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / http/1.1", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTPS/1.1", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTP/1.1x", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTP/1.x", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET / HTTP/\xd9\xa1.1", b"Host: h"), (400, 'malformed HTTP version')),
        (head(b"GET /", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET", b"Host: h"), (400, 'malformed request line')),
    ])

    def test_versions(self):
        """
        RFC 9112 2.3: HTTP-version is "HTTP/" DIGIT "." DIGIT; any 1.x is
        served (1.x above 1.1 as 1.1), a well-formed other major is 505,
        anything else 400.
        """
        self.check_table(self.CASES)
        [request] = events(head(b"GET / HTTP/1.9", b"Host: h"))
        self.assertEqual(request.version, (1, 9))
        self.assertTrue(request.keep_alive)


class RequestLineTests(ParserTestCase):
    CASES = table([
        (head(b"GET  / HTTP/1.1", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET /  HTTP/1.1", b"Host: h"), (400, 'malformed request line')),
        (head(b" GET / HTTP/1.1", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET / HTTP/1.1 ", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET\t/\tHTTP/1.1", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET /\t HTTP/1.1", b"Host: h"), (400, 'malformed request target')),
        (head(b"GET /a b HTTP/1.1", b"Host: h"), (400, 'malformed request line')),
        (head(b"GET /\x0bx HTTP/1.1", b"Host: h"), (400, 'malformed request target')),
        (head(b"GET /\xff HTTP/1.1", b"Host: h"), (400, 'malformed request target')),
        (head(b"GET / HTTP/1.1\x00", b"Host: h"), (400, 'malformed HTTP version')),
        (b"GET / HTTP/1.1\rHost: h\r\n\r\n", (400, 'bare CR in request framing')),
        (b"GET / HTTP/1.1\nHost: h\r\n\r\n", (400, 'bare LF in request framing')),
        (b"GET / HTTP/1.1\r\nHost: h\n\r\n", (400, 'bare LF in request framing')),
        (b"GET / HTTP/1.1\nHost: h\n\n", (400, 'bare LF in request framing')),
        (b"GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", (400, 'bare CR in request framing')),
    ])

    def test_whitespace(self):
        """
        RFC 9112 3: exactly one SP between the three parts, no other
        whitespace; RFC 9112 2.2: a bare CR is invalid and a bare LF is
        never taken as a line end (the MAY is declined, everywhere).
        """
        self.check_table(self.CASES)


class SizeLimitTests(ParserTestCase):
    CASES = table([
        # the request line is at most 64 bytes
        (head(b"GET /" + b"a" * 50 + b" HTTP/1.1", b"Host: h"), "ok"),
        (head(b"GET /" + b"a" * 49 + b"? HTTP/1.1", b"Host: h"), "ok"),
        (head(b"GET /" + b"a" * 50 + b"? HTTP/1.1", b"Host: h"), (414, 'request target too long')),
        (head(b"GET /" + b"a" * 51 + b"? HTTP/1.1", b"Host: h"), (414, 'request target too long')),
        (head(b"GET /" + b"a" * 200 + b" HTTP/1.1", b"Host: h"), (414, 'request target too long')),
        (head(b"G" * 70 + b" / HTTP/1.1", b"Host: h"), (400, 'request line too long')),
        (head(b"GET / HTTP/1.1" + b" " * 60, b"Host: h"), (400, 'request line too long')),
        (head(b"GET /" + b"a" * 10 + b" HTTP/1.1" + b"x" * 60, b"Host: h"), (400, 'request line too long')),
        # the field section (lines with their CRLF) is at most 128 bytes
        (get(b"X: " + b"a" * (128 - 9 - 5)), "ok"),
        (get(b"X: " + b"a" * (128 - 9 - 4)), (431, 'request header fields too large')),
        (get(b"X: " + b"a" * 1000), (431, 'request header fields too large')),
        (get(b"X: 1", b"Y: 2", b"Z: 3"), "ok"),
        (get(b"X: 1", b"Y: 2", b"Z: 3", b"W: 4"), (431, 'too many header fields')),
        (get(*[b"X: 1"] * 40), (431, 'too many header fields')),
    ], SMALL)

    def test_caps(self):
        """
        A request line over the cap is 414 when the target ran past it
        (400 when the method or version did); a field section over its
        byte cap or with too many lines is 431.
        """
        self.check_table(self.CASES, SMALL)

    def test_default_caps(self):
        """
        The default caps: an 8190-byte request line passes, a longer one
        with a long target is 414; 16 KiB of fields pass, more is 431.
        """
        line = b"GET /" + b"a" * (8190 - 14) + b" HTTP/1.1"
        self.assertEqual(len(line), 8190)
        self.assert_outcome(head(line, b"Host: h"), "ok")
        self.assert_outcome(head(line[:5] + b"a" + line[5:], b"Host: h"), 414)
        field = b"X: " + b"a" * (16384 - 9 - 5)
        self.assert_outcome(get(field), "ok")
        self.assert_outcome(get(field + b"a"), 431)
        self.assert_outcome(get(*[b"X: 1"] * 99), "ok")
        self.assert_outcome(get(*[b"X: 1"] * 100), 431)


class FieldLineTests(ParserTestCase):
    CASES = table([
        (get(b"X:1"), "ok"),
        (get(b"X:"), "ok"),
        (get(b"X: \t a b \t "), "ok"),
        (get(b"X: caf\xc3\xa9 \x80\xff"), "ok"),
        (get(b"X : 1"), (400, 'invalid header field name')),
        (get(b"X\t: 1"), (400, 'invalid header field name')),
        (get(b": 1"), (400, 'invalid header field name')),
        (get(b"X"), (400, 'invalid header field name')),
        (get(b"X(y): 1"), (400, 'invalid header field name')),
        (get(b"X\xc3\xa9: 1"), (400, 'invalid header field name')),
        (get(b"X: a\x00b"), (400, 'invalid header field value')),
        (get(b"X: a\x01b"), (400, 'invalid header field value')),
        (get(b"X: \x0b1"), (400, 'invalid header field value')),
        (get(b"X: 1\x0c"), (400, 'invalid header field value')),
        (get(b"X: a\x7fb"), (400, 'invalid header field value')),
        (get(b"X: a\x1bb"), (400, 'invalid header field value')),
        (get(b"X: a\rb"), (400, 'bare CR in request framing')),
        (get(b"X: a", b" b"), (400, 'obsolete line folding')),
        (get(b"X: a", b"\tb"), (400, 'obsolete line folding')),
        (head(b"GET / HTTP/1.1", b" Host: h"), (400, 'obsolete line folding')),
        (head(b"GET / HTTP/1.1", b"\tHost: h"), (400, 'obsolete line folding')),
    ])

    def test_field_lines(self):
        """
        RFC 9112 5.1: field-name is a token directly followed by ":";
        only SP and HTAB are trimmed around the value; NUL, DEL and the
        other CTLs are refused (RFC 9110 5.5); obs-text is kept; obs-fold
        and a space before the first field are 400 (RFC 9112 5.2, 2.2).
        """
        self.check_table(self.CASES)

    def test_ows_trimmed_only(self):
        """
        Only SP and HTAB are removed around a value, nothing inside it.
        """
        [request] = events(get(b"X: \t a \t b \t "))
        self.assertEqual(request.header(b"x"), b"a \t b")


class HostTests(ParserTestCase):
    CASES = table([
        (head(b"GET / HTTP/1.1", b"Host: example.com"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host: example.com:8080"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host: 127.0.0.1"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host: [::1]:80"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host: xn--bcher-kva.example"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host: a%41b"), "ok"),
        (head(b"GET / HTTP/1.1", b"Host:"), "ok"),
        (head(b"GET / HTTP/1.0", b"Connection: keep-alive"), "ok"),
        (head(b"GET / HTTP/1.1"), (400, 'missing Host')),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Host: h"), (400, 'duplicate host field')),
        (head(b"GET / HTTP/1.1", b"Host: a", b"Host: b"), (400, 'duplicate host field')),
        (head(b"GET / HTTP/1.0", b"Host: a", b"Host: a"), (400, 'duplicate host field')),
        (head(b"GET / HTTP/1.1", b"Host: a b"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: a/b"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: user@a"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: a:80x"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: a:123456"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: a, b"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: [::1"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: a%zz"), (400, 'invalid Host')),
        (head(b"GET / HTTP/1.1", b"Host: caf\xc3\xa9"), (400, 'invalid Host')),
    ])

    def test_host(self):
        """
        RFC 9112 3.2: HTTP/1.1 needs exactly one Host with a valid
        uri-host [":" port] (empty is valid); 1.0 may omit it.
        """
        self.check_table(self.CASES)


class TargetFormTests(ParserTestCase):
    CASES = table([
        (get(target=b"/a/b?c=d&e"), "ok"),
        (get(target=b"/a%20b%2F"), "ok"),
        (get(target=b"/~a/b;c,d@e:f!$'()*+=[]|^{}\"<>`\\"), "ok"),
        (get(target=b"/a#frag"), (400, 'malformed request target')),
        (get(target=b"/%zz"), (400, 'malformed request target')),
        (get(target=b"/%4"), (400, 'malformed request target')),
        (get(target=b"a/b"), (400, 'malformed request target')),
        (get(target=b"//evil.example/x"), "ok"),
        (get(target=b"http://example.com/a?b"), "ok"),
        (get(target=b"HTTP://Example.COM"), "ok"),
        (get(target=b"https://h:8443?x"), "ok"),
        (get(target=b"http://[::1]:80/"), "ok"),
        (get(target=b"ftp://h/"), (400, 'absolute-form target is not http or https')),
        (get(target=b"http:/h/"), (400, 'malformed request target')),
        (get(target=b"http:///x"), (400, 'invalid authority in absolute-form target')),
        (get(target=b"http://:80/x"), (400, 'invalid authority in absolute-form target')),
        (get(target=b"http://user@h/"), (400, 'invalid authority in absolute-form target')),
        (get(target=b"http://user:pw@h/"), (400, 'invalid authority in absolute-form target')),
        (get(target=b"http://h:port/"), (400, 'invalid authority in absolute-form target')),
        (get(target=b"http://h/%zz"), (400, 'malformed request target')),
        (get(target=b"http://h/#x"), (400, 'malformed request target')),
        (head(b"GET http://h/ HTTP/1.1"), (400, 'missing Host')),
        (head(b"GET http://h/ HTTP/1.0", b"Connection: keep-alive"), "ok"),
        (head(b"OPTIONS * HTTP/1.1", b"Host: h"), "ok"),
        (head(b"GET * HTTP/1.1", b"Host: h"), (400, 'asterisk-form target without OPTIONS')),
        (head(b"OPTIONS *x HTTP/1.1", b"Host: h"), (400, 'malformed request target')),
        (head(b"GET h:443 HTTP/1.1", b"Host: h"), (400, 'malformed request target')),
        (head(b"CONNECT / HTTP/1.1", b"Host: h"), (400, 'CONNECT needs an authority-form target')),
        (head(b"CONNECT h HTTP/1.1", b"Host: h"), (400, 'malformed authority-form target')),
        (head(b"CONNECT :443 HTTP/1.1", b"Host: h"), (400, 'malformed authority-form target')),
        (head(b"CONNECT http://h:443/ HTTP/1.1", b"Host: h"), (400, 'malformed authority-form target')),
        (head(b"CONNECT h:443 HTTP/1.1"), (400, 'missing Host')),
    ])

    def test_forms(self):
        """
        RFC 9112 3.2: origin-form (visible ASCII, valid pct-encodings, no
        fragment), absolute-form for http/https with a non-empty host and
        no userinfo, asterisk-form only for OPTIONS, authority-form only
        for CONNECT; everything else 400.
        """
        self.check_table(self.CASES)

    def test_absolute_form_authority_wins(self):
        """
        RFC 9112 3.2.2: the target's authority replaces a different Host,
        which must still be present and valid in HTTP/1.1.
        """
        [request] = events(head(b"GET http://a.example:81/p?q HTTP/1.1", b"Host: b.example"))
        self.assertEqual((request.host, request.path, request.query), ("a.example:81", "/p", "q"))
        [request] = events(head(b"GET HTTPS://a.example HTTP/1.1", b"Host: b"))
        self.assertEqual((request.host, request.path, request.query), ("a.example", "/", ""))
        [bad] = events(head(b"GET http://a/ HTTP/1.1", b"Host: b c"))
        self.assertEqual(bad.status, 400)

    def test_origin_form_keeps_double_slash(self):
        """
        "//host/x" is an origin-form path, never an authority.
        """
        [request] = events(get(target=b"//evil.example/x"))
        self.assertEqual((request.host, request.path), ("h", "//evil.example/x"))

    def test_asterisk_and_connect(self):
        """
        OPTIONS * has path "*"; CONNECT host:port is a Request (the server
        answers 405) whose host is the authority and which never keeps
        the connection, so bytes after it are never parsed.
        """
        [options] = events(head(b"OPTIONS * HTTP/1.1", b"Host: h"))
        self.assertEqual((options.path, options.target), ("*", "*"))
        got = events(head(b"CONNECT h.example:443 HTTP/1.1", b"Host: h.example:443") + NEXT, eof=True)
        self.assertEqual(len(got), 2)
        connect, closed = got
        self.assertEqual((connect.method, connect.host, connect.path), ("CONNECT", "h.example:443", ""))
        self.assertFalse(connect.keep_alive)
        self.assertEqual(closed, ConnectionClosed())


class KeepAliveTests(ParserTestCase):
    CASES = [
        (head(b"GET / HTTP/1.1", b"Host: h"), True),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: close"), False),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: Close"), False),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: keep-alive, close"), False),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: upgrade", b"Connection: close"), False),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: closed"), True),
        (head(b"GET / HTTP/1.1", b"Host: h", b"Connection: keep-alive"), True),
        (head(b"GET / HTTP/1.0"), False),
        (head(b"GET / HTTP/1.0", b"Connection: keep-alive"), True),
        (head(b"GET / HTTP/1.0", b"Connection: Keep-Alive"), True),
        (head(b"GET / HTTP/1.0", b"Connection: te, keep-alive"), True),
        (head(b"GET / HTTP/1.0", b"Connection: keep-alive, close"), False),
        (head(b"GET / HTTP/1.0", b"Connection: foo"), False),
    ]
    for case in CASES:
        ALL_CASES.append((repr(case[0]), case[0], Limits()))

    def test_keep_alive(self):
        """
        RFC 9112 9.3: 1.1 persists unless "close" is listed; 1.0 persists
        only with "keep-alive" and without "close".
        """
        for data, expected in self.CASES:
            [request] = events(data)
            self.assertEqual(request.keep_alive, expected, data)

    def test_nothing_parsed_after_close(self):
        """
        RFC 9112 9.6: after a request that closes the connection no later
        request is processed: its bytes are dropped, EOF is a clean close.
        """
        got = events(head(b"GET / HTTP/1.1", b"Host: h", b"Connection: close") + NEXT + b"garbage\r\n\r\n")
        self.assertEqual(len(got), 1)
        self.assertFalse(got[0].keep_alive)
        parser = RequestParser()
        parser.receive_data(head(b"GET / HTTP/1.0") + NEXT)
        self.assertIsInstance(parser.next_event(), Request)
        self.assertEqual(parser.buffered, 0)
        parser.receive_data(NEXT)
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"")
        self.assertEqual(parser.next_event(), ConnectionClosed())


class ContentLengthTests(ParserTestCase):
    CASES = table([
        (get(b"Content-Length: 5") + b"hello", "ok"),
        (get(b"Content-Length: 0"), "ok"),
        (get(b"Content-Length:\t5\t") + b"hello", "ok"),
        (get(b"Content-Length: 005") + b"hello", "ok"),
        (get(b"Content-Length: 256") + b"x" * 256, "ok"),
        (get(b"Content-Length: 257") + b"x" * 257, (413, 'request body too large')),
        (get(b"Content-Length: 9999999999999999999"), (413, 'request body too large')),
        (get(b"Content-Length: 0000000000000000005") + b"hello", "ok"),
        (get(b"Content-Length: 99999999999999999999999999"), (400, 'Content-Length has more than 19 digits')),
        (get(b"Content-Length: 00000000000000000005") + b"hello", (400, 'Content-Length has more than 19 digits')),
        (get(b"Content-Length:  5") + b"hello", "ok"),
        (get(b"Content-Length: +5") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: +10") + b"0123456789", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 0x10") + b"0123456789abcdef", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 10, 10") + b"0123456789", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 1 0") + b"0123456789", (400, 'invalid Content-Length')),
        (get(b"Content-Length: -1"), (400, 'invalid Content-Length')),
        (get(b"Content-Length: 1_0") + b"x" * 10, (400, 'invalid Content-Length')),
        (get(b"Content-Length: 0x5") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 5.0") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 1e1") + b"x" * 10, (400, 'invalid Content-Length')),
        (get(b"Content-Length: 5 5") + b"x" * 10, (400, 'invalid Content-Length')),
        (get(b"Content-Length: 5, 5") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 5,") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: 5", b"Content-Length: 5") + b"hello", (400, 'duplicate content-length field')),
        (get(b"Content-Length: 5", b"Content-Length: 6") + b"hello!", (400, 'duplicate content-length field')),
        (get(b"Content-Length:"), (400, 'invalid Content-Length')),
        (get(b"Content-Length: \xd9\xa5") + b"hello", (400, 'invalid Content-Length')),
        (get(b"Content-Length: \x0b5") + b"hello", (400, 'invalid header field value')),
        (get(b"Content-Length: 5\x0c") + b"hello", (400, 'invalid header field value')),
        (get(b"Content-Length : 5") + b"hello", (400, 'invalid header field name')),
    ], SMALL)

    def test_content_length(self):
        """
        RFC 9112 6.3: Content-Length is 1*DIGIT; a sign, a base prefix, an
        underscore, a list, a repeated field (even with equal values) or
        any non-OWS whitespace is 400; a body over the cap is 413.
        """
        self.check_table(self.CASES, SMALL)

    def test_body_is_discarded(self):
        """
        A framed GET body is consumed, never parsed as the next request.
        """
        body = b"GET /evil HTTP/1.1\r\nHost: h\r\n\r\n"
        raw = b"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        raw += b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        self.assertEqual([e.path for e in events(raw)], ["/a", "/b"])

    def test_request_waits_for_its_body(self):
        """
        The Request is returned only once its whole body has arrived.
        """
        parser = RequestParser()
        parser.receive_data(get(b"Content-Length: 10") + b"12345")
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertEqual(parser.buffered, 0)
        parser.receive_data(b"67890" + NEXT)
        self.assertEqual(parser.next_event().path, "/")
        self.assertEqual(parser.next_event().path, "/next")

    def test_expect_continue_closes_instead_of_reading(self):
        """
        RFC 9110 10.1.1: a client sending Expect: 100-continue waits before
        sending its body; the Request comes at once, marked to close, and
        no later byte is parsed (the body is never read).
        """
        parser = RequestParser()
        parser.receive_data(get(b"Content-Length: 1000000", b"Expect: 100-continue"))
        request = parser.next_event()
        self.assertIsInstance(request, Request)
        self.assertFalse(request.keep_alive)
        parser.receive_data(NEXT)
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"")
        self.assertEqual(parser.next_event(), ConnectionClosed())

    def test_expect_continue_ignored_without_body_or_in_10(self):
        """
        Expect without a body, or in HTTP/1.0 (RFC 9110 10.1.1), changes
        nothing.
        """
        [request, following] = events(get(b"Expect: 100-continue") + NEXT)
        self.assertTrue(request.keep_alive)
        data = head(b"GET / HTTP/1.0", b"Connection: keep-alive", b"Expect: 100-continue", b"Content-Length: 2")
        [request, following] = events(data + b"ab" + NEXT)
        self.assertTrue(request.keep_alive)
        self.assertEqual(following.path, "/next")


def chunked(*body: bytes, fields: Sequence[bytes] = ()) -> bytes:
    return get(b"Transfer-Encoding: chunked", *fields) + b"".join(body)


class TransferEncodingTests(ParserTestCase):
    CASES = table([
        (chunked(b"0\r\n\r\n"), "ok"),
        (get(b"Transfer-Encoding: Chunked") + b"0\r\n\r\n", "ok"),
        (get(b"Transfer-Encoding: chunked ") + b"0\r\n\r\n", "ok"),
        (get(b"Transfer-Encoding: , chunked") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding: chunked,") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding:", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding: gzip, chunked") + b"0\r\n\r\n", (501, 'unsupported transfer coding')),
        (get(b"Transfer-Encoding: gzip", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", (501, 'unsupported transfer coding')),
        (get(b"Transfer-Encoding: chunked, gzip") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding: gzip") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding: identity") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding: chunked, chunked") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding:") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding: chunked;q=1") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding: \"chunked\"") + b"0\r\n\r\n", (400, 'malformed Transfer-Encoding')),
        (get(b"Transfer-Encoding: chunk") + b"0\r\n\r\n", (400, 'Transfer-Encoding does not end in a single chunked')),
        (get(b"Transfer-Encoding: \x0bchunked") + b"0\r\n\r\n", (400, 'invalid header field value')),
        (get(b"Transfer-Encoding : chunked") + b"0\r\n\r\n", (400, 'invalid header field name')),
        (get(b"Transfer-Encoding: chunked", b"Content-Length: 5") + b"0\r\n\r\n", (400, 'both Transfer-Encoding and Content-Length')),
        (get(b"Content-Length: 5", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", (400, 'both Transfer-Encoding and Content-Length')),
        (head(b"GET / HTTP/1.0", b"Transfer-Encoding: chunked") + b"0\r\n\r\n", (400, 'Transfer-Encoding in HTTP/1.0')),
    ])

    def test_transfer_encoding(self):
        """
        Exactly "chunked" (case-insensitive) frames a body; empty list
        elements are 400; valid codings before chunked are 501; chunked not
        last or twice (RFC 9112 6.3, 7), TE with Content-Length (6.1) and
        TE in HTTP/1.0 (6.1) are 400.
        """
        self.check_table(self.CASES)


class ChunkedTests(ParserTestCase):
    CASES = table([
        (chunked(b"5\r\nhello\r\n0\r\n\r\n"), "ok"),
        (chunked(b"5\r\nhello\r\n00\r\n\r\n"), "ok"),
        (chunked(b"A\r\n0123456789\r\n0\r\n\r\n"), "ok"),
        (chunked(b"0000000000000005\r\nhello\r\n0\r\n\r\n"), "ok"),
        (chunked(b"5;a\r\nhello\r\n0\r\n\r\n"), "ok"),
        (chunked(b"5;a=b;c\r\nhello\r\n0;d=\"x y\\\"z\"\r\n\r\n"), "ok"),
        (chunked(b"0\r\nX-T: 1\r\nY-T: \r\n\r\n"), "ok"),
        (chunked(b"00000000000000005\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"0x5\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"+5\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"-5\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"-0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b" 5\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5 \r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5\t\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5 ;a\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5; a\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5;\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5;a=\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5;a=\"b\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5;a\x00\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"g\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"\xd9\xa5\r\nhello\r\n0\r\n\r\n"), (400, 'invalid chunk size line')),
        (chunked(b"5\nhello\r\n0\r\n\r\n"), (400, 'bare LF in request framing')),
        (chunked(b"5;a\nb\r\nhello\r\n0\r\n\r\n"), (400, 'bare LF in request framing')),
        (chunked(b"5\rhello\r\n0\r\n\r\n"), (400, 'bare CR in request framing')),
        (chunked(b"5\r\nhello\n0\r\n\r\n"), (400, 'chunk data not followed by CRLF')),
        (chunked(b"5\r\nhelloXX0\r\n\r\n"), (400, 'chunk data not followed by CRLF')),
        (chunked(b"5\r\nhello\r\r\n0\r\n\r\n"), (400, 'chunk data not followed by CRLF')),
        (chunked(b"3\r\nhello\r\n0\r\n\r\n"), (400, 'chunk data not followed by CRLF')),
        (chunked(b"0\r\n\n"), (400, 'bare LF in request framing')),
        (chunked(b"0\r\nX-T: 1\n\r\n"), (400, 'bare LF in request framing')),
        (chunked(b"0\r\nX-T : 1\r\n\r\n"), (400, 'invalid header field name')),
        (chunked(b"0\r\nX-T: 1\r\n folded\r\n\r\n"), (400, 'obsolete line folding')),
        (chunked(b"0\r\nX-T: a\x00b\r\n\r\n"), (400, 'invalid header field value')),
        (chunked(b"0\r\nnot a field\r\n\r\n"), (400, 'invalid header field name')),
        (chunked(b"0\r\nContent-Length: 5\r\n\r\n"), (400, 'framing or routing field in trailers')),
        (chunked(b"0\r\nTransfer-Encoding: chunked\r\n\r\n"), (400, 'framing or routing field in trailers')),
        (chunked(b"0\r\nhost: h\r\n\r\n"), (400, 'framing or routing field in trailers')),
        (chunked(b"0\r\nConnection: close\r\n\r\n"), (400, 'framing or routing field in trailers')),
        # caps: chunk line 32 bytes, trailers as headers, 256 wire bytes
        (chunked(b"1;" + b"a" * 30 + b"\r\nx\r\n0\r\n\r\n"), "ok"),
        (chunked(b"1;" + b"a" * 31 + b"\r\nx\r\n0\r\n\r\n"), (400, 'chunk line too long')),
        (chunked(b"1;" + b"a" * 1000 + b"\r\nx\r\n0\r\n\r\n"), (400, 'chunk line too long')),
        (chunked(b"0" * 40 + b"\r\n\r\n"), (400, 'chunk line too long')),
        (chunked(b"f5\r\n" + b"x" * 245 + b"\r\n0\r\n\r\n"), "ok"),
        (chunked(b"f6\r\n" + b"x" * 246 + b"\r\n0\r\n\r\n"), (413, 'request body too large')),
        (chunked(b"ffffffffffffffff\r\n"), (413, 'request body too large')),
        (chunked(b"1;aaaaaaaaaaaaaaaaaaaaaaa\r\nx\r\n" * 12 + b"0\r\n\r\n"), (413, 'request body too large')),
        (chunked(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n"), "ok"),
        (chunked(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n"), (431, 'too many trailer fields')),
        (chunked(b"0\r\nA: " + b"a" * 200 + b"\r\n\r\n"), (431, 'trailer fields too large')),
    ], SMALL)

    def test_chunked(self):
        """
        RFC 9112 7.1: chunk-size is 1-16 HEXDIG with no sign, prefix or
        whitespace (BWS refused); extensions are ;token[=token or
        quoted-string]; data ends in exactly CRLF; trailers are field
        lines and never framing or routing fields (RFC 9110 6.5.1);
        lines, trailers and the wire size of the body are capped.
        """
        self.check_table(self.CASES, SMALL)

    def test_chunked_body_is_discarded(self):
        """
        A chunked GET body (with an extension and a trailer) is consumed,
        even when it looks like a request.
        """
        inner = b"GET /evil HTTP/1.1\r\nHost: h\r\n\r\n"
        raw = chunked(b"%x;ext=1\r\n%s\r\n0\r\nX-Trailer: 1\r\n\r\n" % (len(inner), inner)) + NEXT
        self.assertEqual([e.path for e in events(raw)], ["/", "/next"])


class EmptyLineTests(ParserTestCase):
    CASES = table([
        (b"\r\n" + get(), "ok"),
        (b"\r\n" * 8 + get(), "ok"),
        (b"\r\n" * 9 + get(), (400, 'too many empty lines before the request')),
        (b"\n" + get(), (400, 'bare LF in request framing')),
        (b"\r\r\n" + get(), (400, 'bare CR in request framing')),
        (b" \r\n" + get(), (400, 'malformed request line')),
    ])

    def test_leading_empty_lines(self):
        """
        RFC 9112 2.2: up to 8 empty lines (CRLF) before a request line are
        ignored; more, or a bare LF, is 400.
        """
        self.check_table(self.CASES)


class EndOfFileTests(ParserTestCase):
    CASES = [
        (b"", [ConnectionClosed()]),
        (b"\r\n\r\n", [ConnectionClosed()]),
        (b"\r", [Rejection(400, "connection closed inside a request head")]),
        (b"GET / HT", [Rejection(400, "connection closed inside a request head")]),
        (b"GET / HTTP/1.1\r\nHost: h\r\n", [Rejection(400, "connection closed inside a request head")]),
        (b"GET / HTTP/1.1\r\nHost: h\r\n\r", [Rejection(400, "connection closed inside a request head")]),
        (get(b"Content-Length: 5") + b"hel", [Rejection(400, "connection closed inside a request body")]),
        (chunked(b"5"), [Rejection(400, "connection closed inside a chunked body")]),
        (chunked(b"5\r\nhel"), [Rejection(400, "connection closed inside a chunked body")]),
        (chunked(b"5\r\nhello"), [Rejection(400, "connection closed inside a chunked body")]),
        (chunked(b"5\r\nhello\r"), [Rejection(400, "connection closed inside a chunked body")]),
        (chunked(b"5\r\nhello\r\n0\r\n"), [Rejection(400, "connection closed inside a chunked body")]),
        (chunked(b"5\r\nhello\r\n0\r\nX: 1\r\n"), [Rejection(400, "connection closed inside a chunked body")]),
    ]
    for case in CASES:
        ALL_CASES.append((repr(case[0]) + " EOF", case[0], Limits()))

    def test_eof_everywhere(self):
        """
        EOF between requests (after ignorable empty lines too) is a clean
        close; anywhere inside a request it is a 400.
        """
        for data, expected in self.CASES:
            self.assertEqual(events(data, eof=True), expected, data)
            self.assertEqual(bytewise(data, eof=True), expected, data)

    def test_requests_before_eof_still_delivered(self):
        """
        Complete requests received before EOF come out before the close.
        """
        got = events(get() + NEXT, eof=True)
        self.assertEqual([type(e) for e in got], [Request, Request, ConnectionClosed])


class ByteAtATimeTests(SynchronousTestCase):
    def test_every_table_case(self):
        """
        Feeding any case of any table one byte at a time gives exactly
        the events of feeding it at once (same statuses and reasons):
        packet boundaries never change an outcome.
        """
        self.assertGreater(len(ALL_CASES), 200)
        for name, data, limits in ALL_CASES:
            for suffix in (b"", NEXT):
                self.assertEqual(bytewise(data + suffix, limits), events(data + suffix, limits), name)

    def test_every_two_piece_split(self):
        """
        Splitting a pipelined exchange at every position into two packets
        gives the same events as one packet.
        """
        raw = b"\r\n" + chunked(b"5;x=\"y\"\r\nhello\r\n0\r\nT: 1\r\n\r\n") + get(b"Content-Length: 3") + b"abc" + NEXT
        expected = events(raw)
        self.assertEqual(len(expected), 3)
        for cut in range(len(raw) + 1):
            parser = RequestParser()
            got = []
            for piece in (raw[:cut], raw[cut:]):
                if piece:
                    parser.receive_data(piece)
                    got += drain(parser)
            self.assertEqual(got, expected, cut)


class _CountingBuffer(bytearray):
    """
    A buffer that adds up how many bytes each C{find} was allowed to look
    at: a parser that rescans its buffer makes this grow quadratically.
    """

    scanned = 0

    def find(self, sub, start=0, end=None):  # type: ignore[override]
        stop = len(self) if end is None else min(end, len(self))
        found = bytearray.find(self, sub, start, end)
        _CountingBuffer.scanned += max(0, (found + len(sub) if found >= 0 else stop) - start)
        return found


class LinearTimeTests(SynchronousTestCase):
    def feed_counting(self, data: bytes, limits: Limits) -> list:
        parser = RequestParser(limits)
        parser._buffer = _CountingBuffer()
        _CountingBuffer.scanned = 0
        out: list = []
        for i in range(len(data)):
            parser.receive_data(data[i : i + 1])
            out.extend(drain(parser))
        return out

    def test_head_fed_a_byte_at_a_time_is_scanned_once(self):
        """
        A 100 KB head fed one byte per packet is searched in linear total
        work: each byte is looked at a bounded number of times.
        """
        limits = Limits(max_request_line=60000, max_header_bytes=60000, max_headers=1000)
        data = b"GET /" + b"a" * 50000 + b" HTTP/1.1\r\nHost: h\r\n" + b"X: " + b"b" * 50000 + b"\r\n\r\n"
        got = self.feed_counting(data, limits)
        self.assertEqual([len(e.path) for e in got], [50001])
        self.assertLess(_CountingBuffer.scanned, 4 * len(data))

    def test_chunk_lines_fed_a_byte_at_a_time_are_scanned_once(self):
        """
        Chunk-size lines and trailers fed a byte at a time are searched
        in linear total work too.
        """
        limits = Limits(max_chunk_line=5000, max_header_bytes=60000, max_body_bytes=1 << 20)
        data = chunked(b"1;" + b"e" * 4000 + b"\r\nx\r\n0\r\nT: " + b"t" * 50000 + b"\r\n\r\n")
        got = self.feed_counting(data, limits)
        self.assertEqual(len(got), 1)
        self.assertLess(_CountingBuffer.scanned, 4 * len(data))


class BufferedTests(SynchronousTestCase):
    def test_buffered_counts_everything_not_yet_an_event(self):
        """
        L{RequestParser.buffered} counts the bytes of a partial head (even
        lines already split off) and of pipelined requests not yet asked
        for, so a server can pause reading on it; a delivered request no
        longer counts.
        """
        parser = RequestParser()
        partial = b"GET / HTTP/1.1\r\nHost: h\r\nX: 1"
        parser.receive_data(partial)
        self.assertIs(parser.next_event(), NEED_DATA)
        self.assertEqual(parser.buffered, len(partial))
        parser.receive_data(b"\r\n\r\n" + NEXT)
        self.assertEqual(parser.buffered, len(partial) + 4 + len(NEXT))
        self.assertIsInstance(parser.next_event(), Request)
        self.assertEqual(parser.buffered, len(NEXT))
        self.assertEqual(parser.next_event().path, "/next")
        self.assertEqual(parser.buffered, 0)


class ResponseHelperTests(SynchronousTestCase):
    def test_response_head(self):
        """
        A status line with its reason, then the fields, then CRLF CRLF;
        a value with CR or LF is refused.
        """
        self.assertEqual(
            response_head(404, [("Content-Length", "0")]),
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        )
        self.assertRaises(ValueError, response_head, 200, [("X", "a\r\nb")])

    def test_dates(self):
        """
        IMF-fixdate out; all three RFC 9110 formats in; garbage is None.
        """
        self.assertEqual(http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT")
        for text in [b"Sun, 06 Nov 1994 08:49:37 GMT", b"Sunday, 06-Nov-94 08:49:37 GMT", b"Sun Nov  6 08:49:37 1994"]:
            self.assertEqual(parse_http_date(text), 784111777, text)
        self.assertIsNone(parse_http_date(b"yesterday"))


class TargetSegmentsTests(SynchronousTestCase):
    def test_plain(self):
        """
        Segments are percent-decoded once.
        """
        self.assertEqual(target_segments("/a%20b/c.txt"), ("a b", "c.txt"))
        self.assertEqual(target_segments("/a/./b//c/"), ("a", "b", "c"))
        self.assertEqual(target_segments("/%252e%252e"), ("%2e%2e",))

    def test_escapes_refused(self):
        """
        Every way to name a parent or smuggle a separator is refused.
        """
        for path in ["/..", "/a/../b", "/%2e%2e/x", "/%2E%2E", "/.%2e", "/a%2fb", "/a%5cb", "/a%00b", "/%ff", "*", ""]:
            self.assertRaises(UnsafePath, target_segments, path)


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"


class SmugglingTests(SynchronousTestCase):
    """
    CVE-2022-24801 (GHSA-c2jg-hw38-jrqq): twisted.web accepted a signed
    Content-Length, a 0x chunk-size prefix, LF inside chunk extensions and
    stripped all ASCII whitespace (not just SP/HTAB) around values, so a
    front end and twisted.web could frame the same bytes differently.
    Python's int() adds underscores and non-ASCII digits to that family.
    """

    VECTORS = [
        # signed Content-Length
        get(b"Content-Length: +%d" % len(SMUGGLED)) + SMUGGLED,
        get(b"Content-Length: -0") + SMUGGLED,
        get(b"Content-Length: +0") + SMUGGLED,
        # int() quirks
        get(b"Content-Length: 3_5") + SMUGGLED,
        get(b"Content-Length: \xd9\xa3\xd9\xa5") + SMUGGLED,
        get(b"Content-Length: 0x23") + SMUGGLED,
        # whitespace other than SP/HTAB around values
        get(b"Content-Length: \x0c%d" % len(SMUGGLED)) + SMUGGLED,
        get(b"Content-Length: %d\x0b" % len(SMUGGLED)) + SMUGGLED,
        get(b"Transfer-Encoding: \x0bchunked") + b"0\r\n\r\n" + SMUGGLED,
        get(b"Transfer-Encoding:\x0cchunked\x0c") + b"0\r\n\r\n" + SMUGGLED,
        get(b"Transfer-Encoding: chunked\x1c", b"Content-Length: 0") + b"0\r\n\r\n" + SMUGGLED,
        # chunk sizes with a prefix, a sign, whitespace or underscores
        chunked(b"0x0\r\n\r\n" + SMUGGLED),
        chunked(b"0x%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)),
        chunked(b"+0\r\n\r\n" + SMUGGLED),
        chunked(b"-0\r\n\r\n" + SMUGGLED),
        chunked(b" 0\r\n\r\n" + SMUGGLED),
        chunked(b"0 \r\n\r\n" + SMUGGLED),
        chunked(b"2_3\r\n%s\r\n0\r\n\r\n" % SMUGGLED),
        # LF (and CR) inside chunk extensions
        chunked(b"2;\nxx\r\n0\r\n\r\n" + SMUGGLED),
        chunked(b"0;a=\nb\r\n\r\n" + SMUGGLED),
        chunked(b"0;a\rb\r\n\r\n" + SMUGGLED),
        # bare LF ending chunk lines or chunk data
        chunked(b"0\n\n" + SMUGGLED),
        chunked(b"1\r\nx\n0\r\n\r\n" + SMUGGLED),
        # both framings, in either order, and duplicates
        get(b"Content-Length: 0", b"Transfer-Encoding: chunked") + b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED),
        get(b"Transfer-Encoding: chunked", b"Content-Length: %d" % (len(SMUGGLED) + 5)) + b"0\r\n\r\n" + SMUGGLED,
        get(b"Content-Length: 0", b"Content-Length: %d" % len(SMUGGLED)) + SMUGGLED,
        get(b"Content-Length: %d, 0" % len(SMUGGLED)) + SMUGGLED,
        # obs-fold hiding a framing field
        get(b"X: a", b" Transfer-Encoding: chunked") + b"0\r\n\r\n" + SMUGGLED,
        get(b"Transfer-Encoding: gzip", b" chunked") + b"0\r\n\r\n" + SMUGGLED,
        # space before the colon
        get(b"Transfer-Encoding : chunked") + b"0\r\n\r\n" + SMUGGLED,
        get(b"Content-Length : %d" % len(SMUGGLED)) + SMUGGLED,
    ]

    def test_vectors_are_rejected_before_anything_is_smuggled(self):
        """
        Every vector is a single 400 (the connection closes), fed at once
        or a byte at a time: the embedded request is never parsed.
        """
        for data in self.VECTORS:
            for got in (events(data), bytewise(data)):
                # A str message: trial's assertIsInstance appends it to a
                # str, and a bytes one would raise TypeError instead.
                message = f"{data[:300]!r}: {got!r}"
                self.assertEqual(len(got), 1, message)
                self.assertIsInstance(got[0], Rejection, message)
                self.assertEqual(got[0].status, 400, message)

    def test_well_formed_framings_hide_the_inner_request(self):
        """
        The same payloads framed correctly are read as bodies: the inner
        request never appears, the one after the body does.
        """
        for data in [
            get(b"Content-Length: %d" % len(SMUGGLED)) + SMUGGLED + NEXT,
            chunked(b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)) + NEXT,
            chunked(b"%x;a=\"b;c\"\r\n%s\r\n0\r\nT: 1\r\n\r\n" % (len(SMUGGLED), SMUGGLED)) + NEXT,
        ]:
            for got in (events(data), bytewise(data)):
                self.assertEqual([e.path for e in got], ["/", "/next"], data)


class PipelineLazinessTests(SynchronousTestCase):
    """
    CVE-2023-46137 (GHSA-xc8x-vp79-p3wm) and twisted#4891: twisted.web
    parsed pipelined requests ahead of its responses.  The parser's part
    of the cure: receiving is only buffering, each L{next_event} parses at
    most one request, and the work is linear in what is parsed.
    """

    def test_one_request_per_call(self):
        """
        10,000 pipelined requests in one packet: receiving parses nothing,
        each call takes exactly one request off the buffer, and a broken
        request at the end is not even looked at until all earlier ones
        have been taken.
        """
        one = b"GET /x HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
        count = 10000
        data = one * count + b"BROKEN\r\n\r\n"
        parser = RequestParser()
        parser.receive_data(data)
        self.assertEqual(parser.buffered, len(data))
        for taken in range(1, count + 1):
            event = parser.next_event()
            self.assertIsInstance(event, Request)
            if taken in (1, count // 2, count):
                self.assertEqual(parser.buffered, len(data) - taken * len(one))
        self.assertEqual(parser.next_event().status, 400)

    def test_pipelined_parsing_is_linear(self):
        """
        Parsing 2,000 pipelined requests (with bodies) searches each byte
        a bounded number of times, however large the buffer.
        """
        one = get(b"Content-Length: 4") + b"body" + chunked(b"4\r\nbody\r\n0\r\n\r\n")
        parser = RequestParser()
        parser._buffer = _CountingBuffer()
        _CountingBuffer.scanned = 0
        parser.receive_data(one * 2000)
        self.assertEqual(len(drain(parser)), 4000)
        self.assertLess(_CountingBuffer.scanned, 3 * len(one) * 2000)


class PipelineOrderTests(SynchronousTestCase):
    """
    CVE-2024-41671 (GHSA-c8m8-j448-xjx7): twisted.web could answer
    pipelined requests out of order.  The parser's part: events come out
    strictly in the order of the requests on the wire, and nothing of a
    later request is produced before an earlier one is complete.
    """

    def test_slow_body_holds_back_the_next_request(self):
        """
        While the first request's body is incomplete, a complete second
        request in the buffer is not returned.
        """
        parser = RequestParser()
        parser.receive_data(get(b"Content-Length: 10") + b"12345")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"6789")
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"0" + NEXT)
        self.assertEqual(parser.next_event().path, "/")
        self.assertEqual(parser.next_event().path, "/next")

    def test_slow_chunked_body_holds_back_the_next_request(self):
        """
        The same for a chunked body that stops before its last chunk.
        """
        parser = RequestParser()
        parser.receive_data(chunked(b"3\r\nabc\r\n"))
        self.assertIs(parser.next_event(), NEED_DATA)
        parser.receive_data(b"0\r\n\r\n" + NEXT)
        self.assertEqual([e.path for e in drain(parser)], ["/", "/next"])

    def test_body_then_chunked_body_stepwise_and_in_bulk(self):
        """
        Twisted's regression shape for both advisories: a POST with a
        Content-Length body, then a POST with a chunked body.  One byte at
        a time, each request appears exactly when its body is complete;
        500 copies in one packet come out as 1000 requests in wire order.
        """
        pair = (
            b"POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789"
            b"POST /2 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n0\r\n\r\n"
        )
        first_end = pair.index(b"POST /2")
        parser = RequestParser()
        seen = []
        for i in range(len(pair)):
            parser.receive_data(pair[i : i + 1])
            for event in drain(parser):
                seen.append((event.path, i + 1))
        self.assertEqual(seen, [("/1", first_end), ("/2", len(pair))])
        got = events(pair * 500)
        self.assertEqual([e.path for e in got], ["/1", "/2"] * 500)

    def test_mixed_versions_and_errors_in_order(self):
        """
        1.0 keep-alive, 1.1, a chunked request and then a broken one: the
        requests come out in wire order and the rejection only after them.
        """
        data = (
            head(b"GET /a HTTP/1.0", b"Connection: keep-alive")
            + head(b"HEAD /b HTTP/1.1", b"Host: h")
            + chunked(b"1\r\nx\r\n0\r\n\r\n")
            + head(b"GET /d HTTP/1.1", b"Host: h", b"Content-Length: 1")
            + b"x"
            + b"GET /e HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"
            + NEXT
        )
        for got in (events(data), bytewise(data)):
            self.assertEqual([getattr(e, "path", None) for e in got], ["/a", "/b", "/", "/d", None])
            self.assertEqual(got[-1].status, 400)


class HeadRejectionTests(SynchronousTestCase):
    def test_rejection_says_whether_it_answers_a_head(self):
        """
        A rejected HEAD request's Rejection says so (its answer must carry
        no body), after CRLF empty lines too; a GET, or bytes that only
        look like HEAD after a bare LF, do not.
        """
        cases = [
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", True),
            (b"\r\n\r\nHEAD / HTTP/2.0\r\nHost: h\r\n\r\n", True),
            (b"HEAD /" + b"a" * 9000 + b" HTTP/1.1\r\n", True),
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", True),
            (b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", False),
            (b"\nHEAD / HTTP/1.1\r\nHost: h\r\n\r\n", False),
        ]
        for data, head_only in cases:
            for got in (events(data), bytewise(data)):
                self.assertIsInstance(got[-1], Rejection, repr(data[:40]))
                self.assertEqual(got[-1].head_only, head_only, repr(data[:40]))


class BareLineFeedTests(ParserTestCase):
    def test_incomplete_head_with_bare_lf_is_rejected_at_once(self):
        """
        A bare LF in a head that has not ended yet is a 400 as soon as it
        is seen: the parser does not wait for the rest of the head.
        """
        for data in (b"GET / HTTP/1.1\nHost: h\r\n", b"GET / HTTP/1.1\r\nHost: h\nX: 1\r\n"):
            for got in (events(data), bytewise(data)):
                self.assertEqual(got, [Rejection(400, "bare LF in request framing")], data)

    def test_bare_lf_before_an_oversized_field_section_is_400(self):
        """
        The framing error comes first in stream order: a bare LF followed
        by more field bytes than the cap is 400 (bare LF), not 431.
        """
        data = b"GET / HTTP/1.1\r\nHost: h\nX: " + b"a" * 500 + b"\r\n\r\n"
        for got in (events(data, SMALL), bytewise(data, SMALL)):
            self.assertEqual(got, [Rejection(400, "bare LF in request framing")])

    def test_duplicate_and_invalid_content_length_say_different_things(self):
        """
        Two 400s for Content-Length give two different reasons.
        """
        [duplicate] = events(get(b"Content-Length: 5", b"Content-Length: 6") + b"hello!")
        [invalid] = events(get(b"Content-Length: x"))
        self.assertEqual((duplicate.status, invalid.status), (400, 400))
        self.assertNotEqual(duplicate.reason, invalid.reason)
