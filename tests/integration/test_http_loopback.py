"""
Integration: the real ``twistd -n netlab-http`` process on loopback,
driven by curl and by raw sockets; TLS with a certificate made here;
graceful stop on SIGTERM; --workers.
"""

import datetime
import ipaddress
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile

from twisted.trial.unittest import TestCase

from tests.helpers import executable, require_program, start_process

PAYLOAD = bytes(range(256)) * 400  # 102,400 bytes


def start_server(testcase, args, timeout=30.0):
    """
    Start ``twistd -n netlab-http`` with C{args} (which begin with
    "netlab-http") and wait (bounded) for its listening line; its port is
    the server's C{port}.  On cleanup it gets SIGTERM, 20 s to exit and
    its output is read to the end (workers may hold the pipe a little
    longer than the parent).
    """
    assert args[0] == "netlab-http"
    command = [executable("twistd"), "-n", "--pidfile=", "--logfile=-"] + list(args)
    server = start_process(testcase, command, expect=0)
    testcase.addCleanup(lambda: server.stop(timeout=20, idle=5))
    found = server.read_until(r"netlab-http listening on (\w+) (\S+) (\d+)", timeout)
    server.ports.append((found.group(1), found.group(2), int(found.group(3))))
    return server


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def make_root(testcase):
    root = testcase.mktemp()
    os.makedirs(os.path.join(root, "folder"))
    with open(os.path.join(root, "blob.bin"), "wb") as f:
        f.write(PAYLOAD)
    with open(os.path.join(root, "small.txt"), "wb") as f:
        f.write(b"small file\n")
    with open(os.path.join(root, "4k.txt"), "wb") as f:
        f.write(b"4 KiB.\n" * 585)
    return root


def read_response(sock, head_only=False):
    """
    Read one response (head + Content-Length body) from a socket; return
    (head bytes, body bytes).  Bounded by the socket's timeout.
    """
    data = b""  # a bytearray below: the body can be 32 MiB, and bytes += is quadratic
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed inside a head: {data!r}")
        data += chunk
    head, _, tail = data.partition(b"\r\n\r\n")
    rest = bytearray(tail)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length" and not head_only:
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError("connection closed inside a body")
        rest += chunk
    sock.pending = bytes(rest[length:])
    return head, bytes(rest[:length])


