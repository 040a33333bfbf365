# -*- test-case-name: tests.ping.test_echo -*-
"""
The Twisted adapter of netlab-echo: L{LossyEchoProtocol} passes every
datagram through the abuse limits and the impairment stages (inbound,
round-trip, outbound) of L{twisted_netlab.ping._echo_core.EchoPath} and
writes (or schedules) the echoes.

As an instrument it tells what became of each datagram: give it an
C{observer}, a callable that receives one frozen
L{twisted_netlab.ping._fates.DatagramFate} per datagram (arrival time,
sequence, refused or dropped by which stage, each echo with the delay
added, duplicated, corrupted) once its last copy has left or been
dropped; C{log_datagrams} (``--debug-datagrams``) logs the same fate as
one debug line.  With a seeded C{rng} the fates of a run are reproducible.
"""

from __future__ import annotations

import random
from typing import Any, Callable, Optional, Set, Tuple

from twisted.internet.interfaces import IReactorTime
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.ping._echo_core import (
    AbuseGuard,
    AbuseLimits,
    Direction,
    EchoCounters,
    EchoPath,
    ImpairmentConfig,
    StagedPath,
    Verdict,
)
from twisted_netlab.ping._fates import DatagramFate, FateRecorder, describe_fate
from twisted_netlab.ping._probe import probe_sequence

SERVICE_NAME = "netlab-echo"

Address = Tuple[str, int]


