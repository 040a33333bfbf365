"""
Tests for L{twisted_netlab.ping._core}: payloads, the impairment model
(statistically, over 100,000 seeded packets), abuse limits, iputils'
statistics and reply matching.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._core import (
    AbuseGuard,
    AbuseLimits,
    CorruptedReply,
    DelayDistribution,
    Delivery,
    Direction,
    DropReason,
    DuplicateReply,
    EchoPath,
    ForeignReply,
    GilbertElliott,
    ImpairmentConfig,
    Impairments,
    LateReply,
    PayloadFormat,
    PingSession,
    ProbeFate,
    ProbeIdentity,
    ProbeTimedOut,
    Refusal,
    ReplyReceived,
    RttSummary,
    decode_probe,
    encode_probe,
    format_histogram,
    histogram,
    interarrival_jitter,
    iputils_sqrt,
    loss_percent_text,
    percentile,
    rtt_summary,
)

PACKETS = 100_000
SIGMAS = 5.0


def assert_within(testcase, measured: float, expected: float, bound: float, message: object = None) -> None:
    """
    Fail unless C{measured} is within C{bound} of C{expected} (trial's
    assertAlmostEqual has no C{delta}).
    """
    if abs(measured - expected) > bound:
        testcase.fail(f"{measured!r} is not within {bound!r} of {expected!r} {message or ''}")


def binomial_bound(probability: float, trials: int, sigmas: float = SIGMAS) -> float:
    """
    C{sigmas} standard deviations of a binomial proportion.
    """
    return sigmas * math.sqrt(probability * (1 - probability) / trials)


class PayloadTests(SynchronousTestCase):
    def test_lab_format(self):
        """
        The lab format is C{Ping <seq> <time>} with microsecond time.
        """
        self.assertEqual(encode_probe(PayloadFormat.LAB, 3, 1700000000.25), b"Ping 3 1700000000.250000")

    def test_seq_format(self):
        """
        The seq format is C{sequence=<n>\\ttime=<t>}.
        """
        self.assertEqual(encode_probe(PayloadFormat.SEQ, 7, 1.5), b"sequence=7\ttime=1.500000")

    def test_padding_to_size(self):
        """
        With a size, the probe is padded to exactly that many bytes and
        still decodes; a size below the bare message leaves it whole.
        """
        for payload_format in PayloadFormat:
            padded = encode_probe(payload_format, 12, 5.0, size=200)
            self.assertEqual(len(padded), 200)
            self.assertEqual(decode_probe(padded), ProbeIdentity(payload_format, 12))
            self.assertEqual(encode_probe(payload_format, 12, 5.0, size=3), encode_probe(payload_format, 12, 5.0))

    def test_decode_table(self):
        """
        Both formats decode in any letter case; anything else is L{None}.
        """
        table = [
            (b"Ping 1 17.5", ProbeIdentity(PayloadFormat.LAB, 1)),
            (b"PING 42 17.500000", ProbeIdentity(PayloadFormat.LAB, 42)),
            (b"ping 9 1.0 padding", ProbeIdentity(PayloadFormat.LAB, 9)),
            (b"sequence=5\ttime=2.0", ProbeIdentity(PayloadFormat.SEQ, 5)),
            (b"SEQUENCE=5\tTIME=2.0", ProbeIdentity(PayloadFormat.SEQ, 5)),
            (b"Pong 1 17.5", None),
            (b"Ping one 17.5", None),
            (b"Ping 1 17.5x", None),
            (b"sequence=5 time=2.0", None),
            (b"", None),
            (b"\xff\xfe", None),
        ]
        for data, expected in table:
            self.assertEqual(decode_probe(data), expected, data)


def measure(config: ImpairmentConfig, seed: int = 1, interval: float = 0.001, count: int = PACKETS):
    """
    Push C{count} numbered packets through a seeded model, one every
    C{interval} seconds; return the verdicts and the delivery order.
    """
    model = Impairments(config, random.Random(seed))
    verdicts = []
    arrivals = []
    for index in range(count):
        now = index * interval
        verdict = model.process(b"%08d" % index, now)
        verdicts.append(verdict)
        for delivery in verdict.deliveries:
            arrivals.append((delivery.at, index))
    arrivals.sort(key=lambda pair: pair[0])  # stable: ties keep submission order
    return verdicts, [index for _, index in arrivals]


class ImpairmentStatisticsTests(SynchronousTestCase):
    """
    Over 100,000 seeded packets the measured rates match the configured
    ones within 5 standard deviations (bounds computed here, not guessed).
    """

    def test_random_loss(self):
        """
        Random loss drops the configured fraction.
        """
        verdicts, _ = measure(ImpairmentConfig(loss=0.3))
        lost = sum(1 for verdict in verdicts if verdict.dropped is DropReason.RANDOM_LOSS)
        assert_within(self, lost / PACKETS, 0.3, binomial_bound(0.3, PACKETS))

    def test_gilbert_elliott_loss_and_burst_length(self):
        """
        Gilbert-Elliott (p=5%, r=25%) loses p/(p+r) = 1/6 of the packets in
        bursts of mean length 1/r = 4.  The loss bound accounts for the
        chain's correlation: the variance of a two-state Markov chain's mean
        is inflated by (1+L)/(1-L) with L = 1-p-r.
        """
        p, r = 0.05, 0.25
        verdicts, _ = measure(ImpairmentConfig(burst=GilbertElliott(p, r)))
        lost = [verdict.dropped is DropReason.BURST_LOSS for verdict in verdicts]
        expected_loss = p / (p + r)
        correlation = 1 - p - r
        loss_sigma = math.sqrt(expected_loss * (1 - expected_loss) / PACKETS * (1 + correlation) / (1 - correlation))
        assert_within(self, sum(lost) / PACKETS, expected_loss, SIGMAS * loss_sigma)

        bursts = []
        run = 0
        for flag in lost:
            if flag:
                run += 1
            elif run:
                bursts.append(run)
                run = 0
        # Burst lengths are geometric with mean 1/r and sd sqrt(1-r)/r.
        mean_sigma = math.sqrt(1 - r) / r / math.sqrt(len(bursts))
        assert_within(self, sum(bursts) / len(bursts), 1 / r, SIGMAS * mean_sigma)

    def test_gilbert_elliott_defaults_as_netem(self):
        """
        Like netem, r defaults to 1-p, the bad state loses everything and
        the good state nothing.
        """
        model = GilbertElliott(0.1)
        self.assertEqual((model.r, model.bad_loss, model.good_loss), (0.9, 1.0, 0.0))
        self.assertAlmostEqual(model.expected_loss, 0.1)

    def test_duplication(self):
        """
        Duplication sends a second, identical copy of the configured
        fraction of packets.
        """
        verdicts, _ = measure(ImpairmentConfig(duplicate=0.1))
        doubled = [verdict for verdict in verdicts if len(verdict.deliveries) == 2]
        assert_within(self, len(doubled) / PACKETS, 0.1, binomial_bound(0.1, PACKETS))
        for verdict in doubled[:100]:
            self.assertTrue(verdict.duplicated)
            self.assertEqual(verdict.deliveries[0], verdict.deliveries[1])

    def test_reordering_measured_from_arrival_order(self):
        """
        With a 10 ms delay and a packet every 1 ms, a packet that skips the
        delay arrives before its predecessor unless the predecessor skipped
        it too: measured from the arrival order, p(1-p) of the packets
        overtake the one sent just before them.
        """
        probability = 0.1
        verdicts, order = measure(ImpairmentConfig(delay_seconds=0.010, reorder=probability))
        overtaking = 0
        position = {index: rank for rank, index in enumerate(order)}
        for index in range(1, PACKETS):
            if position[index] < position[index - 1]:
                overtaking += 1
        expected = probability * (1 - probability)
        assert_within(self, overtaking / PACKETS, expected, binomial_bound(expected, PACKETS))
        assert_within(
            self, sum(verdict.reordered for verdict in verdicts) / PACKETS, probability,
            binomial_bound(probability, PACKETS),
        )

    def test_corruption_flips_one_bit(self):
        """
        A corrupted copy differs from the original in exactly one bit, for
        the configured fraction of packets.
        """
        model = Impairments(ImpairmentConfig(corrupt=0.2), random.Random(4))
        corrupted = 0
        for index in range(PACKETS):
            payload = b"%08d" % index
            delivery = model.process(payload, index * 0.001).deliveries[0]
            if delivery.payload != payload:
                corrupted += 1
                flipped = sum(bin(a ^ b).count("1") for a, b in zip(payload, delivery.payload))
                self.assertEqual(flipped, 1)
        assert_within(self, corrupted / PACKETS, 0.2, binomial_bound(0.2, PACKETS))

    def test_delay_distributions_mean_and_clamp(self):
        """
        Uniform and normal jitter centre on the delay; pareto's is
        normalised to mean 0 and the jitter as standard deviation; no
        distribution ever yields a negative delay.
        """
        delay, jitter = 0.050, 0.010
        for distribution in DelayDistribution:
            model = Impairments(
                ImpairmentConfig(delay_seconds=delay, jitter_seconds=jitter, distribution=distribution),
                random.Random(7),
            )
            delays = [model.process(b"x", 1000.0 * index).deliveries[0].at - 1000.0 * index for index in range(PACKETS)]
            mean = sum(delays) / PACKETS
            assert_within(self, mean, delay, SIGMAS * jitter / math.sqrt(PACKETS), distribution)
            self.assertGreaterEqual(min(delays), 0.0)
            if distribution is DelayDistribution.UNIFORM:
                self.assertLessEqual(max(delays), delay + jitter + 1e-9)
        wide = Impairments(
            ImpairmentConfig(delay_seconds=0.001, jitter_seconds=0.050, distribution=DelayDistribution.NORMAL),
            random.Random(1),
        )
        clamped = [wide.process(b"x", 10.0 * index).deliveries[0].at - 10.0 * index for index in range(1000)]
        self.assertEqual(min(clamped), 0.0)

    def test_rate_limit_spaces_packets_and_caps_queue(self):
        """
        At 1000 bytes/s, 100-byte packets leave 0.1 s apart; beyond the
        queue limit they are dropped as C{QUEUE_FULL}.
        """
        model = Impairments(ImpairmentConfig(rate_bytes_per_second=1000, limit=3), random.Random(1))
        verdicts = [model.process(b"x" * 100, 0.0) for _ in range(5)]
        self.assertEqual([v.deliveries[0].at for v in verdicts[:3]], [0.1, 0.2, 0.30000000000000004])
        self.assertEqual([v.dropped for v in verdicts[3:]], [DropReason.QUEUE_FULL] * 2)
        later = model.process(b"x" * 100, 0.15)  # one has left by now
        self.assertEqual(later.deliveries[0].at, 0.4)

    def test_seeded_and_independent(self):
        """
        The same seed reproduces a run, and turning on another impairment
        does not change which packets are lost.
        """
        first, _ = measure(ImpairmentConfig(loss=0.3), seed=9, count=2000)
        again, _ = measure(ImpairmentConfig(loss=0.3), seed=9, count=2000)
        with_duplicates, _ = measure(ImpairmentConfig(loss=0.3, duplicate=0.5, corrupt=0.5), seed=9, count=2000)
        self.assertEqual(first, again)
        self.assertEqual([v.dropped for v in first], [v.dropped for v in with_duplicates])

    def test_transparent_config(self):
        """
        The default configuration delivers everything at once, unchanged.
        """
        self.assertTrue(ImpairmentConfig().is_transparent)
        verdict = Impairments(ImpairmentConfig(), random.Random()).process(b"abc", 5.0)
        self.assertEqual(verdict.deliveries, (verdict.deliveries[0],))
        self.assertEqual((verdict.deliveries[0].payload, verdict.deliveries[0].at), (b"abc", 5.0))

    def test_invalid_configurations(self):
        """
        Probabilities outside [0, 1], negative delays, both loss models,
        a zero rate or limit are refused at construction.
        """
        for kwargs in [
            {"loss": 1.5},
            {"duplicate": -0.1},
            {"delay_seconds": -1.0},
            {"jitter_seconds": math.inf},
            {"loss": 0.1, "burst": GilbertElliott(0.1)},
            {"rate_bytes_per_second": 0},
            {"limit": 0},
        ]:
            self.assertRaises(ValueError, ImpairmentConfig, **kwargs)
        self.assertRaises(ValueError, GilbertElliott, 1.2)


class AbuseGuardTests(SynchronousTestCase):
    def test_oversize(self):
        """
        Datagrams above the maximum are refused.
        """
        guard = AbuseGuard(AbuseLimits(max_datagram=100))
        self.assertIsNone(guard.check(100, "127.0.0.1", 40000, 0.0))
        self.assertEqual(guard.check(101, "127.0.0.1", 40000, 0.0), Refusal.OVERSIZE)

    def test_reflector_and_low_ports(self):
        """
        Ports 0, 7, 19 are always refused; other ports below 1024 only
        unless allowed.
        """
        strict = AbuseGuard(AbuseLimits())
        relaxed = AbuseGuard(AbuseLimits(allow_low_ports=True))
        for port in (0, 7, 19):
            self.assertEqual(strict.check(10, "h", port, 0.0), Refusal.PRIVILEGED_PORT)
            self.assertEqual(relaxed.check(10, "h", port, 0.0), Refusal.PRIVILEGED_PORT)
        self.assertEqual(strict.check(10, "h", 53, 0.0), Refusal.PRIVILEGED_PORT)
        self.assertIsNone(relaxed.check(10, "h", 53, 0.0))
        self.assertIsNone(strict.check(10, "h", 1024, 0.0))

    def test_per_source_rate(self):
        """
        A source gets its burst, then its rate; another source is unaffected.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=10, source_burst=5))
        results = [guard.check(10, "a", 5000, 0.0) for _ in range(7)]
        self.assertEqual(results, [None] * 5 + [Refusal.RATE_LIMITED] * 2)
        self.assertIsNone(guard.check(10, "b", 5000, 0.0))
        self.assertIsNone(guard.check(10, "a", 5000, 0.1))  # one token back
        self.assertEqual(guard.check(10, "a", 5000, 0.1), Refusal.RATE_LIMITED)

    def test_source_table_is_bounded(self):
        """
        The rate table forgets the least recently seen source first.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=1, source_burst=1, max_sources=2))
        guard.check(1, "a", 5000, 0.0)
        guard.check(1, "b", 5000, 0.0)
        guard.check(1, "c", 5000, 0.0)
        self.assertEqual(list(guard._buckets), ["b", "c"])
        self.assertIsNone(guard.check(1, "a", 5000, 0.0))  # forgotten: a fresh bucket


class StatisticsTests(SynchronousTestCase):
    def test_iputils_sqrt(self):
        """
        iputils' integer Newton square root, including its habit of
        answering one too many for some inputs (3 -> 2, 8 -> 3).
        """
        table = [(0, 0), (1, 1), (3, 2), (4, 2), (8, 3), (9, 3), (1250000, 1118)]
        for value, expected in table:
            self.assertEqual(iputils_sqrt(value), expected, value)

    def test_mdev_hand_computed(self):
        """
        For 1, 2, 3, 4 ms: avg 2.5 ms, variance (30e6 - 1e8/4)/4 = 1.25e6 us^2,
        mdev = llsqrt(1250000) = 1118 us.
        """
        summary = rtt_summary([1000, 2000, 3000, 4000])
        self.assertEqual(summary, RttSummary(1000, 2500, 4000, 1118))
        self.assertEqual(summary.iputils_line(), "rtt min/avg/max/mdev = 1.000/2.500/4.000/1.118 ms")

    def test_mdev_integer_truncation(self):
        """
        Averages truncate as in C: 1, 2, 2 us average 1 us (5/3), with the
        variance (9 - 25/3)/3 = (9 - 8)/3 = 0.
        """
        self.assertEqual(rtt_summary([1, 2, 2]), RttSummary(1, 1, 2, 0))
        self.assertIsNone(rtt_summary([]))

    def test_mdev_large_sums_use_the_other_order(self):
        """
        Above INT_MAX microseconds in total, iputils computes sum2/n - avg^2.
        """
        rtts = [2_000_000_000, 1_000_000_000]
        tsum, total = sum(rtts), 2
        average = tsum // total
        variance = sum(v * v for v in rtts) // total - average * average
        self.assertEqual(rtt_summary(rtts).mdev_us, iputils_sqrt(variance))
        self.assertEqual(rtt_summary(rtts).mdev_us, 500_000_000)

    def test_rfc3550_jitter(self):
        """
        Transits 10, 12, 9 ms: J = 2/16 = 0.125 ms, then
        J += (3 - 0.125)/16, i.e. 0.3046875 ms.
        """
        jitter = interarrival_jitter([(0.0, 0.010), (1.0, 1.012), (2.0, 2.009)])
        self.assertAlmostEqual(jitter, 0.0003046875, places=12)
        self.assertEqual(interarrival_jitter([(0.0, 1.0)]), 0.0)

    def test_percentiles_nearest_rank(self):
        """
        Nearest rank over 1..10: p50 = 5, p90 = 9, p99 = 10.
        """
        values = list(range(10, 0, -1))
        self.assertEqual([percentile(values, f) for f in (0.5, 0.9, 0.99)], [5, 9, 10])
        self.assertIsNone(percentile([], 0.5))

    def test_loss_text_as_iputils(self):
        """
        iputils prints the loss with C{%g} of a float.
        """
        self.assertEqual(loss_percent_text(3, 2), "33.3333%")
        self.assertEqual(loss_percent_text(10, 7), "30%")
        self.assertEqual(loss_percent_text(10, 10), "0%")
        self.assertEqual(loss_percent_text(7, 0), "100%")

    def test_histogram(self):
        """
        Buckets run on a 1-2-5 scale from the first to the last used one,
        empty ones in between shown, a run of them as one line.
        """
        self.assertEqual(histogram([0.3, 0.4, 1.5]), [(0.2, 0.5, 2), (0.5, 1.0, 0), (1.0, 2.0, 1)])
        self.assertEqual(histogram([0.3, 45.0]), [(0.2, 0.5, 1), (0.5, 20.0, 0), (20.0, 50.0, 1)])
        lines = format_histogram([0.3, 0.4, 1.5], width=4)
        self.assertEqual(lines[0].split(), ["0.2", "-", "0.5", "ms", "####", "2"])
        self.assertEqual(lines[1].split(), ["0.5", "-", "1", "ms", "0"])
        self.assertEqual(lines[2].split(), ["1", "-", "2", "ms", "##", "1"])


class PingSessionTests(SynchronousTestCase):
    def setUp(self):
        self.session = PingSession(PayloadFormat.LAB, timeout_seconds=1.0)

    def send(self, now):
        return self.session.next_probe(now, wall_time=1000.0 + now)

    def test_reply_and_rtt(self):
        """
        A reply is matched by sequence and timed from its own probe; a reply
        after 1.5 s (within a 2 s timeout) is 1500 ms, not 500.
        """
        session = PingSession(timeout_seconds=2.0)
        _, first = session.next_probe(0.0, 0.0)
        _, second = session.next_probe(1.0, 1.0)
        self.assertEqual(session.reply_received(first, 1.5), ReplyReceived(1, len(first), 1.5, False))
        report = session.report("h", 1)
        self.assertEqual(report.rtt.min_us, 1_500_000)
        self.assertEqual(report.rtt.iputils_line(), "rtt min/avg/max/mdev = 1500.000/1500.000/1500.000/0.000 ms")

    def test_upper_cased_echo_accepted(self):
        """
        The lab's reference server upper-cases; that is a valid reply.
        """
        _, payload = self.send(0.0)
        event = self.session.reply_received(payload.upper(), 0.01)
        self.assertIsInstance(event, ReplyReceived)

    def test_duplicate(self):
        """
        A second reply to the same probe is a duplicate (iputils' DUP!),
        counted apart and included in the RTT statistics as iputils does.
        """
        _, payload = self.send(0.0)
        self.session.reply_received(payload, 0.010)
        self.assertEqual(self.session.reply_received(payload, 0.030), DuplicateReply(1, len(payload), 0.030))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.duplicates), (1, 1))
        self.assertEqual(report.rtt, RttSummary(10_000, 20_000, 30_000, 10_000))
        self.assertIn("1 packets transmitted, 1 received, +1 duplicates, 0% packet loss", report.summary_lines("h")[1])

    def test_late_reply_reported_for_its_own_probe(self):
        """
        A reply after the timeout is late for its own sequence: not received,
        not credited to the probe in flight now.
        """
        _, first = self.send(0.0)
        self.assertEqual(self.session.expire(1.0), [ProbeTimedOut(1)])
        self.send(1.0)
        event = self.session.reply_received(first, 1.2)
        self.assertEqual(event, LateReply(1, len(first), 1.2))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.late), (0, 1))
        self.assertEqual([p.fate for p in report.probes], [ProbeFate.LATE, ProbeFate.UNANSWERED])
        self.assertEqual(report.probes[0].rtt_ms, 1200.0)

    def test_late_without_expiry_call(self):
        """
        A reply past the deadline is late even if the timer has not fired yet.
        """
        _, payload = self.send(0.0)
        self.assertIsInstance(self.session.reply_received(payload, 1.0001), LateReply)

    def test_reordered(self):
        """
        A reply whose sequence is below one already answered is reordered,
        and still received.
        """
        _, first = self.send(0.0)
        _, second = self.send(0.1)
        self.session.reply_received(second, 0.15)
        event = self.session.reply_received(first, 0.2)
        self.assertEqual(event, ReplyReceived(1, len(first), 0.2, True))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.reordered), (2, 1))

    def test_corrupted_and_foreign(self):
        """
        A reply naming a sent sequence but differing from the probe is
        corrupted; an unparseable datagram or unknown sequence is foreign.
        Neither counts as received.
        """
        _, payload = self.send(0.0)
        damaged = payload[:-1] + b"9" if not payload.endswith(b"9") else payload[:-1] + b"8"
        self.assertEqual(self.session.reply_received(damaged, 0.1), CorruptedReply(1, len(damaged)))
        self.assertIsInstance(self.session.reply_received(b"hello", 0.1), ForeignReply)
        self.assertEqual(self.session.reply_received(b"Ping 99 1.0", 0.1).reason, "sequence 99 was never sent")
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.corrupted, report.foreign), (0, 1, 2))
        self.assertIn("+1 corrupted", report.summary_lines("h")[1])

    def test_summary_words(self):
        """
        The closing lines follow iputils word for word, then jitter,
        reordered/late/foreign counts and the histogram.  RTTs 1, 2, 4 ms:
        avg 7000/3 = 2333 us, variance (21e6 - 49e6/3)/3 = 1555555 us^2,
        mdev 1247 us; jitter 1/16 = 0.0625, then + (2 - 0.0625)/16 = 0.184 ms.
        """
        for index in range(4):
            _, payload = self.send(float(index))
            if index != 2:
                self.session.reply_received(payload, index + 0.001 * (index + 1))
        self.session.expire(10.0)
        lines = self.session.report("127.0.0.1:12000", 12000).summary_lines("127.0.0.1:12000")
        self.assertEqual(lines[0], "--- 127.0.0.1:12000 ping statistics ---")
        self.assertEqual(lines[1], "4 packets transmitted, 3 received, 25% packet loss, time 3000ms")
        self.assertEqual(lines[2], "rtt min/avg/max/mdev = 1.000/2.333/4.000/1.247 ms")
        self.assertEqual(lines[3], "jitter 0.184 ms, 0 reordered, 0 late, 0 foreign")
        self.assertEqual(lines[4], "rtt histogram:")

    def test_json(self):
        """
        The JSON report has percentiles and every probe's fate.
        """
        _, payload = self.send(0.0)
        self.send(1.0)
        self.session.reply_received(payload, 0.002)
        self.session.expire(5.0)
        data = self.session.report("h", 7).as_json()
        self.assertEqual(data["percentiles_ms"], {"p50": 2.0, "p90": 2.0, "p99": 2.0})
        self.assertEqual([(p["sequence"], p["fate"]) for p in data["probes"]], [(1, "replied"), (2, "lost")])
        self.assertEqual(data["loss_percent"], 50.0)


class PurityTests(SynchronousTestCase):
    def test_core_imports_no_twisted(self):
        """
        The core is sans-IO: importing it loads nothing from Twisted.
        """
        code = (
            "import importlib.util, sys\n"
            "spec = importlib.util.spec_from_file_location('core', 'twisted_netlab/ping/_core.py')\n"
            "module = importlib.util.module_from_spec(spec); sys.modules['core'] = module\n"
            "spec.loader.exec_module(module)\n"
            "print(sorted(m for m in sys.modules if m.startswith(('twisted', 'twisted_netlab'))))"
        )
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=root)
        self.assertEqual(output.stdout.strip(), "[]", output.stderr)


def run_path(path: EchoPath, payload: bytes, now: float) -> list:
    """
    Push one request through every stage of C{path}, each copy entering the
    next stage at its delivery time (in time order, as a reactor would);
    return the L{Delivery}s that reach the client.
    """
    pending = [(now, 0, Direction.INBOUND, payload)]
    delivered = []
    counter = 1
    while pending:
        pending.sort(key=lambda item: (item[0], item[1]))
        at, _, direction, data = pending.pop(0)
        for delivery in path.process(direction, data, at).deliveries:
            following = EchoPath.next_direction(direction)
            if following is None:
                delivered.append(delivery)
            else:
                pending.append((delivery.at, counter, following, delivery.payload))
                counter += 1
    return delivered


class EchoPathTests(SynchronousTestCase):
    """
    The per-direction stages of an echo: inbound, round trip, outbound, each
    independent and each with its own seeded stream.
    """

    def test_inbound_and_outbound_loss_compose(self):
        """
        Over 100,000 seeded requests, independent inbound loss p_in and
        outbound loss p_out lose 1-(1-p_in)(1-p_out) of the echoes, within 5
        standard deviations of the binomial.
        """
        path = EchoPath(
            ImpairmentConfig(), random.Random(7),
            inbound=ImpairmentConfig(loss=0.2), outbound=ImpairmentConfig(loss=0.3),
        )
        echoed = sum(len(run_path(path, b"x", index * 0.001)) for index in range(PACKETS))
        expected = 1 - (1 - 0.2) * (1 - 0.3)
        assert_within(self, 1 - echoed / PACKETS, expected, binomial_bound(expected, PACKETS))

    def test_three_stages_of_loss_compose(self):
        """
        Round-trip loss is a third independent stage on the same path.
        """
        path = EchoPath(
            ImpairmentConfig(loss=0.1), random.Random(8),
            inbound=ImpairmentConfig(loss=0.2), outbound=ImpairmentConfig(loss=0.25),
        )
        echoed = sum(len(run_path(path, b"x", index * 0.001)) for index in range(PACKETS))
        expected = 1 - 0.9 * 0.8 * 0.75
        assert_within(self, 1 - echoed / PACKETS, expected, binomial_bound(expected, PACKETS))

    def test_duplication_multiplies_across_directions(self):
        """
        A request duplicated inbound is echoed twice, and each echo may be
        duplicated again outbound: the mean number of echoes per request is
        (1+d_in)(1+d_out).
        """
        path = EchoPath(
            ImpairmentConfig(), random.Random(9),
            inbound=ImpairmentConfig(duplicate=0.1), outbound=ImpairmentConfig(duplicate=0.2),
        )
        echoes = [len(run_path(path, b"x", index * 0.001)) for index in range(PACKETS)]
        mean = sum(echoes) / PACKETS
        variance = sum((count - mean) ** 2 for count in echoes) / PACKETS
        assert_within(self, mean, 1.1 * 1.2, SIGMAS * math.sqrt(variance / PACKETS))
        self.assertEqual(max(echoes), 4)

    def test_delays_add_up(self):
        """
        An echo reaches the client after the inbound, round-trip and
        outbound delays together.
        """
        path = EchoPath(
            ImpairmentConfig(delay_seconds=0.01), random.Random(1),
            inbound=ImpairmentConfig(delay_seconds=0.02), outbound=ImpairmentConfig(delay_seconds=0.03),
        )
        [delivery] = run_path(path, b"x", 100.0)
        self.assertAlmostEqual(delivery.at, 100.06)

    def test_transparent_stage_draws_nothing(self):
        """
        A stage with no impairment passes the datagram at once, unchanged.
        """
        path = EchoPath(ImpairmentConfig(), random.Random(1))
        self.assertTrue(path.is_transparent)
        verdict = path.process(Direction.OUTBOUND, b"abc", 5.0)
        self.assertEqual(verdict.deliveries, (Delivery(b"abc", 5.0),))
        self.assertIsNone(EchoPath.next_direction(Direction.OUTBOUND))
        self.assertIs(EchoPath.next_direction(Direction.INBOUND), Direction.ROUND_TRIP)

    def test_round_trip_stream_unchanged_by_per_direction_stages(self):
        """
        The round-trip stage draws exactly what a lone L{Impairments} with
        the same seed draws, so a seed keeps its results when inbound or
        outbound impairments are added.
        """
        config = ImpairmentConfig(loss=0.3, duplicate=0.2, corrupt=0.1)
        alone = Impairments(config, random.Random(11))
        path = EchoPath(
            config, random.Random(11),
            inbound=ImpairmentConfig(delay_seconds=0.0), outbound=ImpairmentConfig(loss=0.5),
        )
        for index in range(1000):
            self.assertEqual(
                path.process(Direction.ROUND_TRIP, b"payload", float(index)),
                alone.process(b"payload", float(index)),
            )

    def test_directions_have_their_own_streams(self):
        """
        Inbound and outbound stages with the same configuration make
        different (independent) decisions, and a seed reproduces both.
        """
        config = ImpairmentConfig(loss=0.5)

        def decisions(seed):
            path = EchoPath(ImpairmentConfig(), random.Random(seed), inbound=config, outbound=config)
            return [
                tuple(path.process(direction, b"x", float(index)).dropped is None for direction in
                      (Direction.INBOUND, Direction.OUTBOUND))
                for index in range(200)
            ]

        first = decisions(3)
        self.assertEqual(first, decisions(3))
        self.assertNotEqual([pair[0] for pair in first], [pair[1] for pair in first])