class Reader:
    """
    A socket wrapper that keeps bytes read past one response.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def recv(self, size):
        if self.buffer:
            data, self.buffer = self.buffer, b""
            return data
        return self.sock.recv(size)

    def response(self, head_only=False):
        head, body = read_response(self, head_only)
        self.buffer = self.pending
        return head, body

    def read_to_eof(self):
        data = self.buffer
        self.buffer = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk


class CurlTests(TestCase):
    def setUp(self):
        self.curl = require_program("curl")
        self.root = make_root(self)
        self.server = start_server(
            self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", self.root]
        )
        self.base = f"http://127.0.0.1:{self.server.port}"

    def curl_run(self, *args):
        result = subprocess.run([self.curl, "-sS", *args], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result

    def test_download_and_keep_alive_reuse(self):
        """
        curl downloads a file byte for byte twice over one reused
        connection.
        """
        url = self.base + "/blob.bin"
        result = self.curl_run("-v", url, url)
        self.assertEqual(result.stdout, PAYLOAD * 2)
        self.assertIn(b"Re-using existing connection", result.stderr)

    def test_ranges(self):
        """
        curl -r gets exactly the bytes asked for (206), an open range is
        clipped at the end, and two ranges come as multipart/byteranges.
        """
        url = self.base + "/blob.bin"
        self.assertEqual(self.curl_run("-r", "100-199", url).stdout, PAYLOAD[100:200])
        self.assertEqual(self.curl_run("-r", "102000-", url).stdout, PAYLOAD[102000:])
        self.assertEqual(self.curl_run("-r", "-50", url).stdout, PAYLOAD[-50:])
        multi = self.curl_run("-D", "-", "-o", os.devnull, "-r", "0-9,50000-50009", url).stdout
        self.assertIn(b"HTTP/1.1 206 Partial Content", multi)
        self.assertIn(b"Content-Type: multipart/byteranges; boundary=", multi)
        past = self.curl_run("-o", os.devnull, "-w", "%{http_code}", "-r", "200000-", url).stdout
        self.assertEqual(past, b"416")

    def test_conditional_get_and_head(self):
        """
        curl -z with the file's own time gets 304 and no body; HEAD gets
        the headers; HTTP/1.0 works and closes.
        """
        url = self.base + "/blob.bin"
        local = os.path.join(self.root, "blob.bin")
        not_modified = self.curl_run("-z", local, "-o", "-", "-w", "%{http_code}", url)
        self.assertEqual(not_modified.stdout, b"304")
        older = self.curl_run("-z", "Sat, 01 Jan 2000 00:00:00 GMT", "-o", os.devnull, "-w", "%{http_code}", url)
        self.assertEqual(older.stdout, b"200")
        head = self.curl_run("-I", url).stdout
        self.assertIn(b"Content-Length: 102400\r\n", head)
        self.assertIn(b"ETag: \"", head)
        self.assertIn(b"Accept-Ranges: bytes", head)
        http10 = self.curl_run("--http1.0", "-D", "-", url).stdout
        self.assertTrue(http10.endswith(PAYLOAD))
        self.assertIn(b"Connection: close", http10)

    def test_listing_and_redirect(self):
        """
        A folder without its slash redirects locally; the root lists files.
        """
        redirect = self.curl_run("-D", "-", "-o", os.devnull, self.base + "//folder?q=1").stdout
        self.assertIn(b"HTTP/1.1 301", redirect)
        self.assertIn(b"Location: /folder/?q=1\r\n", redirect)
        listing = self.curl_run(self.base + "/").stdout
        self.assertIn(b'href="./blob.bin"', listing)
        self.assertIn(b'href="./folder/"', listing)


class RawSocketTests(TestCase):
    def setUp(self):
        self.root = make_root(self)
        self.server = start_server(
            self,
            ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", self.root, "--request-timeout", "1"],
        )

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=15)
        self.addCleanup(sock.close)
        return Reader(sock)

    def test_pipelined_responses_in_order(self):
        """
        Three pipelined requests sent in one packet get three responses in
        request order on the same connection.
        """
        reader = self.connect()
        reader.sock.sendall(
            b"GET /blob.bin HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"
            b"GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        )
        first, second, third = reader.response(), reader.response(), reader.response()
        self.assertEqual(first[1], PAYLOAD)
        self.assertTrue(second[0].startswith(b"HTTP/1.1 404 "))
        self.assertEqual(third[1], b"small file\n")

    def test_half_closed_pipeline_fully_answered(self):
        """
        300 pipelined requests followed by a FIN (shutdown of the client's
        sending side) get 300 responses, then the server closes, even
        though their 1.2 MB of answers make the server pause on the way.
        """
        reader = self.connect()
        reader.sock.sendall(b"GET /4k.txt HTTP/1.1\r\nHost: a\r\n\r\n" * 300)
        reader.sock.shutdown(socket.SHUT_WR)
        everything = reader.read_to_eof()
        self.assertEqual(everything.count(b"HTTP/1.1 200 OK"), 300)
        self.assertTrue(everything.endswith(b"4 KiB.\n"))

    def test_bad_request_then_others_served(self):
        """
        A malformed request gets 400 and its connection closes; other
        connections are still served.
        """
        bad = self.connect()
        bad.sock.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        everything = bad.read_to_eof()
        self.assertTrue(everything.startswith(b"HTTP/1.1 400 "))
        good = self.connect()
        good.sock.sendall(b"HEAD /blob.bin HTTP/1.0\r\n\r\n")
        head, _ = good.response(head_only=True)
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "))
        self.assertIn(b"Content-Length: 102400\r\n", head)

    def test_pipelining_client_that_never_reads_is_not_buffered(self):
        """
        A client that pipelines requests and never reads the answers soon
        cannot send more: the server stops reading from it, so what the
        client managed to send is bounded by the kernel's socket buffers
        and the server's memory does not grow with it.  Others are served.
        """
        rss_before = rss_kib(self.server.process.pid)
        flood = self.connect().sock
        flood.setblocking(False)
        request = b"GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n" * 1000
        sent = 0
        while sent < 256 * 1024 * 1024:
            _, writable, _ = select.select([], [flood], [], 3.0)
            if not writable:
                break  # blocked: the server stopped reading
            try:
                sent += flood.send(request)
            except BlockingIOError:
                continue
        self.assertLess(sent, 64 * 1024 * 1024)
        self.assertLess(rss_kib(self.server.process.pid) - rss_before, 32 * 1024)
        other = self.connect()
        other.sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        self.assertEqual(other.response()[1], b"small file\n")

    def test_slowloris_dropped(self):
        """
        A client that never finishes its request head is answered 408 and
        disconnected after --request-timeout (1 s here, checked each second).
        """
        slow = self.connect()
        slow.sock.sendall(b"GET /small.txt HTTP/1.1\r\nHost: a\r\n")
        everything = slow.read_to_eof()  # bounded by the socket timeout
        self.assertTrue(everything.startswith(b"HTTP/1.1 408 "), everything)


def make_certificate(folder):
    """
    A self-signed certificate for 127.0.0.1 (with the cryptography
    package); returns (key path, certificate path).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    key_path = os.path.join(folder, "key.pem")
    cert_path = os.path.join(folder, "cert.pem")
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_path, "wb") as f:
        f.write(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


class ProcessTests(TestCase):
    def test_tls_endpoint(self):
        """
        An ssl: endpoint serves over TLS; curl verifies our certificate.
        """
        curl = require_program("curl")
        root = make_root(self)
        key, cert = make_certificate(root)
        server = start_server(
            self,
            ["netlab-http", "--listen", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}", "--path", root],
        )
        url = f"https://127.0.0.1:{server.port}/blob.bin"
        result = subprocess.run([curl, "-sS", "--cacert", cert, url, "--next", "--cacert", cert, "-r", "0-99", url], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, PAYLOAD + PAYLOAD[:100])

    def test_sigterm_lets_response_finish_and_exits_0(self):
        """
        On SIGTERM a response in flight (to a client that had stopped
        reading, so the server is paused on full buffers) is finished, the
        access log is flushed, and twistd exits 0.
        """
        root = make_root(self)
        big = os.urandom(1 << 20) * 32  # 32 MiB: far more than socket buffers hold
        with open(os.path.join(root, "big.bin"), "wb") as f:
            f.write(big)
        access_log = os.path.join(root, "access.log")
        server = start_server(
            self,
            ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", root, "--access-log", access_log],
        )
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        self.addCleanup(sock.close)
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: a\r\n\r\n")
        first = sock.recv(4096)
        self.assertTrue(first.startswith(b"HTTP/1.1 200 "))
        server.process.send_signal(signal.SIGTERM)
        reader = Reader(sock)
        reader.buffer = first
        head, body = reader.response()
        self.assertTrue(body == big, "body differs")
        self.assertEqual(reader.read_to_eof(), b"")
        # The one SIGTERM above must be enough: wait for the exit instead of
        # letting stop() send a second signal into a shutdown in progress.
        server.process.wait(20)
        self.assertEqual(server.stop(timeout=20, idle=5), 0)
        with open(access_log) as f:
            self.assertIn('"GET /big.bin HTTP/1.1" 200 33554432', f.read())

    def test_workers_share_the_socket(self):
        """
        --workers 2 starts one worker child that adopts the listening
        socket; requests are served; while the parent is stopped (SIGSTOP,
        so it cannot accept) the worker alone answers, and its access log
        line comes through the parent marked "worker 1"; a killed worker is
        restarted; SIGTERM stops both, exit 0.
        """
        curl = require_program("curl")
        root = make_root(self)
        server = start_server(
            self,
            ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", root, "--workers", "2", "--access-log", "-"],
        )
        worker_pid = int(server.read_until(r"worker 1: serving on the inherited socket, pid (\d+)", timeout=20).group(1))
        url = f"http://127.0.0.1:{server.port}/small.txt"
        for _ in range(3):
            result = subprocess.run([curl, "-sS", url], capture_output=True, timeout=30)
            self.assertEqual(result.stdout, b"small file\n")
        # Only the worker can accept while the parent is stopped: these
        # answers prove a worker process serves the shared socket.
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            for _ in range(3):
                result = subprocess.run([curl, "-sS", "--max-time", "20", url + "?from-worker"], capture_output=True, timeout=30)
                self.assertEqual(result.stdout, b"small file\n", result.stderr)
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        server.read_until(r'worker 1: .*"GET /small.txt\?from-worker HTTP/1.1" 200 ', timeout=20)
        # A worker that dies is restarted.
        os.kill(worker_pid, signal.SIGKILL)
        server.read_until(r"worker 1 ended unexpectedly", timeout=20)
        server.read_until(rf"worker 1: serving on the inherited socket, pid (?!{worker_pid}\b)\d+", timeout=20)
        self.assertEqual(server.stop(signal.SIGTERM, timeout=20, idle=5), 0)
        server.read_until("worker 1: netlab-http stopped", timeout=1)


    def test_workers_on_unix_socket(self):
        """
        --workers also works on a unix: endpoint (curl --unix-socket), and
        a worker does not outlive its parent, even one killed with SIGKILL.
        """
        curl = require_program("curl")
        root = make_root(self)
        folder = tempfile.mkdtemp(prefix="netlab-")  # AF_UNIX paths are short
        self.addCleanup(shutil.rmtree, folder, True)
        path = os.path.join(folder, "http.sock")
        server = start_server(self, ["netlab-http", "--listen", f"unix:{path}", "--path", root, "--workers", "2"])
        worker_pid = int(server.read_until(r"worker 1: serving on the inherited socket, pid (\d+)", timeout=20).group(1))
        for _ in range(3):
            result = subprocess.run(
                [curl, "-sS", "--unix-socket", path, "http://localhost/small.txt"], capture_output=True, timeout=30
            )
            self.assertEqual(result.stdout, b"small file\n", result.stderr)
        worker = os.pidfd_open(worker_pid)
        self.addCleanup(os.close, worker)
        server.stop(signal.SIGKILL, timeout=20, idle=5)
        ended, _, _ = select.select([worker], [], [], 20.0)  # readable once it exits
        self.assertTrue(ended, "the worker outlived its killed parent")


class ConnectionLimitTests(TestCase):
    def test_over_max_connections_closed_at_once_then_served_again(self):
        """
        With --max-connections 2 and two keep-alive connections open, a
        third is accepted and closed without an answer, one log line says
        why; once one of the two closes, a new connection is served.
        """
        root = make_root(self)
        server = start_server(
            self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", root, "--max-connections", "2"]
        )
        request = b"GET /small.txt HTTP/1.1\r\nHost: a\r\n\r\n"
        held = []
        for _ in range(2):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
            self.addCleanup(sock.close)
            sock.sendall(request)
            self.assertTrue(Reader(sock).response()[0].startswith(b"HTTP/1.1 200 "))
            held.append(sock)
        third = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        self.addCleanup(third.close)
        try:
            third.sendall(request)
            closed = third.recv(4096) == b""
        except ConnectionResetError:
            closed = True
        self.assertTrue(closed)
        server.read_until(r"2 connections open \(--max-connections\)", 15)
        # Let the server close one: once we read its EOF, the server has
        # already counted that connection out (it closes, then forgets it,
        # in one reactor call, before it can accept the next).
        held[0].sendall(b"GET /small.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        self.assertTrue(Reader(held[0]).read_to_eof().startswith(b"HTTP/1.1 200 "))
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        self.addCleanup(sock.close)
        sock.sendall(request)
        data = sock.recv(4096)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 "), data[:40])


class DefaultSiteTests(TestCase):
    def test_default_site(self):
        """
        Without --path, the bundled site is served.
        """
        curl = require_program("curl")
        server = start_server(self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1"])
        result = subprocess.run([curl, "-sS", f"http://127.0.0.1:{server.port}/"], capture_output=True, timeout=30)
        self.assertIn(b"twisted-netlab", result.stdout)

    def test_default_site_links_resolve(self):
        """
        Every same-site link and stylesheet of the bundled index.html and
        of the docs pages it links answers 200 on netlab-http, and there is
        a docs page for each service; the other services' live pages
        (heartbeat 127.0.0.1:8090, mail sink 127.0.0.1:8025) are linked
        from the index.
        """
        import http.client
        import posixpath
        from html.parser import HTMLParser

        class Links(HTMLParser):
            def __init__(self):
                HTMLParser.__init__(self)
                self.targets = []

            def handle_starttag(self, tag, attrs):
                for name, value in attrs:
                    if name in ("href", "src") and value:
                        self.targets.append(value)

        server = start_server(self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1"])
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        self.addCleanup(connection.close)

        def fetch(path):
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read()

        seen = {}
        pending = ["/"]
        while pending:
            path = pending.pop()
            if path in seen:
                continue
            status, body = fetch(path)
            seen[path] = status
            if not path.endswith((".html", "/")) or status != 200:
                continue
            parser = Links()
            parser.feed(body.decode("utf-8"))
            if path == "/":
                self.assertIn("http://127.0.0.1:8090/", parser.targets)
                self.assertIn("http://127.0.0.1:8025/", parser.targets)
            base = path.rsplit("/", 1)[0] + "/"
            for target in parser.targets:
                if "://" not in target:
                    pending.append(posixpath.normpath(posixpath.join(base, target.split("#")[0])))
        for page in ("http", "get", "ping", "heartbeat", "mail"):
            self.assertIn(f"/docs/{page}.html", seen)
        self.assertIn("/style.css", seen)
        self.assertEqual({path: status for path, status in seen.items() if status != 200}, {})
        self.assertEqual([path for path in seen if path.startswith("//")], [])
