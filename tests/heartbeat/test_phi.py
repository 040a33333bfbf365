"""
Tests for L{twisted_netlab.heartbeat._phi}: phi values worked out by hand,
the threshold crossing computed once per beat, and the detector's window.
"""

import math

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.heartbeat._beat import LocalProtocolError
from twisted_netlab.heartbeat._phi import PhiAccrualDetector, phi, readable_phi, threshold_y


class PhiTests(SynchronousTestCase):
    """
    phi(t) = -log10(e / (1 + e)), e = exp(-y (1.5976 + 0.070566 y^2)),
    y = (t - mean) / std.  Values worked out by hand:

      - y = 0: e = 1, phi = -log10(1/2) = 0.30103
      - y = 2: z = 2 (1.5976 + 0.070566 * 4) = 3.759728, e = 0.0232866,
        phi = -log10(0.0227567) = 1.64283
      - y = 4: z = 4 (1.5976 + 0.070566 * 16) = 10.906624,
        phi = log10(1 + e^z) = 4.73669
      - y = -2: phi = log10(1 + e^-3.759728) = 0.0099988
      - y = 10: z = 86.5264, phi = z / ln 10 = 37.5847
    """

    def test_hand_computed_values(self):
        """
        phi matches the values worked out by hand above (4 decimals).
        """
        table = [
            ((1.0, 1.0, 0.25), 0.30103),
            ((1.5, 1.0, 0.25), 1.64283),
            ((2.0, 1.0, 0.25), 4.73669),
            ((0.5, 1.0, 0.25), 0.0099988),
            ((2.0, 1.0, 0.1), 37.5847),
        ]
        for arguments, expected in table:
            self.assertAlmostEqual(phi(*arguments), expected, places=4, msg=str(arguments))

    def test_long_silence_is_finite_and_increasing(self):
        """
        Akka's form overflows to infinity after long silences; ours keeps
        growing finitely, and never decreases.
        """
        values = [phi(t, 1.0, 0.1) for t in (0.0, 1.0, 2.0, 10.0, 1e3, 1e6)]
        self.assertEqual(values, sorted(values))
        self.assertTrue(all(math.isfinite(v) for v in values))
        self.assertGreater(values[-1], 1e6)

    def test_threshold_y(self):
        """
        threshold_y inverts phi: phi at y* equals the threshold.
        """
        for threshold in (0.5, 1.0, 8.0, 16.0):
            self.assertAlmostEqual(phi(threshold_y(threshold), 0.0, 1.0), threshold, places=9)


