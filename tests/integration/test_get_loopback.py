"""
Integration: the real ``netlab get`` process against real servers on
127.0.0.1: ``twistd -n netlab-http`` (plain and TLS), Twisted's own
``twistd web``, Python's ``http.server`` (HTTP/1.0, closes every
connection) and a scripted misbehaving socket.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from typing import List, Optional, Sequence

from twisted.trial.unittest import TestCase

from tests.helpers import child_env, executable, start_process

TIMEOUT = 60


def netlab_get(args: Sequence[str], cwd: Optional[str] = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable("netlab"), "get", *args],
        capture_output=True, timeout=TIMEOUT, env=child_env(), cwd=cwd, stdin=subprocess.DEVNULL,
    )


def start_announcing(testcase, command: List[str], pattern: str, timeout: float = 30.0) -> int:
    """
    Start a server process and read its port from the first output line
    matching C{pattern}; from then on its output is discarded, so the
    server never blocks on logging.
    """
    server = start_process(testcase, command, expect=0)
    port = int(server.read_until(pattern, timeout).group(1))
    server.drain()
    return port


def start_netlab_http(testcase, root: str, listen: str = "tcp:0:interface=127.0.0.1") -> int:
    return start_announcing(
        testcase,
        [executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-http", "--listen", listen, "--path", root],
        r"netlab-http listening on tcp \S+ (\d+)",
    )


def write_site(root: str) -> None:
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "a.txt"), "wb") as handle:
        handle.write(b"alpha\n")
    with open(os.path.join(root, "b.txt"), "wb") as handle:
        handle.write(b"bravo\n")
    with open(os.path.join(root, "sub", "index.html"), "wb") as handle:
        handle.write(b"<p>sub index</p>\n")


class NetlabHTTPTests(TestCase):
    def setUp(self):
        self.root = os.path.abspath(self.mktemp())
        write_site(self.root)
        self.base = f"http://127.0.0.1:{start_netlab_http(self, self.root)}"

    def test_100_mb_streamed_with_bounded_memory(self):
        """
        A 100 MB body arrives byte for byte (sha256) and the client's peak
        RSS stays within 25 MB of a small-file download: it is streamed,
        never accumulated.  (Measured: the streaming client peaks within
        0.1 MB of the small download; a client that keeps the body, even
        once, needs at least +100 MB, and Twisted's join-based collection
        about +200 MB.)
        """
        digest = hashlib.sha256()
        block = os.urandom(1024 * 1024)
        with open(os.path.join(self.root, "big.bin"), "wb") as handle:
            for index in range(100):
                piece = index.to_bytes(4, "big") + block[4:]
                digest.update(piece)
                handle.write(piece)
        out = os.path.abspath(self.mktemp())
        measure = (
            "import resource, subprocess, sys\n"
            "code = subprocess.run(sys.argv[1:]).returncode\n"
            "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        )

        def peak_kb(url: str) -> int:
            result = subprocess.run(
                [sys.executable, "-c", measure, executable("netlab"), "get", "-s", "-o", out, url],
                capture_output=True, timeout=TIMEOUT, env=child_env(), text=True,
            )
            code, kilobytes = result.stdout.split()
            self.assertEqual(code, "0", result.stderr)
            return int(kilobytes)

        small = peak_kb(self.base + "/a.txt")
        large = peak_kb(self.base + "/big.bin")
        sha = hashlib.sha256()
        with open(out, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                sha.update(chunk)
        self.assertEqual(sha.hexdigest(), digest.hexdigest())
        self.assertLess(large - small, 25 * 1024, f"peak RSS {large} KB vs {small} KB for a small file")

    def test_ranges_and_conditional_requests(self):
        """
        Against the real netlab-http: C{-r 1-3} is a 206 with exactly those
        bytes; a range running past the end is clipped (206, C{bytes
        2-5/6}); an unsatisfiable one is 416, exit 22 and nothing written
        with C{--fail}; C{-z FILE} with the file's own time and C{--etag}
        with the current entity tag are 304 with no body, while another tag
        gets the whole file; C{--etag-save}/C{--etag-compare} round-trip.
        """
        url = self.base + "/a.txt"  # "alpha\n", 6 bytes

        result = netlab_get(["-s", "-i", "-r", "1-3", url])
        self.assertEqual(result.returncode, 0, result.stderr)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 206 "), head)
        self.assertIn(b"Content-Range: bytes 1-3/6", head)
        self.assertEqual(body, b"lph")

        result = netlab_get(["-s", "-i", "-r", "2-100", url])
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 206 "), head)
        self.assertIn(b"Content-Range: bytes 2-5/6", head)
        self.assertEqual(body, b"pha\n")

        out = os.path.join(self.root, "out.bin")
        result = netlab_get(["-s", "-f", "-r", "100-", "-o", out, url])
        self.assertEqual(result.returncode, 22, result.stderr)
        self.assertIn(b"416", result.stderr)
        self.assertFalse(os.path.exists(out) and os.path.getsize(out), "a 416 body was written despite --fail")
        result = netlab_get(["-s", "-i", "-r", "100-", url])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(result.stdout.startswith(b"HTTP/1.1 416 "), result.stdout[:80])
        self.assertIn(b"Content-Range: bytes */6", result.stdout)

        result = netlab_get(["-s", "-i", "-z", os.path.join(self.root, "a.txt"), url])
        self.assertEqual(result.returncode, 0, result.stderr)
        head, _, body = result.stdout.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 304 "), head)
        self.assertEqual(body, b"")
        etag = re.search(rb"(?im)^ETag: (\S+)\r?$", head).group(1).decode()

        result = netlab_get(["-s", "-i", "--etag", etag, url])
        self.assertTrue(result.stdout.startswith(b"HTTP/1.1 304 "), result.stdout[:80])
        self.assertTrue(result.stdout.endswith(b"\r\n\r\n"), result.stdout)
        result = netlab_get(["-s", "--etag", '"not-this-one"', url])
        self.assertEqual((result.returncode, result.stdout), (0, b"alpha\n"), result.stderr)

        saved = os.path.join(self.root, "etag.txt")
        result = netlab_get(["-s", "--etag-save", saved, url])
        self.assertEqual(result.stdout, b"alpha\n")
        result = netlab_get(["-s", "-i", "--etag-compare", saved, url])
        self.assertTrue(result.stdout.startswith(b"HTTP/1.1 304 "), result.stdout[:80])

    def test_keep_alive_pipeline_and_head(self):
        """
        Several URLs reuse one connection (one "Connected" line in -v),
        pipelined or not, with the bodies in order; -I and --fail work.
        """
        urls = [self.base + "/a.txt", self.base + "/b.txt", self.base + "/a.txt"]
        for extra in ([], ["--pipeline"]):
            result = netlab_get(["-v", *extra, *urls])
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, b"alpha\nbravo\nalpha\n")
            self.assertEqual(result.stderr.count(b"* Connected to"), 1, result.stderr)
        head = netlab_get(["-I", self.base + "/b.txt"])
        self.assertTrue(head.stdout.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"Content-Length: 6\r\n", head.stdout)
        missing = netlab_get(["--fail", self.base + "/nope"])
        self.assertEqual((missing.returncode, missing.stdout), (22, b""))
        self.assertEqual(missing.stderr.count(b"\n"), 1)

    def test_redirect_and_remote_name(self):
        """
        -L follows the server's directory redirect; -O saves under the URL's
        own name in the current folder.
        """
        result = netlab_get(["-L", self.base + "/sub"])
        self.assertEqual((result.returncode, result.stdout), (0, b"<p>sub index</p>\n"), result.stderr)
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        saved = netlab_get(["-O", self.base + "/b.txt?x=1"], cwd=folder)
        self.assertEqual(saved.returncode, 0, saved.stderr)
        self.assertEqual(os.listdir(folder), ["b.txt"])


class IPv6Tests(TestCase):
    def test_ipv6_literal(self):
        """
        A bracketed IPv6 literal with a port reaches a server on ::1.
        """
        root = os.path.abspath(self.mktemp())
        write_site(root)
        port = start_netlab_http(self, root, r"tcp6:0:interface=\:\:1")
        result = netlab_get([f"http://[::1]:{port}/a.txt?q=1"])
        self.assertEqual((result.returncode, result.stdout), (0, b"alpha\n"), result.stderr)


class TLSTests(TestCase):
    def setUp(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        self.cafile = os.path.join(folder, "cert.pem")
        keyfile = os.path.join(folder, "key.pem")
        with open(self.cafile, "wb") as handle:
            handle.write(certificate.public_bytes(serialization.Encoding.PEM))
        with open(keyfile, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        root = os.path.join(folder, "www")
        write_site(root)
        self.port = start_netlab_http(self, root, f"ssl:0:interface=127.0.0.1:privateKey={keyfile}:certKey={self.cafile}")

    def test_verified_rejected_and_insecure(self):
        """
        With --cafile the certificate is verified and the body fetched (with
        a TLS time in --timing); without it, or under a name the certificate
        does not hold, the exit code is 60; --insecure fetches and warns.
        """
        url = f"https://localhost:{self.port}/a.txt"
        good = netlab_get(["--cafile", self.cafile, "--timing", url])
        self.assertEqual((good.returncode, good.stdout), (0, b"alpha\n"), good.stderr)
        self.assertRegex(good.stderr, rb"tls +\d+\.\d+ s")
        untrusted = netlab_get([url])
        self.assertEqual(untrusted.returncode, 60, untrusted.stderr)
        self.assertEqual(untrusted.stderr.count(b"\n"), 1)
        wrong_name = netlab_get(["--cafile", self.cafile, f"https://127.0.0.1:{self.port}/a.txt"])
        self.assertEqual(wrong_name.returncode, 60, wrong_name.stderr)
        insecure = netlab_get(["-k", url])
        self.assertEqual((insecure.returncode, insecure.stdout), (0, b"alpha\n"))
        self.assertIn(b"NOT verified", insecure.stderr)


class ForeignServerTests(TestCase):
    def setUp(self):
        self.root = os.path.abspath(self.mktemp())
        write_site(self.root)

    def test_twistd_web(self):
        """
        Twisted's own web server as a peer: bodies, keep-alive reuse,
        redirect to the directory, 404 with --fail.
        """
        port = start_announcing(
            self, [executable("twistd"), "-n", "--pidfile=", "--logfile=-", "web",
                   "--listen", "tcp:0:interface=127.0.0.1", "--path", self.root],
            r"Site starting on (\d+)",
        )
        base = f"http://127.0.0.1:{port}"
        result = netlab_get(["-v", "-L", base + "/a.txt", base + "/sub", base + "/b.txt"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, b"alpha\n<p>sub index</p>\nbravo\n")
        self.assertEqual(result.stderr.count(b"* Connected to"), 1, result.stderr)
        missing = netlab_get(["--fail", base + "/nope"])
        self.assertEqual(missing.returncode, 22)

    def test_python_http_server(self):
        """
        Python's http.server answers HTTP/1.0 and closes each connection:
        every URL still arrives, pipelined ones resent on new connections.
        """
        port = start_announcing(
            self, [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "--directory", self.root, "0"],
            r"port (\d+)",
        )
        base = f"http://127.0.0.1:{port}"
        for extra in ([], ["--pipeline"]):
            result = netlab_get(["-v", *extra, base + "/a.txt", base + "/b.txt", base + "/a.txt"])
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(result.stdout, b"alpha\nbravo\nalpha\n")
            self.assertEqual(result.stderr.count(b"* Connected to"), 3, result.stderr)
        raw = netlab_get(["--raw", base + "/a.txt"])
        self.assertTrue(raw.stdout.startswith(b"HTTP/1.0 200 OK\r\n"), raw.stdout)
        self.assertTrue(raw.stdout.endswith(b"\r\n\r\nalpha\n"))


class MisbehavingServerTests(TestCase):
    def serve_once(self, reply: bytes, hold_open: bool) -> int:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        self.addCleanup(listener.close)
        release = threading.Event()

        def run():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                connection.sendall(reply)
                if hold_open:
                    release.wait(TIMEOUT)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        # Cleanups run last-in first-out: release the thread, then join it.
        self.addCleanup(thread.join, TIMEOUT)
        self.addCleanup(release.set)
        return listener.getsockname()[1]

    def test_lying_content_length(self):
        """
        A server that promises 1000 bytes, sends 3 and closes is exit 18; one
        that keeps the socket open is exit 28 after --idle-timeout, never a hang.
        """
        port = self.serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc", hold_open=False)
        result = netlab_get([f"http://127.0.0.1:{port}/"])
        self.assertEqual(result.returncode, 18, result.stderr)
        port = self.serve_once(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nabc", hold_open=True)
        result = netlab_get(["--idle-timeout", "1", f"http://127.0.0.1:{port}/"])
        self.assertEqual(result.returncode, 28, result.stderr)
        self.assertIn(b"3 of 1000", result.stderr)

    def test_connection_refused(self):
        """
        A closed port is exit 7 with one line.
        """
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        result = netlab_get([f"http://127.0.0.1:{port}/"])
        self.assertEqual(result.returncode, 7)
        self.assertEqual(result.stderr.count(b"\n"), 1)


class StreamingPeer:
    """
    A scripted HTTP peer on 127.0.0.1 for one connection: after the request
    it sends C{head}, then C{piece} every C{interval} seconds, at most
    C{limit} times (bounded, whatever the client does), until the client
    goes away.
    """

    def __init__(self, testcase, head: bytes, piece: bytes, interval: float, limit: int) -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(TIMEOUT)
        testcase.addCleanup(listener.close)
        self.port = listener.getsockname()[1]
        self.sent = 0
        self.first_piece = threading.Event()
        stop = threading.Event()

        def run():
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            with connection:
                connection.recv(65536)
                try:
                    connection.sendall(head)
                    for _ in range(limit):
                        connection.sendall(piece)
                        self.sent += len(piece)
                        self.first_piece.set()
                        if stop.wait(interval):
                            return
                except OSError:
                    return  # the client went away: what is tested

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        testcase.addCleanup(thread.join, TIMEOUT)
        testcase.addCleanup(stop.set)


CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"


class TransferLimitTests(TestCase):
    def test_endless_chunked_body_stops_at_max_filesize(self):
        """
        Against a server that sends an endless chunked body, --max-filesize
        1M stops the transfer with exit 63 and at most 1 MiB written.
        """
        piece = b"10000\r\n" + b"e" * 0x10000 + b"\r\n"
        peer = StreamingPeer(self, CHUNKED, piece, interval=0, limit=2000)  # bounded: 131 MB at most
        path = os.path.abspath(self.mktemp())
        result = netlab_get(["-s", "--max-filesize", "1M", "-o", path, f"http://127.0.0.1:{peer.port}/endless"])
        self.assertEqual(result.returncode, 63, result.stderr)
        self.assertEqual(result.stderr, b"netlab get: maximum file size exceeded: the body is larger than --max-filesize 1048576 bytes\n")
        self.assertLessEqual(os.path.getsize(path), 1024 * 1024)
        self.assertLess(peer.sent, 2000 * len(piece))

    def test_dripping_server_fails_speed_limit(self):
        """
        A server dripping a byte every 0.3 s (which an idle timer never
        catches) fails --speed-limit 100 --speed-time 1 with exit 28.
        """
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        peer = StreamingPeer(self, head, b"d", interval=0.3, limit=200)  # bounded: 60 s at most
        result = netlab_get(["-s", "--speed-limit", "100", "--speed-time", "1", f"http://127.0.0.1:{peer.port}/drip"])
        self.assertEqual(result.returncode, 28, result.stderr)
        self.assertIn(b"operation too slow", result.stderr)
        self.assertLess(peer.sent, 200)

    def test_closed_stdout_pipe_is_141_quietly(self):
        """
        C{netlab get -s URL | head -c 10}: when the reader leaves, the
        command ends with 141 and says nothing, like ping, beat and mail.
        """
        piece = b"10000\r\n" + b"p" * 0x10000 + b"\r\n"
        peer = StreamingPeer(self, CHUNKED, piece, interval=0, limit=2000)
        process = subprocess.Popen(
            [executable("netlab"), "get", "-s", f"http://127.0.0.1:{peer.port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=child_env(),
        )
        try:
            self.assertEqual(process.stdout.read(10), b"p" * 10)
            process.stdout.close()
            code = process.wait(TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr = process.stderr.read()
        process.stderr.close()
        self.assertEqual((code, stderr), (141, b""))

    def test_ctrl_c_is_interrupted_130(self):
        """
        SIGINT (Ctrl+C) during a transfer says 'interrupted' and exits 130,
        like netlab mail, not a misleading receive error.
        """
        head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
        peer = StreamingPeer(self, head, b"c", interval=0.2, limit=300)
        process = subprocess.Popen(
            [executable("netlab"), "get", "-s", f"http://127.0.0.1:{peer.port}/"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=child_env(),
        )
        try:
            self.assertEqual(process.stdout.read(1), b"c")  # the transfer is under way
            process.send_signal(signal.SIGINT)
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        self.assertEqual((process.returncode, stderr), (130, b"netlab get: interrupted\n"))


class PlainStartThenTLSTests(TestCase):
    """
    ``netlab get http://...`` starts without TLS loaded; TLS still works
    when a redirect leads to https, and a certificate the verifier cannot
    use is one line, not Twisted's logged traceback.
    """

    def setUp(self):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = datetime.datetime.now(datetime.timezone.utc)
        # No subjectAltName: what "openssl req -x509 -subj /CN=localhost" makes.
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256())
        )
        pem = os.path.join(folder, "server.pem")
        with open(pem, "wb") as handle:
            handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
            handle.write(certificate.public_bytes(serialization.Encoding.PEM))
        root = os.path.join(folder, "www")
        write_site(root)
        self.port = start_netlab_http(self, root, f"ssl:0:interface=127.0.0.1:privateKey={pem}")

    def redirect_to_https(self) -> int:
        location = f"https://127.0.0.1:{self.port}/a.txt".encode()
        reply = b"HTTP/1.1 301 Moved Permanently\r\nLocation: " + location + b"\r\nContent-Length: 0\r\n\r\n"
        return MisbehavingServerTests.serve_once(self, reply, hold_open=False)

    def test_certificate_without_subject_alt_name_is_one_line(self):
        """
        Exit 60 with one line; nothing of the verifier's own log.
        """
        result = netlab_get([f"https://127.0.0.1:{self.port}/a.txt"])
        self.assertEqual(result.returncode, 60)
        self.assertEqual(result.stderr.count(b"\n"), 1, result.stderr)
        self.assertNotIn(b"Traceback", result.stderr)

    def test_redirect_from_http_to_https_loads_tls_then(self):
        """
        -L from an http URL (started without TLS) to https works: verified
        (refused here, exit 60, one line) and with -k (the body).
        """
        result = netlab_get(["-L", f"http://127.0.0.1:{self.redirect_to_https()}/"])
        self.assertEqual((result.returncode, result.stderr.count(b"\n")), (60, 1), result.stderr)
        result = netlab_get(["-L", "-k", f"http://127.0.0.1:{self.redirect_to_https()}/"])
        self.assertEqual((result.returncode, result.stdout), (0, b"alpha\n"), result.stderr)
