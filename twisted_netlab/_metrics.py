# -*- test-case-name: tests.test_metrics -*-
"""
Shared Twisted side of ``--metrics``: one ``/metrics`` page per process in
the Prometheus text format or OpenMetrics (chosen by ``Accept``), built by
``prometheus_client`` from the collectors the services hand in.

How it works: a family's tap returns its service with a ``collectors``
list (objects with a ``collect()`` method yielding prometheus_client metric
families).  They read the counters the adapters keep anyway, at scrape time
only, so a service that is never scraped pays nothing per request or per
datagram (the exporter pattern: read, do not instrument twice).  Each
process gets one registry: netlab-all gathers every family's collectors on
one endpoint.  ``prometheus_client`` is imported only when metrics are on.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from twisted.web.resource import Resource
from twisted.web.server import Request

from twisted_netlab import __version__
from twisted_netlab._statuspage import StatusSite, error_body

#: The value netlab-all gives ``--metrics`` (the bundled index links it).
DEFAULT_ALL_ENDPOINT = "tcp:9101:interface=127.0.0.1"


def counter(name: str, documentation: str, labels: Sequence[str], samples: Iterable[Tuple[Sequence[str], float]]) -> Any:
    """
    A counter family (C{name} without ``_total``; the exposition adds it)
    with one sample per label-value tuple.
    """
    from prometheus_client.core import CounterMetricFamily

    family = CounterMetricFamily(name, documentation, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


def gauge(name: str, documentation: str, labels: Sequence[str], samples: Iterable[Tuple[Sequence[str], float]]) -> Any:
    """
    A gauge family with one sample per label-value tuple.
    """
    from prometheus_client.core import GaugeMetricFamily

    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    for values, value in samples:
        family.add_metric(list(values), value)
    return family


class _InfoCollector:
    """
    ``netlab_info{version="..."} 1``: which netlab is answering.
    """

    def __init__(self, services: Sequence[str]) -> None:
        self.services = ",".join(services)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import InfoMetricFamily

        yield InfoMetricFamily("netlab", "The netlab release and the services of this process.", value={
            "version": __version__, "services": self.services,
        })


def make_registry(collectors: Iterable[Any], services: Sequence[str]) -> Any:
    """
    A fresh registry (never the process-global one, so tests and several
    services in one process cannot collide) holding C{collectors} and the
    ``netlab_info`` metric.
    """
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_InfoCollector(services))
    for collector in collectors:
        registry.register(collector)
    return registry


class MetricsResource(Resource):
    """
    ``/metrics``: the registry's samples, in OpenMetrics when the scraper
    asks for it in ``Accept`` (as Prometheus does), else the classic text
    format; ``/`` points there.  Everything else is 404.
    """

    isLeaf = True

    def __init__(self, registry: Any) -> None:
        Resource.__init__(self)
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        from prometheus_client.exposition import choose_encoder

        path = request.path
        if path == b"/":
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            request.setHeader(b"x-content-type-options", b"nosniff")
            return b"netlab metrics: /metrics\n"
        if path != b"/metrics":
            return error_body(request, 404, "Not found: the metrics are at /metrics")
        accept = (request.getHeader(b"accept") or b"").decode("latin-1")
        encoder, content_type = choose_encoder(accept)
        body: bytes = encoder(self.registry)
        request.setHeader(b"content-type", content_type.encode("ascii"))
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        return body

    render_HEAD = render_GET


def metrics_site(collectors: Iterable[Any], services: Sequence[str], reactor: Any = None) -> StatusSite:
    """
    The twisted.web site serving ``/metrics`` for C{collectors}.  It keeps
    the status pages' Host rule: a scraper uses an address or a name given
    with the service's ``--status-host``/``--hostname``-style options, and
    a web page using DNS rebinding cannot read the counters.
    """
    return StatusSite(MetricsResource(make_registry(collectors, services)), reactor=reactor)


def metrics_service(
    service_name: str, description: str, collectors: List[Any], services: Sequence[str], reactor: Any = None
) -> Any:
    """
    A listening service for ``--metrics DESCRIPTION`` (a Twisted endpoint
    string), with the same one-line start-up errors as every netlab
    listener.  C{collectors} is read at each scrape, so a caller may append
    to it until the service starts (call L{enable_all} on what it adds).
    """
    from twisted_netlab._listening import StreamListeningService

    enable_all(collectors)
    site = metrics_site([_Deferred(collectors)], services, reactor=reactor)
    return StreamListeningService(service_name, description, site, reactor=reactor)


def enable_all(collectors: Iterable[Any]) -> None:
    """
    Tell each collector that it will be served (those with an C{enable}
    method start counting only then).
    """
    for collector in collectors:
        enable = getattr(collector, "enable", None)
        if enable is not None:
            enable()


class _Deferred:
    """
    A collector that forwards to a list that may still grow (netlab-all
    adds each family's collectors after making the metrics service).
    """

    def __init__(self, collectors: List[Any]) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Any]:
        for collector in self.collectors:
            yield from collector.collect()


def check_endpoint(option: str, value: Optional[str]) -> None:
    """
    For the taps' C{postOptions}: raise L{usage.UsageError} naming
    C{option} when C{value} is not a server endpoint string.
    """
    if value is None:
        return
    from twisted.internet.endpoints import serverFromString
    from twisted.python import usage

    try:
        serverFromString(None, value)
    except Exception as error:  # ValueError, KeyError, TypeError, SSL errors...
        raise usage.UsageError(f"--{option} {value!r} is not a usable endpoint: {error}")


#: The option line every listening service's tap adds.
OPTION = [
    "metrics", None, None,
    "Serve Prometheus metrics at /metrics on this endpoint, e.g. tcp:9101:interface=127.0.0.1 (off by default).",
]
