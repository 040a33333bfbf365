# -*- test-case-name: tests.check.test_students -*-
"""
Integration: the student lab programs in tests/check/students/ (written for
the tests of ``netlab check``) run for real on loopback, each against a tiny
peer in this test or one of netlab's reference servers.  Every flaw a
program's docstring names is shown to be real, and every correct program is
shown to behave, so a checker test that expects ``fail`` on one of them can
never pass hollowly.
"""

from __future__ import annotations

import base64
import email
import email.policy
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Tuple

from twisted.trial.unittest import TestCase

from tests.helpers import RunningServer, child_env, start_server

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
        "GET /hello" is answered (404 for "hello") and the connection closed
        before the rest of the head (".txt HTTP/1.1...") is even sent.
        (Sending the rest first raced the server's close: a reset could
        discard the 404 before it was read.)
        """
        client = self.client()
        client.send(b"GET /hello")
        self.server.expect(r"^GET /hello$")  # printed right after its recv returned
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


    def test_rfc_answers(self):
        """
        One byte range gets 206, a range past the end 416 with "bytes */N",
        a foreign If-Match 412, a 1.1 request without Host 400.
        """
        client = self.client()
        client.get("/hello.txt", extra="Range: bytes=0-4\r\n")
        found = client.response()
        self.assertEqual((found.status, found.body, found.headers["content-range"]), (206, b"hello", "bytes 0-4/13"))
        client.get("/hello.txt", extra="Range: bytes=100-\r\n")
        found = client.response()
        self.assertEqual((found.status, found.headers["content-range"]), (416, "bytes */13"))
        client.get("/hello.txt", extra='If-Match: "elsewhere"\r\n')
        self.assertEqual(client.response().status, 412)
        client.send(b"GET /hello.txt HTTP/1.1\r\n\r\n")
        self.assertEqual(client.response().status, 400)

# --------------------------------------------------------------------------
# UDP pinger

PROBE = re.compile(rb"(?:Ping (\d+) (\d+\.\d+)|sequence=(\d+)\ttime=(\d+\.\d+))\Z")


class ScriptedEcho:
    """
    A UDP echo on loopback that drops the probes in C{drop} and echoes the
    probe in C{delay} that many seconds late; it records when each probe
    came and when each echo left (monotonic clock).
    """

    def __init__(self, testcase: TestCase, drop=(), delay: Optional[Dict[int, float]] = None) -> None:
        self.drop = set(drop)
        self.delay = dict(delay or {})
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.probes: List[Tuple[int, bytes, float, float]] = []  # seq, payload, received, wall clock
        self.echoed: Dict[int, float] = {}
        self.timers: List[threading.Timer] = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.close)

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while self.running:
            try:
                payload, address = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            found = PROBE.match(payload)
            seq = int(found.group(1) or found.group(3)) if found else -1
            self.probes.append((seq, payload, now, time.time()))
            if seq in self.drop:
                continue
            if seq in self.delay:
                timer = threading.Timer(self.delay[seq], self._echo, (seq, payload, address))
                self.timers.append(timer)
                timer.start()
            else:
                self._echo(seq, payload, address)

    def _echo(self, seq: int, payload: bytes, address) -> None:
        try:
            self.sock.sendto(payload, address)
        except OSError:
            return
        self.echoed[seq] = time.monotonic()

    def close(self) -> None:
        self.running = False
        for timer in self.timers:
            timer.cancel()
        self.thread.join(5)
        self.sock.close()


#: Probe 3's echo leaves 1.3 s late (while the client waits for probe 4),
#: probes 4 and 8 are dropped: 3 of 10 probes are lost.
LATE, LATE_DELAY, DROPPED = 3, 1.3, (4, 8)


class PingClientTests(TestCase):
    def ping(self, program: str) -> Tuple[ScriptedEcho, str]:
        echo = ScriptedEcho(self, drop=DROPPED, delay={LATE: LATE_DELAY})
        result = subprocess.run(
            [sys.executable, os.path.join(STUDENTS, program), "127.0.0.1", str(echo.port)],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
            env=child_env({"NETLAB_HOST": "127.0.0.1", "NETLAB_PORT": str(echo.port)}),
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assert_probes(echo)
        return echo, result.stdout

    def assert_probes(self, echo: ScriptedEcho) -> None:
        """
        Ten probes, numbered 1 to 10 in order, each carrying its send time.
        """
        self.assertEqual([seq for seq, _, _, _ in echo.probes], list(range(1, 11)))
        for _, payload, _, wall in echo.probes:
            sent = float(PROBE.match(payload).group(2) or PROBE.match(payload).group(4))
            self.assertLess(abs(sent - wall), 1.0)

    def rtts(self, output: str, pattern: str) -> Dict[int, float]:
        return {int(m.group(1)): float(m.group(2)) for m in re.finditer(pattern, output, re.M)}

    def test_good_matches_by_sequence(self):
        """
        ping_good: probes 3, 4 and 8 reported timed out (the late echo of 3
        is not taken for 4), 30 % loss, and the summary agrees with the
        per-probe lines.
        """
        echo, out = self.ping("ping_good.py")
        for seq in (LATE,) + DROPPED:
            self.assertIn(f"Ping {seq}: Request timed out", out)
        rtts = self.rtts(out, r"^Ping (\d+): reply from 127\.0\.0\.1, RTT = ([\d.]+) s$")
        self.assertEqual(sorted(rtts), [1, 2, 5, 6, 7, 9, 10])
        self.assertIn("10 packets sent, 7 received, 30.0% packet loss", out)
        low, mean, high = map(float, re.search(r"RTT min/avg/max = ([\d.]+)/([\d.]+)/([\d.]+) s", out).groups())
        self.assertEqual((low, high), (min(rtts.values()), max(rtts.values())))
        self.assertAlmostEqual(mean, sum(rtts.values()) / 7, places=5)

    def test_late_reply_taken_for_next_probe(self):
        """
        ping_late_reply: probe 4 was dropped, yet it is reported answered,
        with an RTT equal to the time from probe 4's send to the late echo
        of probe 3; only 2 probes are reported lost.
        """
        echo, out = self.ping("ping_late_reply.py")
        self.assertIn(f"Ping {LATE}: Request timed out", out)
        rtts = self.rtts(out, r"^Ping (\d+): RTT = ([\d.]+) seconds$")
        self.assertIn(LATE + 1, rtts)
        probe4_received = echo.probes[LATE][2]
        self.assertLess(abs(rtts[LATE + 1] - (echo.echoed[LATE] - probe4_received)), 0.15)
        self.assertNotIn(LATE + 1, echo.echoed)  # its own echo never left
        self.assertIn("Packets sent: 10, received: 8, lost: 2 (20% loss)", out)

    def test_miscount_divides_by_received(self):
        """
        ping_miscount: per-probe lines are right (3 timeouts) but the loss
        printed is 3/7, not 3/10.
        """
        echo, out = self.ping("ping_miscount.py")
        self.assertEqual(out.count("Request timed out"), 3)
        self.assertIn("Packet loss rate: 42.86%", out)
        self.assertNotIn("30", re.search(r"Packet loss rate: .*", out).group(0))

    def test_seq_format_correct(self):
        """
        ping_seq_format: probes "sequence=<n>\\ttime=<t>", replies matched
        by sequence, seq=/rtt=/ms output, 30 % loss.
        """
        echo, out = self.ping("ping_seq_format.py")
        self.assertTrue(all(payload.startswith(b"sequence=") for _, payload, _, _ in echo.probes))
        for seq in (LATE,) + DROPPED:
            self.assertIn(f"seq={seq} timed out", out)
        rtts = self.rtts(out, r"^seq=(\d+) rtt=([\d.]+) ms$")
        self.assertEqual(sorted(rtts), [1, 2, 5, 6, 7, 9, 10])
        self.assertIn("10 sent, 7 received, 30% loss", out)
        self.assertRegex(out, r"rtt min/avg/max = [\d.]+/[\d.]+/[\d.]+ ms")


    def test_all_against_netlab_echo(self):
        """
        Against netlab-echo --upper without loss (the lab's reference
        server, which upper-cases), every pinger gets all 10 replies and
        reports no loss: the flaws above need loss and late echoes to show.
        """
        echo = start_server(self, ["netlab-echo", "--port", "0", "--loss", "0", "--upper",
                                   "--summary-interval", "0"], timeout=40)
        expected = {
            "ping_good.py": "10 packets sent, 10 received, 0.0% packet loss",
            "ping_late_reply.py": "Packets sent: 10, received: 10, lost: 0 (0% loss)",
            "ping_miscount.py": "Packet loss rate: 0.00%",
            "ping_seq_format.py": "10 sent, 10 received, 0% loss",
        }
        for program, summary in expected.items():
            result = subprocess.run(
                [sys.executable, os.path.join(STUDENTS, program), "127.0.0.1", str(echo.port)],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=child_env(),
            )
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(summary, result.stdout, program)
            self.assertNotIn("timed out", result.stdout.lower(), program)

# --------------------------------------------------------------------------
# UDP heartbeat


class BeatReceiver:
    """
    A UDP socket on loopback that decodes what a sender sends with
    netlab-heartbeat's own decoder.
    """

    def __init__(self, testcase: TestCase) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(WAIT)
        self.port = self.sock.getsockname()[1]
        testcase.addCleanup(self.sock.close)

    def beats(self, count: int) -> List[Tuple[int, float, float]]:
        """
        The next C{count} beats as (sequence, timestamp, arrival on the
        monotonic clock); each timestamp is within 1 s of this clock.
        """
        from twisted_netlab.heartbeat import decode_beat

        found = []
        for _ in range(count):
            payload, _ = self.sock.recvfrom(2048)
            beat = decode_beat(payload)
            if abs(beat.sent_at - time.time()) > 1.0:
                raise AssertionError(f"timestamp {beat.sent_at} is off: {payload!r}")
            found.append((beat.sequence, beat.sent_at, time.monotonic()))
        return found


class BeatSenderTests(TestCase):
    def sender(self, program: str, port: int, period: str) -> RunningServer:
        return run_student(self, program, ["127.0.0.1", str(port), period], port=port)

    def test_good_accepted_by_netlab_heartbeat(self):
        """
        beat_good's datagrams are beats netlab-heartbeat tracks (alive, then
        on time), none rejected.
        """
        monitor = start_server(self, ["netlab-heartbeat", "--port", "0", "--period", "0.2", "--timeout", "1", "--verbose"],
                               timeout=40)
        self.sender("beat_good.py", monitor.port, "0.2")
        monitor.expect(r"127\.0\.0\.1:\d+ alive \(was new\)")
        monitor.expect(r"127\.0\.0\.1:\d+ beat 3 on time")
        self.assertFalse([line for line in monitor.output if "rejected" in line])

    def test_good_sequence_and_period(self):
        """
        beat_good: sequence 1, 2, 3, ... at the period it was given.
        """
        receiver = BeatReceiver(self)
        self.sender("beat_good.py", receiver.port, "0.2")
        beats = receiver.beats(5)
        self.assertEqual([seq for seq, _, _ in beats], [1, 2, 3, 4, 5])
        mean = (beats[-1][1] - beats[0][1]) / 4
        self.assertTrue(0.15 <= mean <= 0.3, mean)

    def test_good_survives_no_listener(self):
        """
        With nothing listening (ICMP port unreachable for every beat),
        beat_good keeps sending.
        """
        program = self.sender("beat_good.py", free_port(socket.SOCK_DGRAM), "0.05")
        program.expect(r"^beat 10 sent to")
        self.assertIsNone(program.process.poll())
        self.assertFalse([line for line in program.output if "not sent" in line])

    def test_dies_without_listener(self):
        """
        beat_dies, with nothing listening, exits non-zero on
        ConnectionRefusedError after its first beat.
        """
        program = self.sender("beat_dies.py", free_port(socket.SOCK_DGRAM), "0.05")
        output = program.finish(timeout=WAIT)
        self.assertNotEqual(program.process.returncode, 0)
        self.assertIn("ConnectionRefusedError", output)
        self.assertIn("sent: 1 - ", output)

    def test_dies_beats_fine_with_listener(self):
        """
        beat_dies sends correct beats while something listens.
        """
        receiver = BeatReceiver(self)
        self.sender("beat_dies.py", receiver.port, "0.05")
        self.assertEqual([seq for seq, _, _ in receiver.beats(3)], [1, 2, 3])

    def test_slow_ignores_period(self):
        """
        beat_slow, told 0.5 s, says so and beats every 2 s.
        """
        receiver = BeatReceiver(self)
        program = self.sender("beat_slow.py", receiver.port, "0.5")
        program.expect(r"every 0\.5 s")
        (first, sent1, _), (second, sent2, _) = receiver.beats(2)
        self.assertEqual((first, second), (1, 2))
        self.assertGreaterEqual(sent2 - sent1, 1.9)


class BeatMonitorTests(TestCase):
    TIMEOUT = 1.5

    def start(self, program: str, ready: str) -> RunningServer:
        self.port = free_port(socket.SOCK_DGRAM)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(self.sock.close)
        return run_student(self, program, [str(self.port), str(self.TIMEOUT)], ready=ready, port=self.port)

    def beat(self, seq: int) -> None:
        self.sock.sendto(f"{seq} - {time.time()}".encode(), ("127.0.0.1", self.port))

    def flow(self, program: RunningServer, alive: str, lost: str) -> float:
        """
        Beats 1-5 every 0.4 s (longer than the timeout in all), then 9 (3
        lost), then 9 again; returns when the last beat was sent.
        """
        for seq in (1, 2, 3, 4, 5):
            self.beat(seq)
            if seq == 1:
                program.expect(alive)
            time.sleep(0.4)  # the scripted period of the beats
        self.beat(9)
        program.expect(lost)
        self.beat(9)
        return time.monotonic()

    def test_good_reports_alive_lost_stopped(self):
        """
        monitor_good: alive, "lost 3", the duplicate noted, no stop while
        beats flow, and one stop line between TIMEOUT and TIMEOUT + 2 s
        after the last beat.
        """
        program = self.start("monitor_good.py", r"heartbeat monitor on")
        last = self.flow(program, r"alive \(beat 1\)", r"lost 3 heartbeat\(s\) \(sequence 6 to 8\)")
        program.expect(r"late or duplicate beat 9 ignored")
        program.expect(r"stopped: no heartbeat for ([\d.]+) s", timeout=self.TIMEOUT + 5)
        silence = time.monotonic() - last
        self.assertTrue(self.TIMEOUT - 0.1 <= silence <= self.TIMEOUT + 2, silence)
        self.assertEqual(sum(1 for line in program.output if "stopped" in line), 1)

    def test_never_stops(self):
        """
        monitor_never_stops: alive and "Lost 3" are reported, but no stop in
        two timeouts of silence; the next beat brings the stop line only
        then (its check runs when a datagram arrives).
        """
        program = self.start("monitor_never_stops.py", r"Heartbeat server ready")
        self.flow(program, r"is alive \(heartbeat 1\)", r"Lost 3 heartbeat\(s\) before 9")
        self.assertRaises(AssertionError, program.expect, r"[Ss]top", timeout=2 * self.TIMEOUT)
        self.beat(10)
        found = program.expect(r"Client stopped \(no heartbeat for ([\d.]+) s\)")
        self.assertGreaterEqual(float(found.group(1)), 2 * self.TIMEOUT)


# --------------------------------------------------------------------------
# SMTP client

PASSWORD = "correct horse battery"
#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)


class ScriptedSMTP:
    """
    An SMTP server on loopback for one session that offers STARTTLS and
    (also in clear, to catch clients that use it) AUTH PLAIN, answers RCPT
    with C{rcpt_code}, and records every command line as (tls, raw line)
    and the raw DATA bytes.  Multi-line replies go out one line per write,
    as a server may send them.
    """

    def __init__(self, testcase: TestCase, rcpt_code: int = 250) -> None:
        from tests.mail.certs import make_ca_and_server_certificate

        _, certificate, key = make_ca_and_server_certificate(os.path.abspath(testcase.mktemp()))
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(certificate, key)
        self.rcpt_code = rcpt_code
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(WAIT * 2)
        self.port = self.listener.getsockname()[1]
        self.commands: List[Tuple[bool, bytes]] = []
        self.data = b""
        self.error: Optional[BaseException] = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        testcase.addCleanup(self.listener.close)

    def _run(self) -> None:
        try:
            connection, _ = self.listener.accept()
            connection.settimeout(WAIT * 2)
            self._session(connection)
        except (ssl.SSLEOFError, ConnectionError):
            pass  # the client went away (without TLS close_notify) while we wrote
        except BaseException as error:  # reported by join()
            self.error = error

    def _session(self, connection: socket.socket) -> None:
        tls = False
        reader = connection.makefile("rb")
        recipients = 0

        def say(text: str) -> None:
            connection.sendall(text.encode() + b"\r\n")

        say("220 scripted.test ESMTP")
        while True:
            try:
                line = reader.readline(4096)
            except (ssl.SSLEOFError, ConnectionError):
                line = b""  # a client that closes without TLS close_notify
            if not line:
                break
            self.commands.append((tls, line))
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"EHLO":
                extensions = ["AUTH PLAIN"] if tls else ["STARTTLS", "AUTH PLAIN"]
                lines = ["scripted.test"] + extensions
                for extension in lines[:-1]:
                    say("250-" + extension)
                say("250 " + lines[-1])
            elif verb == b"STARTTLS" and not tls:
                say("220 go ahead")
                connection = self.context.wrap_socket(connection, server_side=True)
                reader = connection.makefile("rb")
                tls = True
            elif verb == b"AUTH":
                say("235 2.7.0 Authentication successful")
            elif verb == b"MAIL":
                say("250 2.1.0 Ok")
            elif verb == b"RCPT":
                recipients += self.rcpt_code == 250
                say(f"{self.rcpt_code} 4.2.1 scripted reply" if self.rcpt_code != 250 else "250 2.1.5 Ok")
            elif verb == b"DATA" and recipients:
                say("354 End data with <CR><LF>.<CR><LF>")
                while not self.data.endswith(b"\r\n.\r\n"):
                    chunk = reader.readline(65536)
                    if not chunk:
                        return
                    self.data += chunk
                say("250 2.0.0 Ok: queued")
            elif verb == b"DATA":
                say("554 5.5.1 No valid recipients")
            elif verb == b"QUIT":
                say("221 2.0.0 Bye")
                break
            else:
                say("500 5.5.2 Command not recognized")
        connection.close()

    def join(self) -> None:
        self.thread.join(WAIT * 2)
        if self.error is not None:
            raise self.error

    def verbs(self) -> List[Tuple[bool, str]]:
        return [(tls, line.split(b" ", 1)[0].strip().decode("ascii", "replace").upper())
                for tls, line in self.commands]


class MailTestMixin:
    def setUp(self) -> None:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        self.password_file = os.path.join(folder, "password")
        with open(self.password_file, "w") as handle:
            handle.write(PASSWORD + "\n")
        self.image = os.path.join(folder, "pixel.png")
        with open(self.image, "wb") as handle:
            handle.write(PNG)

    def mail(self, program: str, port: int, *extra: str) -> subprocess.CompletedProcess:
        """
        Run C{python3 students/PROGRAM 127.0.0.1 PORT alice PASSWORD_FILE
        [IMAGE]} to its end (at most 30 s).
        """
        return subprocess.run(
            [sys.executable, os.path.join(STUDENTS, program), "127.0.0.1", str(port), "alice",
             self.password_file, *extra],
            capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
            env=child_env({"NETLAB_HOST": "127.0.0.1", "NETLAB_PORT": str(port)}),
        )


class MailClientTests(MailTestMixin, TestCase):
    def scripted(self, program: str, rcpt_code: int = 250) -> Tuple[ScriptedSMTP, subprocess.CompletedProcess]:
        peer = ScriptedSMTP(self, rcpt_code)
        result = self.mail(program, peer.port)
        peer.join()
        return peer, result

    def test_good_dialogue(self):
        """
        mail_good: EHLO, STARTTLS, then over TLS EHLO, AUTH, MAIL, RCPT,
        DATA, QUIT; every line ends in CRLF; the dotted body line is
        stuffed.
        """
        peer, result = self.scripted("mail_good.py")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            peer.verbs(),
            [(False, "EHLO"), (False, "STARTTLS")]
            + [(True, verb) for verb in ("EHLO", "AUTH", "MAIL", "RCPT", "DATA", "QUIT")],
        )
        self.assertTrue(all(line.endswith(b"\r\n") for _, line in peer.commands))
        self.assertNotIn(b"\n", peer.data.replace(b"\r\n", b""))
        self.assertIn(b"\r\n....and a line that starts with dots", peer.data)
        self.assertIn("Message sent", result.stdout)

    def test_good_exits_1_on_450(self):
        """
        mail_good stops at a 450 on RCPT: exit 1, the reply on stderr, no
        DATA sent.
        """
        peer, result = self.scripted("mail_good.py", rcpt_code=450)
        self.assertEqual(result.returncode, 1)
        self.assertIn("450", result.stderr)
        self.assertNotIn("DATA", [verb for _, verb in peer.verbs()])

    def test_auth_in_clear(self):
        """
        mail_auth_in_clear sends AUTH PLAIN, carrying the password, before
        STARTTLS.
        """
        peer, result = self.scripted("mail_auth_in_clear.py")
        verbs = peer.verbs()
        self.assertLess(verbs.index((False, "AUTH")), verbs.index((False, "STARTTLS")))
        line = next(line for tls, line in peer.commands if line.upper().startswith(b"AUTH"))
        self.assertEqual(base64.b64decode(line.split()[2]), b"\0alice\0" + PASSWORD.encode())

    def test_ignores_450(self):
        """
        mail_ignores_450, answered 450 on RCPT (and so 554 on DATA), still
        prints that the mail was sent and exits 0.
        """
        peer, result = self.scripted("mail_ignores_450.py", rcpt_code=450)
        self.assertIn((True, "RCPT"), peer.verbs())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("Mail sent!", result.stdout)
        self.assertEqual(peer.data, b"")

    def test_no_dot_stuffing(self):
        """
        mail_no_dot_stuffing sends bare LF line ends inside DATA and the
        dotted line unstuffed.
        """
        peer, result = self.scripted("mail_no_dot_stuffing.py")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(b"\n...and a line that starts with dots", peer.data)
        self.assertNotIn(b"....and", peer.data)
        self.assertIn(b"Subject: SMTP lab test\n", peer.data)
        self.assertRegex(peer.data, rb"[^\r]\n")


class MailSinkTests(MailTestMixin, TestCase):
    def test_against_netlab_mailsink(self):
        """
        Against netlab-mailsink (STARTTLS and AUTH required, RCPT answered
        450 the 2nd and 3rd time): mail_good delivers a message that parses
        back with its subject, dotted line and PNG; mail_good then exits 1
        on the 450; mail_ignores_450 exits 0 and claims success;
        mail_auth_in_clear has its clear AUTH refused (exit 1);
        mail_no_dot_stuffing has its bare-LF message refused with 554 (exit
        1); the sink stored only the first message.
        """
        data = os.path.abspath(self.mktemp())
        os.makedirs(data)
        users = os.path.join(data, "users")
        with open(users, "w") as handle:
            handle.write(f"alice:{PASSWORD}\n")
        sink = start_server(
            self,
            ["netlab-mailsink", "--listen", "tcp:0:interface=127.0.0.1", "--data-dir", data, "--users", users,
             "--require-tls", "--require-auth", "--fault", "RCPT=450:2", "--fault", "RCPT=450:3",
             "--hostname", "localhost"],
            timeout=40,
        )
        good = self.mail("mail_good.py", sink.port, self.image)
        self.assertEqual(good.returncode, 0, good.stderr + good.stdout)
        again = self.mail("mail_good.py", sink.port)
        self.assertEqual(again.returncode, 1)
        self.assertIn("450", again.stderr)
        lax = self.mail("mail_ignores_450.py", sink.port)
        self.assertEqual(lax.returncode, 0, lax.stderr)
        self.assertIn("450", lax.stdout)
        self.assertIn("Mail sent!", lax.stdout)
        clear = self.mail("mail_auth_in_clear.py", sink.port)
        self.assertEqual(clear.returncode, 1)
        self.assertRegex(clear.stderr, r"AUTH answered 5\d\d")
        bare = self.mail("mail_no_dot_stuffing.py", sink.port)
        self.assertEqual(bare.returncode, 1)
        self.assertIn("554", bare.stderr)

        stored = []
        for folder, _, files in os.walk(data):
            if os.path.basename(folder) == "new":
                stored += [os.path.join(folder, name) for name in files]
        self.assertEqual(len(stored), 1, stored)
        with open(stored[0], "rb") as handle:
            message = email.message_from_binary_file(handle, policy=email.policy.default)
        self.assertEqual((message["Subject"], message["From"].addresses[0].addr_spec), ("SMTP lab test", "alice@example.com"))
        self.assertIn("\n...and a line that starts with dots", message.get_body(("plain",)).get_content())
        attachment = next(message.iter_attachments())
        self.assertEqual(attachment.get_content(), PNG)
