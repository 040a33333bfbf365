"""
Tests for L{twisted_netlab.check._report}: the text report, the JSON
document and JUnit XML.
"""

import json
import xml.etree.ElementTree as ElementTree

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.check._case import Case, CaseResult, Outcome, Profile, Verdict, passed
from twisted_netlab.check._report import Report, render_json, render_junit, render_text


def make(case_id, profile=Profile.LAB, ref="lab"):
    return Case(case_id, f"title of {case_id}", ref, profile, lambda c: (), lambda r, c: passed(""))


REPORT = Report(
    "http",
    "http://127.0.0.1:8080/",
    "all",
    [
        CaseResult(make("get.file"), Outcome(Verdict.PASS, "200, 360 bytes")),
        CaseResult(make("get.missing"), Outcome(Verdict.FAIL, "404, but no empty line"), "> GET /x\n< HTTP/1.1 404"),
        CaseResult(make("host.missing", Profile.RFC, "RFC 9112 §3.2"), Outcome(Verdict.WARN, "got 404")),
        CaseResult(make("range.single", Profile.RFC), Outcome(Verdict.SKIP, "needs fixtures")),
    ],
    ("server died during x",),
)


class TextTests(SynchronousTestCase):
    def test_summary_and_scores(self):
        """
        The report ends with the score per profile and the summary line.
        """
        lines = render_text(REPORT).splitlines()
        self.assertEqual(lines[-1], "1 passed, 1 failed, 1 warned, 1 skipped")
        self.assertEqual(lines[-2], "score: lab 1/2, rfc 1/1")
        self.assertIn("server died during x", lines)

    def test_failure_shows_detail_and_transcript(self):
        """
        A failure shows its detail and transcript; a pass shows neither.
        """
        text = render_text(REPORT)
        self.assertIn("FAIL  get.missing", text)
        self.assertIn("      404, but no empty line\n        > GET /x\n        < HTTP/1.1 404\n", text)
        self.assertNotIn("200, 360 bytes", text)
        self.assertIn("200, 360 bytes", render_text(REPORT, verbose=True))

    def test_server_output_shown_when_something_failed(self):
        """
        A --run server's last output lines are shown when a case failed,
        and carried in the JSON document.
        """
        from dataclasses import replace

        with_output = replace(REPORT, server_output="Ready to serve...\nTraceback (most recent call last):")
        self.assertIn("server output (last lines):\n  | Ready to serve...\n", render_text(with_output))
        self.assertEqual(json.loads(render_json(with_output))["server_output"], with_output.server_output)
        passing = replace(with_output, results=REPORT.results[:1])
        self.assertNotIn("server output", render_text(passing))

    def test_colour_only_when_asked(self):
        """
        No escape sequences unless colour is on.
        """
        self.assertNotIn("\x1b[", render_text(REPORT))
        self.assertIn("\x1b[1;31mFAIL", render_text(REPORT, colour=True))


class JSONTests(SynchronousTestCase):
    def test_document(self):
        """
        The JSON document has the issue's keys and counts.
        """
        document = json.loads(render_json(REPORT))
        self.assertEqual(
            {k: document[k] for k in ("target", "profile", "passed", "failed", "warned", "skipped", "score", "max_score")},
            {"target": "http://127.0.0.1:8080/", "profile": "all", "passed": 1, "failed": 1, "warned": 1,
             "skipped": 1, "score": 2, "max_score": 3},
        )
        self.assertEqual(set(document["cases"][1]), {"id", "title", "ref", "profile", "verdict", "detail", "transcript"})
        self.assertEqual(document["cases"][1]["verdict"], "fail")


class JUnitTests(SynchronousTestCase):
    def test_xml(self):
        """
        One testcase per case; a failure carries the detail as its message
        and the transcript as its text; a skip is skipped; a warn passes.
        """
        root = ElementTree.fromstring(render_junit(REPORT, {"get.file": 0.25}))
        cases = {c.get("name"): c for c in root.iter("testcase")}
        self.assertEqual(set(cases), {"get.file", "get.missing", "host.missing", "range.single"})
        failure = cases["get.missing"].find("failure")
        self.assertEqual(failure.get("message"), "404, but no empty line")
        self.assertIn("< HTTP/1.1 404", failure.text)
        self.assertIsNotNone(cases["range.single"].find("skipped"))
        self.assertIsNone(cases["host.missing"].find("failure"))
        self.assertEqual(cases["get.file"].get("time"), "0.250")
        suites = {s.get("name"): s for s in root.iter("testsuite")}
        self.assertEqual(suites["http.lab"].get("failures"), "1")

    def test_control_characters_are_made_safe(self):
        """
        A detail quoting a control character still gives well-formed XML.
        """
        report = Report("http", "t", "all", [CaseResult(make("a.b"), Outcome(Verdict.FAIL, "got \x07 bell"), "\x00")])
        ElementTree.fromstring(render_junit(report))
