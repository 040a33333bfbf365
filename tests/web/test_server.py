"""
Protocol tests for L{twisted_netlab.web.server} on a StringTransport and a
task.Clock: semantics, negotiation, streaming, pipelining, backpressure,
timeouts, errors, access log, the file cache and graceful stop.
"""

import os
import re

from hypothesis import example, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web import _files, server
from twisted_netlab.web._plan import Folder, Representation
from twisted_netlab.web._server_core import UnsafePath
from twisted_netlab.web.server import MAX_PIPELINED_BYTES, AccessLog, StaticFileFactory

NOW = 784111777  # Sun, 06 Nov 1994 08:49:37 GMT
BIG = bytes(range(256)) * 12000  # 3,072,000 bytes: streamed, not cached


def make_site(testcase):
    root = testcase.mktemp()
    os.makedirs(os.path.join(root, "sub"))
    os.makedirs(os.path.join(root, "list", "inner"))
    os.makedirs(os.path.join(root, "evil.com"))
    files = {
        "hello.txt": b"hello world\n",
        "sub/index.html": b"<p>sub</p>",
        "list/<b>&x.txt": b"x",
        "list/plain.bin": b"\x00" * 10,
        "big.bin": BIG,
        "empty.txt": b"",
        "list/.env": b"SECRET=1",
    }
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    return root


class Connection:
    """
    A protocol built by a factory on a Clock, on a StringTransport.
    """

    def __init__(self, testcase, factory=None, transport=None, **settings):
        self.clock = Clock()
        self.clock.advance(NOW)
        if factory is None:
            factory = StaticFileFactory(make_site(testcase), reactor=self.clock, **settings)
        else:
            self.clock = factory.reactor
        self.factory = factory
        self.protocol = factory.buildProtocol(None)
        self.transport = transport or StringTransport(peerAddress=IPv4Address("TCP", "10.0.0.7", 5555))
        self.protocol.makeConnection(self.transport)

    def send(self, data):
        self.protocol.dataReceived(data)

    def get(self, path, headers=b"", method=b"GET", version=b"1.1"):
        self.send(method + b" " + path + b" HTTP/" + version + b"\r\nHost: h\r\n" + headers + b"\r\n")

    def run(self, turns=1000):
        """
        Let streaming continue for some reactor turns (without moving time
        past any timeout).
        """
        for _ in range(turns):
            self.clock.advance(0)

    def responses(self):
        """
        Split everything written into (status, headers, body) triples,
        framing bodies by Content-Length (none for 204/304/HEAD-like).
        """
        return split_responses(self.transport.value())


def split_responses(data, head_only=False):
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, data[:200]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b": ")
            headers[name.lower()] = value
        length = 0 if (status in (204, 304) or head_only) else int(headers.get(b"content-length", b"0"))
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


