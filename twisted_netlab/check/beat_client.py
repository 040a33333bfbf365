# -*- test-case-name: tests.check.test_beat -*-
"""
``netlab check beat-client``: runs a student's heartbeat sender against a
UDP listener of the checker, which listens, then stops listening for a
while (ICMP port unreachable for the client), then listens again on the
same port; the session is judged by L{_cases_beat}.
"""

from __future__ import annotations

import time
from typing import IO, Any, List

from twisted.internet import defer
from twisted.internet.error import CannotListenError
from twisted.internet.protocol import DatagramProtocol
from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab.check import _cases_beat
from twisted_netlab.check._report import Report
from twisted_netlab.check._session import choose, judge_session
from twisted_netlab.check.cli import EXIT_FAILED, EXIT_USAGE, TargetOptions, conclude, command_main, pick_cases
from twisted_netlab.check.program import StudentProgram, sleep

PROGRAM = "netlab check beat-client"


def _duration(value: Any) -> float:
    return parse_duration(value) if isinstance(value, str) else float(value)


class Options(TargetOptions):
    synopsis = "--run 'python3 HeartbeatClient.py {host} {port}' [--period 1s] [--duration 12s]"
    longdesc = (
        "Run a UDP heartbeat sender against a listener of the checker that stops listening for a "
        "while in the middle (the sender gets ICMP port unreachable), and judge the beats' format, "
        "sequence, period, clock, and whether the sender survives. {host}/{port} (also "
        "$NETLAB_HOST/$NETLAB_PORT) name the listener. Exit codes: 0 nothing failed, 1 a case "
        "failed, 2 usage error."
    )
    optParameters: List[List[Any]] = [
        ["period", None, "1s", "The period the sender was told to beat at."],
        ["duration", None, "12s", "How long the sender is watched from its first beat (listening, silence, listening again)."],
    ]

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if self["list"]:
            return
        if self["run"] is None:
            raise usage.UsageError("--run CMD is required (the heartbeat sender, with {host} and {port})")
        for name in ("period", "duration"):
            self[name] = _duration(self[name])
            if self[name] <= 0:
                raise usage.UsageError(f"--{name} must be more than 0")
        if self["duration"] < 6 * self["period"]:
            raise usage.UsageError("--duration must be at least 6 periods (two listening phases and a silence)")


class _Listener(DatagramProtocol):
    def __init__(self, reactor: Any, origin: float, phase: int, arrivals: List[_cases_beat.Arrival]) -> None:
        self._reactor = reactor
        self._origin = origin
        self._phase = phase
        self._arrivals = arrivals

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if len(self._arrivals) < 10000:
            # The wall clock is what a beat's timestamp is compared with.
            self._arrivals.append(_cases_beat.Arrival(self._reactor.seconds() - self._origin, time.time(), datagram[:512], self._phase))


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    cases = _cases_beat.beat_client_cases()
    picked = pick_cases(cases, options, choose, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    period, duration = options["period"], options["duration"]
    silence = max(2.5 * period, 0.25 * duration)
    first = (duration - silence) * 0.55
    notes: List[str] = []
    origin = reactor.seconds()
    arrivals: List[_cases_beat.Arrival] = []
    listening = reactor.listenUDP(0, _Listener(reactor, origin, 1, arrivals), interface="127.0.0.1")
    number = listening.getHost().port
    program = StudentProgram(reactor, options["run"], "127.0.0.1", number, origin)
    try:
        try:
            program.start()
        except OSError as problem:
            stderr.write(f"{PROGRAM}: cannot run {options['run']!r}: {problem.strerror}\n")
            return EXIT_FAILED
        # The phases count from the first beat: a sender that takes its
        # time to start (an interpreter on a loaded machine) is not cut short.
        deadline = reactor.seconds() + options["start-timeout"]
        while not arrivals and program.running and reactor.seconds() < deadline:
            await sleep(reactor, 0.02)
        began = reactor.seconds()
        await program.wait(first)
        await defer.maybeDeferred(listening.stopListening)
        listening = None
        silent_from = reactor.seconds() - origin
        await program.wait(silence)
        silent_until = reactor.seconds() - origin
        try:
            listening = reactor.listenUDP(number, _Listener(reactor, origin, 3, arrivals), interface="127.0.0.1")
        except CannotListenError as problem:
            notes.append(f"could not listen on port {number} again ({problem.socketError}): no third phase")
        await program.wait(max(0.0, duration - (reactor.seconds() - began)))
        end = reactor.seconds() - origin
    except ValueError as problem:
        stderr.write(f"{PROGRAM}: error: --run: {problem}\n")
        return EXIT_USAGE
    finally:
        if listening is not None:
            await defer.maybeDeferred(listening.stopListening)
        await program.stop()
    died = program.exit_description if not program.stopped_by_checker else None
    session = _cases_beat.BeatClientSession(
        tuple(arrivals), tuple(program.lines), period, (silent_from, silent_until), end, died, program.ended_at if died else None
    )
    notes.insert(0, f"listened 0-{silent_from:.1f} s, nothing listened {silent_from:.1f}-{silent_until:.1f} s, listened again until {end:.1f} s")
    notes.append(f"program: {' '.join(program.argv)} ({program.exit_description})")
    notes.append("session (seconds; netlab = the listener, program = what it printed):")
    notes.extend("  " + line for line in _cases_beat.client_timeline(session)[-80:])
    report = Report("beat-client", options["run"], options["profile"], judge_session(chosen, session), tuple(notes))
    return conclude(report, options, stdout, stderr)


__all__ = ["Options", "main"]


main = command_main(_run)
