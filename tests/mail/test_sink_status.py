"""
Tests for L{twisted_netlab.mail._status}: the status page lists stored
messages as escaped HTML and as JSON, serves one message by id, and refuses
foreign Host headers.
"""

import json

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab.mail._maildir import Maildir, trace_headers
from twisted_netlab.mail._status import StatusResource, host_allowed


class StatusTests(SynchronousTestCase):
    def setUp(self):
        self.maildir = Maildir(self.mktemp())
        self.maildir.create()
        header = trace_headers("evil<script>@x.test", ["r@y.test"], "h", "p", "mx", "ESMTP", "q1", 0.0)
        self.maildir.deliver("q1", [header, b"Subject: <img src=x onerror=alert(1)>\r\nFrom: a@b.test\r\n\r\nhi\r\n"])
        self.resource = StatusResource(self.maildir)

    def get(self, path, host=b"127.0.0.1:8025", args=None):
        request = DummyRequest([])
        request.method = b"GET"
        request.path = path
        request.args = args or {}
        if host is not None:
            request.requestHeaders.setRawHeaders(b"host", [host])
        body = self.resource.render(request)
        return request, body

    def test_json(self):
        """
        /messages.json lists id, envelope and headers.
        """
        request, body = self.get(b"/messages.json")
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"application/json"])
        document = json.loads(body)
        self.assertEqual(document["count"], 1)
        [message] = document["messages"]
        self.assertEqual(message["id"], "q1")
        self.assertEqual(message["envelope_to"], ["r@y.test"])
        self.assertEqual(message["headers"]["Subject"], "<img src=x onerror=alert(1)>")
        self.assertEqual(message["url"], "/messages/q1")

    def test_html_escapes_everything(self):
        """
        Values from messages are HTML-escaped, and a CSP forbids scripts.
        """
        request, body = self.get(b"/")
        self.assertIn(b"&lt;img src=x onerror=alert(1)&gt;", body)
        self.assertNotIn(b"<img", body)
        self.assertNotIn(b"<script", body)
        self.assertIn(b"default-src 'none'", request.responseHeaders.getRawHeaders(b"content-security-policy")[0])

    def test_raw_message_and_missing(self):
        """
        /messages/<id> returns the stored bytes; unknown or traversing
        names are 404.
        """
        request, body = self.get(b"/messages/q1")
        self.assertEqual(body, NOT_DONE_YET)
        streamed = b"".join(request.written)
        self.assertTrue(streamed.endswith(b"\r\n\r\nhi\r\n"))
        self.assertTrue(request.finished)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-length"), [str(len(streamed)).encode()])
        for path in [b"/messages/nope", b"/messages/..%2Fnew%2Fq1", b"/messages/%2e%2e", b"/other"]:
            request, body = self.get(path)
            self.assertEqual(request.responseCode, 404, path)

    def test_limit_validated(self):
        """
        ?limit must be 1..1000.
        """
        request, body = self.get(b"/messages.json", args={b"limit": [b"0"]})
        self.assertEqual(request.responseCode, 400)
        request, body = self.get(b"/messages.json", args={b"limit": [b"1"]})
        self.assertEqual(json.loads(body)["shown"], 1)

    def test_foreign_host_refused(self):
        """
        A request for a foreign name (DNS rebinding) is refused with 403.
        """
        request, body = self.get(b"/messages.json", host=b"attacker.example:8025")
        self.assertEqual(request.responseCode, 403)
        self.assertNotIn(b"q1", body)

    def test_host_allowed(self):
        """
        IP literals, localhost names and configured names are allowed.
        """
        for host in [b"127.0.0.1", b"127.0.0.1:8025", b"[::1]:8025", b"localhost:1", b"mail.localhost", b"MX.test"]:
            self.assertTrue(host_allowed(host, ["mx.test"]), host)
        for host in [b"evil.test", b"localhost.evil.test:80", b"\xff"]:
            self.assertFalse(host_allowed(host, ["mx.test"]), host)
