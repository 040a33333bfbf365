"""
Tests for L{twisted_netlab.ping._report} (the picture of a ping run) and
``netlab ping --report``: every probe is drawn with its own values, losses
are marked where they happened, and the histogram and summary are the text
report's own numbers.
"""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from typing import List, Optional

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env
from tests.udp_fakes import FakeUDPReactor
from twisted_netlab.ping._pinger_core import PingReport, PingSession, ProbeFate, histogram
from twisted_netlab.ping._report import (
    BAND_THRESHOLD,
    MAX_PROBE_MARKS,
    band_buckets,
    render_html,
    render_report,
    render_svg,
    report_format,
)
from twisted_netlab.ping.cli import Options, main

SVG = "{http://www.w3.org/2000/svg}"


def seeded_report(count: int, seed: int = 12, name: str = "127.0.0.1") -> PingReport:
    """
    A recorded-style session driven by C{random.Random(seed)}: about 15 %
    lost, 3 % late, 3 % duplicated, RTTs of 1-40 ms, probes 10 ms apart.
    """
    rng = random.Random(seed)
    session = PingSession(timeout_seconds=0.5)
    now = 100.0
    for _ in range(count):
        sequence, payload = session.next_probe(now, 1_700_000_000.0 + now)
        draw = rng.random()
        if draw < 0.15:
            session.time_out(sequence)
        elif draw < 0.18:
            session.time_out(sequence)
            session.reply_received(payload, now + 0.7)
        else:
            rtt = 0.001 + rng.random() * 0.039
            session.reply_received(payload, now + rtt)
            if draw > 0.97:
                session.reply_received(payload, now + rtt + 0.002)
        now += 0.01
    return session.report(name, 12000)


def parse_svg(document: str) -> ElementTree.Element:
    if document.startswith("<?xml"):
        return ElementTree.fromstring(document.encode("utf-8"))
    match = re.search(r"<svg\b.*</svg>", document, re.S)
    assert match is not None, document[:200]
    return ElementTree.fromstring(match.group(0))


def marks(root: ElementTree.Element) -> List[ElementTree.Element]:
    return [node for node in root.iter() if "probe" in (node.get("class") or "").split()]


class ProbeMarkTests(SynchronousTestCase):
    def test_every_probe_drawn_with_its_values(self):
        """
        Each probe has exactly one mark, in sequence order, carrying its
        sequence, its fate and (when a reply came, late or not) its RTT as
        the report holds it.
        """
        for count in (30, BAND_THRESHOLD + 60):
            report = seeded_report(count)
            root = parse_svg(render_svg(report, "127.0.0.1:12000", 0.01))
            drawn = marks(root)
            self.assertEqual(len(drawn), report.transmitted)
            for probe, mark in zip(report.probes, drawn):
                self.assertEqual(int(mark.get("data-seq")), probe.sequence)
                self.assertEqual(mark.get("data-fate"), probe.fate.value)
                if probe.rtt_ms is None:
                    self.assertIsNone(mark.get("data-rtt-ms"))
                else:
                    self.assertAlmostEqual(float(mark.get("data-rtt-ms")), probe.rtt_ms, places=3)

    def test_losses_marked_where_lost(self):
        """
        Lost probes are red ticks along the top of the chart at their own
        sequence's place; replies are dots, and a later sequence is drawn
        further right.
        """
        report = seeded_report(40)
        root = parse_svg(render_svg(report, "h"))
        lost = [probe.sequence for probe in report.probes if probe.fate is ProbeFate.LOST]
        self.assertTrue(lost)
        lost_marks = [mark for mark in marks(root) if mark.get("data-fate") == "lost"]
        self.assertEqual([int(mark.get("data-seq")) for mark in lost_marks], lost)
        for mark in lost_marks:
            self.assertEqual(mark.tag, SVG + "rect")
            self.assertEqual(mark.get("fill"), "#c8102e")
        replied = [mark for mark in marks(root) if mark.get("data-fate") == "replied"]
        self.assertTrue(all(mark.tag == SVG + "circle" for mark in replied))
        positions = [float(mark.get("cx") or mark.get("x")) for mark in marks(root)]
        self.assertEqual(positions, sorted(positions))

    def test_higher_rtt_drawn_higher(self):
        """
        The y position falls as the RTT grows (SVG's y runs downwards).
        """
        root = parse_svg(render_svg(seeded_report(40), "h"))
        dots = sorted((float(m.get("data-rtt-ms")), float(m.get("cy"))) for m in marks(root) if m.get("cy"))
        self.assertEqual([cy for _, cy in dots], sorted((cy for _, cy in dots), reverse=True))


