"""
Integration: ``netlab check http --report FILE.html`` on a typical student
web server (tests/check/students/http_lab_typical.py, run by ``--run``),
and the page as headless Chromium renders it: no console message, and the
DOM's rows, verdict bar and transcripts are the same run's JSON report.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys

from twisted.trial.unittest import TestCase

from tests.chromium import render
from tests.helpers import child_env, executable

STUDENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "check", "students",
                       "http_lab_typical.py")


class CheckReportBrowserTests(TestCase):
    def test_rendered_page_is_the_run(self):
        """
        Every case of the run is a row with its verdict, the bar counts
        each verdict, and each transcript is there as text (escaped, not
        markup); Chromium logs no console message and takes a screenshot.
        """
        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        page = os.path.join(directory, "report.html")
        result = subprocess.run(
            [executable("netlab"), "check", "http", "--run", f"{sys.executable} {STUDENT} {{port}}",
             "--profile", "lab", "--timeout", "2s", "--json", "--report", page],
            capture_output=True, text=True, timeout=180, env=child_env(), stdin=subprocess.DEVNULL,
        )
        self.assertEqual(result.returncode, 1, result.stderr)  # the typical submission fails some cases
        expected = json.loads(result.stdout)

        dom, console = render(self, "file://" + page)
        self.assertEqual(console, [])
        found = re.findall(r'<tr class="\w+" data-case="([^"]*)" data-verdict="(\w+)">(.*?)</tr>', dom, re.S)
        self.assertEqual([(case, verdict) for case, verdict, _ in found],
                         [(case["id"], case["verdict"]) for case in expected["cases"]])
        for (_, _, cells), case in zip(found, expected["cases"]):
            if case["transcript"]:
                shown = re.search(r'<pre class="transcript">(.*?)</pre>', cells, re.S)
                self.assertEqual(html.unescape(shown.group(1)), case["transcript"])
        bar = dict(re.findall(r'data-verdict="(\w+)" data-count="(\d+)"', dom))
        self.assertEqual({verdict: int(count) for verdict, count in bar.items()},
                         {"pass": expected["passed"], "fail": expected["failed"],
                          "warn": expected["warned"], "skip": expected["skipped"]})
        self.assertNotIn("<script", dom)

        png = os.path.join(directory, "report.png")
        _, console = render(self, "file://" + page, screenshot=png, window_size=(1100, 900))
        self.assertEqual(console, [])
        self.assertGreater(os.path.getsize(png), 20_000)
