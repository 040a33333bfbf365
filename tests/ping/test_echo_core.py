"""
Tests for L{twisted_netlab.ping._echo_core}: the impairment model
(statistically, over 100,000 seeded packets), the per-direction echo path
and the abuse limits.
"""

from __future__ import annotations

import math
import random

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._echo_core import (
    AbuseGuard,
    AbuseLimits,
    DelayDistribution,
    Delivery,
    Direction,
    DropReason,
    EchoPath,
    GilbertElliott,
    ImpairmentConfig,
    Impairments,
    Refusal,
    SERVICE_PORTS,
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
        self.assertIsNone(guard.check(b"x" * 100, "127.0.0.1", 40000, 0.0))
        self.assertEqual(guard.check(b"x" * 101, "127.0.0.1", 40000, 0.0), Refusal.OVERSIZE)

    def test_reflector_and_low_ports(self):
        """
        Port 0 and every known UDP service that answers whatever it gets
        (echo, chargen, daytime, QOTD, NTP, DNS, SSDP, ...) are refused
        whatever their number and with low ports allowed; other ports below
        1024 only unless allowed.
        """
        strict = AbuseGuard(AbuseLimits())
        relaxed = AbuseGuard(AbuseLimits(allow_low_ports=True))
        table = [
            # (port, strict, relaxed)
            (0, Refusal.PRIVILEGED_PORT, Refusal.PRIVILEGED_PORT),
            (7, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (13, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (17, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (19, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (53, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (123, Refusal.PRIVILEGED_PORT, Refusal.SERVICE_PORT),
            (80, Refusal.PRIVILEGED_PORT, None),
            (1900, Refusal.SERVICE_PORT, Refusal.SERVICE_PORT),
            (5353, Refusal.SERVICE_PORT, Refusal.SERVICE_PORT),
            (11211, Refusal.SERVICE_PORT, Refusal.SERVICE_PORT),
            (1024, None, None),
            (12000, None, None),
        ]
        for port, expected_strict, expected_relaxed in table:
            self.assertEqual(strict.check(b"x" * 10, "h", port, 0.0), expected_strict, port)
            self.assertEqual(relaxed.check(b"x" * 10, "h", port, 0.0), expected_relaxed, port)
        self.assertEqual(SERVICE_PORTS[1900], "ssdp")

    def test_per_source_rate(self):
        """
        A source gets its burst, then its rate; another source is unaffected.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=10, source_burst=5))
        results = [guard.check(b"x" * 10, "a", 5000, 0.0) for _ in range(7)]
        self.assertEqual(results, [None] * 5 + [Refusal.RATE_LIMITED] * 2)
        self.assertIsNone(guard.check(b"x" * 10, "b", 5000, 0.0))
        self.assertIsNone(guard.check(b"x" * 10, "a", 5000, 0.1))  # one token back
        self.assertEqual(guard.check(b"x" * 10, "a", 5000, 0.1), Refusal.RATE_LIMITED)

    def test_source_table_is_bounded(self):
        """
        The rate table forgets the least recently seen source first.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=1, source_burst=1, max_sources=2))
        guard.check(b"x", "a", 5000, 0.0)
        guard.check(b"x", "b", 5000, 0.0)
        guard.check(b"x", "c", 5000, 0.0)
        self.assertEqual(list(guard._buckets), ["b", "c"])
        # Forgotten: a fresh bucket, yet the total stays within the budget
        # that two tracked sources at 1/s allow.
        self.assertEqual(guard.check(b"x", "a", 5000, 0.0), Refusal.OVER_BUDGET)

    def test_refill_is_capped_at_the_burst(self):
        """
        However long a source stayed silent, it gets at most its burst at
        once, then its rate: idle time is not saved up.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=2, source_burst=3, global_rate=0))
        self.assertEqual([guard.check(b"x", "a", 5000, 0.0) for _ in range(3)], [None] * 3)
        results = [guard.check(b"x", "a", 5000, 1000.0) for _ in range(5)]
        self.assertEqual(results, [None] * 3 + [Refusal.RATE_LIMITED] * 2)

    def test_global_refill_is_capped_at_its_burst(self):
        """
        The global budget too gives at most one second's worth at once
        after a long silence.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=0, global_rate=4))
        self.assertEqual([guard.check(b"x", "a", 5000, 0.0) for _ in range(4)], [None] * 4)
        results = [guard.check(b"x", str(index), 5000, 1000.0) for index in range(6)]
        self.assertEqual(results, [None] * 4 + [Refusal.OVER_BUDGET] * 2)

    def test_global_budget(self):
        """
        Besides each source's own cap, the echoes of all sources together
        stay within the global budget per second.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=10, source_burst=10, global_rate=25))
        results = [guard.check(b"x", f"10.0.0.{index}", 5000, 0.0) for index in range(40)]
        self.assertEqual(results.count(None), 25)
        self.assertEqual(results[25:], [Refusal.OVER_BUDGET] * 15)
        self.assertIsNone(guard.check(b"x", "10.0.0.1", 5000, 0.04))  # one token back after 1/25 s

    def test_source_over_its_cap_spends_no_budget(self):
        """
        A source refused for its own rate spends nothing of the global
        budget, so one flooding source cannot starve the others.
        """
        guard = AbuseGuard(AbuseLimits(source_rate=1, source_burst=1, global_rate=5))
        flood = [guard.check(b"x", "10.0.0.1", 5000, 0.0) for _ in range(10)]
        self.assertEqual(flood, [None] + [Refusal.RATE_LIMITED] * 9)
        others = [guard.check(b"x", f"10.0.1.{index}", 5000, 0.0) for index in range(5)]
        self.assertEqual(others, [None] * 4 + [Refusal.OVER_BUDGET])

    def test_eviction_never_raises_the_total(self):
        """
        Rotating more sources than the table holds hands out fresh buckets,
        yet the total echoed stays within what the per-source caps allow
        that many sources (max_sources x source_rate bounds the budget).
        """
        limits = AbuseLimits(source_rate=2, source_burst=2, max_sources=100, global_rate=0)
        guard = AbuseGuard(limits)
        sources = 150
        seconds = 6
        echoed = 0
        for tick in range(seconds * 10):  # each source sends 10 a second
            for index in range(sources):
                if guard.check(b"x", f"10.0.{index // 256}.{index % 256}", 5000, tick / 10) is None:
                    echoed += 1
        self.assertLessEqual(echoed, sources * limits.source_rate * seconds)
        self.assertLessEqual(echoed, limits.max_sources * limits.source_rate * (seconds + 1))

    def test_loop_signature(self):
        """
        A datagram byte-identical to an echo sent less than a second ago is
        refused, whoever sends it (two echo servers bouncing one datagram);
        after the second, or with other bytes, it is echoed.
        """
        guard = AbuseGuard(AbuseLimits())
        self.assertIsNone(guard.check(b"Ping 1 2.0", "a", 5000, 10.0))
        guard.echoed(b"Ping 1 2.0", 10.0)
        self.assertEqual(guard.check(b"Ping 1 2.0", "b", 6000, 10.5), Refusal.LOOP)
        self.assertEqual(guard.check(b"Ping 1 2.0", "a", 5000, 10.99), Refusal.LOOP)
        self.assertIsNone(guard.check(b"Ping 2 2.0", "a", 5000, 10.5))
        self.assertIsNone(guard.check(b"Ping 1 2.0", "a", 5000, 11.0))

    def test_loop_memory_spans_a_generation_change(self):
        """
        An echo sent just before the memory starts a new generation is
        still recognised until a full window after it left.
        """
        guard = AbuseGuard(AbuseLimits())
        guard.echoed(b"a", 100.0)
        guard.echoed(b"b", 100.9)
        guard.echoed(b"c", 101.2)  # a window after the first: a new generation
        self.assertEqual(guard.check(b"b", "h", 5000, 101.5), Refusal.LOOP)
        self.assertIsNone(guard.check(b"a", "h", 5000, 101.5))
        self.assertIsNone(guard.check(b"b", "h", 5000, 101.95))

    def test_limits_validation(self):
        """
        Abuse limits accept their edge values and refuse anything beyond.
        """
        for valid in [
            {"max_datagram": 1}, {"max_datagram": 65535}, {"source_rate": 0}, {"source_burst": 1},
            {"max_sources": 1}, {"global_rate": 0}, {"loop_window_seconds": 0}, {"max_remembered": 1},
        ]:
            AbuseLimits(**valid)
        for invalid in [
            {"max_datagram": 0}, {"max_datagram": 65536}, {"source_rate": -1}, {"source_burst": 0.5},
            {"max_sources": 0}, {"global_rate": -1}, {"global_rate": float("nan")},
            {"loop_window_seconds": -1}, {"max_remembered": 0},
        ]:
            self.assertRaises(ValueError, AbuseLimits, **invalid)

    def test_loop_memory_is_bounded(self):
        """
        The memory of recent echoes holds at most C{max_remembered} entries
        and forgets the ones older than the window.
        """
        guard = AbuseGuard(AbuseLimits(max_remembered=4))
        for index in range(50):
            guard.echoed(b"%d" % index, 0.0)
            self.assertLessEqual(guard.remembered, 4)
        for index in range(5):
            guard.echoed(b"%d" % index, 0.0)
        self.assertEqual(guard.remembered, 3)
        self.assertEqual(guard.check(b"4", "a", 5000, 0.5), Refusal.LOOP)
        self.assertIsNone(guard.check(b"0", "a", 5000, 0.5))  # forgotten first
        guard.echoed(b"5", 2.0)
        self.assertEqual(guard.remembered, 1)



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
