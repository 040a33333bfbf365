"""
Tests for L{twisted_netlab.web._client_limits}: ``--max-filesize`` and
``--speed-limit``/``--speed-time`` decisions, with time passed in.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._client_limits import LowSpeedCheck, TooSlow, parse_size, size_exceeded


class SizeTests(SynchronousTestCase):
    def test_parse_size(self):
        """
        Sizes are digits with curl's binary suffixes; anything else is refused.
        """
        for text, expected in [("0", 0), ("1000", 1000), ("10k", 10240), ("2M", 2 * 1024**2), ("1G", 1024**3), ("5kB", 5120)]:
            self.assertEqual(parse_size(text), expected, text)
        for bad in ["", "-1", "1.5M", "ten", "10x", "1e6"]:
            self.assertRaises(ValueError, parse_size, bad)

    def test_size_exceeded(self):
        """
        A body announced larger than the limit is refused before any byte
        comes; a body of unknown length once more than the limit came.
        """
        cases = [
            (None, 10**12, 10**12, False),
            (100, 100, 0, False),
            (100, 101, 0, True),
            (100, None, 100, False),
            (100, None, 101, True),
            (0, 0, 0, False),
            (0, None, 1, True),
        ]
        for limit, announced, received, expected in cases:
            self.assertEqual(size_exceeded(limit, announced, received), expected, (limit, announced, received))


class LowSpeedTests(SynchronousTestCase):
    def run_check(self, limit, window, arrivals, until, step=0.25):
        """
        Feed C{arrivals} ((time, bytes)...) and check every C{step} seconds
        from 0 to C{until}; return the first time found too slow, or None.
        """
        check = LowSpeedCheck(limit, window, now=0.0)
        pending = sorted(arrivals)
        moment = 0.0
        while moment <= until:
            while pending and pending[0][0] <= moment:
                check.observe(pending.pop(0)[1])
            if check.check(moment) is not None:
                return moment
            moment = round(moment + step, 6)
        return None

    def test_fast_transfer_never_too_slow(self):
        """
        1000 bytes/s against a 100 bytes/s limit over 2 s: never too slow.
        """
        arrivals = [(t / 10, 100) for t in range(1, 200)]
        self.assertIsNone(self.run_check(100, 2.0, arrivals, until=19.0))

    def test_dripping_server_is_too_slow_after_the_window(self):
        """
        One byte every 3 s keeps an idle timer alive for ever, but is too
        slow for --speed-limit 10 --speed-time 5 once 5 s have passed.
        """
        arrivals = [(t, 1) for t in range(0, 60, 3)]
        found = self.run_check(10, 5.0, arrivals, until=60.0)
        self.assertEqual(found, 5.0)

    def test_silence_after_a_fast_start(self):
        """
        A transfer that stalls is judged on the last window only, not on
        its average since the start.
        """
        arrivals = [(0.5, 10**6)]
        self.assertEqual(self.run_check(100, 2.0, arrivals, until=10.0), 2.5)

    def test_not_judged_before_a_whole_window(self):
        """
        Nothing is too slow before the window has passed once.
        """
        check = LowSpeedCheck(1000, 10.0, now=100.0)
        for moment in (100.0, 105.0, 109.99):
            self.assertIsNone(check.check(moment))
        verdict = check.check(110.0)
        self.assertEqual(verdict, TooSlow(1000, 10.0, 0))
        self.assertIn("operation too slow", str(verdict))

    def test_memory_is_bounded(self):
        """
        Only samples within the window are kept, however long the transfer.
        """
        check = LowSpeedCheck(1, 2.0, now=0.0)
        for step in range(1, 10001):
            check.observe(10)
            self.assertIsNone(check.check(step * 0.5))
        self.assertLessEqual(len(check._samples), 6)

    def test_bad_settings(self):
        """
        A limit below 1 byte/s or an empty window is refused.
        """
        self.assertRaises(ValueError, LowSpeedCheck, 0, 1.0, 0.0)
        self.assertRaises(ValueError, LowSpeedCheck, 1, 0.0, 0.0)
