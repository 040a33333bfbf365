# -*- test-case-name: tests.check.test_ping_client -*-
"""
``netlab check ping-client``: runs a student's UDP pinger against
netlab-echo as an instrument (L{twisted_netlab.ping.echo.LossyEchoProtocol}
on a free loopback port, its impairment path replaced by the scripted
L{_cases_ping.ScriptedPath}, every datagram and its fate recorded), then
judges the one session with the pure cases of L{_cases_ping}.
"""

from __future__ import annotations

import random
from typing import IO, Any, Dict, List, Optional, Tuple

from twisted.internet import defer
from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab.check import _cases_ping
from twisted_netlab.check._report import Report
from twisted_netlab.check._session import choose, judge_session
from twisted_netlab.check.cli import EXIT_FAILED, EXIT_USAGE, TargetOptions, conclude, command_main, pick_cases
from twisted_netlab.check.program import StudentProgram, sleep

PROGRAM = "netlab check ping-client"


class Options(TargetOptions):
    synopsis = "--run 'python3 UDPPingerClient.py {host} {port}' [options]"
    longdesc = (
        "Run a UDP pinger (the lab's client) against netlab-echo with a scripted scenario (30% of the "
        "probes dropped, one echo held past the client's timeout) and compare what it prints with what "
        "really happened. {host}/{port} (also $NETLAB_HOST/$NETLAB_PORT) name the echo instrument. "
        "Exit codes: 0 nothing failed, 1 a case failed, 2 usage error."
    )
    optParameters: List[List[Any]] = [
        ["count", None, 10, "Probes the client is expected to send.", int],
        ["loss", None, 0.3, "Share of the probes the instrument drops.", float],
        ["seed", None, 1, "Seed of the scenario (which probes are dropped, which is late).", int],
        ["limit", None, "40s", "The longest the program may run before it is stopped."],
    ]

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if self["list"]:
            return
        if self["run"] is None:
            raise usage.UsageError("--run CMD is required (the pinger to check, with {host} and {port})")
        if not 1 <= self["count"] <= 1000:
            raise usage.UsageError("--count must be 1-1000")
        if not 0.0 <= self["loss"] < 1.0:
            raise usage.UsageError("--loss must be from 0 to below 1")
        self["limit"] = parse_duration(self["limit"]) if isinstance(self["limit"], str) else self["limit"]
        if self["limit"] <= 0:
            raise usage.UsageError("--limit must be more than 0")


def instrument(reactor: Any, scenario: _cases_ping.PingScenario, origin: float) -> Tuple[Any, List[Tuple[float, bytes]], Dict[int, float]]:
    """
    The echo protocol playing C{scenario}, the list its arrivals go to
    (seconds since C{origin}, bytes) and the dict of echo times by arrival
    number (filled from the echo's per-datagram fates).
    """
    from twisted_netlab.ping._echo_core import ImpairmentConfig
    from twisted_netlab.ping.echo import LossyEchoProtocol

    arrivals: List[Tuple[float, bytes]] = []
    echoes: Dict[int, float] = {}

    def observe(fate: Any) -> None:
        if fate.echoes:
            echoes[fate.number] = fate.echoes[0].at - origin

    class RecordingEcho(LossyEchoProtocol):
        def datagramReceived(self, datagram: bytes, addr: Any) -> None:
            if len(arrivals) < 10000:
                arrivals.append((self.reactor.seconds() - origin, datagram[:512]))
            LossyEchoProtocol.datagramReceived(self, datagram, addr)

    # A non-transparent config so the echo takes its staged path; the
    # path itself is the scripted one.
    echo = RecordingEcho(reactor=reactor, impairments=ImpairmentConfig(delay_seconds=0.001), summary_interval=0, observer=observe)
    echo.path = _cases_ping.ScriptedPath(scenario)  # type: ignore[assignment]
    return echo, arrivals, echoes


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    cases = _cases_ping.all_cases()
    picked = pick_cases(cases, options, choose, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    scenario = _cases_ping.plan_scenario(options["count"], options["loss"], random.Random(options["seed"]))
    origin = reactor.seconds()
    echo, arrivals, echoes = instrument(reactor, scenario, origin)
    port = reactor.listenUDP(0, echo, interface="127.0.0.1")
    program: Optional[StudentProgram] = None
    try:
        try:
            program = StudentProgram(reactor, options["run"], "127.0.0.1", port.getHost().port, origin)
            program.start()
        except ValueError as problem:
            stderr.write(f"{PROGRAM}: error: --run: {problem}\n")
            return EXIT_USAGE
        except OSError as problem:
            stderr.write(f"{PROGRAM}: cannot run {options['run']!r}: {problem.strerror}\n")
            return EXIT_FAILED
        await program.wait(options["limit"])
        notes: List[str] = []
        if program.running:
            await program.stop()
            notes.append(f"the program was still running after {options['limit']:g} s and was stopped")
        # A late echo still held is sent (and seen) before the instrument stops.
        await sleep(reactor, 0.05)
    finally:
        await defer.maybeDeferred(port.stopListening)
        if program is not None and program.running:
            await program.stop()
    session = _cases_ping.session_from(
        arrivals, echoes, program.lines, scenario, program.exit_code, program.exit_description or "", program.ended_at, program.stopped_by_checker
    )
    dropped = ", ".join(str(n) for n in sorted(scenario.dropped)) or "none"
    notes.insert(0, f"scenario (seed {options['seed']}): probes #{dropped} dropped" + (f", the echo of probe #{scenario.late} held late" if scenario.late else ""))
    notes.append(f"program: {' '.join(program.argv)} ({program.exit_description})")
    notes.append("session (seconds; netlab = the echo instrument, program = what it printed):")
    notes.extend("  " + line for line in _cases_ping.timeline(session))
    results = judge_session(chosen, session)
    report = Report("ping-client", options["run"], options["profile"], results, tuple(notes))
    return conclude(report, options, stdout, stderr)


__all__ = ["Options", "main"]


main = command_main(_run)
