"""
Integration: the pictures on the netlab-heartbeat status page as headless
Chromium renders them: a client that beats, dies and comes back has gap
and phi sparklines and a last-hour timeline whose segments are the state
changes the monitor logged, with no console message; and a screenshot.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess

from twisted.trial.unittest import TestCase

from tests.chromium import render
from tests.helpers import child_env, executable, start_server

CLIENT = "pictures-client"
STATE_LINE = CLIENT + r" (alive|suspect|stopped|recovered) \(was \w+\)"


class HeartbeatPicturesBrowserTests(TestCase):
    def setUp(self):
        self.log = start_server(
            self,
            ["netlab-heartbeat", "--port", "0", "--period", "0.2", "--timeout", "1",
             "--status", "tcp:0:interface=127.0.0.1"],
            expect=2, timeout=40,
        )
        self.udp_port, status_port = (port for _, _, port in self.log.ports)
        self.url = f"http://127.0.0.1:{status_port}/"
        self.states = []

    def sender(self):
        process = subprocess.Popen(
            [executable("netlab"), "beat", "127.0.0.1", str(self.udp_port), "--interval", "0.2", "--id", CLIENT, "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(),
        )
        self.addCleanup(lambda: (process.poll() is None and process.kill(), process.wait(10)))
        return process

    def expect_state(self, state):
        """
        Wait for the monitor's log line of C{state}, keeping every state
        change logged on the way.
        """
        while True:
            seen = self.log.expect(STATE_LINE).group(1)
            self.states.append(seen)
            if seen == state:
                return

    def test_pictures_follow_the_client(self):
        """
        After alive, stopped and recovered, the rendered row carries three
        inline SVGs: gaps (reference: the 0.2 s period), phi (reference:
        the threshold) and a timeline whose segments are the logged state
        changes, in order; Chromium logs no console message (nothing
        blocked by the page's strict policy) and takes the screenshot.
        """
        first = self.sender()
        self.expect_state("alive")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        self.expect_state("stopped")
        self.sender()
        self.expect_state("recovered")

        dom, console = render(self, self.url)
        self.assertEqual(console, [])
        row = re.search(r'<tr class="\w+" data-client="' + CLIENT + r'">.*?</tr>', dom, re.S)
        self.assertIsNotNone(row, dom[-3000:])
        pictures = re.findall(r"<svg[^>]*>", row.group(0))
        kinds = [re.search(r'class="(\w+)"', tag).group(1) for tag in pictures]
        self.assertEqual(kinds, ["sparkline", "sparkline", "timeline"])
        gaps = re.search(r'data-values="([^"]*)" data-reference="([^"]*)" data-kind="gaps"', pictures[0])
        self.assertEqual(gaps.group(2), "0.2")
        self.assertTrue(all(float(value) > 0 for value in gaps.group(1).split(",")))
        self.assertIn('data-kind="phi"', pictures[1])
        segments = re.findall(r'data-state="(\w+)"', row.group(0))
        # A recovered client turns alive after one more timeout of health,
        # which may happen between the last log line read and the render.
        self.assertEqual(segments[:len(self.states)], self.states)
        self.assertIn(segments[len(self.states):], ([], ["alive"]))

        directory = os.path.abspath(self.mktemp())
        os.makedirs(directory)
        png = os.path.join(directory, "status.png")
        _, console = render(self, self.url, screenshot=png, window_size=(1400, 260))
        self.assertEqual(console, [])
        self.assertGreater(os.path.getsize(png), 10_000)