class HistogramAndSummaryTests(SynchronousTestCase):
    def test_histogram_counts_are_the_statistics(self):
        """
        The histogram's bars are the text report's buckets, count for
        count, duplicates included as iputils counts them.
        """
        report = seeded_report(200)
        root = parse_svg(render_svg(report, "h"))
        bars = [node for node in root.iter(SVG + "rect") if node.get("class") == "bucket"]
        expected = histogram(report.rtts_ms)
        self.assertEqual(
            [(float(b.get("data-low-ms")), b.get("data-high-ms"), int(b.get("data-count"))) for b in bars],
            [(low, "%g" % high, count) for low, high, count in expected],
        )
        self.assertEqual(sum(int(b.get("data-count")) for b in bars), report.received + report.duplicates)

    def test_summary_lines_are_the_text_report(self):
        """
        The lines printed above the chart are the text summary's own, and
        the root carries the counts.
        """
        report = seeded_report(50)
        root = parse_svg(render_svg(report, "127.0.0.1:12000"))
        drawn = [node.text for node in root.iter(SVG + "text") if node.get("class") == "summary"]
        lines = report.summary_lines("127.0.0.1:12000")
        self.assertEqual(drawn, lines[1:lines.index("rtt histogram:")])
        self.assertEqual(int(root.get("data-transmitted")), report.transmitted)
        self.assertEqual(int(root.get("data-received")), report.received)
        self.assertAlmostEqual(float(root.get("data-loss-percent")), report.loss_percent, places=3)


class BandTests(SynchronousTestCase):
    def bands(self, root: ElementTree.Element) -> List[ElementTree.Element]:
        return [node for node in root.iter(SVG + "g") if node.get("class") == "band"]

    def test_short_run_has_no_band(self):
        """
        Up to the threshold the probes speak for themselves: no band.
        """
        root = parse_svg(render_svg(seeded_report(BAND_THRESHOLD), "h"))
        self.assertEqual(self.bands(root), [])

    def test_long_run_band_summarises_each_step(self):
        """
        A long run gets SmokePing's band: consecutive steps covering every
        probe once, each with the min, p10, median, p90 and max of its
        in-time replies and its count of the rest.
        """
        report = seeded_report(BAND_THRESHOLD + 140)
        root = parse_svg(render_svg(report, "h"))
        bands = self.bands(root)
        self.assertEqual(len(bands), len(band_buckets(report.probes)))
        covered = []
        for band in bands:
            first, last = int(band.get("data-first-seq")), int(band.get("data-last-seq"))
            covered.extend(range(first, last + 1))
            group = [p for p in report.probes if first <= p.sequence <= last]
            rtts = sorted(p.rtt_ms for p in group if p.fate is ProbeFate.REPLIED and p.rtt_ms is not None)
            self.assertEqual(int(band.get("data-replies")), len(rtts))
            self.assertEqual(int(band.get("data-lost")), len(group) - len(rtts))
            self.assertAlmostEqual(float(band.get("data-min-ms")), rtts[0], places=3)
            self.assertAlmostEqual(float(band.get("data-max-ms")), rtts[-1], places=3)
            self.assertLessEqual(float(band.get("data-p10-ms")), float(band.get("data-median-ms")))
            self.assertLessEqual(float(band.get("data-median-ms")), float(band.get("data-p90-ms")))
        self.assertEqual(covered, [p.sequence for p in report.probes])

    def test_huge_run_draws_only_the_band(self):
        """
        Beyond the per-probe limit only the band is drawn (the file stays
        small), and its steps still count every loss.
        """
        report = seeded_report(MAX_PROBE_MARKS + 1)
        document = render_svg(report, "h")
        root = parse_svg(document)
        self.assertEqual(marks(root), [])
        lost = sum(int(band.get("data-lost")) for band in self.bands(root))
        self.assertEqual(lost, report.transmitted - sum(p.fate is ProbeFate.REPLIED for p in report.probes))
        self.assertLess(len(document), 200_000)


