# -*- test-case-name: tests.web.test_client_limits -*-
"""
Pure transfer limits of ``netlab get`` (standard library only; time is
passed in): curl's ``--max-filesize`` (exit 63) and ``--speed-limit`` /
``--speed-time`` (exit 28), decided here and enforced by the Twisted side.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from typing import Deque, Optional, Tuple

_SIZE = re.compile(r"\s*(\d+)\s*([kKmMgGtT]?)[bB]?\s*")
_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_size(text: str) -> int:
    """
    A byte count as curl writes it: digits with an optional binary suffix
    (C{k} = 1024, C{M}, C{G}, C{T}).

    @raise ValueError: for anything else.
    """
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a size: {text!r} (try 1000000, 500k, 10M)")
    return int(match.group(1)) * _SCALE[match.group(2).lower()]


def size_exceeded(limit: Optional[int], announced: Optional[int], received: int) -> bool:
    """
    curl's C{--max-filesize}: a body announced larger than C{limit} is
    refused before any of it is written; a body of unknown length is cut
    as soon as more than C{limit} bytes came.
    """
    if limit is None:
        return False
    return (announced is not None and announced > limit) or received > limit


@dataclass(frozen=True)
class TooSlow:
    """
    Fewer than C{limit_bytes_per_second} arrived on average over the last
    C{window_seconds}.
    """

    limit_bytes_per_second: int
    window_seconds: float
    received_bytes: int

    def __str__(self) -> str:
        return (
            f"operation too slow: {self.received_bytes} bytes in the last {self.window_seconds:g} s, "
            f"less than {self.limit_bytes_per_second} bytes/s (--speed-limit/--speed-time)"
        )


class LowSpeedCheck:
    """
    curl's C{--speed-limit BYTES} / C{--speed-time SECONDS}: the transfer
    is too slow once it has run for C{window_seconds} and fewer than
    C{limit * window} bytes arrived in the last C{window_seconds}.  A byte
    dripped every few seconds keeps an idle timer alive for ever; this
    does not.

    Call L{observe} with every received byte count and L{check} at least
    every C{window_seconds / 4} (the adapter does it with a timer); memory
    is one sample per check within the window.
    """

    def __init__(self, limit_bytes_per_second: int, window_seconds: float, now: float) -> None:
        if limit_bytes_per_second < 1 or not window_seconds > 0:
            raise ValueError("the speed limit must be >= 1 byte/s and the window > 0 s")
        self.limit_bytes_per_second = limit_bytes_per_second
        self.window_seconds = window_seconds
        self.total = 0
        self._samples: Deque[Tuple[float, int]] = deque([(now, 0)])

    @property
    def check_interval(self) -> float:
        """
        How often the adapter should call L{check}.
        """
        return min(1.0, self.window_seconds / 4)

    def observe(self, byte_count: int) -> None:
        self.total += byte_count

    def check(self, now: float) -> Optional[TooSlow]:
        """
        Record a sample at C{now}; return L{TooSlow} when the last window
        saw too few bytes, else L{None}.
        """
        samples = self._samples
        samples.append((now, self.total))
        horizon = now - self.window_seconds
        # Keep the newest sample at or before the horizon as the base.
        while len(samples) > 1 and samples[1][0] <= horizon:
            samples.popleft()
        start, base = samples[0]
        if start > horizon:
            return None  # not yet a whole window of history
        received = self.total - base
        if received < self.limit_bytes_per_second * self.window_seconds:
            return TooSlow(self.limit_bytes_per_second, self.window_seconds, received)
        return None


__all__ = ["LowSpeedCheck", "TooSlow", "parse_size", "size_exceeded"]