class SemanticsTests(SynchronousTestCase):
    def test_get_file_headers(self):
        """
        A GET for a small file answers 200 with its bytes in one write,
        a charset for text, Date in IMF-fixdate, Last-Modified, a strong
        ETag, Cache-Control: no-cache and Accept-Ranges.
        """
        c = Connection(self)
        c.get(b"/hello.txt")
        [(status, headers, body)] = c.responses()
        self.assertEqual(status, 200)
        self.assertEqual(body, b"hello world\n")
        self.assertEqual(headers[b"content-type"], b"text/plain; charset=utf-8")
        self.assertEqual(headers[b"date"], b"Sun, 06 Nov 1994 08:49:37 GMT")
        self.assertEqual(headers[b"cache-control"], b"no-cache")
        self.assertEqual(headers[b"accept-ranges"], b"bytes")
        self.assertIn(b"last-modified", headers)
        self.assertRegex(headers[b"etag"].decode(), r'^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$')
        self.assertFalse(c.transport.disconnecting)

    def test_max_age(self):
        """
        With max_age set, Cache-Control carries it instead of no-cache.
        """
        c = Connection(self, max_age=300)
        c.get(b"/hello.txt")
        self.assertEqual(c.responses()[0][1][b"cache-control"], b"max-age=300")

    def test_head_has_get_headers_and_no_body(self):
        """
        HEAD answers the GET headers, including Content-Length, no body.
        """
        c = Connection(self)
        c.get(b"/hello.txt", method=b"HEAD")
        head, _, body = c.transport.value().partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 12\r\n", head)
        self.assertEqual(body, b"")
        c.transport.clear()
        c.get(b"/big.bin", method=b"HEAD")
        head, _, body = c.transport.value().partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: %d\r\n" % len(BIG), head)
        self.assertEqual(body, b"")

    def test_empty_file(self):
        """
        An empty file is 200 with Content-Length: 0.
        """
        c = Connection(self)
        c.get(b"/empty.txt")
        [(status, headers, body)] = c.responses()
        self.assertEqual((status, headers[b"content-length"], body), (200, b"0", b""))

    def test_not_found_keeps_serving(self):
        """
        A 404 is a small HTML page and does not close the connection.
        """
        c = Connection(self)
        c.get(b"/nope")
        [(status, headers, body)] = c.responses()
        self.assertEqual(status, 404)
        self.assertEqual(headers[b"content-type"], b"text/html; charset=utf-8")
        self.assertIn(b"<h1>404 Not Found</h1>", body)
        self.assertFalse(c.transport.disconnecting)

    def test_escapes_are_404(self):
        """
        Every way out of the root answers 404: dot-dot plain or encoded,
        encoded slashes and backslashes, NUL.
        """
        for target in [
            b"/../../etc/passwd",
            b"/%2e%2e/%2e%2e/etc/passwd",
            b"/sub/..%2f..%2fetc/passwd",
            b"/..%5c..%5cetc/passwd",
            b"/hello.txt%00.html",
            b"/%2E%2E/",
        ]:
            c = Connection(self)
            c.get(target)
            self.assertEqual(c.responses()[0][0], 404, target)

    def test_symlink_out_of_root_is_404(self):
        """
        A symlink leading outside the root is as if it did not exist (and
        is not shown in listings); one staying inside is served.
        """
        c = Connection(self)
        outside = self.mktemp()
        with open(outside, "wb") as f:
            f.write(b"secret")
        os.symlink(os.path.abspath(outside), os.path.join(c.factory.root, "list", "leak"))
        os.symlink(os.path.join(c.factory.root, "hello.txt"), os.path.join(c.factory.root, "list", "ok"))
        c.get(b"/list/leak")
        c.get(b"/list/ok")
        c.get(b"/list/")
        [leak, ok, listing] = c.responses()
        self.assertEqual(leak[0], 404)
        self.assertEqual(ok[2], b"hello world\n")
        self.assertNotIn(b"leak", listing[2])
        self.assertIn(b'href="./ok"', listing[2])

    def test_index_symlink_out_of_root_is_not_served(self):
        """
        An index.html that is a symlink leading outside the root is not
        served: the folder is listed instead, without it.
        """
        c = Connection(self)
        outside = self.mktemp()
        with open(outside, "wb") as f:
            f.write(b"secret")
        os.symlink(os.path.abspath(outside), os.path.join(c.factory.root, "list", "index.html"))
        c.get(b"/list/")
        [(status, _, body)] = c.responses()
        self.assertEqual(status, 200)
        self.assertNotIn(b"secret", body)
        self.assertNotIn(b"index.html", body)

    def test_fifo_is_404_and_never_blocks(self):
        """
        A FIFO under the root is not served (404), and opening one, as a
        race could make us do, is refused without blocking.
        """
        c = Connection(self)
        fifo = os.path.join(c.factory.root, "pipe")
        os.mkfifo(fifo)
        c.get(b"/pipe")
        self.assertEqual(c.responses()[0][0], 404)
        self.assertIsNone(_files.OpenFile.open(fifo))

    def test_folder_index(self):
        """
        A folder with index.html serves it.
        """
        c = Connection(self)
        c.get(b"/sub/")
        [(status, headers, body)] = c.responses()
        self.assertEqual((status, body), (200, b"<p>sub</p>"))
        self.assertEqual(headers[b"content-type"], b"text/html; charset=utf-8")

    def test_listing(self):
        """
        A folder without index.html gets a listing with escaped, quoted
        names, folders first.
        """
        c = Connection(self)
        c.get(b"/list/")
        [(status, headers, body)] = c.responses()
        self.assertEqual(status, 200)
        self.assertIn(b'href="./%3Cb%3E%26x.txt"', body)
        self.assertIn(b"&lt;b&gt;&amp;x.txt", body)
        self.assertLess(body.index(b"inner/"), body.index(b"plain.bin"))

    def test_listing_hides_dotfiles_but_serves_them(self):
        """
        Dotfiles are left out of listings (as nginx's autoindex does) but
        are still served when named.
        """
        c = Connection(self)
        c.get(b"/list/")
        c.get(b"/list/.env")
        listing, dotfile = c.responses()
        self.assertNotIn(b".env", listing[2])
        self.assertEqual(dotfile[2], b"SECRET=1")

    def test_trailing_slash_redirect_is_local(self):
        """
        A folder without its slash redirects to a Location that starts
        with exactly one slash, whatever the target looked like, and keeps
        the query string.
        """
        table = [
            (b"/sub", b"/sub/"),
            (b"//sub", b"/sub/"),
            (b"//evil.com", b"/evil.com/"),
            (b"///evil.com", b"/evil.com/"),
            (b"/./evil.com", b"/evil.com/"),
            (b"/sub?a=1&b=%2F", b"/sub/?a=1&b=%2F"),
            (b"http://h//evil.com", b"/evil.com/"),
        ]
        for target, location in table:
            c = Connection(self)
            c.get(target)
            [(status, headers, _)] = c.responses()
            self.assertEqual((status, headers[b"location"]), (301, location), target)

    def test_redirect_escapes_are_404(self):
        """
        Targets built to make the redirect point elsewhere (C{/\\host},
        C{//host/%2f..}) are refused before any redirect.
        """
        for target in [b"/\\evil.com", b"//evil.com/%2f..", b"/%5cevil.com", b"//evil.com%2f"]:
            c = Connection(self)
            c.get(target)
            self.assertEqual(c.responses()[0][0], 404, target)

    def test_methods(self):
        """
        Known methods other than GET/HEAD/OPTIONS are 405 with the same
        Allow as OPTIONS' 204 (which has no Content-Length); unknown
        methods are 501; none closes the connection.
        """
        c = Connection(self)
        c.get(b"/hello.txt", method=b"DELETE")
        c.get(b"*", method=b"OPTIONS")
        c.get(b"/hello.txt", method=b"OPTIONS")
        c.get(b"/", method=b"BREW")
        [delete, star, options, brew] = c.responses()
        self.assertEqual(delete[0], 405)
        self.assertEqual(star[0], 204)
        self.assertEqual(options[0], 204)
        self.assertEqual(delete[1][b"allow"], b"GET, HEAD, OPTIONS")
        self.assertEqual(star[1][b"allow"], delete[1][b"allow"])
        self.assertNotIn(b"content-length", star[1])
        self.assertEqual(brew[0], 501)
        self.assertFalse(c.transport.disconnecting)

    def test_rejection_closes_and_ignores_rest(self):
        """
        An unframeable request gets its error page with Connection: close,
        the connection closes and what follows is never answered.
        """
        c = Connection(self)
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        [(status, headers, _)] = c.responses()
        self.assertEqual(status, 400)
        self.assertEqual(headers[b"connection"], b"close")
        self.assertTrue(c.transport.disconnecting)

    def test_unsupported_version(self):
        """
        HTTP/2.0 in a request line is 505 and close.
        """
        c = Connection(self)
        c.send(b"GET / HTTP/2.0\r\n\r\n")
        self.assertEqual(c.responses()[0][0], 505)
        self.assertTrue(c.transport.disconnecting)

    def test_server_error_is_500_and_logged(self):
        """
        An exception while answering is logged with its traceback, answered
        500 and closes that connection; the factory goes on serving.
        """
        c = Connection(self)

        def broken(path):
            raise RuntimeError("disk on fire")

        original = c.factory.resolve
        c.factory.resolve = broken
        c.get(b"/hello.txt")
        self.assertEqual(c.responses()[0][0], 500)
        self.assertTrue(c.transport.disconnecting)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        c.factory.resolve = original
        other = Connection(self, factory=c.factory)
        other.get(b"/hello.txt")
        self.assertEqual(other.responses()[0][0], 200)


