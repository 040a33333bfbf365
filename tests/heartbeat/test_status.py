"""
Tests for the status page (L{twisted_netlab.heartbeat.status}): HTML and
JSON rendered through twisted.web's request machinery on a clock.
"""

import json

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab.heartbeat import HeartbeatMonitor, MonitorSettings, encode_beat, status_site

T0 = 1_700_000_000.0


class StatusPageTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        self.site = status_site(self.monitor, reactor=self.clock)
        for sequence in range(3):
            self.monitor.datagram_received(encode_beat(sequence, T0 + sequence, client_id="alpha"), ("127.0.0.1", 1), T0 + sequence)
        self.monitor.datagram_received(encode_beat(0, T0), ("127.0.0.1", 2), T0)
        self.monitor.datagram_received(b"junk", ("127.0.0.1", 3), T0)
        self.clock.advance(3.5)
        self.monitor.sweep(self.clock.seconds())

    def get(self, path):
        request = DummyRequest(path.split(b"/")[1:] if path != b"/" else [b""])
        resource = self.site.getResourceFor(request)
        body = resource.render(request)
        return request, body

    def test_html(self):
        """
        The HTML lists each client with its state (problems first), reloads
        itself, and forbids scripts and outside resources.
        """
        request, body = self.get(b"/")
        text = body.decode("utf-8")
        self.assertIn('<meta http-equiv="refresh" content="2">', text)
        self.assertIn('<tr class="alive" data-client="alpha"><td>alpha</td><td class="state">alive</td><td>2</td>', text)
        self.assertIn('<tr class="stopped" data-client="127.0.0.1:2">', text)
        self.assertLess(text.index("127.0.0.1:2"), text.index('data-client="alpha"'))
        self.assertIn("1 malformed", text)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"text/html; charset=utf-8"])
        self.assertIn(b"default-src 'none'", request.responseHeaders.getRawHeaders(b"content-security-policy")[0])

    def test_json(self):
        """
        /status.json carries the same rows and the counters.
        """
        request, body = self.get(b"/status.json")
        document = json.loads(body)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"application/json"])
        clients = {c["client"]: c for c in document["clients"]}
        self.assertEqual((clients["alpha"]["state"], clients["alpha"]["beats"], clients["alpha"]["last_sequence"]), ("alive", 3, 2))
        self.assertEqual(clients["127.0.0.1:2"]["state"], "stopped")
        self.assertEqual(document["counters"]["malformed"], 1)
        self.assertEqual(document["states"], {"alive": 1, "suspect": 0, "stopped": 1, "recovered": 0})
        self.assertEqual(document["settings"]["timeout"], 3.0)

    def test_unknown_path(self):
        """
        Anything but / and /status.json is 404.
        """
        request, body = self.get(b"/nothing")
        self.assertEqual(request.responseCode, 404)
