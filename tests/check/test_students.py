"""
Integration: the student lab programs in tests/check/students/ (written for
the tests of ``netlab check``) run for real on loopback, each against a tiny
peer in this test or one of netlab's reference servers.  Every flaw a
program's docstring names is shown to be real, and every correct program is
shown to behave, so a checker test that expects ``fail`` on one of them can
never pass hollowly.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import sys
import time
from typing import Dict, List, Optional, Tuple

from twisted.trial.unittest import TestCase

from tests.helpers import RunningServer, child_env

STUDENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "students")
MARKER = b"netlab-marker: this file lies beside the served root\n"
HELLO = b"hello, world\n"
INDEX = b"<html><body>index of sub</body></html>\n"
#: RFC 9110 section 5.6.7, IMF-fixdate.
IMF_FIXDATE = re.compile(
    r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
    r"\d\d:\d\d:\d\d GMT\Z"
)
#: Bound on every wait for bytes that should come.
WAIT = 5.0
#: How long a test waits to show that bytes do *not* come.
QUIET = 1.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_student(
    testcase: TestCase,
    name: str,
    args: List[str],
    cwd: Optional[str] = None,
    ready: Optional[str] = None,
    port: Optional[int] = None,
) -> RunningServer:
    """
    Start C{python3 students/NAME ARGS} (stdout and stderr merged), wait for
    a line matching C{ready} when given, and kill it on cleanup.
    """
    extra = {"NETLAB_HOST": "127.0.0.1"}
    if port is not None:
        extra["NETLAB_PORT"] = str(port)
    process = subprocess.Popen(
        [sys.executable, os.path.join(STUDENTS, name), *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env(extra),
    )
    program = RunningServer(process, [], [])
    testcase.addCleanup(program.stop)
    if ready is not None:
        program.expect(ready, timeout=20)
    return program


# --------------------------------------------------------------------------
# HTTP


def make_root(testcase: TestCase) -> str:
    """
    A served root (hello.txt, sub/index.html) with secret.txt beside it.
    """
    base = os.path.abspath(testcase.mktemp())
    root = os.path.join(base, "www")
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(base, "secret.txt"), "wb") as handle:
        handle.write(MARKER)
    with open(os.path.join(root, "hello.txt"), "wb") as handle:
        handle.write(HELLO)
    with open(os.path.join(root, "sub", "index.html"), "wb") as handle:
        handle.write(INDEX)
    return root


class Response:
    def __init__(self, raw: bytes, status: int, headers: Dict[str, str], body: bytes) -> None:
        self.raw = raw
        self.status = status
        self.headers = headers
        self.body = body


class Client:
    """
    A raw HTTP/1.1 client connection with a bounded read for everything.
    """

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.buffer = b""

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def get(self, target: str, method: str = "GET", extra: str = "") -> None:
        self.send(f"{method} {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode())

    def quiet(self, seconds: float = QUIET) -> bool:
        """
        True when nothing arrives (and the connection is not closed) for
        C{seconds}.
        """
        if self.buffer:
            return False
        readable, _, _ = select.select([self.sock], [], [], seconds)
        return not readable

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buffer += chunk
        return bool(chunk)

    def until_close(self) -> bytes:
        """
        Everything up to the server's close (fails after WAIT seconds).
        """
        deadline = time.monotonic() + WAIT
        while self._fill():
            if time.monotonic() > deadline:
                raise AssertionError(f"no close within {WAIT}s: {self.buffer[:300]!r}")
        data, self.buffer = self.buffer, b""
        return data

    def response(self, head_only: bool = False) -> Response:
        """
        One response framed by its Content-Length.
        """
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise AssertionError(f"closed before the end of the head: {self.buffer[:300]!r}")
        head, rest = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head_only else int(headers["content-length"])
        self.buffer = rest
        while len(self.buffer) < length:
            if not self._fill():
                raise AssertionError("closed in the middle of the body")
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return Response(head + b"\r\n\r\n" + body, status, headers, body)


def fetch(port: int, target: str, method: str = "GET") -> Response:
    client = Client(port)
    try:
        client.get(target, method, "Connection: close\r\n")
        return client.response(head_only=method == "HEAD")
    finally:
        client.close()


TRAVERSALS = ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/sub/../../secret.txt")


class HttpServerTestMixin:
    program = ""
    ready = ""

    def setUp(self) -> None:
        self.root = make_root(self)
        self.port = free_port()
        self.server = run_student(self, self.program, [str(self.port)], cwd=self.root, ready=self.ready, port=self.port)

    def client(self) -> Client:
        client = Client(self.port)
        self.addCleanup(client.close)
        return client

    def assert_lab_responses(self) -> None:
        """
        One keep-alive connection: a file (Content-Length, IMF-fixdate
        Date), a 404 framed with Content-Length, a folder's index.html, a
        DELETE answered 405 with Allow, HEAD with the GET's head and no body.
        """
        client = self.client()
        client.get("/hello.txt")
        found = client.response()
        self.assertEqual((found.status, found.body, found.headers["content-length"]), (200, HELLO, str(len(HELLO))))
        self.assertRegex(found.headers["date"], IMF_FIXDATE)
        client.get("/missing.txt")
        found = client.response()
        self.assertEqual(found.status, 404)
        self.assertEqual(int(found.headers["content-length"]), len(found.body))
        client.get("/sub/")
        self.assertEqual(client.response().body, INDEX)
        client.get("/hello.txt", "DELETE")
        found = client.response()
        self.assertEqual(found.status, 405)
        self.assertIn("GET", found.headers["allow"])
        client.get("/hello.txt", "HEAD")
        found = client.response(head_only=True)
        self.assertEqual((found.status, found.headers["content-length"]), (200, str(len(HELLO))))
        client.get("/hello.txt")  # the HEAD left no body bytes before this answer
        self.assertEqual(client.response().body, HELLO)
        client.close()  # a serial server serves no one else while it is open

    def assert_no_traversal(self) -> None:
        for target in TRAVERSALS:
            found = fetch(self.port, target)
            self.assertNotIn(MARKER, found.raw, target)
            self.assertEqual(found.status, 404, target)


class HttpLabTypicalTests(HttpServerTestMixin, TestCase):
    program = "http_lab_typical.py"
    ready = r"Ready to serve"

    def test_keep_alive_announced_then_closed(self):
        """
        The 200 is framed right and says Connection: keep-alive, and the
        server closes the connection right after it.
        """
        client = self.client()
        client.get("/hello.txt")
        raw = client.until_close()
        head, body = raw.split(b"\r\n\r\n", 1)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"\r\nConnection: keep-alive", head)
        self.assertIn(b"\r\nContent-Length: %d" % len(HELLO), head)
        self.assertEqual(body, HELLO)

    def test_404_without_empty_line_or_length(self):
        """
        The 404 is the status line followed at once by HTML: no empty line
        ends the head, no Content-Length; the close is the only framing.
        """
        client = self.client()
        client.get("/missing.txt")
        raw = client.until_close()
        self.assertEqual(
            raw, b"HTTP/1.1 404 Not Found\r\n<html><head></head><body><h1>404 Not Found</h1></body></html>\r\n"
        )
        self.assertNotIn(b"\r\n\r\n", raw)
        self.assertNotIn(b"content-length", raw.lower())

    def test_one_client_at_a_time(self):
        """
        While one client is connected and silent, a second client's
        request gets no answer; once the first closes, it is answered.
        """
        idle = self.client()
        waiting = self.client()
        waiting.get("/hello.txt")
        self.assertTrue(waiting.quiet(), "the second client was answered while the first sat idle")
        idle.close()
        self.assertTrue(waiting.until_close().endswith(HELLO))

    def test_split_head_cut_at_first_recv(self):
        """
        A request head in two pieces is taken from the first recv alone:
        "GET /hello" then ".txt HTTP/1.1..." looks up "hello" (404).
        """
        client = self.client()
        client.send(b"GET /hello")
        self.server.expect(r"^GET /hello$")  # printed right after its recv returned
        client.send(b".txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertTrue(client.until_close().startswith(b"HTTP/1.1 404 Not Found\r\n"))

    def test_dot_dot_opens_beside_the_root(self):
        """
        open(filename[1:]) follows "/../secret.txt" out of the root (no
        decoding, so "%2e%2e" is a 404).
        """
        client = self.client()
        client.get("/../secret.txt")
        self.assertTrue(client.until_close().endswith(b"\r\n\r\n" + MARKER))
        client = self.client()
        client.get("/%2e%2e/secret.txt")
        self.assertTrue(client.until_close().startswith(b"HTTP/1.1 404"))


class HttpTraversalTests(HttpServerTestMixin, TestCase):
    program = "http_traversal.py"
    ready = r"Serving"

    def test_escapes_the_root(self):
        """
        Every traversal form returns the bytes of the file beside the root.
        """
        for target in TRAVERSALS:
            found = fetch(self.port, target)
            self.assertEqual((found.status, found.body), (200, MARKER), target)

    def test_otherwise_correct(self):
        """
        Apart from the traversal it answers the lab's requests correctly.
        """
        self.assert_lab_responses()


class HttpOneRecvTests(HttpServerTestMixin, TestCase):
    program = "http_one_recv.py"
    ready = r"listening on"

    def test_split_head_parsed_from_first_piece(self):
        """
        "GET /hel", then the rest: the first piece alone is parsed (no
        version: 400), not the whole head.
        """
        client = self.client()
        client.send(b"GET /hel")
        self.server.expect(r"\) GET /hel$")  # its recv returned this piece
        client.send(b"lo.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        found = client.response()
        self.assertEqual(found.status, 400)

    def test_second_pipelined_request_unanswered(self):
        """
        Two requests in one segment: only the first is answered.
        """
        client = self.client()
        request = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        client.send(request + request.replace(b"hello.txt", b"sub/"))
        self.assertEqual(client.response().body, HELLO)
        self.assertTrue(client.quiet(), "the second request was answered")

    def test_otherwise_correct(self):
        """
        Requests sent whole, one at a time, are answered correctly, and
        traversal is refused.
        """
        self.assert_lab_responses()
        self.assert_no_traversal()


class HttpSerialTests(HttpServerTestMixin, TestCase):
    program = "http_serial.py"
    ready = r"Server ready"

    def test_idle_client_blocks_everyone(self):
        """
        A client that connects and sends nothing holds the server: another
        client's request waits until it closes.
        """
        idle = self.client()
        self.server.expect(r"connection from")
        waiting = self.client()
        waiting.get("/hello.txt")
        self.assertTrue(waiting.quiet(), "served while another client sat idle")
        idle.close()
        self.assertEqual(waiting.response().body, HELLO)

    def test_otherwise_correct(self):
        """
        A head in pieces and two pipelined requests are answered; the lab
        requests are answered correctly; traversal is refused.
        """
        client = self.client()
        for piece in (b"GET /hel", b"lo.txt HTTP/1.1\r\nHo"):
            client.send(piece)
            self.assertTrue(client.quiet(0.2), "answered before the head was complete")
        client.send(b"st: 127.0.0.1\r\n\r\n")
        self.assertEqual(client.response().body, HELLO)
        request = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        client.send(request + request.replace(b"hello.txt", b"sub/"))
        self.assertEqual((client.response().body, client.response().body), (HELLO, INDEX))
        client.close()
        self.assert_lab_responses()
        self.assert_no_traversal()


class HttpGoodTests(HttpServerTestMixin, TestCase):
    program = "http_good.py"
    ready = r"serving"

    def test_lab_cases(self):
        """
        The lab requests, a folder redirect, UTF-8 and binary files byte for
        byte, and Connection: close honoured.
        """
        self.assert_lab_responses()
        utf8 = "gr\u00fc\u00dfe, \u4e16\u754c\n".encode("utf-8")
        blob = os.urandom(300_000)
        with open(os.path.join(self.root, "utf8.txt"), "wb") as handle:
            handle.write(utf8)
        with open(os.path.join(self.root, "a file.bin"), "wb") as handle:
            handle.write(blob)
        self.assertEqual(fetch(self.port, "/utf8.txt").body, utf8)
        self.assertEqual(fetch(self.port, "/a%20file.bin").body, blob)
        found = fetch(self.port, "/sub")
        self.assertEqual((found.status, found.headers["location"]), (301, "/sub/"))
        client = self.client()
        client.get("/hello.txt", extra="Connection: close\r\n")
        self.assertTrue(client.until_close().endswith(b"\r\n\r\n" + HELLO))

    def test_robust(self):
        """
        A head in pieces, pipelined requests, an idle client beside a busy
        one: all answered; no traversal form escapes the root.
        """
        idle = self.client()
        client = self.client()
        for piece in (b"GET /hel", b"lo.txt HTTP/1.1\r\nHo"):
            client.send(piece)
            self.assertTrue(client.quiet(0.2), "answered before the head was complete")
        client.send(b"st: 127.0.0.1\r\n\r\n")
        self.assertEqual(client.response().body, HELLO)
        request = b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        client.send(request + request.replace(b"hello.txt", b"sub/"))
        self.assertEqual((client.response().body, client.response().body), (HELLO, INDEX))
        self.assertTrue(idle.quiet(0))
        self.assert_no_traversal()
