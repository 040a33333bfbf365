"""
Tests for L{twisted_netlab.web._core}: the sans-IO request parser.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._core import (
    NEED_DATA,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
    UnsafePath,
    target_segments,
)


def events(data: bytes, limits: Limits = Limits(), eof: bool = False):
    parser = RequestParser(limits)
    parser.receive_data(data)
    if eof:
        parser.receive_data(b"")
    out = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return out
        out.append(event)
        if isinstance(event, (Rejection, ConnectionClosed)):
            return out


class RequestParserTests(SynchronousTestCase):
    def test_simple_get(self):
        """
        A complete HTTP/1.1 GET becomes one Request with lowercase header
        names, its path and query split, and keep-alive on.
        """
        [request] = events(b"GET /a/b?x=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\n\r\n")
        self.assertIsInstance(request, Request)
        self.assertEqual(request.method, "GET")
        self.assertEqual(request.path, "/a/b")
        self.assertEqual(request.query, "x=1")
        self.assertEqual(request.host, "example")
        self.assertTrue(request.keep_alive)
        self.assertEqual(request.header(b"accept"), b"*/*")

    def test_byte_at_a_time(self):
        """
        Feeding one byte at a time gives the same request as one chunk.
        """
        raw = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        parser = RequestParser()
        seen = []
        for i in range(len(raw)):
            parser.receive_data(raw[i : i + 1])
            event = parser.next_event()
            if event is not NEED_DATA:
                seen.append(event)
        self.assertEqual([e.path for e in seen], ["/"])

    def test_pipelined_in_order(self):
        """
        Pipelined requests come out in the order they were sent.
        """
        raw = b"".join(b"GET /%d HTTP/1.1\r\nHost: h\r\n\r\n" % i for i in range(3))
        self.assertEqual([e.path for e in events(raw)], ["/0", "/1", "/2"])

    def test_http10_keep_alive(self):
        """
        HTTP/1.0 closes unless it asks for keep-alive.
        """
        [plain] = events(b"GET / HTTP/1.0\r\n\r\n")
        [kept] = events(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        self.assertFalse(plain.keep_alive)
        self.assertTrue(kept.keep_alive)

    def test_missing_host_11(self):
        """
        HTTP/1.1 without Host is a 400 (RFC 9112 3.2).
        """
        [event] = events(b"GET / HTTP/1.1\r\n\r\n")
        self.assertEqual(event.status, 400)

    def test_cl_and_te(self):
        """
        Content-Length together with Transfer-Encoding is rejected: the
        classic request-smuggling vector.
        """
        [event] = events(
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        )
        self.assertEqual(event, Rejection(400, "both Transfer-Encoding and Content-Length"))

    def test_body_is_discarded(self):
        """
        A framed GET body is consumed, never parsed as the next request.
        """
        body = b"GET /evil HTTP/1.1\r\nHost: h\r\n\r\n"
        raw = b"GET /a HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        raw += b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        self.assertEqual([e.path for e in events(raw)], ["/a", "/b"])

    def test_chunked_body_is_discarded(self):
        """
        A chunked GET body (with an extension and a trailer) is consumed.
        """
        raw = (
            b"GET /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n"
            b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        self.assertEqual([e.path for e in events(raw)], ["/a", "/b"])

    def test_limits(self):
        """
        A long target is 414, long or many header fields 431.
        """
        [long_target] = events(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(long_target.status, 414)
        many = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X: 1\r\n" * 101 + b"\r\n"
        self.assertEqual(events(many)[0].status, 431)
        big = b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 17000 + b"\r\n\r\n"
        self.assertEqual(events(big)[0].status, 431)

    def test_version_505(self):
        """
        HTTP/2.0 in a request line is answered 505.
        """
        self.assertEqual(events(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n")[0].status, 505)

    def test_obs_fold(self):
        """
        obs-fold is rejected (RFC 9112 5.2).
        """
        self.assertEqual(events(b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n")[0].status, 400)

    def test_clean_eof(self):
        """
        EOF between requests is a clean close; inside a head it is a 400.
        """
        self.assertEqual(events(b"", eof=True), [ConnectionClosed()])
        self.assertEqual(events(b"GET / HT", eof=True)[0].status, 400)


class TargetSegmentsTests(SynchronousTestCase):
    def test_plain(self):
        """
        Segments are percent-decoded once.
        """
        self.assertEqual(target_segments("/a%20b/c.txt"), ("a b", "c.txt"))

    def test_escapes_refused(self):
        """
        Every way to name a parent or smuggle a separator is refused.
        """
        for path in ["/..", "/a/../b", "/%2e%2e/x", "/%2E%2E", "/a%2fb", "/a%5cb", "/a%00b", "/%ff"]:
            self.assertRaises(UnsafePath, target_segments, path)
