"""
Tests for L{twisted_netlab.heartbeat.sender.HeartbeatSender} and
L{twisted_netlab.heartbeat.beats.BeatLoop} on a clock.
"""

from twisted.internet.error import DNSLookupError
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPReactor as UDPClock
from twisted_netlab.heartbeat import BeatLoop, HeartbeatSender, LocalProtocolError, decode_beat, verify_beat

T0 = 1_700_000_000.0
KEY = b"k" * 32


class HeartbeatSenderTests(SynchronousTestCase):
    def setUp(self):
        self.reactor = UDPClock({"monitor.example": "192.0.2.7"})
        self.reactor.advance(T0)

    def start(self, **kwargs):
        sender = HeartbeatSender("127.0.0.1", 13000, reactor=self.reactor, random_bytes=lambda n: b"\x01" * n, **kwargs)
        sender.startService()
        return sender

    def test_classic_beats_from_zero(self):
        """
        Beats start at sequence 0 immediately, one per interval, in the
        classic format with the clock's time, on a socket connected to the
        monitor.
        """
        self.start(interval=0.5)
        self.reactor.pump([0.5, 0.5])
        transport = self.reactor.transport
        self.assertEqual(transport.connected_to, ("127.0.0.1", 13000))
        self.assertEqual(
            transport.written,
            [b"0 - 1700000000.000000", b"1 - 1700000000.500000", b"2 - 1700000001.000000"],
        )

    def test_count_fires_done(self):
        """
        With a count, the sender stops after that many beats, closes its
        socket and C{done} fires with the number sent.
        """
        sender = self.start(interval=1.0, count=3)
        self.reactor.pump([1.0] * 10)
        self.assertEqual(self.successResultOf(sender.done), 3)
        self.assertEqual(len(self.reactor.transport.written), 3)
        self.assertTrue(self.reactor.transport.stopped)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_stop_service_fires_done(self):
        """
        Stopping the service stops the beats and fires done with the count.
        """
        sender = self.start(interval=1.0)
        self.reactor.pump([1.0, 1.0, 0.5])
        sender.stopService()
        self.assertEqual(self.successResultOf(sender.done), 3)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_id_and_boot(self):
        """
        With an id, beats carry it and a boot id drawn once per sender.
        """
        self.start(interval=1.0, client_id="alpha")
        self.reactor.advance(1.0)
        self.assertEqual(len(self.reactor.transport.written), 2)
        decoded = [decode_beat(d) for d in self.reactor.transport.written]
        self.assertEqual([(b.sequence, b.client_id, b.boot) for b in decoded],
                         [(0, "alpha", "01" * 8), (1, "alpha", "01" * 8)])

    def test_signed(self):
        """
        With a key, every beat carries a MAC that verifies and the sender's boot id.
        """
        sender = self.start(interval=1.0, key=KEY)
        self.reactor.advance(0)
        beat = decode_beat(self.reactor.transport.written[0])
        self.assertTrue(verify_beat(beat, KEY))
        self.assertEqual(beat.boot, sender.boot)

    def test_resolves_names(self):
        """
        A host name is resolved once, and the socket connected to the address.
        """
        sender = HeartbeatSender("monitor.example", 9, reactor=self.reactor)
        sender.startService()
        self.assertEqual(self.reactor.transport.connected_to, ("192.0.2.7", 9))

    def test_unresolvable_fails_done(self):
        """
        An unresolvable name fails done and opens no socket.
        """
        sender = HeartbeatSender("nowhere.invalid", 9, reactor=self.reactor)
        sender.startService()
        self.failureResultOf(sender.done, DNSLookupError)
        self.assertEqual(self.reactor.listened, [])

    def test_refused_counted_and_send_errors_survived(self):
        """
        ICMP port unreachable is counted; a send error loses that beat but
        not the sender (the monitor will see the gap).
        """
        sender = self.start(interval=1.0)
        protocol = self.reactor.listened[0][2]
        protocol.connectionRefused()
        self.reactor.transport.fail_with = OSError(101, "Network is unreachable")
        self.reactor.advance(1.0)
        self.reactor.transport.fail_with = None
        self.reactor.advance(1.0)
        self.assertEqual(sender.refused, 1)
        self.assertEqual([decode_beat(d).sequence for d in self.reactor.transport.written], [0, 2])
        self.flushLoggedErrors()

    def test_socket_closed_after_refusal_is_reopened(self):
        """
        A real reactor may close a connected UDP port after ICMP port
        unreachable (no monitor running yet); the next beat opens a new
        socket instead of failing, so starting the sender first works.
        """
        sender = self.start(interval=1.0)
        [(_, _, protocol, first)] = self.reactor.listened
        protocol.connectionRefused()
        protocol.doStop()  # what the port's connectionLost does
        protocol.transport = None
        self.reactor.advance(1.0)
        self.assertEqual(len(self.reactor.listened), 2)
        second = self.reactor.listened[1][3]
        self.assertEqual([decode_beat(d).sequence for d in first.written], [0])
        self.assertEqual([decode_beat(d).sequence for d in second.written], [1])
        self.assertEqual(sender.sent, 2)
        self.assertEqual(sender.refused, 2)
        self.assertFalse(sender.done.called)

    def test_bad_arguments(self):
        """
        Impossible arguments are refused when the sender is made.
        """
        self.assertRaises(ValueError, HeartbeatSender, "h", 1, interval=0)
        self.assertRaises(ValueError, HeartbeatSender, "h", 1, count=0)
        self.assertRaises(LocalProtocolError, HeartbeatSender, "h", 1, client_id="no spaces")
        self.assertRaises(LocalProtocolError, HeartbeatSender, "h", 1, key=b"short")


class BeatLoopTests(SynchronousTestCase):
    """
    L{BeatLoop}, the sender without service machinery (``netlab beat``),
    and L{HeartbeatSender} as the same loop run by a service.
    """

    def setUp(self):
        self.reactor = UDPClock()
        self.reactor.advance(T0)

    def test_start_and_stop(self):
        """
        L{BeatLoop.start} beats at once and every interval until
        L{BeatLoop.stop}, which closes the socket and fires C{done} with
        the beats sent; C{running} says which.
        """
        loop = BeatLoop("127.0.0.1", 13000, interval=1.0, reactor=self.reactor)
        self.assertFalse(loop.running)
        loop.start()
        self.assertTrue(loop.running)
        self.reactor.pump([1.0, 1.0])
        loop.stop()
        self.assertFalse(loop.running)
        self.assertEqual(len(self.reactor.transport.written), 3)
        self.assertTrue(self.reactor.transport.stopped)
        self.assertEqual(self.successResultOf(loop.done), 3)
        self.reactor.pump([1.0])
        self.assertEqual(len(self.reactor.transport.written), 3)

    def test_service_runs_the_loop(self):
        """
        L{HeartbeatSender} is a service and a L{BeatLoop}: starting the
        service starts the loop, stopping it stops the loop.
        """
        from twisted.application.service import IService

        sender = HeartbeatSender("127.0.0.1", 13000, interval=1.0, reactor=self.reactor)
        self.assertTrue(IService.providedBy(sender))
        self.assertIsInstance(sender, BeatLoop)
        sender.startService()
        self.assertTrue(sender.running)
        self.assertEqual(len(self.reactor.transport.written), 1)
        sender.stopService()
        self.assertFalse(sender.running)
        self.assertTrue(self.reactor.transport.stopped)
        self.assertEqual(self.successResultOf(sender.done), 1)
