"""
Tests for L{twisted_netlab._write_now} as netlab-http uses it: an answer
that is all the client waits for goes to the kernel at once, pipelined
answers are queued together, and a partial send keeps the byte order.
"""

from twisted.internet import tcp
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from tests.web.test_server import make_site, split_responses
from twisted_netlab.web.server import StaticFileFactory


class PlainTCP(StringTransport, tcp.Connection):  # type: ignore[misc]
    """
    A StringTransport that passes for Twisted's plain TCP connection:
    C{write} queues as Twisted's does (in C{_tempDataBuffer}), and
    C{writeSomeData} records what went "to the kernel", taking at most
    C{accept} bytes per call.
    """

    TLS = False

    def __init__(self, accept=None):
        StringTransport.__init__(self, peerAddress=IPv4Address("TCP", "127.0.0.1", 5555))
        self.dataBuffer = b""
        self._tempDataBuffer = []
        self.accept = accept
        self.direct = []
        self.queued = []

    def write(self, data):
        self.queued.append(data)
        self._tempDataBuffer.append(data)
        StringTransport.write(self, data)

    def setTcpNoDelay(self, enabled):
        self.no_delay = enabled

    def writeSomeData(self, data):
        taken = data if self.accept is None else data[: self.accept]
        self.direct.append(taken)
        StringTransport.write(self, taken)
        return len(taken)


def connect(testcase, transport):
    clock = Clock()
    factory = StaticFileFactory(make_site(testcase), reactor=clock)
    protocol = factory.buildProtocol(None)
    protocol.makeConnection(transport)
    return protocol


class HTTPWriteNowTests(SynchronousTestCase):
    def test_lone_answer_goes_out_at_once(self):
        """
        A request that is all the client sent is answered straight to the
        socket (no write watch until the reactor's next turn).
        """
        transport = PlainTCP()
        protocol = connect(self, transport)
        protocol.dataReceived(b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(len(transport.direct), 1)
        self.assertEqual(transport.queued, [])
        [(status, _, body)] = split_responses(transport.value())
        self.assertEqual((status, body), (200, b"hello world\n"))

    def test_pipelined_answers_are_queued_together(self):
        """
        While more requests wait in the parser, answers are queued through
        C{write}; the last one sees a non-empty queue and joins it, so the
        answers leave together, in order.
        """
        transport = PlainTCP()
        protocol = connect(self, transport)
        request = b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n"
        protocol.dataReceived(request * 3)
        self.assertEqual(transport.direct, [])
        self.assertEqual(len(transport.queued), 3)
        self.assertEqual([r[0] for r in split_responses(transport.value())], [200, 200, 200])

    def test_partial_send_queues_the_rest_in_order(self):
        """
        When the socket takes only part of the answer, the rest goes
        through C{write}, after it.
        """
        transport = PlainTCP(accept=10)
        protocol = connect(self, transport)
        protocol.dataReceived(b"GET /hello.txt HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(len(transport.direct[0]), 10)
        self.assertEqual(len(transport.queued), 1)
        self.assertEqual(transport.direct[0] + transport.queued[0], transport.value())
        [(status, _, body)] = split_responses(transport.value())
        self.assertEqual((status, body), (200, b"hello world\n"))

    def test_streamed_bodies_use_the_transport_write(self):
        """
        A large file streamed through the producer is written through
        C{write} only (flow control stays with the transport).
        """
        transport = PlainTCP()
        protocol = connect(self, transport)
        protocol.dataReceived(b"GET /big.bin HTTP/1.1\r\nHost: h\r\n\r\n")
        self.assertEqual(transport.direct, [])
        self.assertTrue(transport.queued)
