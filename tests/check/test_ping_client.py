"""
Tests for ``netlab check ping-client``: the scripted scenario, the judges on
recorded sessions (pure), and whole runs of the student pingers and of
``netlab ping`` against the echo instrument, each verdict asserted.
"""

from __future__ import annotations

import io
import json
import os
import random
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, reactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_netlab.check import ping_client
from twisted_netlab.check._case import Verdict
from twisted_netlab.check._cases_ping import PingScenario, ScriptedPath, all_cases, plan_scenario, session_from, timeline
from twisted_netlab.check._session import judge_session
from twisted_netlab.check._student_output import OutputLine
from twisted_netlab.ping._echo_core import Direction

STUDENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "students")


class ScenarioTests(SynchronousTestCase):
    def test_default_scenario(self):
        """
        Ten probes at 30 %: three dropped, never the first; one echo held
        late, with an earlier probe dropped (to measure the client's
        timeout) and the probe after it dropped (so the late echo comes
        alone); the same seed gives the same scenario.
        """
        for seed in range(50):
            scenario = plan_scenario(10, 0.3, random.Random(seed))
            self.assertEqual(len(scenario.dropped), 3)
            self.assertNotIn(1, scenario.dropped)
            self.assertIsNotNone(scenario.late)
            self.assertIn(scenario.late + 1, scenario.dropped)
            self.assertNotIn(scenario.late, scenario.dropped)
            self.assertTrue(any(n < scenario.late for n in scenario.dropped))
            self.assertEqual(scenario, plan_scenario(10, 0.3, random.Random(seed)))

    def test_late_hold_follows_the_clients_timeout(self):
        """
        The late echo is held for the client's own timeout (as measured on
        the dropped probe before it) plus the margin.
        """
        path = ScriptedPath(PingScenario(5, frozenset({2, 4}), late=3), margin_seconds=0.3)
        self.assertEqual(path.process(Direction.ROUND_TRIP, b"Ping 1 0", 10.0).deliveries[0].at, 10.0)
        self.assertIsNotNone(path.process(Direction.ROUND_TRIP, b"Ping 2 0", 10.1).dropped)
        verdict = path.process(Direction.ROUND_TRIP, b"Ping 3 0", 11.3)
        self.assertAlmostEqual(verdict.deliveries[0].at, 11.3 + 1.2 + 0.3)
        # The other stages pass datagrams on at once.
        self.assertEqual(path.process(Direction.INBOUND, b"x", 12.0).deliveries[0].at, 12.0)


def session(
    probes: Sequence[Tuple[float, Optional[float]]],
    output: str,
    late: Optional[int] = None,
    payloads: Optional[List[bytes]] = None,
):
    """
    A recorded session: per probe (arrival, echo time or None), the program's
    output (each line 1 ms after the probe it follows is irrelevant here).
    """
    arrivals = [(at, (payloads[i] if payloads else b"Ping %d 1796000000.5" % (i + 1))) for i, (at, _) in enumerate(probes)]
    echoes = {i + 1: echo for i, (_, echo) in enumerate(probes) if echo is not None}
    lines = [OutputLine(10.0 + i * 0.001, "out", text) for i, text in enumerate(output.splitlines())]
    return session_from(arrivals, echoes, lines, PingScenario(len(probes), frozenset(), late), 0, "exited with status 0", 11.0)


def verdicts(recorded) -> Dict[str, Verdict]:
    return {result.case.id: result.verdict for result in judge_session(all_cases(), recorded)}


#: Probe 2 dropped; probe 3's echo held 1.3 s; probe 4 dropped; 5 answered.
TIMES = [(0.0, 0.0001), (0.001, None), (1.0, 2.3), (2.0, None), (3.0, 3.0002)]