class ConnectionManagementTests(SynchronousTestCase):
    def test_connection_close_honoured_and_rest_ignored(self):
        """
        After a request with Connection: close the response says so, the
        connection closes and pipelined requests after it are ignored.
        """
        c = Connection(self)
        c.send(
            b"GET /hello.txt HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
            b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        responses = c.responses()
        self.assertEqual(len(responses), 1)
        self.assertEqual(responses[0][1][b"connection"], b"close")
        self.assertTrue(c.transport.disconnecting)

    def test_tcp_nodelay(self):
        """
        Accepted TCP connections get TCP_NODELAY, so a response's last
        segment does not wait for a delayed ACK.
        """

        class TCPLikeTransport(StringTransport):
            no_delay = False

            def setTcpNoDelay(self, enabled):
                self.no_delay = enabled

        c = Connection(self, transport=TCPLikeTransport())
        self.assertTrue(c.transport.no_delay)

    def test_http10_keep_alive(self):
        """
        HTTP/1.0 with Connection: keep-alive stays open and says so;
        plain HTTP/1.0 closes.
        """
        c = Connection(self)
        c.get(b"/hello.txt", b"Connection: keep-alive\r\n", version=b"1.0")
        self.assertEqual(c.responses()[0][1][b"connection"], b"keep-alive")
        self.assertFalse(c.transport.disconnecting)
        c.get(b"/hello.txt", version=b"1.0")
        self.assertEqual(c.responses()[1][1][b"connection"], b"close")
        self.assertTrue(c.transport.disconnecting)

    def test_half_close_answers_everything_then_closes(self):
        """
        A client that sends its requests and then closes its sending side
        (FIN) gets every answer, in order, and then the connection closes.
        """
        c = Connection(self)
        c.send(
            b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        c.protocol.readConnectionLost()
        self.assertFalse(c.transport.disconnecting)
        c.run()
        self.assertEqual([r[2] for r in c.responses()], [BIG, b"hello world\n"])
        self.assertTrue(c.transport.disconnecting)

    def test_half_close_when_idle_closes(self):
        """
        A FIN on an idle keep-alive connection closes it at once.
        """
        c = Connection(self)
        c.get(b"/hello.txt")
        c.protocol.readConnectionLost()
        self.assertTrue(c.transport.disconnecting)
        self.assertEqual(len(c.responses()), 1)

    def test_pipelined_responses_in_order(self):
        """
        Pipelined requests are answered strictly in order; a small
        response never overtakes a large one being streamed
        (CVE-2024-41671 family).
        """
        c = Connection(self)
        c.send(
            b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
            b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n"
            b"HEAD /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        )
        # Only the first response has started: the rest wait for it.
        self.assertNotIn(b"hello world", c.transport.value())
        c.run()
        data = c.transport.value()
        first = split_responses(data[: data.index(b"HTTP/1.1 200 OK", 10)])
        self.assertEqual(first[0][2], BIG)
        rest = data[data.index(b"HTTP/1.1 200 OK", 10):]
        self.assertTrue(rest.startswith(b"HTTP/1.1 200 OK"))
        self.assertIn(b"hello world\n", rest)
        self.assertLess(rest.index(b"hello world\n"), rest.index(b"HTTP/1.1 404"))
        self.assertLess(rest.index(b"HTTP/1.1 404"), rest.rindex(b"HTTP/1.1 200 OK"))
        self.assertEqual(rest.count(b"HTTP/1.1 "), 3)

    def test_requests_split_across_reads(self):
        """
        A request arriving one byte at a time is answered once complete.
        """
        c = Connection(self)
        for byte in b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n":
            c.send(bytes([byte]))
        self.assertEqual(c.responses()[0][2], b"hello world\n")

    def test_framed_get_body_is_discarded(self):
        """
        A GET body framed by Content-Length is not taken as a request.
        """
        c = Connection(self)
        c.send(b"GET /hello.txt HTTP/1.1\r\nHost: h\r\nContent-Length: 24\r\n\r\nGET /nope HTTP/1.1\r\n\r\n\r\n")
        self.assertEqual([r[0] for r in c.responses()], [200])


_PIPELINE_TARGETS = {
    b"/hello.txt": (200, b"hello world\n"),
    b"/big.bin": (200, BIG),
    b"/nope": (404, None),
    b"/sub": (301, None),
    b"/sub/": (200, b"<p>sub</p>"),
}


class PipeliningPropertyTests(SynchronousTestCase):
    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.tuples(st.sampled_from(sorted(_PIPELINE_TARGETS)), st.sampled_from([b"GET", b"HEAD"])), min_size=1, max_size=8),
        st.lists(st.integers(1, 200), min_size=1, max_size=20),
    )
    def test_any_pipeline_answered_in_order(self, requests, cuts):
        """
        Whatever mix of small, large, missing and redirected targets is
        pipelined, and however the bytes are split into reads, there is
        exactly one response per request, in request order, each complete.
        """
        c = Connection(self)
        wire = b"".join(method + b" " + path + b" HTTP/1.1\r\nHost: h\r\n\r\n" for path, method in requests)
        position = 0
        for cut in cuts:
            if position >= len(wire):
                break
            c.send(wire[position : position + cut])
            c.run(5)
            position += cut
        c.send(wire[position:])
        c.run()
        data = c.transport.value()
        for path, method in requests:
            status, body = _PIPELINE_TARGETS[path]
            head, sep, data = data.partition(b"\r\n\r\n")
            self.assertTrue(sep)
            self.assertTrue(head.startswith(b"HTTP/1.1 %d " % status), (path, head[:40]))
            length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
            if method == b"HEAD":
                continue
            if body is not None:
                self.assertEqual(data[:length], body)
            data = data[length:]
        self.assertEqual(data, b"")


class StreamingTests(SynchronousTestCase):
    def test_large_file_streams_in_bounded_chunks(self):
        """
        A large file is written a bounded number of 64 KiB chunks per
        reactor turn, never all at once, and arrives whole.
        """
        c = Connection(self)
        c.get(b"/big.bin")
        first_turn = len(c.transport.value())
        self.assertLessEqual(first_turn, 1024 + server.CHUNK_SIZE * server.CHUNKS_PER_TURN)
        self.assertLess(first_turn, len(BIG))
        c.run()
        self.assertEqual(c.responses()[0][2], BIG)

    def test_paused_transport_stops_writes_and_reads(self):
        """
        When the transport pauses us (its write buffer is full), no more
        body is written until it resumes, and we stop reading from the
        client (pauseProducing on the transport) until then.
        """
        c = Connection(self)
        c.get(b"/big.bin")
        c.protocol.pauseProducing()
        self.assertEqual(c.transport.producerState, "paused")
        written = len(c.transport.value())
        c.run()
        self.assertEqual(len(c.transport.value()), written)
        c.protocol.resumeProducing()
        self.assertEqual(c.transport.producerState, "producing")
        c.run()
        self.assertEqual(c.responses()[0][2], BIG)

    def test_pipelined_flood_while_streaming_stops_reading(self):
        """
        A client pipelining many requests while a body streams makes us
        stop reading once MAX_PIPELINED_BYTES wait unparsed (CVE-2023-46137
        family), and read again once they are answered.
        """
        c = Connection(self)
        c.get(b"/big.bin")
        request = b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        count = MAX_PIPELINED_BYTES // len(request) + 10
        c.send(request * count)
        self.assertEqual(c.transport.producerState, "paused")
        c.run()
        self.assertEqual(c.transport.producerState, "producing")
        self.assertEqual(len(c.responses()), count + 1)

    def test_client_not_reading_small_responses_bounds_memory(self):
        """
        A client that pipelines thousands of small requests and reads
        nothing: once the transport's buffer is full we stop answering and
        stop reading, so nothing grows; when it drains we continue.
        """

        class FillingTransport(StringTransport):
            limit = 64 * 1024

            def write(self, data):
                StringTransport.write(self, data)
                if len(self.value()) > self.limit and self.producer is not None:
                    self.producer.pauseProducing()

        transport = FillingTransport()
        c = Connection(self, transport=transport)
        request = b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        c.send(request * 5000)
        answered = len(c.responses())
        self.assertLess(answered, 5000)
        self.assertEqual(transport.producerState, "paused")
        transport.clear()
        c.run()
        self.assertEqual(transport.value(), b"")  # still paused: nothing more
        transport.limit = 1 << 30
        c.protocol.resumeProducing()
        self.assertEqual(answered + len(c.responses()), 5000)
        self.assertEqual(transport.producerState, "producing")

    def test_file_truncated_while_streaming_aborts(self):
        """
        If a file shrinks under us mid-body, the connection is aborted
        rather than sending fewer bytes than announced.
        """
        c = Connection(self)
        c.get(b"/big.bin")
        with open(os.path.join(c.factory.root, "big.bin"), "r+b") as f:
            f.truncate(100)
        c.run()
        self.assertTrue(c.transport.disconnected)


    def test_error_while_streaming_is_logged_and_aborts(self):
        """
        An exception while sending a body (after the head went out) is
        logged with its traceback and aborts only that connection.
        """
        c = Connection(self)

        def failing_pread(fd, size, offset):
            raise RuntimeError("bad disk")

        self.patch(server.os, "pread", failing_pread)
        c.get(b"/big.bin")
        self.assertTrue(c.transport.disconnected)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class NegotiationTests(SynchronousTestCase):
    def etag(self, c, path=b"/hello.txt"):
        c.get(path, method=b"HEAD")
        etag = split_responses(c.transport.value(), head_only=True)[0][1][b"etag"]
        last_modified = split_responses(c.transport.value(), head_only=True)[0][1][b"last-modified"]
        c.transport.clear()
        return etag, last_modified

    def test_if_none_match_304(self):
        """
        A matching If-None-Match (also in a list, weak, or *) is 304 with
        the ETag and no body; a different tag gets 200.
        """
        c = Connection(self)
        etag, _ = self.etag(c)
        for value in [etag, b'"x", ' + etag, b"W/" + etag, b"*"]:
            c.get(b"/hello.txt", b"If-None-Match: " + value + b"\r\n")
        c.get(b"/hello.txt", b'If-None-Match: "other"\r\n')
        responses = c.responses()
        self.assertEqual([r[0] for r in responses], [304, 304, 304, 304, 200])
        self.assertEqual(responses[0][1][b"etag"], etag)
        self.assertNotIn(b"content-length", responses[0][1])

    def test_if_modified_since(self):
        """
        If-Modified-Since at or after Last-Modified is 304, but it is
        ignored when If-None-Match is present.
        """
        c = Connection(self)
        _, last_modified = self.etag(c)
        c.get(b"/hello.txt", b"If-Modified-Since: " + last_modified + b"\r\n")
        c.get(b"/hello.txt", b"If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT\r\n")
        c.get(b"/hello.txt", b'If-None-Match: "x"\r\nIf-Modified-Since: ' + last_modified + b"\r\n")
        self.assertEqual([r[0] for r in c.responses()], [304, 200, 200])

    def test_if_match_412(self):
        """
        A failing If-Match is 412 Precondition Failed.
        """
        c = Connection(self)
        c.get(b"/hello.txt", b'If-Match: "x"\r\n')
        self.assertEqual(c.responses()[0][0], 412)

    def test_single_range(self):
        """
        One range is 206 with Content-Range and exactly those bytes, for
        small (cached) and large (streamed) files; ranges past the end
        are clipped.
        """
        c = Connection(self)
        c.get(b"/hello.txt", b"Range: bytes=6-\r\n")
        c.get(b"/big.bin", b"Range: bytes=1000-1999\r\n")
        c.get(b"/big.bin", b"Range: bytes=-10\r\n")
        c.get(b"/hello.txt", b"Range: bytes=6-1000\r\n")
        c.run()
        small, big, suffix, clipped = c.responses()
        self.assertEqual((small[0], small[2]), (206, b"world\n"))
        self.assertEqual(small[1][b"content-range"], b"bytes 6-11/12")
        self.assertEqual((big[0], big[2]), (206, BIG[1000:2000]))
        self.assertEqual(big[1][b"content-range"], b"bytes 1000-1999/%d" % len(BIG))
        self.assertEqual(suffix[2], BIG[-10:])
        self.assertEqual(clipped[1][b"content-range"], b"bytes 6-11/12")

    def test_unsatisfiable_range(self):
        """
        A range starting past the end is 416 with Content-Range: bytes */size.
        """
        c = Connection(self)
        c.get(b"/hello.txt", b"Range: bytes=100-\r\n")
        [(status, headers, _)] = c.responses()
        self.assertEqual((status, headers[b"content-range"]), (416, b"bytes */12"))
        self.assertFalse(c.transport.disconnecting)

    def test_multiple_ranges_multipart(self):
        """
        Several ranges are one multipart/byteranges body whose parts carry
        their Content-Range and bytes.
        """
        c = Connection(self)
        c.get(b"/big.bin", b"Range: bytes=0-9,500000-500009\r\n")
        c.run()
        [(status, headers, body)] = c.responses()
        self.assertEqual(status, 206)
        boundary = re.match(rb"multipart/byteranges; boundary=(\w+)$", headers[b"content-type"]).group(1)
        parts = body.split(b"\r\n--" + boundary)
        self.assertEqual(parts[0], b"")
        self.assertEqual(parts[-1], b"--\r\n")
        first_head, _, first_body = parts[1].partition(b"\r\n\r\n")
        second_head, _, second_body = parts[2].partition(b"\r\n\r\n")
        self.assertIn(b"Content-Range: bytes 0-9/%d" % len(BIG), first_head)
        self.assertEqual(first_body, BIG[:10])
        self.assertIn(b"Content-Range: bytes 500000-500009/", second_head)
        self.assertEqual(second_body, BIG[500000:500010])

    def test_if_range(self):
        """
        If-Range with the current ETag or date honours Range; a stale
        validator gets the whole file with 200.
        """
        c = Connection(self)
        etag, last_modified = self.etag(c)
        c.get(b"/hello.txt", b"Range: bytes=0-4\r\nIf-Range: " + etag + b"\r\n")
        c.get(b"/hello.txt", b"Range: bytes=0-4\r\nIf-Range: " + last_modified + b"\r\n")
        c.get(b"/hello.txt", b'Range: bytes=0-4\r\nIf-Range: "stale"\r\n')
        self.assertEqual([(r[0], r[2]) for r in c.responses()], [(206, b"hello"), (206, b"hello"), (200, b"hello world\n")])


class TimeoutTests(SynchronousTestCase):
    def test_slowloris_dropped_with_408(self):
        """
        A client dribbling a request head is answered 408 and closed once
        request_timeout has passed since the request began, however often
        it sends a byte.
        """
        c = Connection(self, request_timeout=10)
        c.get(b"/hello.txt")
        c.transport.clear()
        c.clock.advance(5)
        for _ in range(9):
            c.send(b"G")
            c.clock.advance(1)
        self.assertFalse(c.transport.disconnecting)
        c.clock.advance(3)
        self.assertEqual(c.responses()[0][0], 408)
        self.assertTrue(c.transport.disconnecting)

    def test_silent_new_connection_closed_quietly(self):
        """
        A connection that never sends anything is closed after
        request_timeout without a response.
        """
        c = Connection(self, request_timeout=10)
        c.clock.advance(9)
        self.assertFalse(c.transport.disconnecting)
        c.clock.advance(2)
        self.assertTrue(c.transport.disconnecting)
        self.assertEqual(c.transport.value(), b"")

    def test_idle_keep_alive_timeout(self):
        """
        An idle keep-alive connection closes after idle_timeout, silently;
        every completed request restarts the idle time.
        """
        c = Connection(self, idle_timeout=30, request_timeout=10)
        c.get(b"/hello.txt")
        c.clock.advance(25)
        c.get(b"/hello.txt")
        c.clock.advance(25)
        self.assertFalse(c.transport.disconnecting)
        c.transport.clear()
        c.clock.advance(7)
        self.assertTrue(c.transport.disconnecting)
        self.assertEqual(c.transport.value(), b"")

    def test_send_timeout_aborts_non_reader(self):
        """
        A client that stops reading while a body streams is aborted after
        send_timeout; one that keeps reading is not.
        """
        c = Connection(self, send_timeout=15, idle_timeout=5)
        c.get(b"/big.bin")
        c.protocol.pauseProducing()
        c.clock.advance(10)
        c.protocol.resumeProducing()
        c.protocol.pauseProducing()
        c.clock.advance(10)
        self.assertFalse(c.transport.disconnecting)
        c.clock.advance(6)
        self.assertTrue(c.transport.disconnected)

    def test_streaming_response_not_cut_by_idle_timeout(self):
        """
        No timeout runs while a body is being streamed to a reading client.
        """
        c = Connection(self, idle_timeout=1, request_timeout=1)
        c.get(b"/big.bin")
        c.clock.advance(5)
        self.assertFalse(c.transport.disconnecting)
        c.run()
        self.assertEqual(c.responses()[0][2], BIG)


class AccessLogTests(SynchronousTestCase):
    def test_lines_buffered_and_flushed(self):
        """
        Each response adds one Combined Log Format line, written in a batch
        at the next flush interval, not per request.
        """
        batches = []
        clock = Clock()
        clock.advance(NOW)
        log = AccessLog(batches.append, clock, interval=1.0)
        factory = StaticFileFactory(make_site(self), reactor=clock, access_log=log)
        c = Connection(self, factory=factory)
        c.get(b"/hello.txt", b"User-Agent: t/1\r\nReferer: http://r/\r\n")
        c.get(b"/nope", method=b"HEAD")
        self.assertEqual(batches, [])
        clock.advance(1)
        self.assertEqual(
            batches,
            [
                [
                    '10.0.0.7 - - [06/Nov/1994:08:49:37 +0000] "GET /hello.txt HTTP/1.1" 200 12 "http://r/" "t/1"',
                    '10.0.0.7 - - [06/Nov/1994:08:49:37 +0000] "HEAD /nope HTTP/1.1" 404 - "-" "-"',
                ]
            ],
        )
        c.send(b"BAD\r\n\r\n")
        log.close()
        self.assertEqual(len(batches[1]), 1)
        self.assertRegex(
            batches[1][0], r'^10\.0\.0\.7 - - \[06/Nov/1994:08:49:38 \+0000\] "-" 400 [0-9]+ "-" "-" "malformed request line"$'
        )


class TwistedAccessLogTests(SynchronousTestCase):
    def test_batch_is_one_log_event(self):
        """
        --access-log - emits each batch as one event on the twistd log.
        """
        from twisted.logger import formatEvent, globalLogPublisher

        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        clock = Clock()
        log = server.twisted_access_log(clock)
        log.add("first")
        log.add("second")
        clock.advance(1)
        mine = [e for e in events if e.get("log_namespace") == "netlab-http.access"]
        self.assertEqual([formatEvent(e) for e in mine], ["first\nsecond"])
        log.close()


class FileCacheTests(SynchronousTestCase):
    def test_stale_for_at_most_ttl(self):
        """
        With the file cache on, an edited small file may be served stale
        until the TTL passes, then fresh; with it off, always fresh.
        """
        c = Connection(self, file_cache_seconds=1.0)
        path = os.path.join(c.factory.root, "hello.txt")
        c.get(b"/hello.txt")
        with open(path, "wb") as f:
            f.write(b"changed\n")
        c.clock.advance(0.5)
        c.get(b"/hello.txt")
        c.clock.advance(0.6)
        c.get(b"/hello.txt")
        self.assertEqual([r[2] for r in c.responses()], [b"hello world\n", b"hello world\n", b"changed\n"])

        uncached = Connection(self, file_cache_seconds=0)
        path = os.path.join(uncached.factory.root, "hello.txt")
        uncached.get(b"/hello.txt")
        with open(path, "wb") as f:
            f.write(b"changed\n")
        uncached.get(b"/hello.txt")
        self.assertEqual([r[2] for r in uncached.responses()], [b"hello world\n", b"changed\n"])


class ShutdownTests(SynchronousTestCase):
    def test_graceful_shutdown(self):
        """
        shutdown() closes idle connections at once, lets a streaming
        response finish (then closes it), and fires when all are gone.
        """
        idle = Connection(self)
        factory = idle.factory
        busy = Connection(self, factory=factory)
        idle.get(b"/hello.txt")
        busy.get(b"/big.bin")
        done = factory.shutdown(10)
        self.assertTrue(idle.transport.disconnecting)
        self.assertFalse(busy.transport.disconnecting)
        idle.protocol.connectionLost(None)
        self.assertNoResult(done)
        busy.run()
        self.assertEqual(busy.responses()[0][2], BIG)
        self.assertTrue(busy.transport.disconnecting)
        busy.protocol.connectionLost(None)
        self.successResultOf(done)

    def test_shutdown_bounded(self):
        """
        Connections still busy after the shutdown timeout are aborted.
        """
        c = Connection(self)
        c.get(b"/big.bin")
        c.protocol.pauseProducing()
        done = c.factory.shutdown(5)
        c.clock.advance(6)
        self.assertTrue(c.transport.disconnected)
        c.protocol.connectionLost(None)
        self.successResultOf(done)


class SymlinkSwapRaceTests(SynchronousTestCase):
    """
    Issue 14 item 1: a name swapped between a regular file and a symlink
    leading out of the root, while real requests run.
    """

    def race(self, inside, outside_bytes, cache_seconds, seconds=1.5, folder=False):
        """
        Swap C{swap.bin} (or, with C{folder}, the folder C{swapdir} holding
        a C{swap.bin}) between the real thing and a symlink leading out of
        the root, from a thread, while requests for it run.
        """
        import threading
        import time

        c = Connection(self, file_cache_seconds=cache_seconds)
        root = c.factory.root
        outside = os.path.abspath(self.mktemp())
        os.makedirs(outside)
        with open(os.path.join(outside, "swap.bin"), "wb") as f:
            f.write(outside_bytes)
        spare = os.path.join(root, "spare")
        os.makedirs(spare)
        stop = threading.Event()
        if folder:
            target = os.path.join(root, "swapdir")
            os.makedirs(target)
            with open(os.path.join(target, "swap.bin"), "wb") as f:
                f.write(inside)
            path = b"/swapdir/swap.bin"

            def swap():
                parked = os.path.join(spare, "swapdir")
                while not stop.is_set():
                    os.rename(target, parked)
                    os.symlink(outside, target)
                    os.unlink(target)
                    os.rename(parked, target)

        else:
            target = os.path.join(root, "swap.bin")
            with open(target, "wb") as f:
                f.write(inside)
            path = b"/swap.bin"

            def swap():
                while not stop.is_set():
                    link = os.path.join(spare, "link")
                    os.symlink(os.path.join(outside, "swap.bin"), link)
                    os.replace(link, target)
                    regular = os.path.join(spare, "file")
                    with open(regular, "wb") as f:
                        f.write(inside)
                    os.replace(regular, target)

        thread = threading.Thread(target=swap, daemon=True)
        thread.start()
        requests = leaked = 0
        try:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                c.transport.clear()
                c.get(path)
                c.run(200)
                c.clock.advance(cache_seconds + 0.01)
                requests += 1
                if outside_bytes[:16] in c.transport.value():
                    leaked += 1
        finally:
            stop.set()
            thread.join()
        self.assertGreater(requests, 50)
        self.assertEqual(leaked, 0, f"{leaked} of {requests} responses carried the outside file")

    def test_small_files_no_cache(self):
        """
        With the file cache off, no response to a name being swapped for a
        symlink out of the root carries the outside file's bytes.
        """
        self.race(b"inside\n", b"OUTSIDE-SECRET\n" * 10, 0)

    def test_small_files_cached(self):
        """
        With the file cache on, the cache holds what was opened: no
        response carries the outside file's bytes either.
        """
        self.race(b"inside\n", b"OUTSIDE-SECRET\n" * 10, 1.0)

    def test_large_files(self):
        """
        A streamed (large) file is never reopened through a swapped-in
        symlink: zero outside bytes.
        """
        self.race(b"i" * 100_000, b"OUTSIDE-SECRET\n" * 10_000, 1.0)

    def test_folder_on_the_path_swapped(self):
        """
        A folder on the path swapped for a symlink to an outside folder
        holding a file of the same name: no response carries that file
        (every segment is opened with O_NOFOLLOW, not only the last).
        """
        self.race(b"inside\n", b"OUTSIDE-SECRET\n" * 10, 0, folder=True)
        self.race(b"i" * 100_000, b"OUTSIDE-SECRET\n" * 10_000, 1.0, folder=True)

    def test_symlinks_inside_root_still_served(self):
        """
        Symlinks that stay inside the root (to a file, to a folder, and
        through a symlinked folder) keep working.
        """
        c = Connection(self)
        root = c.factory.root
        os.symlink(os.path.join(root, "hello.txt"), os.path.join(root, "hello-link.txt"))
        os.symlink("sub", os.path.join(root, "sub-link"))
        os.symlink(os.path.join(root, "big.bin"), os.path.join(root, "sub", "big-link.bin"))
        c.get(b"/hello-link.txt")
        c.get(b"/sub-link/index.html")
        c.get(b"/sub-link/big-link.bin")
        c.run()
        [hello, index, big] = c.responses()
        self.assertEqual((hello[0], hello[2]), (200, b"hello world\n"))
        self.assertEqual((index[0], index[2]), (200, b"<p>sub</p>"))
        self.assertEqual((big[0], big[2]), (200, BIG))

    def test_sibling_folder_sharing_the_root_prefix_is_outside(self):
        """
        A symlink to C{<root>-secret/...}, a folder whose name merely starts
        with the root's, leads outside the root: 404, and not listed.
        """
        c = Connection(self)
        root = c.factory.root
        sibling = root + "-secret"
        os.makedirs(sibling)
        with open(os.path.join(sibling, "key.txt"), "wb") as f:
            f.write(b"SIBLING-SECRET")
        os.symlink(os.path.join(sibling, "key.txt"), os.path.join(root, "list", "key.txt"))
        os.symlink(sibling, os.path.join(root, "sib"))
        c.get(b"/list/key.txt")
        c.get(b"/sib/key.txt")
        c.get(b"/list/")
        [key, through_folder, listing] = c.responses()
        self.assertEqual(key[0], 404)
        self.assertEqual(through_folder[0], 404)
        self.assertNotIn(b"key.txt", listing[2])


class ResourceErrorTests(SynchronousTestCase):
    """
    Issue 14 item 2: running out of descriptors or memory is not "not found".
    """

    def test_out_of_descriptors_is_503_with_retry_after(self):
        """
        EMFILE, ENFILE and ENOMEM while opening a file that exists answer
        503 with Retry-After (never a 404 a cache would believe), log a
        line, and keep the connection usable.
        """
        import errno

        real_open = os.open
        for number in (errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EIO):
            c = Connection(self, file_cache_seconds=0)
            events = []
            globalLogPublisher.addObserver(events.append)
            self.addCleanup(globalLogPublisher.removeObserver, events.append)

            def fake_open(path, flags, mode=0o777, *, dir_fd=None, number=number):
                if "hello" in str(path) or "big" in str(path):
                    raise OSError(number, os.strerror(number))
                return real_open(path, flags, mode, dir_fd=dir_fd)

            self.patch(server.os, "open", fake_open)
            c.get(b"/hello.txt")
            c.get(b"/big.bin")
            [small, big] = c.responses()
            for status, headers, _ in (small, big):
                self.assertEqual(status, 503, errno.errorcode[number])
                self.assertIn(b"retry-after", headers)
            self.assertFalse(c.transport.disconnecting)
            texts = [formatEvent(e) for e in events]
            self.assertTrue(any("503" in t and errno.errorcode[number] in t for t in texts), texts)

    def test_absent_and_forbidden_stay_404(self):
        """
        ENOENT and EACCES (absent, forbidden) are still 404.
        """
        import errno

        real_open = os.open
        for number in (errno.ENOENT, errno.EACCES):
            c = Connection(self, file_cache_seconds=0)

            def fake_open(path, flags, mode=0o777, *, dir_fd=None, number=number):
                if "hello" in str(path):
                    raise OSError(number, os.strerror(number))
                return real_open(path, flags, mode, dir_fd=dir_fd)

            self.patch(server.os, "open", fake_open)
            c.get(b"/hello.txt")
            self.assertEqual(c.responses()[0][0], 404)


class HeadRejectionTests(SynchronousTestCase):
    """
    Issue 14 item 3: a HEAD answer never carries a body.
    """

    def test_rejected_head_requests_carry_no_body(self):
        """
        HEAD requests the parser rejects (400, 413, 414, 431, 501, 505)
        get their status and Content-Length but no body.
        """
        cases = [
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400),
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999\r\n\r\n", 413),
            (b"HEAD /" + b"a" * 20000 + b" HTTP/1.1\r\nHost: h\r\n\r\n", 414),
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nX: " + b"a" * 70000 + b"\r\n\r\n", 431),
            (b"HEAD / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
            (b"HEAD / HTTP/2.0\r\nHost: h\r\n\r\n", 505),
        ]
        for request, status in cases:
            c = Connection(self)
            c.send(request)
            data = c.transport.value()
            head, _, body = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 %d " % status), (status, head[:60]))
            self.assertEqual(body, b"", status)


class TrailingSlashTests(SynchronousTestCase):
    """
    Issue 14 item 4: a slash after a file name names a folder that is not there.
    """

    def test_file_with_trailing_slash_is_404(self):
        """
        C{/file.txt/}, C{/file.txt/.} and C{/sub/index.html/} are 404, as
        with nginx and Apache; C{/hello.txt} is still 200.
        """
        c = Connection(self)
        for target in (b"/hello.txt/", b"/hello.txt/.", b"/hello.txt/%2e", b"/sub/index.html/", b"/big.bin/"):
            c.get(target)
        c.get(b"/hello.txt")
        statuses = [r[0] for r in c.responses()]
        self.assertEqual(statuses, [404, 404, 404, 404, 404, 200])


class ConnectionLimitTests(SynchronousTestCase):
    """
    Issue 14 item 6: a cap on connections, and little memory per reader
    that stops reading.
    """

    def test_over_max_connections_is_closed_at_once(self):
        """
        With max_connections open, a new connection gets no protocol (Twisted
        closes it at once) and one log line says why; once one closes, new
        connections are served again.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        first = Connection(self, max_connections=2)
        Connection(self, factory=first.factory)
        self.assertIsNone(first.factory.buildProtocol(None))
        self.assertIsNone(first.factory.buildProtocol(None))
        self.assertEqual(first.factory.refused_connections, 2)
        lines = [formatEvent(e) for e in events if "max-connections" in formatEvent(e)]
        self.assertEqual(len(lines), 1, lines)
        first.protocol.connectionLost(None)
        third = Connection(self, factory=first.factory)
        third.get(b"/hello.txt")
        self.assertEqual(third.responses()[0][0], 200)

    def test_default_is_in_the_thousands(self):
        """
        The default cap is 4096 connections per process.
        """
        self.assertEqual(Connection(self).factory.max_connections, 4096)

    def test_stalled_reader_of_a_large_file_holds_little(self):
        """
        A client that never reads a large file: we shrink the transport's
        write buffer and write small chunks, so at most about 32 KiB of the
        body is ever buffered for it (Twisted's defaults let 128 KiB pile
        up per connection).
        """

        class BufferingTransport(StringTransport):
            """
            Pauses its producer once more than C{bufferSize} bytes wait,
            as Twisted's FileDescriptor.write does; nothing is ever sent.
            """

            bufferSize = 64 * 1024

            def write(self, data):
                StringTransport.write(self, data)
                if len(self.value()) > self.bufferSize and self.producer is not None:
                    self.producer.pauseProducing()

        transport = BufferingTransport()
        c = Connection(self, transport=transport)
        c.get(b"/big.bin")
        c.run()
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"))
        self.assertGreater(len(body), 0)
        self.assertLessEqual(len(body), 32 * 1024)
        self.assertEqual(transport.producerState, "paused")


    def test_memory_released_once_half_of_many_connections_left(self):
        """
        After 300 connections were open at once, freed memory is handed
        back once when half of them have closed (not once per close), and
        again only after a new high-water mark halves.
        """
        calls = []
        self.patch(server, "release_memory", lambda: calls.append(1))
        first = Connection(self)
        protocols = [first.protocol] + [Connection(self, factory=first.factory).protocol for _ in range(299)]
        for protocol in protocols[:149]:
            protocol.connectionLost(None)
        self.assertEqual(calls, [])
        protocols[149].connectionLost(None)
        self.assertEqual(calls, [1])
        for protocol in protocols[150:]:
            protocol.connectionLost(None)
        self.assertEqual(calls, [1])

class AccessLogBytesTests(SynchronousTestCase):
    """
    Issue 13: the access log says what was sent, and why a request failed.
    """

    def connection(self):
        batches = []
        clock = Clock()
        clock.advance(NOW)
        log = AccessLog(batches.append, clock, interval=1.0)
        factory = StaticFileFactory(make_site(self), reactor=clock, access_log=log)
        return Connection(self, factory=factory), log, batches

    def test_aborted_download_logs_the_bytes_sent(self):
        """
        A client that goes away after part of a large file: the line has
        the bytes handed on before it left, not the file's size; a whole
        download logs the whole size.
        """
        c, log, batches = self.connection()
        c.get(b"/big.bin")
        c.protocol.pauseProducing()
        sent = len(c.transport.value().partition(b"\r\n\r\n")[2])
        self.assertLess(sent, len(BIG))
        c.protocol.connectionLost(None)
        whole = Connection(self, factory=c.factory)
        whole.get(b"/big.bin")
        whole.run()
        self.assertEqual(len(whole.responses()[0][2]), len(BIG))
        log.close()
        [partial, complete] = batches[0]
        self.assertIn('"GET /big.bin HTTP/1.1" 200 %d "-" "-"' % sent, partial)
        self.assertTrue(partial.endswith('"-" "-"'), partial)
        self.assertIn('"GET /big.bin HTTP/1.1" 200 %d "-" "-"' % len(BIG), complete)

    def test_unsent_transport_buffer_is_not_counted(self):
        """
        Bytes still in Twisted's write buffer when the connection is lost
        never reached the client and are not counted.
        """
        c, log, batches = self.connection()
        c.get(b"/big.bin")
        c.protocol.pauseProducing()
        sent = len(c.transport.value().partition(b"\r\n\r\n")[2])
        c.transport.dataBuffer = b"x" * 5000
        c.transport.offset = 1000
        c.transport._tempDataLen = 100
        c.protocol.connectionLost(None)
        log.close()
        self.assertIn(" 200 %d " % (sent - 4100), batches[0][0])

    def test_rejection_and_timeout_reasons_follow_the_user_agent(self):
        """
        A parser rejection logs its reason, and a 408 "request timeout", as
        one more quoted field after the user agent; a 503 logs the errno.
        """
        c, log, batches = self.connection()
        c.send(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
        slow = Connection(self, factory=c.factory)
        slow.send(b"GET / HT")
        c.clock.advance(c.factory.request_timeout + 1)
        log.close()
        lines = [line for batch in batches for line in batch]
        self.assertRegex(lines[0], r'"-" 400 [0-9]+ "-" "-" "duplicate content-length field"$')
        self.assertTrue(lines[1].endswith('"-" "-" "request timeout"'), lines[1])
        self.assertIn('"-" 408 ', lines[1])
