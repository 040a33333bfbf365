"""
Tests for L{twisted_netlab.ping.pinger}: the pinger protocol on a fake
datagram transport with a L{task.Clock} (timeouts, late, duplicate,
reordered and foreign replies), and L{ping} on a fake reactor.
"""

from __future__ import annotations

from twisted.internet.defer import CancelledError
from twisted.internet.error import DNSLookupError
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPReactor
from twisted_netlab.ping._icmp import ORIGIN_ICMP, ExtendedError
from twisted_netlab.ping._pinger_core import (
    DuplicateReply,
    ForeignReply,
    LateReply,
    ProbeError,
    ProbeFate,
    ProbeSent,
    ProbeTimedOut,
    ReplyReceived,
    SendFailed,
)
from twisted_netlab.ping._probe import PayloadFormat
from twisted_netlab.ping.pinger import PingerProtocol, ping

SERVER = ("127.0.0.1", 12000)


class PingerProtocolTests(SynchronousTestCase):
    def start(self, **kwargs):
        self.reactor = FakeUDPReactor()
        self.events = []
        kwargs.setdefault("interval_seconds", 1.0)
        kwargs.setdefault("timeout_seconds", 1.0)
        protocol = PingerProtocol(
            "127.0.0.1", 12000, observer=self.events.append, monotonic=self.reactor.seconds, reactor=self.reactor, **kwargs
        )
        self.transport = self.reactor.listenUDP(0, protocol)
        self.protocol = protocol
        return protocol

    def probe(self, index):
        packet, addr = self.transport.written[index]
        self.assertEqual(addr, SERVER)
        return packet

    def test_probes_at_interval_then_report(self):
        """
        Probes leave at once and then every interval, each with its
        sequence; when all are answered the run ends with a report.
        """
        protocol = self.start(count=3, interval_seconds=0.5)
        self.assertEqual(len(self.transport.written), 1)
        self.assertTrue(self.probe(0).startswith(b"Ping 1 "))
        protocol.datagramReceived(self.probe(0), SERVER)
        self.reactor.advance(0.5)
        self.reactor.advance(0.5)
        self.assertEqual([self.probe(i).split()[1] for i in range(3)], [b"1", b"2", b"3"])
        protocol.datagramReceived(self.probe(1), SERVER)
        self.reactor.advance(0.01)
        protocol.datagramReceived(self.probe(2), SERVER)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.transmitted, report.received), (3, 3))
        self.assertEqual(report.probes[2].rtt_ms, 10.0)
        self.assertFalse(self.transport.listening)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_timeout(self):
        """
        An unanswered probe is lost after the per-probe timeout, and the
        run ends when the last probe has timed out.
        """
        protocol = self.start(count=2, timeout_seconds=2.0)
        self.reactor.advance(1.0)
        self.reactor.advance(1.0)
        self.assertIn(ProbeTimedOut(1), self.events)
        self.assertNoResult(protocol.finished)
        self.reactor.advance(1.0)
        report = self.successResultOf(protocol.finished)
        self.assertEqual([probe.fate for probe in report.probes], [ProbeFate.LOST, ProbeFate.LOST])
        self.assertEqual(report.received, 0)

    def test_timer_decides_timeout_not_clock_comparison(self):
        """
        When a probe's timer fires, the probe is lost even if the monotonic
        clock says a hair less than the timeout has passed, so the run
        cannot hang waiting for a probe nobody will expire.
        """
        self.reactor = FakeUDPReactor()
        offsets = iter([0.0] + [0.9999995] * 10)
        protocol = PingerProtocol("127.0.0.1", 12000, count=1, monotonic=lambda: next(offsets), reactor=self.reactor)
        self.reactor.listenUDP(0, protocol)
        self.reactor.advance(1.0)
        report = self.successResultOf(protocol.finished)
        self.assertEqual(report.probes[0].fate, ProbeFate.LOST)

    def test_late_reply_is_reported_for_its_own_probe(self):
        """
        A reply arriving after its probe's timeout is late for that probe,
        with its real RTT (1500 ms), and is not credited to the probe sent
        meanwhile.
        """
        protocol = self.start(count=3, timeout_seconds=1.0)
        first = self.probe(0)
        self.reactor.advance(1.0)  # probe 1 times out, probe 2 leaves
        self.reactor.advance(0.5)
        protocol.datagramReceived(first, SERVER)
        self.assertEqual(self.events[-1], LateReply(1, len(first), 1.5))
        protocol.datagramReceived(self.probe(1), SERVER)
        self.assertEqual(self.events[-1], ReplyReceived(2, len(self.probe(1)), 0.5, False))

    def test_duplicate_reply(self):
        """
        A second reply to the same probe is a duplicate.
        """
        protocol = self.start(count=1)
        protocol.datagramReceived(self.probe(0), SERVER)
        protocol.datagramReceived(self.probe(0), SERVER)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.received, report.duplicates), (1, 0))  # finished at the first reply

    def test_duplicate_while_running(self):
        """
        A duplicate arriving while the run goes on is marked DUP! and counted.
        """
        protocol = self.start(count=2)
        protocol.datagramReceived(self.probe(0), SERVER)
        protocol.datagramReceived(self.probe(0), SERVER)
        self.assertIsInstance(self.events[-1], DuplicateReply)
        self.reactor.advance(1.0)
        protocol.datagramReceived(self.probe(1), SERVER)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.received, report.duplicates), (2, 1))

    def test_reordered_replies(self):
        """
        Replies that come back out of order are all received, and those
        behind a higher sequence are counted reordered.
        """
        protocol = self.start(count=3, interval_seconds=0.1)
        self.reactor.advance(0.1)
        self.reactor.advance(0.1)
        for index in (2, 0, 1):
            protocol.datagramReceived(self.probe(index), SERVER)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.received, report.reordered), (3, 2))

    def test_foreign_source(self):
        """
        A datagram from another address is foreign, even if it copies a probe.
        """
        protocol = self.start(count=1)
        protocol.datagramReceived(self.probe(0), ("127.0.0.2", 12000))
        self.assertIsInstance(self.events[-1], ForeignReply)
        self.assertNoResult(protocol.finished)
        protocol.datagramReceived(self.probe(0), SERVER)
        self.assertEqual(self.successResultOf(protocol.finished).foreign, 1)

    def test_stop_early(self):
        """
        Stopping (Ctrl+C) ends the run at once; probes in flight are
        unanswered and counted as lost.
        """
        protocol = self.start(count=10)
        protocol.datagramReceived(self.probe(0), SERVER)
        self.reactor.advance(1.0)
        protocol.stop()
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.transmitted, report.received), (2, 1))
        self.assertEqual(report.probes[1].fate, ProbeFate.UNANSWERED)
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_deadline_keeps_probing_until_count_replies(self):
        """
        With a deadline, as iputils -w, probing goes on past the count until
        count replies arrived, or the deadline passes.
        """
        protocol = self.start(count=2, deadline_seconds=10.0, timeout_seconds=5.0)
        self.reactor.advance(1.0)
        self.reactor.advance(1.0)
        self.assertEqual(len(self.transport.written), 3)
        protocol.datagramReceived(self.probe(1), SERVER)
        protocol.datagramReceived(self.probe(2), SERVER)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.transmitted, report.received), (3, 2))

    def test_deadline_ends_run(self):
        """
        The deadline ends a run without replies.
        """
        protocol = self.start(count=None, deadline_seconds=3.0)
        self.reactor.pump([1.0, 1.0, 1.0])
        report = self.successResultOf(protocol.finished)
        self.assertEqual(report.transmitted, 3)
        self.assertEqual(report.received, 0)

    def test_send_error_counted(self):
        """
        A probe that cannot be sent counts as transmitted and as an error,
        as in iputils, and the run goes on.
        """
        protocol = self.start(count=2)
        protocol.datagramReceived(self.probe(0), SERVER)
        self.transport.fail_with = OSError("Network is unreachable")
        self.reactor.advance(1.0)
        self.assertEqual(self.events[-1], SendFailed(2, "Network is unreachable"))
        self.reactor.advance(1.0)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.transmitted, report.received, report.errors), (2, 1, 1))
        self.assertEqual(report.probes[1].fate, ProbeFate.LOST)
        self.assertIn("+1 errors", report.summary_lines("x")[1])

    def test_icmp_error_ends_the_probe(self):
        """
        An ICMP port unreachable quoting a probe to our peer is reported for
        that probe, counted as an error, and the run ends once no probe
        waits, without sitting out the timeouts; one about a datagram to
        another address is not ours.
        """
        protocol = self.start(count=2, interval_seconds=0.5, timeout_seconds=5.0)
        unreachable = ExtendedError(111, ORIGIN_ICMP, 3, 3, 0, "127.0.0.1")
        protocol.icmp_error_received(self.probe(0), ("127.0.0.2", 12000), unreachable)
        self.assertEqual([type(event) for event in self.events], [ProbeSent])
        protocol.icmp_error_received(self.probe(0), SERVER, unreachable)
        self.assertEqual(self.events[-1], ProbeError(1, "127.0.0.1", "Destination Port Unreachable"))
        self.reactor.advance(0.5)
        protocol.icmp_error_received(self.probe(1)[:20], SERVER, unreachable)
        report = self.successResultOf(protocol.finished)
        self.assertEqual((report.transmitted, report.received, report.errors), (2, 0, 2))
        self.assertEqual(self.reactor.seconds(), 0.5)

    def test_seq_format(self):
        """
        The seq payload format is used when asked for.
        """
        self.start(count=1, payload_format=PayloadFormat.SEQ, size=64)
        self.assertTrue(self.probe(0).startswith(b"sequence=1\ttime="))
        self.assertEqual(len(self.probe(0)), 64)
        self.assertEqual(self.events[0], ProbeSent(1, 64))


