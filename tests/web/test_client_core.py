"""
Tests for L{twisted_netlab.web._client_core}: the sans-IO response parser,
URL parsing, redirects and the ``-O`` name rule.  No reactor.
"""

from __future__ import annotations

from typing import List

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._client_core import (
    NEED_DATA,
    BodyData,
    ConnectionClosed,
    EmptyResponse,
    Framing,
    InformationalResponse,
    Limits,
    LocalProtocolError,
    MalformedURL,
    PeerProtocolError,
    ResponseEnd,
    ResponseHead,
    ResponseParser,
    TruncatedResponse,
    UnsafeFileName,
    UnsupportedScheme,
    merge_headers,
    parse_byte_range,
    parse_url,
    redirect_headers,
    redirect_target,
    remote_file_name,
    request_bytes,
)


def events(parser: ResponseParser) -> List[object]:
    found = []
    while True:
        event = parser.next_event()
        if event is NEED_DATA:
            return found
        found.append(event)
        if isinstance(event, ConnectionClosed):
            return found


def parse(data: bytes, method: str = "GET", eof: bool = False, limits: Limits = Limits(), split: int = 0) -> List[object]:
    """
    Feed C{data} (in pieces of C{split} bytes when > 0) and return all events.
    """
    parser = ResponseParser(limits)
    parser.expect_response(method)
    found: List[object] = []
    pieces = [data[i:i + split] for i in range(0, len(data), split)] if split else [data]
    for piece in pieces:
        parser.receive_data(piece)
        found += events(parser)
    if eof:
        parser.receive_data(b"")
        found += events(parser)
    return found


def body(found: List[object]) -> bytes:
    return b"".join(e.data for e in found if isinstance(e, BodyData))


def raw(found: List[object]) -> bytes:
    return b"".join(e.raw for e in found if hasattr(e, "raw"))


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value;flag\r\nhello\r\n"
    b"6 ; ext=\"quoted\"\r\n world\r\n"
    b"0\r\nExpires: never\r\nX-Checksum: abc\r\n\r\n"
)