class DocumentTests(SynchronousTestCase):
    def test_pure(self):
        """
        The picture modules are pure: importing them loads no Twisted.
        """
        probe = (
            "import sys\nimport twisted_netlab._svg, twisted_netlab.ping._report\n"
            "loaded = sorted(m for m in sys.modules if m == 'twisted' or m.startswith('twisted.'))\n"
            "assert not loaded, loaded\n"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                                env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_format_by_extension(self):
        """
        The file's extension chooses the format; anything else is refused.
        """
        table = [("a.svg", "svg"), ("A.SVG", "svg"), ("run.html", "html"), ("x/y.htm", "html")]
        for path, expected in table:
            self.assertEqual(report_format(path), expected)
        for path in ("a.png", "a", "svg", "a.svg.txt"):
            self.assertRaises(ValueError, report_format, path)

    def test_self_contained_and_escaped(self):
        """
        Neither format holds a script, an event handler or an outside
        reference, and a hostile host name stays text.
        """
        name = "<script>alert(1)</script>\"&"
        report = seeded_report(20, name=name)
        for path in ("r.svg", "r.html"):
            document = render_report(report, name, path, 0.01)
            self.assertNotIn("<script", document)
            self.assertNotRegex(document, r"\son\w+=|href|url\(|@import")
            self.assertEqual(re.findall(r"https?://[^\"']*", document), ["http://www.w3.org/2000/svg"])
            self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;", document)
            parse_svg(document)

    def test_html_page(self):
        """
        The HTML page holds the SVG inline, the whole text summary, and a
        policy that forbids scripts and outside loads.
        """
        report = seeded_report(20)
        page = render_html(report, "127.0.0.1:12000")
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertIn("content=\"default-src 'none'; style-src 'unsafe-inline'\"", page)
        self.assertIn("\n".join(report.summary_lines("127.0.0.1:12000")), page)

    def test_no_probes(self):
        """
        An empty run (stopped before its first probe) still draws, saying so.
        """
        report = PingSession().report("h", 1)
        root = parse_svg(render_svg(report, "h"))
        texts = [node.text for node in root.iter(SVG + "text")]
        self.assertIn("no probes sent", texts)
        self.assertIn("no replies", texts)


class CommandTests(SynchronousTestCase):
    def run_ping(self, *argv: str, answer: Optional[set] = None):
        options = Options()
        options.parseOptions(list(argv))
        reactor = FakeUDPReactor()
        out, err = io.StringIO(), io.StringIO()
        result = main(reactor, options, out=out, err=err, monotonic=reactor.seconds, install_signal=False)
        done: list = []
        result.addBoth(lambda value: done.append(True) or value)
        protocol, transport = reactor.listened[0][2], reactor.listened[0][3]
        answered: set = set()
        for _ in range(100):
            for index, (packet, addr) in enumerate(list(transport.written)):
                if index in (answer or set()) - answered and transport.listening:
                    answered.add(index)
                    reactor.advance(0.002)
                    protocol.datagramReceived(packet, addr)
            if done:
                break
            reactor.advance(0.5)
        return self.successResultOf(result), out.getvalue(), err.getvalue()

    def test_bad_extension_is_a_usage_error(self):
        """
        ``--report`` with neither .svg nor .html is refused before anything
        is sent.
        """
        options = Options()
        error = self.assertRaises(usage.UsageError, options.parseOptions, ["--report", "run.png", "127.0.0.1"])
        self.assertIn(".svg or .html", str(error))

    def test_report_written_for_the_run(self):
        """
        ``--report FILE.html`` writes the picture of the very run the summary
        describes, and the exit code is the usual one.
        """
        path = self.mktemp() + ".html"
        code, out, err = self.run_ping("-c", "4", "--report", path, "127.0.0.1", answer={0, 2, 3})
        self.assertEqual((code, err), (0, ""))
        self.assertIn("4 packets transmitted, 3 received, 25% packet loss", out)
        with open(path, encoding="utf-8") as file:
            root = parse_svg(file.read())
        self.assertEqual([m.get("data-fate") for m in marks(root)], ["replied", "lost", "replied", "replied"])
        self.assertEqual(root.get("data-received"), "3")

    def test_unwritable_report_exits_2(self):
        """
        A report that cannot be written is one line on stderr and exit 2,
        after the summary was printed.
        """
        path = os.path.join(self.mktemp(), "missing", "r.svg")
        code, out, err = self.run_ping("-c", "1", "--report", path, "127.0.0.1", answer={0})
        self.assertEqual(code, 2)
        self.assertIn("1 packets transmitted, 1 received", out)
        self.assertEqual(err.count("\n"), 1)
        self.assertTrue(err.startswith("netlab ping: error: cannot write the report"), err)
