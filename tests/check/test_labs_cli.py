"""
The lab checks through the ``netlab check`` command line: each kind is
registered and lists its cases; a usage error exits 2 with one line on
stderr; a program that exits at once is a failed run (exit 1) whose output
the report shows.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys

from twisted.internet import defer, reactor
from twisted.trial.unittest import TestCase

from tests.helpers import child_env, executable
from twisted_netlab.check import ping_client

KINDS = {
    "ping-client": "ping.late-reply",
    "beat-client": "beat.survives-no-listener",
    "beat-monitor": "monitor.stopped-reported",
    "smtp-client": "smtp.reports-4xx",
    "smtp": "smtp.smuggling.lf",
}


class CommandLineTests(TestCase):
    timeout = 60

    def netlab(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([executable("netlab"), "check", *argv], capture_output=True, text=True, timeout=30, env=child_env())

    def test_every_kind_lists_its_cases(self):
        """
        ``netlab check KIND --list`` names the kind's cases, for every lab kind.
        """
        for kind, case_id in KINDS.items():
            result = self.netlab(kind, "--list")
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertIn(case_id, result.stdout)

    def test_usage_error(self):
        """
        A client check without --run is a usage error: exit 2, one line
        on stderr saying what is missing, nothing on stdout.
        """
        result = self.netlab("ping-client")
        self.assertEqual(result.returncode, 2)
        self.assertIn("--run", result.stderr)
        self.assertEqual(result.stdout, "")

    @defer.inlineCallbacks
    def test_program_that_exits_at_once(self):
        """
        A pinger that prints one line and exits: ping.count fails, exit 1,
        and its output is in the report.
        """
        options = ping_client.Options()
        options.parseOptions(["--json", "--run", f"{sys.executable} -c \"print('hello from the student')\""])
        out, err = io.StringIO(), io.StringIO()
        code = yield ping_client.main(reactor, options, out, err)
        document = json.loads(out.getvalue())
        verdicts = {case["id"]: case["verdict"] for case in document["cases"]}
        self.assertEqual((code, verdicts["ping.count"]), (1, "fail"))
        self.assertTrue(any("hello from the student" in note for note in document["notes"]))