class PingFunctionTests(SynchronousTestCase):
    def test_ping_resolves_and_reports(self):
        """
        L{ping} resolves the name, binds an IPv4 socket and fires with the
        report.
        """
        reactor = FakeUDPReactor()
        result = ping(reactor, "localhost", 12000, count=1, monotonic=reactor.seconds)
        port, interface, protocol, transport = reactor.listened[0]
        self.assertEqual((port, interface), (0, "0.0.0.0"))
        packet, addr = transport.written[0]
        self.assertEqual(addr, ("127.0.0.1", 12000))
        reactor.advance(0.25)
        protocol.datagramReceived(packet.upper(), addr)
        report = self.successResultOf(result)
        self.assertEqual(report.received, 1)
        self.assertEqual(report.rtt.avg_us, 250_000)

    def test_ping_ipv6(self):
        """
        An IPv6 literal gets an IPv6 socket.
        """
        reactor = FakeUDPReactor()
        ping(reactor, "::1", 12000, count=1, monotonic=reactor.seconds)
        self.assertEqual(reactor.listened[0][1], "::")

    def test_bad_host_fails(self):
        """
        A name that does not resolve fails the Deferred.
        """
        reactor = FakeUDPReactor()
        self.failureResultOf(ping(reactor, "nosuch.invalid"), DNSLookupError)
        self.assertEqual(reactor.listened, [])

    def test_bad_ipv6_zone_fails_before_any_probe(self):
        """
        An IPv6 literal whose zone names no interface (or a zone on an
        address that is not link-local) fails like a bad name, before a
        socket is opened, instead of a send error per probe.
        """
        reactor = FakeUDPReactor()
        for host in ["fe80::1%no-such-interface", "::1%lo"]:
            failure = self.failureResultOf(ping(reactor, host), DNSLookupError)
            self.assertIn("bad zone", failure.getErrorMessage())
        self.assertEqual(reactor.listened, [])

    def test_link_local_with_a_real_zone(self):
        """
        A link-local address scoped to an existing interface (lo) is pinged.
        """
        reactor = FakeUDPReactor()
        ping(reactor, "fe80::1%lo", 12000, count=1, monotonic=reactor.seconds)
        self.assertEqual(reactor.listened[0][1], "::")

    def test_cancel_before_resolution(self):
        """
        Cancelled while the name is being resolved, nothing is started.
        """
        from twisted.internet.defer import Deferred

        reactor = FakeUDPReactor()
        pending = Deferred()
        reactor.resolve = lambda name, timeout=None: pending
        result = ping(reactor, "example.test")
        result.cancel()
        self.failureResultOf(result, CancelledError)
        pending.callback("192.0.2.1")
        self.assertEqual(reactor.listened, [])

    def test_cancel_stops_the_run(self):
        """
        Cancelling the Deferred stops probing and closes the socket.
        """
        reactor = FakeUDPReactor()
        result = ping(reactor, "127.0.0.1", count=5, monotonic=reactor.seconds)
        result.cancel()
        self.failureResultOf(result, CancelledError)
        self.assertFalse(reactor.listened[0][3].listening)
        self.assertEqual(reactor.getDelayedCalls(), [])
