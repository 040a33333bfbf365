"""
Tests for L{twisted_netlab.ping.echo.LossyEchoProtocol} on a fake
datagram transport and a L{task.Clock}.
"""

from __future__ import annotations

import random

from twisted.internet.task import Clock
from twisted.logger import LogLevel, Logger
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPPort
from twisted_netlab.ping._echo_core import (
    AbuseLimits,
    Delivery,
    Direction,
    DropReason,
    ImpairmentConfig,
    Refusal,
    Verdict,
)
from twisted_netlab.ping._fates import CopyDropped, EchoSent
from twisted_netlab.ping.echo import LossyEchoProtocol

CLIENT = ("127.0.0.1", 40000)


class EchoTests(SynchronousTestCase):
    def make(self, **kwargs):
        self.clock = Clock()
        self.events = []
        kwargs.setdefault("rng", random.Random(1))
        protocol = LossyEchoProtocol(self.clock, **kwargs)
        protocol.log = Logger(observer=self.events.append, namespace="test")
        self.transport = FakeUDPPort(protocol)
        protocol.makeConnection(self.transport)
        self.addCleanup(self.transport.stopListening)
        return protocol

    def test_echo_unchanged(self):
        """
        By default each datagram goes back to its sender byte for byte
        (RFC 862).
        """
        protocol = self.make()
        protocol.datagramReceived(b"Ping 1 2.0\x00\xff", CLIENT)
        self.assertEqual(self.transport.written, [(b"Ping 1 2.0\x00\xff", CLIENT)])
        self.assertEqual((protocol.counters.received, protocol.counters.echoed), (1, 1))

    def test_upper(self):
        """
        With C{upper}, the echo is upper-cased as by the lab's server.
        """
        protocol = self.make(upper=True)
        protocol.datagramReceived(b"Ping 1 2.0", CLIENT)
        self.assertEqual(self.transport.payloads(), [b"PING 1 2.0"])

    def test_total_loss_counts_drops(self):
        """
        With loss 1 nothing is echoed and every datagram is counted dropped.
        """
        protocol = self.make(impairments=ImpairmentConfig(loss=1.0))
        for _ in range(5):
            protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(self.transport.written, [])
        self.assertEqual(protocol.counters.dropped, 5)
        self.assertEqual(protocol.counters.drops[DropReason.RANDOM_LOSS], 5)

    def test_delay_waits_on_the_clock(self):
        """
        A delayed echo leaves only once the clock reaches its time.
        """
        protocol = self.make(impairments=ImpairmentConfig(delay_seconds=0.05))
        protocol.datagramReceived(b"a", CLIENT)
        self.clock.advance(0.049)
        self.assertEqual(self.transport.written, [])
        self.clock.advance(0.002)
        self.assertEqual(self.transport.written, [(b"a", CLIENT)])

    def test_duplicate(self):
        """
        With duplicate 1 every datagram is echoed twice and counted.
        """
        protocol = self.make(impairments=ImpairmentConfig(duplicate=1.0))
        protocol.datagramReceived(b"a", CLIENT)
        self.assertEqual(self.transport.payloads(), [b"a", b"a"])
        self.assertEqual(protocol.counters.duplicated, 1)

    def test_stop_cancels_pending_echoes(self):
        """
        Stopping the protocol cancels delayed echoes: nothing is written to
        a closed port and no call is left on the clock.
        """
        protocol = self.make(impairments=ImpairmentConfig(delay_seconds=1.0), summary_interval=0)
        protocol.datagramReceived(b"a", CLIENT)
        self.transport.stopListening()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_abuse_limits(self):
        """
        Oversize datagrams, reflector and privileged source ports, and a
        source over its packet rate are refused and counted, not echoed.
        """
        protocol = self.make(limits=AbuseLimits(max_datagram=10, source_rate=2, source_burst=2))
        protocol.datagramReceived(b"x" * 11, CLIENT)
        protocol.datagramReceived(b"x", ("127.0.0.1", 7))
        protocol.datagramReceived(b"x", ("127.0.0.1", 19))
        protocol.datagramReceived(b"x", ("127.0.0.1", 1023))
        for index in range(3):
            protocol.datagramReceived(b"y%d" % index, CLIENT)
        self.assertEqual(self.transport.payloads(), [b"y0", b"y1"])
        refused = protocol.counters.refused
        self.assertEqual(
            (refused[Refusal.OVERSIZE], refused[Refusal.PRIVILEGED_PORT], refused[Refusal.RATE_LIMITED]), (1, 3, 1)
        )

    def test_no_per_datagram_logs_by_default(self):
        """
        Without C{log_datagrams} nothing is logged per datagram.
        """
        protocol = self.make(impairments=ImpairmentConfig(loss=0.5))
        for _ in range(20):
            protocol.datagramReceived(b"x", CLIENT)
        self.assertEqual(self.events, [])

    def test_debug_logs_per_datagram(self):
        """
        With C{log_datagrams}, every datagram gets one debug line saying its
        fate, with the sequence its payload names.
        """
        protocol = self.make(log_datagrams=True, limits=AbuseLimits(max_datagram=10))
        protocol.datagramReceived(b"Ping 7 1.5", CLIENT)
        protocol.datagramReceived(b"x" * 11, CLIENT)
        self.assertEqual([event["log_level"] for event in self.events], [LogLevel.debug, LogLevel.debug])
        self.assertEqual(
            [event["line"] for event in self.events],
            [
                "datagram 1 from 127.0.0.1 port 40000, 10 bytes, sequence 7: echoed after 0.000 ms",
                "datagram 2 from 127.0.0.1 port 40000, 11 bytes: refused (oversize)",
            ],
        )
        self.assertEqual(self.events[1]["fate"].refused, Refusal.OVERSIZE)

    def test_periodic_summary(self):
        """
        Every C{summary_interval} seconds an info line gives the totals,
        but only when they changed.
        """
        protocol = self.make(summary_interval=10, impairments=ImpairmentConfig(loss=1.0))
        protocol.datagramReceived(b"x", CLIENT)
        self.clock.advance(10)
        self.clock.advance(10)
        summaries = [event for event in self.events if event["log_level"] is LogLevel.info]
        self.assertEqual(len(summaries), 1)
        self.assertEqual((summaries[0]["received"], summaries[0]["dropped"]), (1, 1))
        self.assertEqual(summaries[0]["stages"], "")

    def test_write_error_loses_one_echo(self):
        """
        An OS error on sending loses that echo only.
        """
        protocol = self.make()
        self.transport.fail_with = OSError("No buffer space available")
        protocol.datagramReceived(b"x", CLIENT)
        self.transport.fail_with = None
        protocol.datagramReceived(b"y", CLIENT)
        self.assertEqual(self.transport.payloads(), [b"y"])
        self.assertEqual(protocol.counters.dropped, 1)