class PhiAccrualDetectorTests(SynchronousTestCase):
    def test_first_beat_uses_the_estimate(self):
        """
        Before the first real interval the window holds first_estimate -+
        a quarter (Akka), so mean = 1 and std = 0.25 for an estimate of 1 s.
        """
        detector = PhiAccrualDetector(first_estimate=1.0, min_std_deviation=0.1)
        self.assertEqual(detector.phi(100.0), 0.0)  # nothing monitored yet
        detector.heartbeat(100.0)
        self.assertEqual(detector.intervals, [0.75, 1.25])
        self.assertAlmostEqual(detector.phi(101.0), 0.30103, places=5)
        self.assertAlmostEqual(detector.phi(101.5), 1.64283, places=5)
        self.assertAlmostEqual(detector.phi(102.0), 4.73669, places=5)

    def test_acceptable_pause_shifts_the_mean(self):
        """
        The acceptable pause is added to the mean: with a 3 s pause, phi at
        5 s of silence equals phi at 2 s without it.
        """
        detector = PhiAccrualDetector(first_estimate=1.0, acceptable_pause=3.0)
        detector.heartbeat(0.0)
        self.assertAlmostEqual(detector.phi(5.0), 4.73669, places=5)

    def test_population_std_and_floor(self):
        """
        Beats at 0, 1, 2, 3 give the window [0.75, 1.25, 1, 1, 1]: mean 1,
        population variance 0.125 / 5 = 0.025, std 0.158114; phi at 1.5 s
        is then phi(y = 3.16228) = 3.16350.  A floor above it wins.
        """
        detector = PhiAccrualDetector(first_estimate=1.0, min_std_deviation=0.1)
        for t in (0.0, 1.0, 2.0, 3.0):
            detector.heartbeat(t)
        self.assertEqual(detector.intervals, [0.75, 1.25, 1.0, 1.0, 1.0])
        self.assertAlmostEqual(detector.mean, 1.0)
        self.assertAlmostEqual(detector.std_deviation, 0.158114, places=6)
        self.assertAlmostEqual(detector.phi(4.5), 3.16350, places=5)
        floored = PhiAccrualDetector(first_estimate=1.0, min_std_deviation=0.5)
        for t in (0.0, 1.0, 2.0, 3.0):
            floored.heartbeat(t)
        self.assertEqual(floored.std_deviation, 0.5)

    def test_interval_after_failure_not_recorded(self):
        """
        A beat arriving once phi passed the threshold does not enter the
        window: a long outage would otherwise inflate the mean.
        """
        detector = PhiAccrualDetector(first_estimate=1.0)
        detector.heartbeat(0.0)
        detector.heartbeat(1.0)
        detector.heartbeat(60.0)
        self.assertEqual(detector.intervals, [0.75, 1.25, 1.0])
        self.assertEqual(detector.last_arrival, 60.0)

    def test_window_is_bounded(self):
        """
        The window keeps the newest max_sample_size intervals, and the
        running mean follows.
        """
        detector = PhiAccrualDetector(first_estimate=1.0, max_sample_size=3)
        for t in (0.0, 1.0, 2.1, 3.3):
            detector.heartbeat(t)
        self.assertEqual([round(i, 6) for i in detector.intervals], [1.0, 1.1, 1.2])
        self.assertAlmostEqual(detector.mean, 1.1)

    def test_suspect_at_is_where_phi_crosses(self):
        """
        suspect_at is the moment phi reaches the threshold, so the sweep can
        compare times instead of computing phi.
        """
        detector = PhiAccrualDetector(threshold=8.0, first_estimate=1.0, acceptable_pause=0.5)
        for t in (0.0, 1.0, 2.2, 3.1):
            detector.heartbeat(t)
        self.assertAlmostEqual(detector.phi(detector.suspect_at), 8.0, places=6)
        self.assertTrue(detector.is_available(detector.suspect_at - 1e-6))
        self.assertFalse(detector.is_available(detector.suspect_at))

    def test_bad_parameters(self):
        """
        Parameters outside Akka's ranges are refused.
        """
        for kwargs in ({"threshold": 0}, {"max_sample_size": 1}, {"min_std_deviation": 0},
                       {"acceptable_pause": -1}, {"first_estimate": 0}):
            self.assertRaises(LocalProtocolError, PhiAccrualDetector, **kwargs)

    def test_smallest_window_and_default(self):
        """
        Two samples is the smallest window (a mean and a deviation need
        two), and the default window is Akka's 100 intervals.
        """
        detector = PhiAccrualDetector(first_estimate=1.0, max_sample_size=2)
        for t in (0.0, 1.0, 2.5, 3.5):
            detector.heartbeat(t)
        self.assertEqual([round(i, 6) for i in detector.intervals], [1.5, 1.0])
        default = PhiAccrualDetector(first_estimate=1.0)
        for t in range(150):
            default.heartbeat(float(t))
        self.assertEqual(len(default.intervals), 100)

    def test_inline_window_update_matches_add(self):
        """
        heartbeat() updates the window inline; its running sums, window and
        suspect_at are bit for bit those of the same detector fed through
        _add(), the one-interval update __init__ uses, over windows that
        fill, wrap and skip intervals after a failure.
        """
        import random

        class ThroughAdd(PhiAccrualDetector):
            __slots__ = ()

            def heartbeat(self, now):
                last = self.last_arrival
                if last is not None and now < self.suspect_at:
                    self._add(now - last)
                self.last_arrival = now
                count = len(self._ring)
                mean = self._sum / count
                variance = self._sum_squares / count - mean * mean
                deviation = math.sqrt(variance) if variance > 0.0 else 0.0
                if deviation < self.min_std_deviation:
                    deviation = self.min_std_deviation
                self.suspect_at = now + mean + self.acceptable_pause + self._threshold_y * deviation

        chance = random.Random(1601)
        for size in (2, 3, 7, 100):
            inline = PhiAccrualDetector(max_sample_size=size, first_estimate=1.0, acceptable_pause=0.3)
            reference = ThroughAdd(max_sample_size=size, first_estimate=1.0, acceptable_pause=0.3)
            now = 1_700_000_000.0
            for _ in range(400):
                now += chance.choice([chance.uniform(0.9, 1.1), chance.uniform(0.0, 3.0), 30.0])
                inline.heartbeat(now)
                reference.heartbeat(now)
                self.assertEqual(
                    (inline._sum, inline._sum_squares, inline.suspect_at, inline._next),
                    (reference._sum, reference._sum_squares, reference.suspect_at, reference._next),
                )
            self.assertEqual(inline.intervals, reference.intervals)


class ReadablePhiTests(SynchronousTestCase):
    CASES = [(0.0, "0.00"), (8.456, "8.46"), (100.0, "100.00"), (100.01, "> 100"), (1533843.18, "> 100"), (math.inf, "> 100")]

    def test_table(self):
        """
        Phi is shown with two decimals up to 100, then as "> 100".
        """
        for value, expected in self.CASES:
            self.assertEqual(readable_phi(value), expected, value)
