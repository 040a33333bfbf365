# -*- test-case-name: tests.check.test_report_html -*-
"""
The HTML report of ``netlab check ... --report FILE.html``, pure: one
self-contained page per run (no script, nothing loaded from outside), the
verdicts as a bar and a table, every transcript escaped, so a teacher opens
one page per submission.
"""

from __future__ import annotations

from typing import Dict, List

from twisted_netlab._svg import AttributeValue, element, escape, svg_document
from twisted_netlab.check._case import Verdict
from twisted_netlab.check._report import Report

__all__ = ["render_html"]

VERDICT_COLOURS = {
    Verdict.PASS: "#2e7d32",
    Verdict.FAIL: "#c62828",
    Verdict.WARN: "#f9a825",
    Verdict.SKIP: "#9e9e9e",
}

_STYLE = (
    "body{font-family:sans-serif;margin:1em;color:#222;background:#fff}h1{font-size:1.3em;word-break:break-all}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3em;"
    "text-align:left;vertical-align:top}"
    "td.verdict{font-weight:bold;color:#fff;width:4em;text-align:center}"
    + "".join(f"tr.{v.value} td.verdict{{background:{colour}}}" for v, colour in VERDICT_COLOURS.items())
    + "pre{background:#f4f4f4;padding:.5em;white-space:pre-wrap;word-break:break-all;font-size:12px}"
    "code{font-size:12px}"
)


def _verdict_bar(report: Report, width: int = 600, height: int = 22) -> str:
    """
    One bar split by verdict, each part as wide as its share of the cases.
    """
    counts = report.counts
    total = sum(counts.values()) or 1
    parts: List[str] = []
    left = 0.0
    for verdict in Verdict:
        count = counts[verdict]
        share = width * count / total
        values: Dict[str, AttributeValue] = {
            "class": "verdict-count", "data-verdict": verdict.value, "data-count": count,
            "x": left, "y": 0.0, "width": share, "height": height, "fill": VERDICT_COLOURS[verdict],
        }
        parts.append(element("rect", values, element("title", {}, escape(f"{count} {verdict.value}"))))
        left += share
    return svg_document(width, height, parts, report.summary_line(), id="verdicts",
                        data_total=sum(counts.values()))


def render_html(report: Report) -> str:
    """
    The whole page: title, verdict bar, summary and scores, then one row
    per case (verdict, id, title, reference, detail) with its transcript
    (open under a failure, folded otherwise) and the server's output when
    it died.
    """
    title = f"netlab check {report.kind} {report.target}"
    rows = []
    for result in report.results:
        case = result.case
        transcript = ""
        if result.transcript:
            opened = " open" if result.verdict is Verdict.FAIL else ""
            transcript = (f"<details{opened}><summary>transcript</summary>"
                          f'<pre class="transcript">{escape(result.transcript)}</pre></details>')
        if result.server_output:
            transcript += (f"<details><summary>server output</summary>"
                           f'<pre class="server-output">{escape(result.server_output)}</pre></details>')
        rows.append(
            f'<tr class="{result.verdict.value}" data-case="{escape(case.id)}" data-verdict="{result.verdict.value}">'
            f'<td class="verdict">{result.verdict.value.upper()}</td>'
            f"<td><code>{escape(case.id)}</code></td><td>{escape(case.title)}<br><small>{escape(case.ref)} "
            f"({escape(case.profile.value)})</small></td>"
            f'<td><span class="detail">{escape(result.outcome.detail)}</span>{transcript}</td></tr>'
        )
    scores = ", ".join(f"{s.profile.value} {s.score}/{s.max_score}" for s in report.scores)
    notes = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
        f"<title>{escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{escape(title)}</h1>\n"
        f'<p>profile {escape(report.profile)}, {len(report.results)} cases</p>\n'
        + _verdict_bar(report)
        + f'\n<p id="summary">{escape(report.summary_line())}; score: {escape(scores)}</p>\n'
        + (f"<ul id=\"notes\">{notes}</ul>\n" if notes else "")
        + '<table id="cases"><thead><tr><th>verdict</th><th>case</th><th>what</th><th>detail</th></tr></thead>'
        "<tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n</body>\n</html>\n"
    )