class PerDirectionTests(SynchronousTestCase):
    """
    Inbound impairments act on requests as they arrive, before the echo is
    decided; outbound ones on echoes as they leave.
    """

    def make(self, **kwargs):
        self.clock = Clock()
        kwargs.setdefault("rng", random.Random(1))
        protocol = LossyEchoProtocol(self.clock, **kwargs)
        protocol.log = Logger(observer=lambda event: None, namespace="test")
        self.transport = FakeUDPPort(protocol)
        protocol.makeConnection(self.transport)
        self.addCleanup(self.transport.stopListening)
        return protocol

    def test_inbound_then_outbound_delay(self):
        """
        A request delayed 20 ms inbound and its echo delayed 30 ms outbound
        leaves 50 ms after it arrived, not before.
        """
        protocol = self.make(
            inbound=ImpairmentConfig(delay_seconds=0.02), outbound=ImpairmentConfig(delay_seconds=0.03)
        )
        protocol.datagramReceived(b"ping", CLIENT)
        self.clock.advance(0.049)
        self.assertEqual(self.transport.written, [])
        self.clock.advance(0.002)
        self.assertEqual(self.transport.written, [(b"ping", CLIENT)])

    def test_inbound_loss_is_never_echoed(self):
        """
        A request lost inbound never reaches the echo: nothing is written
        and the drop is counted.
        """
        protocol = self.make(inbound=ImpairmentConfig(loss=1.0))
        for _ in range(3):
            protocol.datagramReceived(b"ping", CLIENT)
        self.assertEqual(self.transport.written, [])
        self.assertEqual(protocol.counters.drops[DropReason.RANDOM_LOSS], 3)

    def test_outbound_loss_after_the_echo_is_decided(self):
        """
        With outbound loss 1 every request is received and every echo lost.
        """
        protocol = self.make(outbound=ImpairmentConfig(loss=1.0))
        protocol.datagramReceived(b"ping", CLIENT)
        self.assertEqual(self.transport.written, [])
        self.assertEqual((protocol.counters.received, protocol.counters.dropped), (1, 1))

    def test_duplicates_in_both_directions(self):
        """
        A request duplicated inbound is echoed twice, each echo duplicated
        again outbound: four echoes.
        """
        protocol = self.make(
            inbound=ImpairmentConfig(duplicate=1.0), outbound=ImpairmentConfig(duplicate=1.0), upper=True
        )
        protocol.datagramReceived(b"ping", CLIENT)
        self.assertEqual(self.transport.payloads(), [b"PING"] * 4)
        self.assertEqual(protocol.counters.duplicated, 3)

    def test_inbound_corruption_is_what_is_echoed(self):
        """
        A request corrupted inbound is echoed corrupted (one bit differs),
        and upper-casing happens on what arrived.
        """
        protocol = self.make(inbound=ImpairmentConfig(corrupt=1.0))
        protocol.datagramReceived(b"ping", CLIENT)
        [echo] = self.transport.payloads()
        difference = [a ^ b for a, b in zip(echo, b"ping") if a != b]
        self.assertEqual(len(difference), 1)
        self.assertEqual(bin(difference[0]).count("1"), 1)
        self.assertEqual(protocol.counters.corrupted, 1)

    def test_seed_reproduces_both_directions(self):
        """
        The same seed gives the same echoes, in the same order, at the same
        times, with loss and jitter in both directions.
        """

        def run(seed):
            protocol = self.make(
                rng=random.Random(seed),
                inbound=ImpairmentConfig(loss=0.3, delay_seconds=0.01, jitter_seconds=0.005),
                outbound=ImpairmentConfig(loss=0.3, delay_seconds=0.01, jitter_seconds=0.005),
            )
            seen = []
            for index in range(50):
                protocol.datagramReceived(b"%d" % index, CLIENT)
                self.clock.advance(0.001)
                seen.extend((self.clock.seconds(), packet) for packet, _ in self.transport.written)
                del self.transport.written[:]
            self.clock.advance(1)
            seen.extend((self.clock.seconds(), packet) for packet, _ in self.transport.written)
            return seen

        first = run(5)
        self.assertEqual(first, run(5))
        self.assertNotEqual(first, run(6))
        self.assertTrue(10 < len(first) < 40)

    def test_stop_cancels_inbound_delays(self):
        """
        Requests still in the inbound delay are cancelled when the protocol
        stops; no echo is written after.
        """
        protocol = self.make(inbound=ImpairmentConfig(delay_seconds=0.5))
        protocol.datagramReceived(b"ping", CLIENT)
        protocol.stopProtocol()
        self.clock.advance(1)
        self.assertEqual(self.transport.written, [])

    def test_summary_names_the_dropping_stage(self):
        """
        With per-direction stages, the info summary says how many drops each
        stage made; the dropped total still counts them all.
        """
        events = []
        protocol = self.make(
            summary_interval=10, inbound=ImpairmentConfig(loss=0.5), outbound=ImpairmentConfig(loss=0.5),
            impairments=ImpairmentConfig(loss=0.5),
        )
        protocol.log = Logger(observer=events.append, namespace="test")
        for index in range(200):
            protocol.datagramReceived(b"x%d" % index, CLIENT)
        self.clock.advance(10)
        [summary] = [event for event in events if event["log_level"] is LogLevel.info]
        stage_drops = protocol.counters.stage_drops
        self.assertEqual(summary["dropped"], sum(stage_drops.values()))
        self.assertTrue(all(count > 0 for count in stage_drops.values()), stage_drops)
        self.assertEqual(protocol.counters.received, 200)
        self.assertEqual(
            summary["stages"],
            f" (in {stage_drops[Direction.INBOUND]}, round-trip {stage_drops[Direction.ROUND_TRIP]}, "
            f"out {stage_drops[Direction.OUTBOUND]})",
        )
        self.assertEqual(protocol.counters.echoed + summary["dropped"], 200)


