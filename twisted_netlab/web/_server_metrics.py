# -*- test-case-name: tests.web.test_server_metrics -*-
"""
netlab-http's metrics: L{ServerStats} is the running totals the protocol
updates once per response when ``--metrics`` is on (a few dict and list
increments; nothing when it is off), and L{ServerCollector} turns them into
Prometheus families at scrape time.  Every label has a bounded set of
values, whatever clients send.
"""

from __future__ import annotations

import bisect
from typing import Any, Dict, Iterator, List, Tuple

from twisted_netlab._metrics import counter, gauge

#: Methods counted under their own name; any other is "other" (a client
#: may send any token as a method: it must not create series).
KNOWN_METHODS = frozenset(
    ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH", "TRACE", "CONNECT"]
)
#: Upper bounds of the request-duration histogram, in seconds (from the
#: request's head to its last byte handed to the kernel).
DURATION_BUCKETS: Tuple[float, ...] = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
#: The parser's rejection reasons are a fixed set of phrases; past this
#: many distinct ones, the rest are counted as "other".
MAX_REASONS = 64


class ServerStats:
    """
    Totals since start: responses by (method, status class), body bytes
    sent, parser rejections by reason, and the duration histogram.
    """

    def __init__(self) -> None:
        #: Responses by (method, status); grouped into classes at scrape.
        self.responses: Dict[Tuple[str, int], int] = {}
        self.body_bytes = 0
        self.rejections: Dict[str, int] = {}
        self.bucket_counts: List[int] = [0] * (len(DURATION_BUCKETS) + 1)
        self.duration_sum = 0.0

    def observe(self, method: str, status: int, size: int, duration: float) -> None:
        """
        One response finished: C{size} body bytes sent in C{duration} s.
        The common case is one dictionary increment: a method is checked
        against L{KNOWN_METHODS} only the first time its key is seen.
        """
        key = (method, status)
        responses = self.responses
        if key in responses:
            responses[key] += 1
        else:
            if method not in KNOWN_METHODS:
                key = ("other", status)
            responses[key] = responses.get(key, 0) + 1
        self.body_bytes += size
        self.bucket_counts[bisect.bisect_left(DURATION_BUCKETS, duration)] += 1
        self.duration_sum += duration

    def by_class(self) -> Dict[Tuple[str, str], int]:
        """
        Responses by (method, status class such as ``2xx``).
        """
        classes: Dict[Tuple[str, str], int] = {}
        for (method, status), count in self.responses.items():
            key = (method, f"{status // 100}xx")
            classes[key] = classes.get(key, 0) + count
        return classes

    def reject(self, reason: str) -> None:
        """
        The parser refused a request for C{reason}.
        """
        if reason not in self.rejections and len(self.rejections) >= MAX_REASONS:
            reason = "other"
        self.rejections[reason] = self.rejections.get(reason, 0) + 1


class ServerCollector:
    """
    ``netlab_http_*`` for one L{StaticFileFactory} (its C{stats} and its
    open connections).
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def enable(self) -> None:
        """
        Start counting (called when a metrics endpoint will serve this
        collector): until then the server keeps no per-response totals.
        """
        if self.factory.stats is None:
            self.factory.stats = ServerStats()

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import HistogramMetricFamily

        factory = self.factory
        stats: ServerStats = factory.stats
        yield counter(
            "netlab_http_requests", "Responses sent, by request method and status class.", ["method", "code"],
            [((method, code), count) for (method, code), count in sorted(stats.by_class().items())],
        )
        yield counter(
            "netlab_http_response_body_bytes", "Body bytes sent (what reached the kernel; heads not counted).",
            [], [((), stats.body_bytes)],
        )
        yield counter(
            "netlab_http_parser_rejections", "Requests the parser refused, by reason.", ["reason"],
            [((reason,), count) for reason, count in sorted(stats.rejections.items())],
        )
        yield counter(
            "netlab_http_connections_refused", "Connections closed at once over --max-connections.",
            [], [((), factory.refused_connections)],
        )
        yield gauge("netlab_http_connections_open", "Connections open now.", [], [((), len(factory.connections))])
        cumulative, buckets = 0, []
        for bound, count in zip(DURATION_BUCKETS, stats.bucket_counts):
            cumulative += count
            buckets.append((repr(bound), cumulative))
        buckets.append(("+Inf", cumulative + stats.bucket_counts[-1]))
        yield HistogramMetricFamily(
            "netlab_http_request_duration_seconds",
            "From a request's parsed head to its last byte handed to the kernel.",
            buckets=buckets, sum_value=stats.duration_sum,
        )
