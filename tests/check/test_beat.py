"""
Tests for ``netlab check beat-client`` and ``beat-monitor``: the judges on
recorded sessions (pure), and whole runs of the student senders and
monitors and of netlab's own ``netlab beat`` and netlab-heartbeat, each
verdict asserted.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Dict, List, Optional

from twisted.internet import defer, reactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_netlab.check import beat_client, beat_monitor
from twisted_netlab.check._case import Verdict
from twisted_netlab.check._cases_beat import (
    Arrival,
    BeatClientSession,
    MonitorSession,
    beat_client_cases,
    monitor_cases,
    monitor_script,
)
from twisted_netlab.check._session import judge_session
from twisted_netlab.check._student_output import OutputLine

STUDENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "students")
WALL = 1796000000.0


def client_session(period_sent: float, told: float = 1.0, died_at: Optional[float] = None, skew: float = 0.0, data=None) -> BeatClientSession:
    """
    Beats every C{period_sent} from 0 to 12 s, none received 5-8 s (the
    silence), unless the client died at C{died_at}.
    """
    arrivals: List[Arrival] = []
    t, sequence = 0.1, 1
    while t < 12.0 and (died_at is None or t < died_at):
        if not 5.0 <= t < 8.0:
            payload = data(sequence, t) if data else b"%d - %.6f" % (sequence, WALL + t + skew)
            arrivals.append(Arrival(t, WALL + t, payload, 1 if t < 5.0 else 3))
        t += period_sent
        sequence += 1
    died = None if died_at is None else "exited with status 1"
    return BeatClientSession(tuple(arrivals), (), told, (5.0, 8.0), 12.0, died, died_at)


def verdicts(cases, session) -> Dict[str, Verdict]:
    return {result.case.id: result.verdict for result in judge_session(cases, session)}


class BeatClientJudgeTests(SynchronousTestCase):
    def test_good_sender(self):
        """
        Beats every period, through the silence, with a true clock: all pass.
        """
        self.assertEqual(set(verdicts(beat_client_cases(), client_session(1.0)).values()), {Verdict.PASS})

    def test_slow_sender(self):
        """
        Every 2 s when told 1 s fails beat.interval (the period is measured
        by sequence number, across the silence too).
        """
        self.assertEqual(verdicts(beat_client_cases(), client_session(2.0))["beat.interval"], Verdict.FAIL)

    def test_dies_without_listener(self):
        """
        A sender that exits during the silence fails survives-no-listener.
        """
        self.assertEqual(verdicts(beat_client_cases(), client_session(1.0, died_at=5.5))["beat.survives-no-listener"], Verdict.FAIL)

    def test_clock_and_format(self):
        """
        A timestamp 3 s off fails beat.clock; "beat 1" fails beat.format.
        """
        self.assertEqual(verdicts(beat_client_cases(), client_session(1.0, skew=3.0))["beat.clock"], Verdict.FAIL)
        found = verdicts(beat_client_cases(), client_session(1.0, data=lambda n, t: b"beat %d" % n))
        self.assertEqual(found["beat.format"], Verdict.FAIL)

    def test_sequence_restart(self):
        """
        Sequence numbers that go back fail beat.sequence.
        """
        session = client_session(1.0, data=lambda n, t: b"%d - %.6f" % (n % 3, WALL + t))
        self.assertEqual(verdicts(beat_client_cases(), session)["beat.sequence"], Verdict.FAIL)


def monitor_session(lines: List[tuple], period: float = 1.0, timeout: float = 5.0) -> MonitorSession:
    output = tuple(OutputLine(at, "out", text) for at, text in lines)
    return MonitorSession(tuple(monitor_script(period)), output, period, timeout, 13 + timeout + 2)


class MonitorJudgeTests(SynchronousTestCase):
    def test_script(self):
        """
        The script withholds 5-7 (four periods of silence), sends 11 after
        12, 13 twice, and ends with 15 at 13 periods.
        """
        script = monitor_script(1.0)
        self.assertEqual([b.sequence for b in script], [1, 2, 3, 4, 8, 9, 10, 12, 11, 13, 13, 14, 15])
        self.assertEqual(script[4].at - script[3].at, 4.0)
        self.assertEqual(script[-1].at, 13.0)

    def test_good_monitor(self):
        """
        Alive, 3 lost after the gap, and a stop timeout after the last beat: all pass.
        """
        lines = [(0.01, "client alive (beat 1)"), (7.01, "client lost 3 heartbeat(s)"), (18.05, "client stopped: no heartbeat for 5.0 s")]
        self.assertEqual(set(verdicts(monitor_cases(), monitor_session(lines)).values()), {Verdict.PASS})

    def test_never_stops_and_miscounts(self):
        """
        No stop line fails stopped-reported; "lost 4" fails lost-reported.
        """
        found = verdicts(monitor_cases(), monitor_session([(0.01, "alive"), (7.01, "lost 4 beats")]))
        self.assertEqual((found["monitor.stopped-reported"], found["monitor.lost-reported"]), (Verdict.FAIL, Verdict.FAIL))

    def test_false_stop_in_the_gap(self):
        """
        A stop reported 3.5 s into the 4 s gap with a 5 s timeout is false.
        """
        found = verdicts(monitor_cases(), monitor_session([(0.01, "alive"), (6.5, "client stopped")]))
        self.assertEqual(found["monitor.no-false-stop"], Verdict.FAIL)

    def test_late_stop(self):
        """
        A stop 9 s after the last beat (timeout 5 s + 2 periods = 7 s) is too late.
        """
        found = verdicts(monitor_cases(), monitor_session([(0.01, "alive"), (22.0, "client dead")]))
        self.assertEqual(found["monitor.stopped-reported"], Verdict.FAIL)


class OptionsTests(SynchronousTestCase):
    def test_usage_errors(self):
        """
        --run is required; a monitor timeout not longer than the 4-period
        gap and a sender duration under 6 periods are usage errors.
        """
        self.assertRaises(usage.UsageError, beat_client.Options().parseOptions, [])
        self.assertRaises(usage.UsageError, beat_client.Options().parseOptions, ["--run", "x", "--duration", "3s"])
        self.assertRaises(usage.UsageError, beat_monitor.Options().parseOptions, ["--run", "x", "--timeout", "3s"])


def run_check(module, command: str, *argv: str) -> defer.Deferred:
    options = module.Options()
    options.parseOptions(["--json", "--run", command, *argv])
    out, err = io.StringIO(), io.StringIO()

    def done(code: int):
        document = json.loads(out.getvalue()) if out.getvalue().strip() else {"cases": [], "notes": [err.getvalue()]}
        return code, {case["id"]: case["verdict"] for case in document["cases"]}, document

    return module.main(reactor, options, out, err).addCallback(done)


class StudentRunTests(TestCase):
    """
    Senders and monitors, the students' and netlab's own, all at once with
    a 0.5 s period; every verdict asserted.
    """

    timeout = 90

    @defer.inlineCallbacks
    def test_verdicts(self):
        python, bin_dir = sys.executable, os.path.dirname(sys.executable)
        beat_all = {case.id: "pass" for case in beat_client_cases()}
        monitor_all = {case.id: "pass" for case in monitor_cases()}
        sender = ("--period", "0.5", "--duration", "6s")
        monitor = ("--period", "0.5", "--timeout", "2.5s")
        runs = [
            (beat_client, f"{python} {STUDENTS}/beat_good.py {{host}} {{port}} 0.5", sender, beat_all),
            (beat_client, f"{python} {STUDENTS}/beat_slow.py {{host}} {{port}} 0.5", sender, dict(beat_all, **{"beat.interval": "fail"})),
            (beat_client, f"{python} {STUDENTS}/beat_dies.py {{host}} {{port}} 0.5", sender, dict(beat_all, **{"beat.survives-no-listener": "fail"})),
            (beat_client, f"{bin_dir}/netlab beat {{host}}:{{port}} -i 0.5", sender, beat_all),
            (beat_monitor, f"{python} {STUDENTS}/monitor_good.py {{port}} 2.5", monitor, monitor_all),
            (beat_monitor, f"{python} {STUDENTS}/monitor_never_stops.py {{port}} 2.5", monitor, dict(monitor_all, **{"monitor.stopped-reported": "fail"})),
            (
                beat_monitor,
                f"{bin_dir}/twistd -n --pidfile= --logfile=- netlab-heartbeat --port {{port}} --period 0.5 --timeout 2.5 --verbose",
                monitor,
                monitor_all,
            ),
        ]
        outcomes = yield defer.gatherResults([run_check(module, command, *argv) for module, command, argv, _ in runs])
        for (module, command, _, expected), (code, found, document) in zip(runs, outcomes):
            self.assertEqual(found, expected, f"{command}:\n" + "\n".join(document["notes"]))
            self.assertEqual(code, 1 if "fail" in expected.values() else 0, command)