class ObserverTests(SynchronousTestCase):
    """
    The echo as an instrument: one L{DatagramFate} per datagram, the
    ground truth of what happened to it.
    """

    def make(self, **kwargs):
        self.clock = Clock()
        self.clock.advance(100.0)
        self.fates = []
        kwargs.setdefault("rng", random.Random(1))
        kwargs.setdefault("summary_interval", 0)
        protocol = LossyEchoProtocol(self.clock, observer=self.fates.append, **kwargs)
        protocol.log = Logger(observer=lambda event: None, namespace="test")
        self.transport = FakeUDPPort(protocol)
        protocol.makeConnection(self.transport)
        self.addCleanup(self.transport.stopListening)
        return protocol

    def test_echoed_at_once(self):
        """
        A plain echo: received now, echoed now, nothing else.
        """
        protocol = self.make()
        protocol.datagramReceived(b"sequence=3\ttime=1.0", CLIENT)
        [fate] = self.fates
        self.assertEqual((fate.number, fate.received_at, fate.sequence, fate.size), (1, 100.0, 3, 19))
        self.assertEqual(fate.echoes, (EchoSent(100.0, 0.0, 19, False),))
        self.assertEqual((fate.refused, fate.drops, fate.duplicated, fate.corrupted), (None, (), 0, 0))

    def test_delay_reported_when_the_echo_leaves(self):
        """
        A delayed echo's fate comes when it leaves, with the delay added.
        """
        protocol = self.make(inbound=ImpairmentConfig(delay_seconds=0.02), outbound=ImpairmentConfig(delay_seconds=0.03))
        protocol.datagramReceived(b"Ping 1 2.0", CLIENT)
        self.assertEqual(self.fates, [])
        self.clock.advance(0.05)
        [fate] = self.fates
        [echo] = fate.echoes
        self.assertAlmostEqual(echo.delay_seconds, 0.05)
        self.assertEqual(fate.sequence, 1)

    def test_dropped_by_which_stage(self):
        """
        A copy dropped says by which stage and why; it was not echoed.
        """
        protocol = self.make(outbound=ImpairmentConfig(loss=1.0))
        protocol.datagramReceived(b"Ping 2 2.0", CLIENT)
        [fate] = self.fates
        self.assertFalse(fate.echoed)
        self.assertEqual(fate.drops, (CopyDropped(100.0, Direction.OUTBOUND, "loss"),))

    def test_duplicated_and_corrupted(self):
        """
        Duplication gives two echoes in one fate; a corrupted copy is
        flagged against the expected (upper-cased) echo.
        """
        protocol = self.make(impairments=ImpairmentConfig(duplicate=1.0), upper=True)
        protocol.datagramReceived(b"Ping 3 2.0", CLIENT)
        [fate] = self.fates
        self.assertEqual((len(fate.echoes), fate.duplicated, fate.corrupted), (2, 1, 0))
        protocol = self.make(impairments=ImpairmentConfig(corrupt=1.0))
        protocol.datagramReceived(b"Ping 4 2.0", CLIENT)
        [fate] = self.fates
        self.assertEqual(fate.corrupted, 1)
        self.assertNotEqual(self.transport.payloads(), [b"Ping 4 2.0"])

    def test_refused(self):
        """
        A refused datagram's fate names the rule; rate refusals included.
        """
        protocol = self.make(limits=AbuseLimits(source_rate=1, source_burst=1))
        protocol.datagramReceived(b"Ping 5 2.0", CLIENT)
        protocol.datagramReceived(b"Ping 6 2.0", CLIENT)
        self.assertEqual([fate.refused for fate in self.fates], [None, Refusal.RATE_LIMITED])

    def test_stopping_gives_held_datagrams_a_fate(self):
        """
        Copies still held when the server stops are reported as never sent,
        so every datagram received has exactly one fate.
        """
        protocol = self.make(impairments=ImpairmentConfig(delay_seconds=1.0))
        protocol.datagramReceived(b"Ping 8 2.0", CLIENT)
        self.transport.stopListening()
        [fate] = self.fates
        self.assertEqual(fate.drops, (CopyDropped(100.0, None, "server stopped"),))

    def test_seeded_fates_reproduce(self):
        """
        With the same seed the same datagrams meet the same fates.
        """
        runs = []
        for _ in range(2):
            protocol = self.make(impairments=ImpairmentConfig(loss=0.3), rng=random.Random(12000))
            for sequence in range(20):
                protocol.datagramReceived(b"Ping %d 2.0" % sequence, CLIENT)
            runs.append([fate.echoed for fate in self.fates])
        self.assertEqual(runs[0], runs[1])
        self.assertIn(False, runs[0])
        self.assertIn(True, runs[0])

    def test_scripted_path(self):
        """
        An instrument can script each datagram's fate with its own path:
        here the second is dropped and the third held 1.5 s, and the fates
        say exactly that.
        """

        class Script:
            is_transparent = False

            def __init__(self):
                self.seen = 0

            def process(self, direction, payload, now):
                if direction is not Direction.ROUND_TRIP:
                    return Verdict((Delivery(payload, now),))
                self.seen += 1
                if self.seen == 2:
                    return Verdict((), dropped=DropReason.RANDOM_LOSS)
                return Verdict((Delivery(payload, now + (1.5 if self.seen == 3 else 0.0)),))

        protocol = self.make(path=Script())
        for sequence in (1, 2, 3):
            protocol.datagramReceived(b"Ping %d 2.0" % sequence, CLIENT)
        self.clock.advance(1.5)
        self.assertEqual(
            [(fate.sequence, fate.echoed, [echo.delay_seconds for echo in fate.echoes]) for fate in self.fates],
            [(1, True, [0.0]), (2, False, []), (3, True, [1.5])],
        )