class JudgeTests(SynchronousTestCase):
    def test_correct_client(self):
        """
        A client that reports what happened passes every case.
        """
        output = (
            "Ping 1: RTT = 0.000100 s\nPing 2: Request timed out\nPing 3: Request timed out\n"
            "Ping 4: Request timed out\nPing 5: RTT = 0.000200 s\n"
            "5 packets sent, 2 received, 60% packet loss\nRTT min/avg/max = 0.000100/0.000150/0.000200 s"
        )
        found = verdicts(session(TIMES, output, late=3))
        self.assertEqual(set(found.values()), {Verdict.PASS}, found)

    def test_late_reply_taken_for_the_next_probe(self):
        """
        Probe 4 was dropped; reporting the late echo of 3 as its reply fails
        ping.late-reply, and the loss it prints then fails too.
        """
        output = (
            "Ping 1: RTT = 0.000100 s\nPing 2: Request timed out\nPing 3: Request timed out\n"
            "Ping 4: RTT = 0.300000 s\nPing 5: RTT = 0.000200 s\n"
            "Packets sent: 5, received: 3, lost: 2 (40% loss)"
        )
        found = verdicts(session(TIMES, output, late=3))
        self.assertEqual(found["ping.late-reply"], Verdict.FAIL)
        self.assertEqual(found["ping.loss-reported"], Verdict.FAIL)

    def test_miscounted_percentage(self):
        """
        3 of 5 unanswered is 60 %; printing lost/received (150 %) fails.
        """
        found = verdicts(session(TIMES, "Packet loss rate: 150.00%", late=3))
        self.assertEqual(found["ping.loss-reported"], Verdict.FAIL)

    def test_unreadable_loss_is_a_skip(self):
        """
        No number to read is a skip, never a fail.
        """
        found = verdicts(session(TIMES, "some were lost, sorry", late=3))
        self.assertEqual(found["ping.loss-reported"], Verdict.SKIP)
        self.assertEqual(found["ping.late-reply"], Verdict.SKIP)

    def test_short_timeout(self):
        """
        Giving up on a dropped probe after 0.3 s fails ping.timeout.
        """
        times = [(0.0, 0.0001), (0.001, None), (0.3, 0.3001)]
        self.assertEqual(verdicts(session(times, ""))["ping.timeout"], Verdict.FAIL)

    def test_rtt_in_the_wrong_unit(self):
        """
        An RTT printed as 312 s-sized when the echo took 0.1 ms (milliseconds
        labelled seconds) does not fit the instrument's timing.
        """
        times = [(0.0, 0.0001), (0.0005, 0.0006)]
        found = verdicts(session(times, "Ping 1: RTT = 0.312 s\nPing 2: RTT = 0.1 s"))
        self.assertEqual(found["ping.rtt-reported"], Verdict.FAIL)

    def test_unitless_rtt_may_be_milliseconds(self):
        """
        The same numbers without a unit may be milliseconds: not a fail.
        """
        times = [(0.0, 0.0001), (0.5, 0.5001)]
        found = verdicts(session(times, "Ping 1: RTT = 0.3\nPing 2: RTT = 0.1"))
        self.assertNotEqual(found["ping.rtt-reported"], Verdict.FAIL)

    def test_stats_disagree_with_lines(self):
        """
        A max that is not the largest per-probe RTT fails ping.rtt-reported.
        """
        times = [(0.0, 0.0001), (0.5, 0.5001)]
        output = "Ping 1: RTT = 0.000100 s\nPing 2: RTT = 0.000100 s\nrtt min/avg/max = 0.1/0.1/0.5 ms"
        self.assertEqual(verdicts(session(times, output))["ping.rtt-reported"], Verdict.FAIL)

    def test_format_and_count(self):
        """
        A probe that is neither lab form fails ping.format; 2 probes when
        10 are expected fails ping.count.
        """
        recorded = session([(0.0, 0.0001), (1.0, 1.0001)], "", payloads=[b"hello 1", b"hello 2"])
        found = verdicts(recorded)
        self.assertEqual((found["ping.format"], found["ping.count"]), (Verdict.FAIL, Verdict.PASS))
        from dataclasses import replace

        self.assertEqual(verdicts(replace(recorded, count=10))["ping.count"], Verdict.FAIL)

    def test_timeline_interleaves(self):
        """
        The timeline shows the instrument's events and the program's lines
        in time order.
        """
        shown = timeline(session([(0.0, 0.0001)], "Ping 1: RTT = 0.1 ms"))
        self.assertIn("netlab   < Ping 1", shown[0])
        self.assertIn("program | Ping 1", shown[2])


class OptionsTests(SynchronousTestCase):
    def test_run_is_required(self):
        """
        Without --run there is nothing to check: a usage error.
        """
        self.assertRaises(usage.UsageError, ping_client.Options().parseOptions, [])


def run_check(command: str, *argv: str) -> defer.Deferred:
    options = ping_client.Options()
    options.parseOptions(["--json", "--run", command, *argv])
    out, err = io.StringIO(), io.StringIO()

    def done(code: int):
        document = json.loads(out.getvalue())
        return code, {case["id"]: case["verdict"] for case in document["cases"]}, document

    return ping_client.main(reactor, options, out, err).addCallback(done)


def student(name: str) -> str:
    return f"{sys.executable} {os.path.join(STUDENTS, name)} {{host}} {{port}}"


ALL_PASS = {case.id: "pass" for case in all_cases()}


class StudentRunTests(TestCase):
    """
    The student pingers and netlab's own ``netlab ping`` against the echo
    instrument, all at once (each has its own instrument), with every
    verdict asserted.
    """

    timeout = 90

    @defer.inlineCallbacks
    def test_verdicts(self):
        netlab = os.path.join(os.path.dirname(sys.executable), "netlab")
        expected = {
            student("ping_good.py"): ALL_PASS,
            student("ping_seq_format.py"): ALL_PASS,
            student("ping_late_reply.py"): dict(ALL_PASS, **{"ping.late-reply": "fail", "ping.loss-reported": "fail"}),
            student("ping_miscount.py"): dict(ALL_PASS, **{"ping.loss-reported": "fail"}),
            f"{netlab} ping {{host}}:{{port}}": ALL_PASS,
        }
        commands = list(expected)
        outcomes = yield defer.gatherResults([run_check(command) for command in commands])
        for command, (code, found, document) in zip(commands, outcomes):
            self.assertEqual(found, expected[command], f"{command}:\n" + "\n".join(document["notes"]))
            self.assertEqual(code, 1 if "fail" in expected[command].values() else 0, command)
