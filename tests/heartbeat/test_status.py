"""
Tests for the status page (L{twisted_netlab.heartbeat.status}): HTML and
JSON rendered through twisted.web's request machinery on a clock; the Host
rule, bounded pages, the cache per sweep.
"""

import json

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab.heartbeat import HeartbeatMonitor, MonitorSettings, encode_beat, status_site
from twisted_netlab.heartbeat.status import MAX_HTML_ROWS, MAX_LIMIT

T0 = 1_700_000_000.0


def get(site, path, host=b"127.0.0.1:8090", args=None):
    """
    Render C{path} through C{site} as twisted.web would (the Site picks the
    resource, so its Host rule applies).
    """
    request = DummyRequest(path.split(b"/")[1:] if path != b"/" else [b""])
    request.args = args or {}
    if host is not None:
        request.requestHeaders.setRawHeaders(b"host", [host])
    resource = site.getResourceFor(request)
    body = resource.render(request)
    return request, body


class StatusPageTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        self.site = status_site(self.monitor, reactor=self.clock, allowed_hosts=["monitor.lab.test"])
        for sequence in range(3):
            self.monitor.datagram_received(encode_beat(sequence, T0 + sequence, client_id="alpha"), ("127.0.0.1", 1), T0 + sequence)
        self.monitor.datagram_received(encode_beat(0, T0), ("127.0.0.1", 2), T0)
        self.monitor.datagram_received(b"junk", ("127.0.0.1", 3), T0)
        self.clock.advance(3.5)
        self.monitor.sweep(self.clock.seconds())

    def get(self, path, **kwargs):
        return get(self.site, path, **kwargs)

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
        policy = request.responseHeaders.getRawHeaders(b"content-security-policy")[0]
        self.assertIn(b"default-src 'none'", policy)
        self.assertIn(b"frame-ancestors 'none'", policy)
        self.assertNotIn(b"script", policy)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertEqual(request.responseHeaders.getRawHeaders(b"referrer-policy"), [b"no-referrer"])

    def test_json_summary_by_default_rows_on_request(self):
        """
        /status.json is a summary (states, counters, settings, how many
        clients) by default; ?limit= adds that many rows from ?offset=.
        """
        request, body = self.get(b"/status.json")
        document = json.loads(body)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"application/json"])
        self.assertNotIn("clients", document)
        self.assertEqual(document["clients_total"], 2)
        self.assertEqual(document["counters"]["malformed"], 1)
        self.assertEqual(document["states"], {"alive": 1, "suspect": 0, "stopped": 1, "recovered": 0})
        self.assertEqual(document["settings"]["timeout"], 3.0)
        request, body = self.get(b"/status.json", args={b"limit": [b"10"]})
        document = json.loads(body)
        clients = {c["client"]: c for c in document["clients"]}
        self.assertEqual((clients["alpha"]["state"], clients["alpha"]["beats"], clients["alpha"]["last_sequence"]), ("alive", 3, 2))
        self.assertEqual(clients["127.0.0.1:2"]["state"], "stopped")
        request, body = self.get(b"/status.json", args={b"limit": [b"1"], b"offset": [b"1"]})
        self.assertEqual([c["client"] for c in json.loads(body)["clients"]], ["127.0.0.1:2"])

    def test_json_arguments_validated(self):
        """
        A limit over the cap, a negative offset or a non-number is a 400.
        """
        for args in ({b"limit": [str(MAX_LIMIT + 1).encode()]}, {b"offset": [b"-1"]}, {b"limit": [b"ten"]}):
            request, body = self.get(b"/status.json", args=args)
            self.assertEqual(request.responseCode, 400, args)

    def test_unknown_path(self):
        """
        Anything but / and /status.json is 404.
        """
        request, body = self.get(b"/nothing")
        self.assertEqual(request.responseCode, 404)

    def test_foreign_host_refused_on_every_path(self):
        """
        DNS rebinding: a request naming another host (Host: evil.example.com)
        gets 403 on every path and no data; IP literals, localhost names
        and the configured name are served.
        """
        for path in (b"/", b"/status.json", b"/nothing"):
            request, body = self.get(path, host=b"evil.example.com")
            self.assertEqual(request.responseCode, 403, path)
            self.assertNotIn(b"alpha", body)
            self.assertNotIn(b"malformed", body)
        for host in (b"127.0.0.1:8090", b"[::1]:8090", b"localhost:8090", b"status.localhost", b"Monitor.Lab.Test:8090"):
            request, body = self.get(b"/status.json", host=host)
            self.assertIsNone(request.responseCode, host)  # DummyRequest: None means 200
            self.assertEqual(json.loads(body)["clients_total"], 2, host)

    def test_phi_readable(self):
        """
        A client silent for minutes shows phi "&gt; 100", not its
        seven-digit value.
        """
        self.clock.advance(600)
        self.monitor.sweep(self.clock.seconds())
        request, body = self.get(b"/")
        self.assertIn(b"<td>&gt; 100</td>", body)
        self.assertEqual(json.loads(self.get(b"/status.json", args={b"limit": [b"1"]})[1])["clients"][0]["phi"] > 100, True)


class EmptyAndLargeTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        self.site = status_site(self.monitor, reactor=self.clock)

    def test_no_clients_yet(self):
        """
        An empty monitor says so in a row of its own.
        """
        request, body = get(self.site, b"/")
        self.assertIn(b'<tr class="empty"><td colspan="14">No clients yet', body)

    def fill(self, count):
        for number in range(count):
            self.monitor.datagram_received(encode_beat(0, T0, client_id=f"c{number}"), ("127.0.0.1", 1), T0)

    def test_pages_are_bounded_whatever_the_table(self):
        """
        With 5,000 clients the HTML shows at most MAX_HTML_ROWS rows and the
        default JSON none, so what a request costs does not grow with the
        number of clients; JSON pages still reach every client.
        """
        self.fill(5000)
        self.monitor.sweep(T0 + 0.5)
        calls = []
        row = self.monitor._row
        self.monitor._row = lambda *args: calls.append(1) or row(*args)
        request, body = get(self.site, b"/")
        self.assertEqual(body.count(b'<tr class="alive"'), MAX_HTML_ROWS)
        self.assertIn(b"4500 more clients", body)
        request, body = get(self.site, b"/status.json")
        self.assertNotIn(b'"client"', body)
        self.assertEqual(len(calls), MAX_HTML_ROWS)
        seen = []
        for offset in range(0, 5000, MAX_LIMIT):
            request, body = get(self.site, b"/status.json", args={b"limit": [b"1000"], b"offset": [str(offset).encode()]})
            seen.extend(c["client"] for c in json.loads(body)["clients"])
        self.assertEqual(sorted(seen), sorted(f"c{number}" for number in range(5000)))

    def test_rendered_once_per_sweep(self):
        """
        Pollers asking again before the next sweep get the kept rendering
        (the monitor is not read again); after a sweep the page is new.
        """
        self.fill(3)
        self.monitor.sweep(T0 + 0.5)
        calls = []
        overview = self.monitor.overview
        self.monitor.overview = lambda *args: calls.append(1) or overview(*args)
        first = get(self.site, b"/")[1]
        for _ in range(10):
            self.assertEqual(get(self.site, b"/")[1], first)
        self.assertEqual(len(calls), 1)
        self.fill(4)
        self.monitor.sweep(T0 + 1.0)
        self.assertIn(b"c3", get(self.site, b"/")[1])
        self.assertEqual(len(calls), 2)
