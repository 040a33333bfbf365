"""
Tests for L{twisted_netlab._statuspage}: the Host rule, the security
headers, escaping and the empty-table row shared by every status page.
"""

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.resource import Resource
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab._statuspage import (
    PAGE_POLICY,
    StatusSite,
    escape,
    host_allowed,
    html_body,
    html_page,
    table,
)


class HostRuleTests(SynchronousTestCase):
    ALLOWED = [
        None, b"127.0.0.1", b"127.0.0.1:8025", b"[::1]:8025", b"[::1]", b"localhost:1", b"LOCALHOST",
        b"localhost.", b"mail.localhost", b"10.1.2.3:80", b"MX.test", b"mx.test.:80",
    ]
    REFUSED = [
        b"evil.example.com", b"evil.test", b"localhost.evil.test:80", b"\xff", b"", b":80", b"[::1]x",
        b"[::1", b"127.0.0.1.evil.test", b"notlocalhost", b"mx.test.evil",
    ]

    def test_table(self):
        """
        IP literals, localhost and *.localhost names and the configured
        name are allowed; every other name (what DNS rebinding sends) is not.
        """
        for host in self.ALLOWED:
            self.assertTrue(host_allowed(host, ["mx.test"]), host)
        for host in self.REFUSED:
            self.assertFalse(host_allowed(host, ["mx.test"]), host)


class Page(Resource):
    isLeaf = True

    def render_GET(self, request):
        return html_body(request, html_page("t<", table(["a"], [], "nothing <yet>")))


class StatusSiteTests(SynchronousTestCase):
    def render(self, host):
        site = StatusSite(Page(), ["mx.test"])
        request = DummyRequest([b""])
        request.requestHeaders.setRawHeaders(b"host", [host])
        return request, site.getResourceFor(request).render(request)

    def test_foreign_host_403_with_headers(self):
        """
        The site answers a foreign Host with 403 whatever the resource, and
        that answer carries the security headers too.
        """
        request, body = self.render(b"evil.example.com")
        self.assertEqual(request.responseCode, 403)
        self.assertNotIn(b"nothing", body)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"x-content-type-options"), [b"nosniff"])

    def test_page_headers_and_escaping(self):
        """
        A page is served with the strict policy, nosniff, no referrer, no
        framing; titles and the empty-table text are escaped.
        """
        request, body = self.render(b"127.0.0.1:1")
        headers = request.responseHeaders
        self.assertEqual(headers.getRawHeaders(b"content-security-policy"), [PAGE_POLICY])
        self.assertEqual(headers.getRawHeaders(b"referrer-policy"), [b"no-referrer"])
        self.assertEqual(headers.getRawHeaders(b"x-frame-options"), [b"DENY"])
        self.assertIn(b"<title>t&lt;</title>", body)
        self.assertIn(b'<tr class="empty"><td colspan="1">nothing &lt;yet&gt;</td></tr>', body)
        self.assertEqual(escape('"<&>'), "&quot;&lt;&amp;&gt;")
