"""
Protocol tests for L{twisted_netlab.web.server} on a StringTransport.
"""

import os

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web.server import StaticFileFactory


def make_site(testcase):
    root = testcase.mktemp()
    os.makedirs(os.path.join(root, "sub"))
    with open(os.path.join(root, "hello.txt"), "wb") as f:
        f.write(b"hello world\n")
    with open(os.path.join(root, "sub", "index.html"), "wb") as f:
        f.write(b"<p>sub</p>")
    return root


def connect(testcase):
    clock = Clock()
    clock.advance(784111777)
    factory = StaticFileFactory(make_site(testcase), reactor=clock)
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def pump(transport):
    """
    Drive a pull producer the way a real transport would, until done.
    """
    while transport.producer is not None:
        transport.producer.resumeProducing()


class StaticFileProtocolTests(SynchronousTestCase):
    def test_get_file(self):
        """
        A GET for a file answers 200 with its bytes, a charset for text,
        a Date in IMF-fixdate and an ETag.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        pump(transport)
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 OK\r\n"))
        self.assertIn(b"Content-Type: text/plain; charset=utf-8", head)
        self.assertIn(b"Date: Sun, 06 Nov 1994 08:49:37 GMT", head)
        self.assertIn(b"ETag: \"", head)
        self.assertEqual(body, b"hello world\n")
        self.assertFalse(transport.disconnecting)

    def test_head(self):
        """
        HEAD gets the GET headers and no body.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"HEAD /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        head, _, body = transport.value().partition(b"\r\n\r\n")
        self.assertIn(b"Content-Length: 12", head)
        self.assertEqual(body, b"")

    def test_not_found_keeps_serving(self):
        """
        A 404 does not close a persistent connection.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 "))
        self.assertFalse(transport.disconnecting)

    def test_traversal_is_404(self):
        """
        Encoded dot-dot never leaves the root.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 404 "))

    def test_directory_redirect_is_local(self):
        """
        A folder without its trailing slash redirects to a path that starts
        with a single slash, so it can never name another host.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"GET //sub HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertIn(b"\r\nLocation: /sub/\r\n", transport.value())

    def test_bad_request_closes(self):
        """
        An unframeable request gets 400 and the connection closes.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 400 "))
        self.assertTrue(transport.disconnecting)

    def test_405_and_options(self):
        """
        A known method we do not serve is 405 with Allow; OPTIONS is 204.
        """
        protocol, transport = connect(self)
        protocol.dataReceived(b"DELETE / HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 405 "))
        self.assertIn(b"Allow: GET, HEAD, OPTIONS", transport.value())
        transport.clear()
        protocol.dataReceived(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 204 "))