class FramingTests(SynchronousTestCase):
    def test_content_length(self):
        """
        A Content-Length body ends exactly after that many bytes, and the
        connection stays reusable on HTTP/1.1.
        """
        found = parse(OK)
        head = found[0]
        self.assertIsInstance(head, ResponseHead)
        self.assertEqual((head.status, head.reason, head.framing, head.content_length), (200, "OK", Framing.CONTENT_LENGTH, 5))
        self.assertEqual(body(found), b"hello")
        self.assertIsInstance(found[-1], ResponseEnd)
        self.assertTrue(found[-1].keep_alive)

    def test_byte_at_a_time_same_result(self):
        """
        Splitting the stream anywhere changes nothing: bytes, events and raw.
        """
        for data in (OK, CHUNKED):
            whole = parse(data)
            single = parse(data, split=1)
            self.assertEqual(body(whole), body(single))
            self.assertEqual(raw(single), data)
            self.assertIsInstance(single[-1], ResponseEnd)

    def test_chunked_extensions_and_trailers(self):
        """
        Chunk extensions are ignored, trailers are returned on ResponseEnd,
        and C{raw} reproduces the wire bytes exactly.
        """
        found = parse(CHUNKED)
        self.assertEqual(found[0].framing, Framing.CHUNKED)
        self.assertEqual(body(found), b"hello world")
        self.assertEqual(found[-1].trailers, (("Expires", "never"), ("X-Checksum", "abc")))
        self.assertEqual(raw(found), CHUNKED)

    def test_chunked_without_trailers(self):
        """
        The last chunk followed directly by CRLF ends the body with no trailers.
        """
        found = parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        self.assertEqual(body(found), b"abc")
        self.assertEqual(found[-1].trailers, ())

    def test_chunk_longer_than_announced(self):
        """
        Chunk data running past its size is a framing error.
        """
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcdef\r\n")

    def test_bad_chunk_size(self):
        """
        A chunk size that is not hex is rejected, as is an absurdly long one.
        """
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"f" * 17 + b"\r\n")

    def test_read_until_close(self):
        """
        Without Content-Length or chunked, the body runs until EOF and the
        connection is not reused.
        """
        found = parse(b"HTTP/1.0 200 OK\r\n\r\nsome body", eof=True)
        self.assertEqual(found[0].framing, Framing.UNTIL_CLOSE)
        self.assertFalse(found[0].keep_alive)
        self.assertEqual(body(found), b"some body")
        self.assertIsInstance(found[-1], ResponseEnd)
        self.assertFalse(found[-1].keep_alive)

    def test_head_has_no_body(self):
        """
        A response to HEAD has no body whatever its Content-Length says.
        """
        found = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", method="HEAD")
        self.assertEqual(found[0].framing, Framing.NO_BODY)
        self.assertIsInstance(found[1], ResponseEnd)

    def test_204_and_304_have_no_body(self):
        """
        204 and 304 end at their head (RFC 9112 6.3 item 1).
        """
        for status in (b"204 No Content", b"304 Not Modified"):
            found = parse(b"HTTP/1.1 " + status + b"\r\nContent-Length: 10\r\n\r\n")
            self.assertEqual([type(e) for e in found], [ResponseHead, ResponseEnd])

    def test_1xx_skipped(self):
        """
        Interim 1xx responses come out as InformationalResponse; the final
        response follows for the same request.
        """
        found = parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n" + OK)
        self.assertEqual([type(e) for e in found[:3]], [InformationalResponse, InformationalResponse, ResponseHead])
        self.assertEqual(body(found), b"hello")

    def test_endless_1xx_refused(self):
        """
        More than MAX_INTERIM_RESPONSES interim responses is an error, so a
        server cannot hold the client with an endless 100 Continue stream.
        """
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 100 Continue\r\n\r\n" * 17)
        self.assertEqual(len(parse(b"HTTP/1.1 100 Continue\r\n\r\n" * 16 + OK)), 19)

    def test_unsolicited_101_rejected(self):
        """
        101 Switching Protocols without an Upgrade request is an error.
        """
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 101 Switching\r\n\r\n")

    def test_pipelined_responses_in_order(self):
        """
        Responses to pipelined requests are framed one after another; HEAD's
        Content-Length does not eat the next response.
        """
        parser = ResponseParser()
        for method in ("GET", "HEAD", "GET"):
            parser.expect_response(method)
        parser.receive_data(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n" + OK)
        found = events(parser)
        heads = [e for e in found if isinstance(e, ResponseHead)]
        self.assertEqual([h.framing for h in heads], [Framing.CONTENT_LENGTH, Framing.NO_BODY, Framing.CONTENT_LENGTH])
        self.assertEqual(body(found), b"hellohello")
        self.assertEqual(parser.outstanding, 0)

    def test_connection_close_header(self):
        """
        Connection: close on 1.1, and 1.0 without keep-alive, forbid reuse.
        """
        self.assertFalse(parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")[-1].keep_alive)
        self.assertFalse(parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[-1].keep_alive)
        self.assertTrue(parse(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")[-1].keep_alive)

    def test_closed_when_idle(self):
        """
        EOF with nothing outstanding is a ConnectionClosed event.
        """
        parser = ResponseParser()
        parser.receive_data(b"")
        self.assertIsInstance(parser.next_event(), ConnectionClosed)


class BrokenResponseTests(SynchronousTestCase):
    def test_truncated_content_length(self):
        """
        EOF before the announced Content-Length is TruncatedResponse, not a
        short success.
        """
        self.assertRaises(TruncatedResponse, parse, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", eof=True)

    def test_truncated_chunked(self):
        """
        EOF inside chunked framing, anywhere, is TruncatedResponse.
        """
        for cut in range(len(CHUNKED.split(b"\r\n\r\n", 1)[0]) + 4, len(CHUNKED)):
            self.assertRaises(TruncatedResponse, parse, CHUNKED[:cut], eof=True)

    def test_truncated_head(self):
        """
        EOF inside the head is TruncatedResponse; EOF before any byte is
        EmptyResponse.
        """
        self.assertRaises(TruncatedResponse, parse, b"HTTP/1.1 200 OK\r\nContent-Le", eof=True)
        self.assertRaises(EmptyResponse, parse, b"", eof=True)

    def test_extra_bytes_after_content_length(self):
        """
        More body than Content-Length promised (and nobody asked for more) is
        a framing error, not silently appended data.
        """
        self.assertRaises(PeerProtocolError, parse, OK + b"garbage")

    def test_oversized_head(self):
        """
        A head over the byte limit fails as soon as the limit is passed,
        without waiting for its end.
        """
        limits = Limits(max_head_bytes=1024)
        data = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2000
        self.assertRaises(PeerProtocolError, parse, data, limits=limits)

    def test_too_many_headers(self):
        """
        More header fields than the limit are refused.
        """
        data = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(11)) + b"\r\n"
        self.assertRaises(PeerProtocolError, parse, data, limits=Limits(max_header_count=10))
        self.assertEqual(len(parse(data, limits=Limits(max_header_count=11))[0].headers), 11)

    def test_oversized_trailers(self):
        """
        The trailer section has the same limits as the head.
        """
        data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + b"a" * 5000
        self.assertRaises(PeerProtocolError, parse, data, limits=Limits(max_head_bytes=1024))

    def test_smuggling_shapes_rejected(self):
        """
        Framing ambiguities that enable response splitting are errors:
        Content-Length with Transfer-Encoding, conflicting lengths, signed
        lengths, whitespace before the colon, obs-fold, chunked twice.
        """
        for head in (
            b"Content-Length: 5\r\nTransfer-Encoding: chunked",
            b"Content-Length: 5\r\nContent-Length: 6",
            b"Content-Length: +5",
            b"Content-Length: 0x5",
            b"Content-Length : 5",
            b"X-A: b\r\n c",
            b"Transfer-Encoding: chunked, chunked",
            b"Transfer-Encoding: gzip, chunked",
        ):
            self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 200 OK\r\n" + head + b"\r\n\r\nhello")

    def test_identical_lengths_accepted(self):
        """
        Repeated identical Content-Length values count as one (RFC 9110 8.6).
        """
        found = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
        self.assertEqual(body(found), b"hello")

    def test_not_http(self):
        """
        A stream that does not start like a status line is refused at once.
        """
        self.assertRaises(PeerProtocolError, parse, b"SSH-2.0-OpenSSH\r\n")
        self.assertRaises(PeerProtocolError, parse, b"HTTP/2.0 200 OK\r\n\r\n")
        self.assertRaises(PeerProtocolError, parse, b"HTTP/1.1 20 OK\r\n\r\n")

    def test_broken_stays_broken(self):
        """
        After an error every further call raises the parser's error.
        """
        parser = ResponseParser()
        parser.expect_response("GET")
        parser.receive_data(b"junk\r\n\r\n")
        self.assertRaises(PeerProtocolError, parser.next_event)
        self.assertRaises(PeerProtocolError, parser.next_event)


VALID_RESPONSES = [
    OK,
    CHUNKED,
    b"HTTP/1.1 100 Continue\r\n\r\n" + OK,
    b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil close",
    b"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n",
]


def _drain(data: bytes, method: str, eof: bool):
    """
    Feed C{data} in 7-byte pieces (then EOF when C{eof}) to a parser
    expecting C{method} then GET; return the events and the
    L{PeerProtocolError} that ended the stream, if any.
    """
    parser = ResponseParser(Limits(max_head_bytes=512, max_header_count=8))
    parser.expect_response(method)
    parser.expect_response("GET")
    found: List[object] = []
    try:
        for index in range(0, len(data), 7):
            parser.receive_data(data[index:index + 7])
            found += events(parser)
        if eof:
            parser.receive_data(b"")
            found += events(parser)
    except PeerProtocolError as error:
        return found, error
    return found, None


class FuzzTests(SynchronousTestCase):
    def assert_outcome(self, data: bytes, method: str, eof: bool) -> None:
        """
        Whatever the bytes, the parser either fails with a
        L{PeerProtocolError} that says why, or yields events that: (1) are
        made of a prefix of the input, byte for byte, nothing invented or
        reordered; (2) follow the grammar 1xx* head body* end, per expected
        response, with ConnectionClosed only last; (3) carry no body for
        HEAD and exactly Content-Length bytes for a completed fixed-length
        body; (4) after EOF without error, end the stream.
        """
        found, error = _drain(data, method, eof)
        self.assertTrue(data.startswith(b"".join(getattr(event, "raw", b"") for event in found)))
        if error is not None:
            self.assertTrue(str(error))
        methods = [method, "GET"]
        head = None
        body = 0
        ended = 0
        for index, event in enumerate(found):
            if isinstance(event, ConnectionClosed):
                self.assertIsNone(head)
                self.assertEqual(index, len(found) - 1)
            elif isinstance(event, InformationalResponse):
                self.assertIsNone(head)
                self.assertTrue(100 <= event.status <= 199)
            elif isinstance(event, ResponseHead):
                self.assertIsNone(head)
                self.assertLess(ended, 2)
                head, body = event, 0
            elif isinstance(event, BodyData):
                self.assertIsNotNone(head)
                self.assertNotEqual(methods[ended], "HEAD")
                body += len(event.data)
            else:
                self.assertIsInstance(event, ResponseEnd)
                self.assertIsNotNone(head)
                if head.framing is Framing.CONTENT_LENGTH and methods[ended] != "HEAD":
                    self.assertEqual(body, head.content_length)
                head = None
                ended += 1
        if eof and error is None:
            self.assertIsNone(head)
            self.assertTrue(found and isinstance(found[-1], (ConnectionClosed, ResponseEnd)), found)

    @settings(max_examples=400, deadline=None)
    @given(st.binary(max_size=600), st.sampled_from(["GET", "HEAD"]), st.booleans())
    def test_random_bytes_only_raise_peer_errors(self, data, method, eof):
        """
        Random bytes end in a reasoned PeerProtocolError or in well-formed
        events (see L{assert_outcome}); nothing else is raised.
        """
        self.assert_outcome(data, method, eof)

    @settings(max_examples=600, deadline=None)
    @given(
        st.sampled_from(VALID_RESPONSES),
        st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255), st.sampled_from(["flip", "drop", "insert"])), max_size=4),
        st.booleans(),
    )
    def test_mutated_responses_only_raise_peer_errors(self, valid, mutations, eof):
        """
        Valid responses with bytes flipped, dropped or inserted end in a
        reasoned PeerProtocolError or in well-formed events.
        """
        data = bytearray(valid)
        for position, value, kind in mutations:
            position %= len(data) + 1
            if kind == "insert":
                data[position:position] = bytes([value])
            elif position < len(data):
                if kind == "flip":
                    data[position] = value
                else:
                    del data[position]
        self.assert_outcome(bytes(data), "GET", eof)


class URLTests(SynchronousTestCase):
    def test_parse_variants(self):
        """
        Ports, IPv6 literals, query strings and default ports are understood;
        the fragment is never sent.
        """
        target = parse_url("http://example.com:8080/a/b?x=1&y=2#frag")
        self.assertEqual((target.host, target.port, target.request_target), ("example.com", 8080, "/a/b?x=1&y=2"))
        self.assertEqual(target.host_header, "example.com:8080")
        six = parse_url("https://[::1]/")
        self.assertEqual((six.scheme, six.host, six.port, six.host_header), ("https", "::1", 443, "[::1]"))
        self.assertEqual(parse_url("127.0.0.1:99").url, "http://127.0.0.1:99/")

    def test_malformed(self):
        """
        Unusable URLs raise MalformedURL; other schemes UnsupportedScheme.
        """
        for url in ("", "http://", "http://a b/", "http://host:99999/", "http://[zz]/", "http://x/\r\nHost: y",
                    "http://user:pw@host/", "http://-i/", "http://host:0/"):
            self.assertRaises(MalformedURL, parse_url, url)
        for url in ("ftp://host/", "file:///etc/passwd", "gopher://x/"):
            self.assertRaises(UnsupportedScheme, parse_url, url)

    def test_request_bytes(self):
        """
        The request head is CRLF-framed; empty values remove a header.
        """
        target = parse_url("http://h:81/p?q")
        headers = merge_headers((("Host", "h:81"), ("Accept", "*/*")), (("Accept", ""), ("X-A", "1")))
        self.assertEqual(request_bytes("GET", target, headers), b"GET /p?q HTTP/1.1\r\nHost: h:81\r\nX-A: 1\r\n\r\n")

    def test_header_injection_refused(self):
        """
        CR or LF in a header value can never reach the wire.
        """
        target = parse_url("http://h/")
        for value in ("a\r\nX-Evil: 1", "a\nb", "a\rb", "a\x00b"):
            self.assertRaises(LocalProtocolError, request_bytes, "GET", target, (("X-A", value),))
        self.assertRaises(LocalProtocolError, request_bytes, "GET", target, (("Bad Name", "v"),))


class RedirectTests(SynchronousTestCase):
    def test_relative_and_absolute(self):
        """
        Locations resolve against the current URL (RFC 3986 5.2).
        """
        base = parse_url("http://h/a/b?x")
        self.assertEqual(redirect_target(base, "c").url, "http://h/a/c")
        self.assertEqual(redirect_target(base, "/d?e=1").url, "http://h/d?e=1")
        self.assertEqual(redirect_target(base, "//other:81/f").url, "http://other:81/f")
        self.assertEqual(redirect_target(base, "https://s/").url, "https://s/")
        self.assertRaises(UnsupportedScheme, redirect_target, base, "file:///etc/passwd")
        self.assertRaises(MalformedURL, redirect_target, base, "")

    def test_credentials_dropped_across_origins(self):
        """
        Authorization, Cookie and Proxy-Authorization survive a same-origin
        redirect only; a change of scheme, host or port drops them
        (CVE-2018-1000007, CVE-2022-21712).
        """
        headers = (("Authorization", "Basic x"), ("Cookie", "a=b"), ("proxy-authorization", "p"), ("X-Keep", "1"))
        source = parse_url("http://h/")
        self.assertEqual(redirect_headers(headers, source, parse_url("http://H:80/other")), headers)
        for other in ("https://h/", "http://h:81/", "http://evil/"):
            self.assertEqual(redirect_headers(headers, source, parse_url(other)), (("X-Keep", "1"),))


class RemoteNameTests(SynchronousTestCase):
    def test_name_from_path(self):
        """
        -O uses the last path segment, decoded, ignoring the query.
        """
        self.assertEqual(remote_file_name(parse_url("http://h/dir/file.tar.gz?x=/y")), "file.tar.gz")
        self.assertEqual(remote_file_name(parse_url("http://h/my%20file.txt")), "my file.txt")

    def test_unsafe_names_refused(self):
        """
        Empty, dot names and decoded separators never become file names.
        """
        for url in ("http://h/", "http://h/dir/", "http://h/.", "http://h/..", "http://h/%2e%2e",
                    "http://h/.bashrc", "http://h/a%2f..%2f..%2fetc", "http://h/a%5cb", "http://h/x%00y", "http://h/%0a"):
            self.assertRaises(UnsafeFileName, remote_file_name, parse_url(url))


class RangeTests(SynchronousTestCase):
    def test_ranges(self):
        """
        Byte ranges are validated and prefixed with bytes=.
        """
        self.assertEqual(parse_byte_range("0-499"), "bytes=0-499")
        self.assertEqual(parse_byte_range("500-,-10"), "bytes=500-,-10")
        for bad in ("", "-", "a-b", "5-1", "1-2\r\n"):
            self.assertRaises(LocalProtocolError, parse_byte_range, bad)


class H11AgreementTests(SynchronousTestCase):
    @settings(max_examples=150, deadline=None)
    @given(
        st.integers(200, 599).filter(lambda s: s not in (204, 304)),
        st.lists(st.tuples(st.from_regex(r"X-[A-Za-z0-9]{1,10}", fullmatch=True), st.from_regex(r"[ -~]{0,20}", fullmatch=True).map(str.strip)), max_size=5),
        st.lists(st.binary(min_size=1, max_size=50), max_size=5),
        st.booleans(),
        st.integers(1, 40),
    )
    def test_parses_what_h11_writes(self, status, headers, chunks, chunked, split):
        """
        Whatever h11 (an independent implementation) serialises as a server,
        our parser reads back to the same status, headers, body and trailers.
        """
        import h11

        server = h11.Connection(h11.SERVER)
        server.receive_data(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        server.next_event()
        server.next_event()
        payload = b"".join(chunks)
        framing = [("Transfer-Encoding", "chunked")] if chunked else [("Content-Length", str(len(payload)))]
        wire = server.send(h11.Response(status_code=status, headers=list(headers) + framing, reason=b"Reason"))
        for chunk in chunks:
            wire += server.send(h11.Data(data=chunk))
        trailers = [("X-Trailer", "t")] if chunked else []
        wire += server.send(h11.EndOfMessage(headers=trailers))
        found = parse(wire, split=split)
        head = found[0]
        self.assertEqual((head.status, head.reason), (status, "Reason"))
        self.assertEqual([(k.lower(), v) for k, v in head.headers if k.lower().startswith("x-")], [(k.lower(), v) for k, v in headers])
        self.assertEqual(body(found), payload)
        self.assertEqual([(k.lower(), v) for k, v in found[-1].trailers], [(k.lower(), v) for k, v in trailers])
        self.assertEqual(raw(found), wire)


class PurityTests(SynchronousTestCase):
    def test_core_imports_no_twisted(self):
        """
        The core is pure: loading it imports nothing from Twisted.
        """
        import subprocess
        import sys

        import twisted_netlab.web._client_core as core

        code = (
            "import importlib.util, sys\n"
            f"spec = importlib.util.spec_from_file_location('core', {core.__file__!r})\n"
            "module = importlib.util.module_from_spec(spec); sys.modules['core'] = module\n"
            "spec.loader.exec_module(module)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('twisted', 'zope')))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(result.stdout.strip(), "[]", result.stderr)


class DribbleTests(SynchronousTestCase):
    def test_head_dribbled_byte_by_byte(self):
        """
        A head arriving one byte at a time (a slowloris server) parses to
        the same result as one read, up to the limit.
        """
        head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: %s\r\n" % (i, b"v" * 500) for i in range(60)) + b"Content-Length: 2\r\n\r\nok"
        found = parse(head, split=1)
        self.assertEqual(len(found[0].headers), 61)
        self.assertEqual(body(found), b"ok")
        self.assertRaises(PeerProtocolError, parse, head, split=1, limits=Limits(max_head_bytes=20000))
