"""
Tests for L{twisted_netlab.web._server_metrics}: responses by method and
status class, body bytes, parser rejections, open connections and the
duration histogram, after real requests on StringTransport; nothing is
counted until a metrics endpoint serves the collector.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.metrics_helpers import scrape
from tests.web.test_server import Connection
from twisted_netlab.web._server_metrics import DURATION_BUCKETS, ServerCollector, ServerStats


class ServerCollectorTests(SynchronousTestCase):
    def test_requests_by_method_and_class(self):
        """
        Two GETs (200, 404), a HEAD, a DELETE (405), a method nobody knows
        (counted as "other", never as its own series) and a request the
        parser refuses: each counted under its class; the body bytes are
        those the client received.
        """
        connection = Connection(self)
        collector = ServerCollector(connection.factory)
        self.assertIsNone(connection.factory.stats)
        collector.enable()
        connection.get(b"/hello.txt")
        connection.get(b"/missing")
        connection.get(b"/hello.txt", method=b"DELETE")
        connection.get(b"/hello.txt", method=b"FROBNICATE")
        head = Connection(self, factory=connection.factory)
        head.get(b"/hello.txt", method=b"HEAD")
        second = Connection(self, factory=connection.factory)
        second.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        for each in (connection, head, second):
            if each.transport.disconnecting:  # StringTransport never reports it
                each.protocol.connectionLost(None)
        samples = scrape(collector)
        requests = {
            dict(labels)["method"] + " " + dict(labels)["code"]: value
            for (name, labels), value in samples.items() if name == "netlab_http_requests_total"
        }
        self.assertEqual(requests, {"GET 2xx": 1, "GET 4xx": 1, "HEAD 2xx": 1, "DELETE 4xx": 1, "other 5xx": 1, "other 4xx": 1})
        self.assertEqual(samples[("netlab_http_parser_rejections_total", (("reason", "duplicate host field"),))], 1)
        bodies = [body for _, _, body in connection.responses()] + [body for _, _, body in second.responses()]
        self.assertEqual(samples[("netlab_http_response_body_bytes_total", ())], sum(len(body) for body in bodies))
        still_open = [each for each in (connection, head, second) if not each.transport.disconnecting]
        self.assertEqual(len(still_open), 2)  # the refused request closed its connection
        self.assertEqual(samples[("netlab_http_connections_open", ())], 2)
        self.assertEqual(samples[("netlab_http_request_duration_seconds_count", ())], 6)

    def test_not_counting_until_enabled(self):
        """
        A factory whose collector is never served keeps no totals (the
        per-response cost is one attribute test).
        """
        connection = Connection(self)
        connection.get(b"/hello.txt")
        self.assertIsNone(connection.factory.stats)


class ServerStatsTests(SynchronousTestCase):
    def test_histogram_buckets(self):
        """
        Durations land in the first bucket whose bound they do not exceed;
        the scrape's buckets are cumulative and end with +Inf = count.
        """
        stats = ServerStats()
        for duration in (0.00005, 0.0001, 0.003, 20.0):
            stats.observe("GET", 200, 1, duration)

        class Factory:
            refused_connections = 0
            connections = ()

        factory = Factory()
        factory.stats = stats
        samples = scrape(ServerCollector(factory))
        bucket = lambda bound: samples[("netlab_http_request_duration_seconds_bucket", (("le", bound),))]
        self.assertEqual(bucket("0.0001"), 2)
        self.assertEqual(bucket("0.0025"), 2)
        self.assertEqual(bucket("0.005"), 3)
        self.assertEqual(bucket(repr(DURATION_BUCKETS[-1])), 3)
        self.assertEqual(bucket("+Inf"), 4)

    def test_reasons_are_bounded(self):
        """
        Past the bound, new rejection reasons count as "other".
        """
        stats = ServerStats()
        for index in range(100):
            stats.reject(f"reason {index}")
        self.assertEqual(len(stats.rejections), 65)
        self.assertEqual(stats.rejections["other"], 36)
