"""
Integration: ``netlab ping --report`` against a seeded, lossy
``twistd -n netlab-echo`` on loopback, and the report as headless Chromium
renders it: no console message, every probe's mark and the histogram
carrying the values of the same run's JSON report, and a screenshot.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

from twisted.trial.unittest import TestCase

from tests.chromium import render
from tests.helpers import child_env, executable, start_process

RUN_TIMEOUT = 30
PROBES = 80  # past the band threshold (60)


def attributes(tag: str) -> dict:
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


class PingReportBrowserTests(TestCase):
    def setUp(self):
        child = start_process(self, [
            executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-echo", "--port", "0",
            "--interface", "127.0.0.1", "--summary-interval", "0",
            "--loss", "0.2", "--delay", "5ms", "--jitter", "2ms", "--seed", "7",
        ], expect=0)
        self.port = child.read_until(r"netlab-echo listening on udp \S+ (\d+)", timeout=20).group(1)
        self.directory = os.path.abspath(self.mktemp())
        os.makedirs(self.directory)

    def ping(self, report: str) -> dict:
        result = subprocess.run(
            [executable("netlab"), "ping", "--json", "-c", str(PROBES), "-i", "0.01", "-W", "0.5",
             "--report", report, "127.0.0.1", self.port],
            capture_output=True, text=True, timeout=RUN_TIMEOUT, env=child_env(), stdin=subprocess.DEVNULL,
        )
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        return json.loads(result.stdout)

    def test_rendered_dom_carries_the_run(self):
        """
        Chromium renders the HTML report without a single console message
        (no script, nothing blocked by its policy), and the DOM it builds
        holds one mark per probe with the run's own fate and RTT, the
        band's steps covering every probe, and the histogram's counts.
        """
        path = os.path.join(self.directory, "run.html")
        expected = self.ping(path)
        self.assertGreater(expected["transmitted"], expected["received"])  # the seed loses some
        dom, console = render(self, "file://" + path)
        self.assertEqual(console, [])

        marks = [attributes(tag) for tag in re.findall(r'<(?:circle|rect) class="probe [^>]*>', dom)]
        self.assertEqual([(int(m["data-seq"]), m["data-fate"]) for m in marks],
                         [(p["sequence"], p["fate"]) for p in expected["probes"]])
        for mark, probe in zip(marks, expected["probes"]):
            if probe["rtt_ms"] is None:
                self.assertNotIn("data-rtt-ms", mark)
            else:
                self.assertAlmostEqual(float(mark["data-rtt-ms"]), probe["rtt_ms"], places=3)

        bands = [attributes(tag) for tag in re.findall(r'<g class="band"[^>]*>', dom)]
        self.assertTrue(bands)
        self.assertEqual(sum(int(b["data-replies"]) + int(b["data-lost"]) for b in bands), expected["transmitted"])
        self.assertEqual(sum(int(b["data-replies"]) for b in bands), expected["received"])

        bars = [attributes(tag) for tag in re.findall(r'<rect class="bucket"[^>]*>', dom)]
        self.assertEqual([int(b["data-count"]) for b in bars], [b["count"] for b in expected["histogram"]])
        svg = attributes(re.search(r"<svg[^>]*>", dom).group(0))
        self.assertEqual((int(svg["data-transmitted"]), int(svg["data-received"])),
                         (expected["transmitted"], expected["received"]))

    def test_svg_screenshot(self):
        """
        The standalone SVG report renders to a picture, not a blank page,
        again with no console message.
        """
        path = os.path.join(self.directory, "run.svg")
        self.ping(path)
        png = os.path.join(self.directory, "run.png")
        _, console = render(self, "file://" + path, screenshot=png, window_size=(820, 618))
        self.assertEqual(console, [])
        self.assertGreater(os.path.getsize(png), 15_000)  # a blank 820x618 page is about 3 kB


class ConsoleCheckTests(TestCase):
    def test_blocked_script_is_reported(self):
        """
        The console check is real: a page whose script and image its own
        policy blocks yields console messages.
        """
        path = os.path.abspath(self.mktemp() + ".html")
        with open(path, "w") as file:
            file.write("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" "
                       "content=\"default-src 'none'\"></head><body><script>console.log(1)</script>"
                       "<img src=\"http://127.0.0.1:9/x.png\"></body></html>")
        _, console = render(self, "file://" + path)
        self.assertEqual(len(console), 2, console)
