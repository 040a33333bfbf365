# -*- test-case-name: tests.ping.test_fates -*-
"""
The fate of each datagram netlab-echo receives (pure, standard library
only): refused, dropped by which stage, delayed by how much, duplicated,
corrupted, echoed.  This is the ground truth the echo reports through its
observer and its ``--debug-datagrams`` lines.

How it works: the echo adapter opens one L{FateRecorder} per datagram and
tells it each stage's L{Verdict} and each echo that leaves; a recorder
counts the copies still on their way, and when none is left it returns the
finished L{DatagramFate} (one per datagram, so one log line each).
L{describe_fate} is that line.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import List, Optional, Tuple

from twisted_netlab.ping._echo_core import Direction, Refusal, Verdict


@dataclass(frozen=True)
class EchoSent:
    """
    One copy of a datagram that left as an echo, C{delay_seconds} after
    the datagram arrived (the delay the impairments added, all stages
    together).  C{corrupted}: its bytes differ from the echo the client
    expects (the request, upper-cased with ``--upper``).
    """

    at: float
    delay_seconds: float
    size: int
    corrupted: bool


@dataclass(frozen=True)
class CopyDropped:
    """
    One copy that never left: dropped by the impairment stage C{stage}
    (C{reason} is a L{DropReason} value), or with C{stage} L{None} lost on
    the way out (the socket refused it, or the server stopped first).
    """

    at: float
    stage: Optional[Direction]
    reason: str


@dataclass(frozen=True)
class DatagramFate:
    """
    What became of one received datagram.

    @ivar number: 1, 2, ... in order of arrival (the summary's C{received}).
    @ivar received_at: the reactor's time when it arrived.
    @ivar sequence: the probe sequence its payload names (``Ping <n> ...``
        or ``sequence=<n>``), or L{None}.
    @ivar refused: the abuse rule that refused it (then nothing else
        happened to it), or L{None}.
    @ivar echoes: the copies echoed, in the order they left.
    @ivar drops: the copies dropped.
    @ivar duplicated: how many stages made a second copy.
    @ivar reordered: a stage let it skip the delay (netem's reorder).
    """

    number: int
    received_at: float
    host: str
    port: int
    size: int
    sequence: Optional[int]
    refused: Optional[Refusal] = None
    echoes: Tuple[EchoSent, ...] = ()
    drops: Tuple[CopyDropped, ...] = ()
    duplicated: int = 0
    reordered: bool = False

    @property
    def echoed(self) -> bool:
        return bool(self.echoes)

    @property
    def corrupted(self) -> int:
        """
        Echoes whose bytes differ from the expected echo.
        """
        return sum(1 for echo in self.echoes if echo.corrupted)


class FateRecorder:
    """
    The bookkeeping of one datagram on its way through the echo: how many
    of its copies are still held, and what became of the others.
    """

    def __init__(
        self, number: int, received_at: float, host: str, port: int, size: int, sequence: Optional[int]
    ) -> None:
        self._fate = DatagramFate(number, received_at, host, port, size, sequence)
        self._pending = 1
        self._echoes: List[EchoSent] = []
        self._drops: List[CopyDropped] = []
        self._duplicated = 0
        self._reordered = False
        self.finished = False

    def refused(self, reason: Refusal) -> DatagramFate:
        self._pending = 0
        self.finished = True
        return replace(self._fate, refused=reason)

    def stage_passed(self, stage: Direction, verdict: Verdict, now: float) -> Optional[DatagramFate]:
        """
        One copy went through C{stage}; returns the fate if that was its end.
        """
        if verdict.dropped is not None:
            self._drops.append(CopyDropped(now, stage, verdict.dropped.value))
            return self._one_done()
        self._pending += len(verdict.deliveries) - 1
        self._duplicated += int(verdict.duplicated)
        self._reordered = self._reordered or verdict.reordered
        return None

    def sent(self, at: float, size: int, corrupted: bool) -> Optional[DatagramFate]:
        """
        One copy left as an echo at C{at}.
        """
        self._echoes.append(EchoSent(at, at - self._fate.received_at, size, corrupted))
        return self._one_done()

    def lost(self, at: float, reason: str) -> Optional[DatagramFate]:
        """
        One copy never left (a send error; the server stopping).
        """
        self._drops.append(CopyDropped(at, None, reason))
        return self._one_done()

    def _one_done(self) -> Optional[DatagramFate]:
        self._pending -= 1
        if self._pending > 0:
            return None
        self.finished = True
        return replace(
            self._fate,
            echoes=tuple(self._echoes),
            drops=tuple(self._drops),
            duplicated=self._duplicated,
            reordered=self._reordered,
        )


_COPIES = {1: "", 2: " twice", 3: " three times"}


def describe_fate(fate: DatagramFate) -> str:
    """
    The ``--debug-datagrams`` line: who sent it, its size and sequence,
    then its fate (``echoed after 50.000 ms``, ``dropped by the round-trip
    stage (loss)``, ``duplicated``, ``corrupted``, ``refused
    (rate-limited)``).
    """
    sequence = "" if fate.sequence is None else f", sequence {fate.sequence}"
    head = f"datagram {fate.number} from {fate.host} port {fate.port}, {fate.size} bytes{sequence}: "
    if fate.refused is not None:
        return head + f"refused ({fate.refused.value})"
    parts = []
    if fate.echoes:
        times = " and ".join("%.3f ms" % (echo.delay_seconds * 1000.0) for echo in fate.echoes)
        copies = _COPIES.get(len(fate.echoes), f" {len(fate.echoes)} times")
        parts.append(f"echoed{copies} after {times}")
    for drop in fate.drops:
        where = f"by the {drop.stage.value} stage" if drop.stage is not None else "on the way out"
        parts.append(f"{'a copy ' if fate.echoes else ''}dropped {where} ({drop.reason})")
    if fate.duplicated:
        parts.append("duplicated")
    if fate.corrupted:
        parts.append("corrupted" if fate.corrupted == 1 else f"corrupted {fate.corrupted} copies")
    if fate.reordered:
        parts.append("reordered")
    return head + "; ".join(parts)
