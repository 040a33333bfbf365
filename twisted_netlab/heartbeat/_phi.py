# -*- test-case-name: tests.heartbeat.test_phi -*-
"""
The phi accrual failure detector of netlab-heartbeat's monitor (pure,
standard library only): Akka's detector (Hayashibara et al.), and phi as a
person reads it.
"""

# A window of inter-arrival times, phi from a logistic approximation of the
# normal CDF.  Because phi depends only on y = (elapsed - mean - pause) / std,
# the moment phi crosses the threshold is computed once per beat
# (PhiAccrualDetector.suspect_at), so a sweep over thousands of clients is one
# comparison per client.

from __future__ import annotations

import functools
import math
from array import array
from typing import List, Optional

from twisted_netlab.heartbeat._beat import LocalProtocolError

_LN10 = math.log(10.0)


def phi(elapsed: float, mean: float, std_deviation: float) -> float:
    """
    Akka's phi: C{-log10(1 - F(elapsed))} with F the normal CDF of
    N(mean, std_deviation) approximated by the logistic function
    C{1 / (1 + exp(-y * (1.5976 + 0.070566 * y**2)))},
    C{y = (elapsed - mean) / std_deviation} (error 0.00014 at y = +-3.16).

    Akka writes this as C{-log10(e / (1 + e))} with
    C{e = exp(-y * (1.5976 + 0.070566 * y * y))}; that equals
    C{log10(1 + exp(z))} with C{z = -ln e}, which we evaluate in a form that
    neither overflows nor returns infinity for long silences.
    """
    y = (elapsed - mean) / std_deviation
    z = y * (1.5976 + 0.070566 * y * y)
    if z > 0:
        return (z + math.log1p(math.exp(-z))) / _LN10
    return math.log1p(math.exp(z)) / _LN10


@functools.lru_cache(maxsize=64)
def threshold_y(threshold: float) -> float:
    """
    The C{y} at which L{phi} reaches C{threshold}; phi depends only on y
    and increases with it, so bisection finds it once per threshold.
    """
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        if phi(middle, 0.0, 1.0) < threshold:
            low = middle
        else:
            high = middle
    return high


class PhiAccrualDetector:
    """
    The phi accrual failure detector as Akka defines it.

      - The window starts with two made-up intervals, C{first_estimate -+
        first_estimate/4}, so a client that beat once still becomes suspect.
      - The mean used is the window's mean plus C{acceptable_pause}; the
        standard deviation (population) is at least C{min_std_deviation}.
      - An interval is added only if the beat arrived while the client was
        still available (phi below threshold): the first beat after a long
        silence would skew the statistics.

    Per-client state is a ring of floats that grows up to the window size,
    and two running sums, so thousands of detectors are cheap (and a client
    that beat once costs a few bytes).
    """

    __slots__ = (
        "threshold", "min_std_deviation", "acceptable_pause", "_ring", "_capacity", "_next",
        "_sum", "_sum_squares", "last_arrival", "suspect_at", "_threshold_y",
    )

    def __init__(
        self,
        threshold: float = 8.0,
        max_sample_size: int = 100,
        min_std_deviation: float = 0.1,
        acceptable_pause: float = 0.0,
        first_estimate: float = 1.0,
    ) -> None:
        if not threshold > 0:
            raise LocalProtocolError("threshold must be > 0")
        if max_sample_size < 2:
            raise LocalProtocolError("max_sample_size must be >= 2")
        if not min_std_deviation > 0:
            raise LocalProtocolError("min_std_deviation must be > 0")
        if acceptable_pause < 0:
            raise LocalProtocolError("acceptable_pause must be >= 0")
        if not first_estimate > 0:
            raise LocalProtocolError("first_estimate must be > 0")
        self.threshold = threshold
        self._threshold_y = threshold_y(threshold)
        self.min_std_deviation = min_std_deviation
        self.acceptable_pause = acceptable_pause
        self._ring = array("d")
        self._capacity = max_sample_size
        self._next = 0
        self._sum = 0.0
        self._sum_squares = 0.0
        self.last_arrival: Optional[float] = None
        #: When phi will reach the threshold if no beat comes (inf before the first beat).
        self.suspect_at = math.inf
        self._add(first_estimate - first_estimate / 4)
        self._add(first_estimate + first_estimate / 4)

    def _add(self, interval: float) -> None:
        ring = self._ring
        if len(ring) < self._capacity:
            ring.append(interval)
        else:
            old = ring[self._next]
            self._sum -= old
            self._sum_squares -= old * old
            ring[self._next] = interval
            self._next = (self._next + 1) % self._capacity
        self._sum += interval
        self._sum_squares += interval * interval

    @property
    def intervals(self) -> List[float]:
        """
        The window, oldest first.
        """
        return list(self._ring[self._next :]) + list(self._ring[: self._next])

    @property
    def mean(self) -> float:
        return self._sum / len(self._ring)

    @property
    def std_deviation(self) -> float:
        """
        Population standard deviation of the window, floored at
        C{min_std_deviation}.
        """
        mean = self.mean
        variance = max(0.0, self._sum_squares / len(self._ring) - mean * mean)
        return max(math.sqrt(variance), self.min_std_deviation)

    def phi(self, now: float) -> float:
        """
        Suspicion at C{now}; 0 before the first beat (nothing monitored yet).
        """
        if self.last_arrival is None:
            return 0.0
        return phi(now - self.last_arrival, self.mean + self.acceptable_pause, self.std_deviation)

    def is_available(self, now: float) -> bool:
        return now < self.suspect_at

    def heartbeat(self, now: float) -> None:
        """
        Record a beat arriving at C{now}.  This runs once per beat of every
        client, so the mean and deviation are worked out here once, inline
        (the same arithmetic as L{mean} and L{std_deviation}).
        """
        last = self.last_arrival
        ring = self._ring
        if last is not None and now < self.suspect_at:
            # self._add(now - last), inline: the same operations in the same
            # order, so the sums are bit for bit those _add would keep.
            interval = now - last
            if len(ring) < self._capacity:
                ring.append(interval)
            else:
                index = self._next
                old = ring[index]
                self._sum -= old
                self._sum_squares -= old * old
                ring[index] = interval
                self._next = (index + 1) % self._capacity
            self._sum += interval
            self._sum_squares += interval * interval
        self.last_arrival = now
        count = len(ring)
        mean = self._sum / count
        variance = self._sum_squares / count - mean * mean
        deviation = math.sqrt(variance) if variance > 0.0 else 0.0
        if deviation < self.min_std_deviation:
            deviation = self.min_std_deviation
        self.suspect_at = now + mean + self.acceptable_pause + self._threshold_y * deviation


#: Beyond this, phi is shown as "> 100": the client is certainly down.
READABLE_PHI_CAP = 100.0


def readable_phi(value: float) -> str:
    """
    Phi as a person reads it: two decimals up to 100, then "> 100" (a
    client silent for minutes has a phi in the millions, which says no
    more than "certainly down").
    """
    if value > READABLE_PHI_CAP:
        return "> 100"
    return f"{value:.2f}"
