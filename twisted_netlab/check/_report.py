# -*- test-case-name: tests.check.test_report -*-
"""
The pure report layer of ``netlab check``: a run's L{Report} rendered as
text for a person (colour only when asked, i.e. on a TTY), as one JSON
document, and as JUnit XML for CI graders.  Kind-agnostic: every check
kind reports through these three functions.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from twisted_netlab.check._case import CaseResult, Score, Verdict, scores, tally


@dataclass(frozen=True)
class Report:
    """
    One run: what was checked (C{kind}, C{target}), with which profile, the
    results in case order, notes (server start, restarts) shown before the
    summary, and the last lines of a ``--run`` server's output (shown when
    a case failed, or with C{verbose}).
    """

    kind: str
    target: str
    profile: str
    results: Sequence[CaseResult]
    notes: Sequence[str] = field(default_factory=tuple)
    server_output: str = ""

    @property
    def counts(self) -> Dict[Verdict, int]:
        return tally(self.results)

    @property
    def scores(self) -> List[Score]:
        return scores(self.results)

    @property
    def failed(self) -> bool:
        return self.counts[Verdict.FAIL] > 0

    def summary_line(self) -> str:
        counts = self.counts
        return (
            f"{counts[Verdict.PASS]} passed, {counts[Verdict.FAIL]} failed, "
            f"{counts[Verdict.WARN]} warned, {counts[Verdict.SKIP]} skipped"
        )


_COLOURS = {
    Verdict.PASS: "\x1b[32m",
    Verdict.FAIL: "\x1b[1;31m",
    Verdict.WARN: "\x1b[33m",
    Verdict.SKIP: "\x1b[2m",
}
_RESET = "\x1b[0m"


def render_text(report: Report, colour: bool = False, verbose: bool = False) -> str:
    """
    The report a person reads: one line per case (verdict, id, title,
    reference), the detail under every case that is not a plain pass, the
    transcript under every failure (every case with C{verbose}), then
    notes, the score per profile and the summary line.
    """
    lines = [f"netlab check {report.kind} {report.target} (profile {report.profile}, {len(report.results)} cases)", ""]
    id_width = max([len(r.case.id) for r in report.results] + [10])
    for result in report.results:
        label = result.verdict.value.upper().ljust(4)
        if colour:
            label = f"{_COLOURS[result.verdict]}{label}{_RESET}"
        lines.append(f"{label}  {result.case.id.ljust(id_width)}  {result.case.title}  [{result.case.ref}]")
        if result.verdict is not Verdict.PASS or verbose:
            lines.append(f"      {result.outcome.detail}")
        if result.transcript and (result.verdict is Verdict.FAIL or verbose):
            lines.extend("        " + line for line in result.transcript.splitlines())
        if result.server_output and result.verdict is Verdict.FAIL:
            lines.append("      server output (last lines):")
            lines.extend("        | " + line for line in result.server_output.splitlines())
    lines.append("")
    if report.server_output.strip() and (report.failed or verbose):
        lines.append("server output (last lines):")
        lines.extend("  | " + line for line in report.server_output.splitlines())
    lines.extend(report.notes)
    lines.append("score: " + ", ".join(f"{s.profile.value} {s.score}/{s.max_score}" for s in report.scores))
    lines.append(report.summary_line())
    return "\n".join(lines) + "\n"


def to_json(report: Report) -> Dict[str, object]:
    """
    The JSON document of C{--json} (score totals over every profile, plus
    the per-profile split under C{"scores"}).
    """
    counts = report.counts
    per_profile = report.scores
    return {
        "kind": report.kind,
        "target": report.target,
        "profile": report.profile,
        "cases": [
            {
                "id": r.case.id,
                "title": r.case.title,
                "ref": r.case.ref,
                "profile": r.case.profile.value,
                "verdict": r.verdict.value,
                "detail": r.outcome.detail,
                "transcript": r.transcript,
            }
            for r in report.results
        ],
        "passed": counts[Verdict.PASS],
        "failed": counts[Verdict.FAIL],
        "warned": counts[Verdict.WARN],
        "skipped": counts[Verdict.SKIP],
        "score": sum(s.score for s in per_profile),
        "max_score": sum(s.max_score for s in per_profile),
        "scores": {s.profile.value: {"score": s.score, "max_score": s.max_score} for s in per_profile},
        "notes": list(report.notes),
        "server_output": report.server_output,
    }


def render_json(report: Report) -> str:
    return json.dumps(to_json(report), indent=2, ensure_ascii=False) + "\n"


def render_junit(report: Report, elapsed: Optional[Dict[str, float]] = None) -> bytes:
    """
    JUnit XML: one C{testsuite} per profile, one C{testcase} per case
    (classname C{<kind>.<profile>}), a C{failure} whose message is the
    detail and whose text is the transcript, C{skipped} with the reason; a
    warn passes and carries its detail in C{system-out}.
    """
    elapsed = elapsed or {}
    root = ElementTree.Element("testsuites", name=f"netlab check {report.kind}")
    by_profile: Dict[str, List[CaseResult]] = {}
    for result in report.results:
        by_profile.setdefault(result.case.profile.value, []).append(result)
    for profile, results in by_profile.items():
        counts = tally(results)
        suite = ElementTree.SubElement(
            root,
            "testsuite",
            name=f"{report.kind}.{profile}",
            tests=str(len(results)),
            failures=str(counts[Verdict.FAIL]),
            skipped=str(counts[Verdict.SKIP]),
            errors="0",
        )
        for result in results:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=f"{report.kind}.{profile}",
                name=result.case.id,
                time=f"{elapsed.get(result.case.id, 0.0):.3f}",
            )
            if result.verdict is Verdict.FAIL:
                failure = ElementTree.SubElement(case, "failure", message=_xml_safe(result.outcome.detail), type="fail")
                failure.text = _xml_safe(result.transcript)
            elif result.verdict is Verdict.SKIP:
                ElementTree.SubElement(case, "skipped", message=_xml_safe(result.outcome.detail))
            else:
                out = ElementTree.SubElement(case, "system-out")
                out.text = _xml_safe(f"{result.verdict.value}: {result.outcome.detail}")
    return ElementTree.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _xml_safe(text: str) -> str:
    # XML 1.0 cannot hold most control characters even escaped; transcripts
    # are already escaped, details may quote what a server sent.
    return "".join(c if c in "\t\n\r" or ord(c) >= 0x20 else f"\\x{ord(c):02x}" for c in text)
