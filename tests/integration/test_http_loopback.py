"""
Integration: the real ``twistd -n netlab-http`` process on loopback,
driven by curl and by raw sockets.
"""

import os
import socket
import subprocess

from twisted.trial.unittest import TestCase

from tests.helpers import require_program, start_server


class HTTPLoopbackTests(TestCase):
    def setUp(self):
        self.root = self.mktemp()
        os.makedirs(self.root)
        self.payload = os.urandom(100_000)
        with open(os.path.join(self.root, "blob.bin"), "wb") as f:
            f.write(self.payload)
        self.server = start_server(self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1", "--path", self.root])

    def test_curl_download(self):
        """
        curl downloads a file byte for byte over keep-alive.
        """
        curl = require_program("curl")
        url = f"http://127.0.0.1:{self.server.port}/blob.bin"
        result = subprocess.run([curl, "-sS", "--fail", url, url], capture_output=True, timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout, self.payload * 2)
        self.assertNotIn(b"Re-using", result.stderr)

    def test_raw_socket_bad_request_then_others_served(self):
        """
        A malformed request on one connection gets 400; another connection
        is still served.
        """
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as bad:
            bad.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
            self.assertTrue(bad.recv(100).startswith(b"HTTP/1.1 400 "))
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as good:
            good.sendall(b"HEAD /blob.bin HTTP/1.0\r\n\r\n")
            reply = good.recv(4096)
        self.assertTrue(reply.startswith(b"HTTP/1.1 200 "))
        self.assertIn(b"Content-Length: 100000\r\n", reply)


class DefaultSiteTests(TestCase):
    def test_default_site(self):
        """
        Without --path, the bundled site is served.
        """
        curl = require_program("curl")
        server = start_server(self, ["netlab-http", "--listen", "tcp:0:interface=127.0.0.1"])
        result = subprocess.run([curl, "-sS", f"http://127.0.0.1:{server.port}/"], capture_output=True, timeout=30)
        self.assertIn(b"twisted-netlab", result.stdout)
