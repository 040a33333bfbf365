"""
Tests for L{twisted_netlab.check._report_html} and ``netlab check ...
--report FILE.html``: one self-contained page per run, every verdict and
transcript on it, escaped.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from dataclasses import replace

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.check.test_report import REPORT, make
from tests.helpers import child_env
from twisted_netlab import cli as netlab_cli
from twisted_netlab.check._case import CaseResult, Outcome, Verdict
from twisted_netlab.check._report_html import render_html
from twisted_netlab.check.cli import conclude


def rows(page: str) -> list:
    return re.findall(r'<tr class="(\w+)" data-case="([^"]*)" data-verdict="(\w+)">(.*?)</tr>', page, re.S)


class PageTests(SynchronousTestCase):
    def test_every_case_with_its_verdict(self):
        """
        One row per case in order, with its id, verdict and detail; the
        summary and scores are the text report's.
        """
        page = render_html(REPORT)
        found = rows(page)
        self.assertEqual([(c, v) for _, c, v, _ in found], [(r.case.id, r.verdict.value) for r in REPORT.results])
        for (_, _, _, cells), result in zip(found, REPORT.results):
            self.assertIn(f'<span class="detail">{result.outcome.detail}</span>', cells)
        self.assertIn("1 passed, 1 failed, 1 warned, 1 skipped; score: lab 1/2, rfc 1/1", page)
        self.assertIn("<li>server died during x</li>", page)

    def test_verdict_bar_counts(self):
        """
        The verdict bar is an SVG with one part per verdict, carrying its
        count, widths in proportion.
        """
        page = render_html(REPORT)
        bar = ElementTree.fromstring(re.search(r"<svg\b.*?</svg>", page, re.S).group(0))
        parts = [node for node in bar.iter("{http://www.w3.org/2000/svg}rect")]
        self.assertEqual([(p.get("data-verdict"), p.get("data-count")) for p in parts],
                         [("pass", "1"), ("fail", "1"), ("warn", "1"), ("skip", "1")])
        self.assertEqual([p.get("width") for p in parts], ["150"] * 4)

    def test_transcripts_escaped_failures_open(self):
        """
        A transcript is escaped text (a hostile server cannot inject
        markup or script), open under a failure and folded otherwise; a
        dead server's output is shown too.
        """
        hostile = "< HTTP/1.1 200\n<script>alert(1)</script><img src=x onerror=y>"
        report = replace(REPORT, results=[
            CaseResult(make("get.a"), Outcome(Verdict.FAIL, "bad <b>"), hostile, "Traceback <here>"),
            CaseResult(make("get.b"), Outcome(Verdict.PASS, "ok"), "> GET /\n< HTTP/1.1 200"),
        ])
        page = render_html(report)
        self.assertNotIn("<script", page)
        self.assertNotIn("<img", page)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=y&gt;", page)
        self.assertIn("bad &lt;b&gt;", page)
        self.assertIn("Traceback &lt;here&gt;", page)
        (_, _, _, failed), (_, _, _, fine) = rows(page)
        self.assertIn("<details open><summary>transcript</summary>", failed)
        self.assertIn("<details><summary>transcript</summary>", fine)

    def test_self_contained(self):
        """
        No script, no outside reference, and a policy that forbids both.
        """
        page = render_html(REPORT)
        self.assertNotRegex(page, r"<script|\son\w+=|href|url\(|@import")
        self.assertEqual(re.findall(r"https?://[^\"'<]*", page),
                         ["http://127.0.0.1:8080/", "http://127.0.0.1:8080/", "http://www.w3.org/2000/svg"])
        self.assertIn("content=\"default-src 'none'; style-src 'unsafe-inline'\"", page)


class CommandTests(SynchronousTestCase):
    def parse(self, *argv):
        return netlab_cli.parse(["check", "http", *argv]).subOptions.subOptions

    def test_html_only(self):
        """
        --report names a .html file; anything else is a usage error.
        """
        self.assertRaises(usage.UsageError, self.parse, "http://127.0.0.1:9/", "--report", "r.pdf")
        self.assertEqual(self.parse("http://127.0.0.1:9/", "--report", "r.html")["report"], "r.html")

    def test_written_beside_the_text(self):
        """
        conclude() prints the text report and writes the page; a page that
        cannot be written is one line on stderr and exit 2.
        """
        path = self.mktemp() + ".html"
        options = self.parse("http://127.0.0.1:9/", "--report", path, "--no-color")
        out, err = io.StringIO(), io.StringIO()
        self.assertEqual(conclude(REPORT, options, out, err), 1)
        self.assertIn("1 passed, 1 failed", out.getvalue())
        with open(path, encoding="utf-8") as page:
            self.assertEqual(page.read(), render_html(REPORT))
        options = self.parse("http://127.0.0.1:9/", "--report", self.mktemp() + "/missing/r.html")
        err = io.StringIO()
        self.assertEqual(conclude(REPORT, options, io.StringIO(), err), 2)
        self.assertTrue(err.getvalue().startswith("netlab check: cannot write --report file"), err.getvalue())

    def test_pure(self):
        """
        The page module imports no Twisted.
        """
        probe = ("import sys\nimport twisted_netlab.check._report_html\n"
                 "assert not [m for m in sys.modules if m.startswith('twisted.')], 'twisted loaded'\n")
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                                env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)
