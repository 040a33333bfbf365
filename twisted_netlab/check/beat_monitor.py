# -*- test-case-name: tests.check.test_beat -*-
"""
``netlab check beat-monitor``: starts a student's heartbeat monitor (a UDP
server) on a free loopback port, waits until it is bound, sends it the
scripted stream of L{_cases_beat.monitor_script} from one source port, and
judges what it printed with L{_cases_beat}.
"""

from __future__ import annotations

import socket
import time
from typing import IO, Any, List

from twisted.internet import defer
from twisted.internet.protocol import DatagramProtocol
from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab.check import _cases_beat
from twisted_netlab.check._report import Report
from twisted_netlab.check._session import choose, judge_session
from twisted_netlab.check.cli import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, TargetOptions, conclude, command_main, pick_cases
from twisted_netlab.check.program import StudentProgram, sleep, udp_bound
from twisted_netlab.heartbeat._beat import encode_beat

PROGRAM = "netlab check beat-monitor"


class Options(TargetOptions):
    synopsis = "--run 'python3 HeartbeatServer.py {port}' [--period 1s] [--timeout 5s]"
    longdesc = (
        "Start a UDP heartbeat monitor and send it a scripted stream (regular beats, a gap of 3 "
        "beats, a late beat, a duplicate, then silence), and judge what it prints. --period and "
        "--timeout tell the checker the monitor's own settings (--timeout must be longer than the "
        "4-period gap). {port} (also $NETLAB_PORT) is the free loopback UDP port it must bind. "
        "Exit codes: 0 nothing failed, 1 a case failed, 2 usage error, 7 it never bound the port."
    )
    optParameters: List[List[Any]] = [["period", None, "1s", "The period the monitor expects beats at."]]

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if self["list"]:
            return
        if self["run"] is None:
            raise usage.UsageError("--run CMD is required (the heartbeat monitor, with {port})")
        self["period"] = parse_duration(self["period"]) if isinstance(self["period"], str) else float(self["period"])
        if self["period"] <= 0:
            raise usage.UsageError("--period must be more than 0")
        if self["timeout"] <= 4 * self["period"]:
            raise usage.UsageError("--timeout (the monitor's) must be longer than the scripted gap of 4 periods")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    cases = _cases_beat.monitor_cases()
    picked = pick_cases(cases, options, choose, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    period, timeout = options["period"], options["timeout"]
    port = free_udp_port()
    program = StudentProgram(reactor, options["run"], "127.0.0.1", port, reactor.seconds())
    sender = reactor.listenUDP(0, DatagramProtocol(), interface="127.0.0.1")
    script = _cases_beat.monitor_script(period)
    try:
        try:
            program.start()
        except ValueError as problem:
            stderr.write(f"{PROGRAM}: error: --run: {problem}\n")
            return EXIT_USAGE
        except OSError as problem:
            stderr.write(f"{PROGRAM}: cannot run {options['run']!r}: {problem.strerror}\n")
            return EXIT_FAILED
        deadline = reactor.seconds() + options["start-timeout"]
        while program.running and not udp_bound(port) and reactor.seconds() < deadline:
            await sleep(reactor, 0.02)
        if not program.running or not udp_bound(port):
            why = program.exit_description or f"did not bind UDP port {port} within {options['start-timeout']:g} s"
            stderr.write(f"{PROGRAM}: the monitor {why}\n")
            output = program.output_text()
            if output.strip():
                stderr.write("its output:\n" + "".join(f"  {line}\n" for line in output.splitlines()[-30:]))
            return EXIT_FAILED if program.exit_description else EXIT_UNREACHABLE
        start = reactor.seconds() + 0.1
        program.rebase(start)  # session times count from the first beat
        for beat in script:
            await sleep(reactor, max(0.0, start + beat.at - reactor.seconds()))
            if not program.running:
                break
            sender.write(encode_beat(beat.sequence, time.time()), ("127.0.0.1", port))
        await program.wait(max(0.0, start + script[-1].at + timeout + 2 * period + 0.5 - reactor.seconds()))
        end = reactor.seconds() - start
    finally:
        await defer.maybeDeferred(sender.stopListening)
        died = program.exit_description
        await program.stop()
    session = _cases_beat.MonitorSession(tuple(script), tuple(program.lines), period, timeout, end, died)
    notes = [f"monitor: {' '.join(program.argv)} (told period {period:g} s, timeout {timeout:g} s; {program.exit_description})"]
    notes.append("session (seconds from the first beat; netlab = the checker's beats, program = what the monitor printed):")
    notes.extend("  " + line for line in _cases_beat.monitor_timeline(session)[-80:])
    report = Report("beat-monitor", options["run"], options["profile"], judge_session(chosen, session), tuple(notes))
    return conclude(report, options, stdout, stderr)


__all__ = ["Options", "main"]


main = command_main(_run)