class LossyEchoProtocol(DatagramProtocol):
    """
    An RFC 862 echo (bytes unchanged, or upper-cased with C{upper}) with
    network impairments and abuse limits.

    @param reactor: the time and scheduling of echoes (a L{task.Clock} in
        tests; the global reactor when L{None}); every delayed echo is a
        C{callLater} on it.
    @param impairments: the round-trip stage, applied once to each echo as
        it is decided (the historical ``--loss``, ``--delay``, ...).
    @param inbound: the client-to-server stage, applied to each request as
        it arrives, before the echo is decided: a request lost here is never
        echoed, a duplicated one is echoed twice, a corrupted one is echoed
        corrupted, a delayed one is echoed late.
    @param outbound: the server-to-client stage, applied to each echo as it
        leaves.
    @param rng: the seeded random source of the impairment stages (each
        stage draws from its own stream derived from it).
    @param summary_interval: seconds between info summaries (0: none).
    @param log_datagrams: log one debug line per datagram (its fate); off
        by default because twistd's log shows every level.
    @param observer: called with one L{DatagramFate} per datagram.
    @param path: the stages to use instead of the L{EchoPath} built from
        the impairment configurations (a scripted scenario, for an
        instrument); any L{StagedPath}.
    """

    log = Logger()

    def __init__(
        self,
        reactor: Optional[IReactorTime] = None,
        impairments: ImpairmentConfig = ImpairmentConfig(),
        limits: AbuseLimits = AbuseLimits(),
        inbound: ImpairmentConfig = ImpairmentConfig(),
        outbound: ImpairmentConfig = ImpairmentConfig(),
        rng: Optional[random.Random] = None,
        upper: bool = False,
        summary_interval: float = 60.0,
        log_datagrams: bool = False,
        observer: Optional[Callable[[DatagramFate], None]] = None,
        path: Optional[StagedPath] = None,
    ) -> None:
        self.reactor: IReactorTime = default_reactor(reactor)
        self.path: StagedPath = path if path is not None else EchoPath(
            impairments, rng if rng is not None else random.Random(), inbound=inbound, outbound=outbound
        )
        self._transparent = self.path.is_transparent
        self._directional = not (inbound.is_transparent and outbound.is_transparent)
        self.guard = AbuseGuard(limits)
        self.upper = upper
        self.counters = EchoCounters()
        self.summary_interval = summary_interval
        self.log_datagrams = log_datagrams
        self.observer = observer
        self._pending: set = set()
        self._recorders: Set[FateRecorder] = set()
        self._summary: Optional[LoopingCall] = None
        self._last_summary: Optional[Tuple[int, ...]] = None

    def startProtocol(self) -> None:
        if self.summary_interval > 0:
            self._summary = LoopingCall(self.log_summary)
            self._summary.clock = self.reactor
            self._summary.start(self.summary_interval, now=False)

    def stopProtocol(self) -> None:
        if self._summary is not None and self._summary.running:
            self._summary.stop()
        for call in list(self._pending):
            if call.active():
                call.cancel()
        self._pending.clear()
        now = self.reactor.seconds()
        for recorder in list(self._recorders):
            # Copies still held never leave: say so, so every datagram
            # received has exactly one fate.
            fate = None
            while fate is None and not recorder.finished:
                fate = recorder.lost(now, "server stopped")
            if fate is not None:
                self._report(fate, recorder)
        self._recorders.clear()
        self.log_summary()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        host, port = addr[0], addr[1]
        counters = self.counters
        counters.received += 1
        now = self.reactor.seconds()
        recorder = None
        if self.log_datagrams or self.observer is not None:
            recorder = FateRecorder(counters.received, now, host, port, len(datagram), probe_sequence(datagram))
        refusal = self.guard.check(datagram, host, port, now)
        if refusal is not None:
            counters.refused[refusal] += 1
            if recorder is not None:
                self._report(recorder.refused(refusal), recorder)
            return
        if self._transparent:
            self._send(datagram.upper() if self.upper else datagram, (host, port), now, recorder, None)
            return
        if recorder is not None:
            self._recorders.add(recorder)
        expected = datagram.upper() if self.upper else datagram
        self._enter(Direction.INBOUND, datagram, (host, port), now, recorder, expected)

    def _enter(
        self,
        direction: Direction,
        payload: bytes,
        addr: Address,
        now: float,
        recorder: Optional[FateRecorder],
        expected: bytes,
    ) -> None:
        """
        C{payload} reaches C{direction}'s stage at C{now}; each copy that
        survives goes on to the next stage at its delivery time.
        """
        verdict = self.path.process(direction, payload, now)
        self._count(verdict, direction)
        if recorder is not None:
            fate = recorder.stage_passed(direction, verdict, now)
            if fate is not None:
                self._report(fate, recorder)
        for delivery in verdict.deliveries:
            if delivery.at <= now:
                self._leave(direction, delivery.payload, addr, now, recorder, expected)
            else:
                self._schedule(delivery.at, direction, delivery.payload, addr, recorder, expected)

    def _leave(
        self,
        direction: Direction,
        payload: bytes,
        addr: Address,
        now: float,
        recorder: Optional[FateRecorder],
        expected: bytes,
    ) -> None:
        if direction is Direction.INBOUND and self.upper:
            # The request has reached the server: this is what it echoes.
            payload = payload.upper()
        following = EchoPath.next_direction(direction)
        if following is None:
            self._send(payload, addr, now, recorder, expected)
        else:
            self._enter(following, payload, addr, now, recorder, expected)

    def _count(self, verdict: Verdict, direction: Direction) -> None:
        counters = self.counters
        if verdict.dropped is not None:
            counters.dropped += 1
            counters.drops[verdict.dropped] += 1
            counters.stage_drops[direction] += 1
            return
        counters.duplicated += int(verdict.duplicated)
        counters.corrupted += verdict.corrupted
        counters.reordered += int(verdict.reordered)

    def _schedule(
        self,
        at: float,
        direction: Direction,
        payload: bytes,
        addr: Address,
        recorder: Optional[FateRecorder],
        expected: bytes,
    ) -> None:
        """
        Finish C{direction}'s stage at C{at}.  The next stage takes C{at},
        not the time the call really ran, as the datagram's arrival: the
        delays of the stages add up exactly, and a late reactor does not
        stretch them.
        """

        def fire() -> None:
            self._pending.discard(call)
            self._leave(direction, payload, addr, at, recorder, expected)

        call = self.reactor.callLater(max(0.0, at - self.reactor.seconds()), fire)
        self._pending.add(call)

    def _send(
        self,
        payload: bytes,
        addr: Address,
        now: float,
        recorder: Optional[FateRecorder],
        expected: Optional[bytes],
    ) -> None:
        """
        Write one echo.  C{expected} is the echo the client expects (to tell
        a corrupted copy), or L{None} when nothing could have changed it.
        """
        if self.transport is None:
            return
        try:
            self.transport.write(payload, addr)
        except OSError as error:
            # A full socket buffer or an unreachable peer loses this echo
            # only; UDP promises no more.
            self.counters.dropped += 1
            self.log.debug("could not echo to {host} port {port}: {error}", host=addr[0], port=addr[1], error=error)
            if recorder is not None:
                fate = recorder.lost(now, f"send error: {error}")
                if fate is not None:
                    self._report(fate, recorder)
            return
        self.counters.echoed += 1
        self.guard.echoed(payload, now)
        if recorder is not None:
            fate = recorder.sent(now, len(payload), expected is not None and payload != expected)
            if fate is not None:
                self._report(fate, recorder)

    def _report(self, fate: DatagramFate, recorder: FateRecorder) -> None:
        """
        One datagram's fate is complete: tell the observer, log the line.
        """
        self._recorders.discard(recorder)
        if self.observer is not None:
            self.observer(fate)
        if self.log_datagrams:
            self.log.debug("{line}", line=describe_fate(fate), fate=fate)

    def log_summary(self) -> None:
        """
        One info line with the running totals, only when they changed.
        """
        snapshot = self.counters.snapshot()
        if snapshot == self._last_summary:
            return
        self._last_summary = snapshot
        counters = self.counters
        refused = ", ".join(f"{reason.value} {count}" for reason, count in counters.refused.items())
        stages = ""
        if self._directional:
            # Only with --in-*/--out-* stages, so the usual line stays short.
            stages = " (" + ", ".join(
                f"{direction.value} {counters.stage_drops[direction]}" for direction in EchoPath.ORDER
            ) + ")"
        self.log.info(
            "netlab-echo: received {received}, echoed {echoed}, dropped {dropped}{stages}, "
            "duplicated {duplicated}, corrupted {corrupted}, reordered {reordered}; refused: {refused}",
            received=counters.received,
            echoed=counters.echoed,
            dropped=counters.dropped,
            stages=stages,
            duplicated=counters.duplicated,
            corrupted=counters.corrupted,
            reordered=counters.reordered,
            refused=refused,
        )
