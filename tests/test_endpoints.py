"""
Tests for L{twisted_netlab._endpoints}: listening services and option
validators shared by the families.
"""

from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol, Factory
from twisted.internet.testing import MemoryReactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab._endpoints import (
    DatagramListeningService,
    StreamListeningService,
    parse_duration,
    parse_interface,
    parse_udp_port,
)


class TakenReactor(MemoryReactor):
    def listenTCP(self, port, factory, backlog=50, interface=""):
        raise CannotListenError(interface, port, OSError(98, "Address already in use"))

    def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
        raise CannotListenError(interface, port, OSError(98, "Address already in use"))


class ListeningServiceTests(SynchronousTestCase):
    def test_stream_listens(self):
        """
        A free endpoint is listened on at start.
        """
        reactor = MemoryReactor()
        service = StreamListeningService("svc", "tcp:8080:interface=127.0.0.1", Factory(), reactor=reactor)
        service.startService()
        [(port, _, _, interface)] = reactor.tcpServers
        self.assertEqual((port, interface), (8080, "127.0.0.1"))

    def test_stream_taken_port_is_one_clear_exit(self):
        """
        A taken port raises SystemExit naming the service, the endpoint and
        the reason, which twistd prints as one line and exits 1.
        """
        service = StreamListeningService("svc", "tcp:8080", Factory(), reactor=TakenReactor())
        error = self.assertRaises(SystemExit, service.startService)
        self.assertIn("svc: error: cannot listen on tcp:8080", str(error))
        self.assertIn("Address already in use", str(error))

    def test_bad_endpoint(self):
        """
        An endpoint string Twisted cannot parse is a clear exit too.
        """
        service = StreamListeningService("svc", "tcp:notaport", Factory(), reactor=MemoryReactor())
        self.assertIn("bad endpoint", str(self.assertRaises(SystemExit, service.startService)))

    def test_datagram_taken_port(self):
        """
        A taken UDP port is a clear exit naming --port.
        """
        service = DatagramListeningService("udp-svc", DatagramProtocol(), 12000, "127.0.0.1", reactor=TakenReactor())
        error = self.assertRaises(SystemExit, service.startService)
        self.assertIn("udp-svc: error: cannot listen on udp 127.0.0.1 port 12000", str(error))
        self.assertIn("--port", str(error))


class ValidatorTests(SynchronousTestCase):
    def test_udp_port(self):
        """
        Ports are whole numbers from 0 to 65535.
        """
        self.assertEqual(parse_udp_port("0"), 0)
        for bad in ["-1", "65536", "x", ""]:
            self.assertRaises(usage.UsageError, parse_udp_port, bad)

    def test_interface(self):
        """
        Interfaces are literal addresses, normalised.
        """
        self.assertEqual(parse_interface("::0001"), "::1")
        self.assertRaises(usage.UsageError, parse_interface, "localhost")

    def test_duration(self):
        """
        Durations take s, ms, us, m and h; negatives and NaN are refused.
        """
        self.assertEqual(parse_duration("250ms"), 0.25)
        self.assertEqual(parse_duration("1.5"), 1.5)
        self.assertEqual(parse_duration("2m"), 120.0)
        for bad in ["-1", "nan", "inf", "fast"]:
            self.assertRaises(usage.UsageError, parse_duration, bad)


class GracefulExitTests(SynchronousTestCase):
    def test_stop_clears_the_signal(self):
        """
        Stopping a listening service after SIGTERM forgets the signal that
        twistd would re-raise, so the process exits 0; other signals are
        kept.
        """
        import signal

        for sent, kept in [(signal.SIGTERM, None), (signal.SIGINT, None), (signal.SIGHUP, signal.SIGHUP)]:
            reactor = MemoryReactor()
            service = StreamListeningService("svc", "tcp:0", Factory(), reactor=reactor)
            reactor._exitSignal = sent
            service.startService()
            service.stopService()
            self.assertEqual(reactor._exitSignal, kept)
