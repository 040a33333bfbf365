"""
Tests for L{twisted_netlab._endpoints}: listening services and option
validators shared by the families.
"""

import os

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


class StartupHintTests(SynchronousTestCase):
    def test_unescaped_ipv6_interface(self):
        """
        An endpoint whose interface is an IPv6 address with bare colons
        fails with the escaped spelling as a hint.
        """
        service = StreamListeningService("svc", "tcp:30089:interface=::1", Factory(), reactor=MemoryReactor())
        error = self.assertRaises(SystemExit, service.startService)
        self.assertIn("bad endpoint 'tcp:30089:interface=::1'", str(error))
        self.assertIn(r"(escape the colons of an IPv6 address: interface=\:\:1)", str(error))

    def test_hint_table(self):
        """
        Only an interface with unescaped colons gets a hint.
        """
        from twisted_netlab._listening import endpoint_hint

        for description, hinted in [
            ("tcp:1:interface=::1", r"interface=\:\:1"),
            ("tcp:1:interface=fe80::1:backlog=5", r"interface=fe80\:\:1"),
            (r"tcp:1:interface=\:\:1", None),
            ("tcp:1:interface=127.0.0.1", None),
            ("unix:/tmp/x", None),
        ]:
            hint = endpoint_hint(description)
            if hinted is None:
                self.assertEqual(hint, "", description)
            else:
                self.assertIn(hinted, hint, description)

    def test_missing_key_file(self):
        """
        An ssl: endpoint whose key file is missing fails with one line that
        names the file and how to make a test certificate.
        """
        missing = os.path.abspath(self.mktemp())
        service = StreamListeningService("svc", f"ssl:0:privateKey={missing}", Factory(), reactor=MemoryReactor())
        error = str(self.assertRaises(SystemExit, service.startService))
        self.assertIn(repr(missing), error)
        self.assertIn("No such file or directory", error)
        self.assertIn("openssl req -x509", error)
        self.assertNotIn("\n", error)


class BindEarlyTests(SynchronousTestCase):
    def test_bind_early_then_start_binds_once(self):
        """
        bind_early binds every listener of a service tree (what the twistd
        plugins do before twistd forks); starting later binds nothing again.
        """
        from twisted.application.service import MultiService

        from twisted_netlab._endpoints import bind_early

        from twisted.internet.address import IPv4Address

        class UDPReactor(MemoryReactor):
            udp: list = []

            def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
                self.udp.append(port)

                class Port:
                    def getHost(self):
                        return IPv4Address("UDP", interface, port)

                return Port()

        reactor = UDPReactor()
        root = MultiService()
        StreamListeningService("svc", "tcp:8080", Factory(), reactor=reactor).setServiceParent(root)
        DatagramListeningService("udp-svc", DatagramProtocol(), 12000, "127.0.0.1", reactor=reactor).setServiceParent(root)
        bind_early(root)
        self.assertEqual((len(reactor.tcpServers), reactor.udp), (1, [12000]))
        root.startService()
        self.assertEqual((len(reactor.tcpServers), reactor.udp), (1, [12000]))
        self.assertTrue(all(child.running for child in root))

    def test_flag_named_in_errors(self):
        """
        The error names the flag that chose the address (netlab-all sets
        its own).
        """
        stream = StreamListeningService("svc", "tcp:8080", Factory(), reactor=TakenReactor())
        stream.option = "--http"
        self.assertIn("(choose another with --http)", str(self.assertRaises(SystemExit, stream.bind)))
        datagram = DatagramListeningService("udp-svc", DatagramProtocol(), 1, "127.0.0.1", reactor=TakenReactor())
        datagram.port_option = "--echo-port"
        self.assertIn("(choose another with --echo-port)", str(self.assertRaises(SystemExit, datagram.bind)))
