"""
Tests for L{twisted_netlab._metrics}: the /metrics page (format chosen by
Accept, the info metric, the Host rule, 404 elsewhere), endpoint checks and
collectors that start counting only when served.
"""

from __future__ import annotations

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab import __version__
from twisted_netlab._metrics import MetricsResource, check_endpoint, counter, enable_all, make_registry, metrics_site
from tests.metrics_helpers import scrape


class _Fixed:
    def __init__(self) -> None:
        self.enabled = 0

    def enable(self) -> None:
        self.enabled += 1

    def collect(self):
        yield counter("netlab_test_things", "Things.", ["kind"], [(("a",), 3), (("b",), 4)])


def render(resource: MetricsResource, path: bytes, accept: bytes = b"") -> DummyRequest:
    request = DummyRequest([path.strip(b"/")])
    request.path = path
    if accept:
        request.requestHeaders.setRawHeaders(b"accept", [accept])
    body = resource.render(request)
    request.written.append(body)
    return request


class MetricsPageTests(SynchronousTestCase):
    def test_text_format_by_default(self):
        """
        Without an OpenMetrics Accept, the classic text format (0.0.4) with
        ``_total`` counters and the netlab_info metric naming the version.
        """
        request = render(MetricsResource(make_registry([_Fixed()], ["test"])), b"/metrics")
        body = b"".join(request.written).decode()
        self.assertIn("text/plain; version=0.0.4", request.responseHeaders.getRawHeaders(b"content-type")[0].decode())
        self.assertIn('netlab_test_things_total{kind="a"} 3.0', body)
        self.assertIn(f'netlab_info{{services="test",version="{__version__}"}} 1.0', body)
        self.assertNotIn("# EOF", body)

    def test_openmetrics_when_asked(self):
        """
        Prometheus asks for OpenMetrics first in its Accept header: it gets
        it, ending with ``# EOF``.
        """
        accept = b"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        request = render(MetricsResource(make_registry([_Fixed()], ["test"])), b"/metrics", accept)
        body = b"".join(request.written).decode()
        self.assertTrue(request.responseHeaders.getRawHeaders(b"content-type")[0].startswith(b"application/openmetrics-text"))
        self.assertTrue(body.endswith("# EOF\n"), body[-40:])
        self.assertIn('netlab_test_things_total{kind="b"} 4.0', body)

    def test_other_paths_are_404(self):
        """
        Only /metrics (and a pointer at /) exist.
        """
        request = render(MetricsResource(make_registry([], ["test"])), b"/metrics/x")
        self.assertEqual(request.responseCode, 404)

    def test_foreign_host_refused(self):
        """
        The metrics site keeps the status pages' Host rule (DNS rebinding).
        """
        site = metrics_site([_Fixed()], ["test"])
        request = DummyRequest([b"metrics"])
        request.requestHeaders.setRawHeaders(b"host", [b"evil.example.com"])
        resource = site.getResourceFor(request)
        self.assertNotIsInstance(resource, MetricsResource)
        request.requestHeaders.setRawHeaders(b"host", [b"127.0.0.1:9101"])
        self.assertIsInstance(site.getResourceFor(request), MetricsResource)


class HelperTests(SynchronousTestCase):
    def test_check_endpoint(self):
        """
        A bad --metrics value is a usage error naming the option.
        """
        check_endpoint("metrics", "tcp:9101:interface=127.0.0.1")
        check_endpoint("metrics", None)
        error = self.assertRaises(usage.UsageError, check_endpoint, "metrics", "bogus:1")
        self.assertIn("--metrics 'bogus:1'", str(error))

    def test_enable_called_when_served(self):
        """
        Collectors with an enable() hear when they will be served, once per
        endpoint that serves them.
        """
        fixed = _Fixed()
        enable_all([fixed])
        self.assertEqual(fixed.enabled, 1)
        samples = scrape(fixed)
        self.assertEqual(samples[("netlab_test_things_total", (("kind", "a"),))], 3)
