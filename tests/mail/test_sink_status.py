"""
Tests for L{twisted_netlab.mail._status}: the status page lists stored
messages as escaped HTML and as JSON, shows one message with its MIME
parts (images inline from a sandboxed route), serves its raw text, and
refuses foreign Host headers.
"""

import base64
import json
from email.message import EmailMessage

from twisted.trial.unittest import SynchronousTestCase
from twisted.web.server import NOT_DONE_YET
from twisted.web.test.requesthelper import DummyRequest

from twisted_netlab.mail._maildir import Maildir, trace_headers
from twisted_netlab._statuspage import host_allowed
from twisted_netlab.mail._status import StatusResource

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def mime_message():
    """
    A message with a text part, an HTML part with a script, a PNG, an SVG
    and a "PNG" that is really HTML.
    """
    message = EmailMessage()
    message["From"] = "a@b.test"
    message["To"] = "r@y.test"
    message["Subject"] = "pictures"
    message.set_content("Hello <b>there</b>\n")
    message.add_alternative("<p onclick=x()>hi</p><script>alert(1)</script>", subtype="html")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="dot.png")
    message.add_attachment(SVG, maintype="image", subtype="svg+xml", filename="evil.svg")
    message.add_attachment(b"<html><script>alert(1)</script>", maintype="image", subtype="png", filename="fake.png")
    return message.as_bytes().replace(b"\n", b"\r\n")


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
        self.assertEqual(message["raw_url"], "/messages/q1/raw")

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
        /messages/<id>/raw returns the stored bytes as text; unknown or
        traversing names are 404.
        """
        request, body = self.get(b"/messages/q1/raw")
        self.assertEqual(body, NOT_DONE_YET)
        streamed = b"".join(request.written)
        self.assertTrue(streamed.endswith(b"\r\n\r\nhi\r\n"))
        self.assertTrue(request.finished)
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-length"), [str(len(streamed)).encode()])
        self.assertEqual(request.responseHeaders.getRawHeaders(b"content-type"), [b"text/plain; charset=utf-8"])
        self.assertEqual(request.responseHeaders.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        for path in [b"/messages/nope", b"/messages/..%2Fnew%2Fq1", b"/messages/%2e%2e", b"/other", b"/messages/q1/other",
                     b"/messages/nope/raw"]:
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
        A request for a foreign name (DNS rebinding: Host: evil.example.com)
        is refused with 403 on every path, before any mail is read.
        """
        for path in (b"/", b"/messages.json", b"/messages/q1", b"/messages/q1/raw", b"/messages/q1/parts/0"):
            for host in (b"attacker.example:8025", b"evil.example.com"):
                request, body = self.get(path, host=host)
                self.assertEqual(request.responseCode, 403, (path, host))
                self.assertNotIn(b"q1", body)
                self.assertNotIn(b"onerror", body)

    def test_empty_maildir_says_so(self):
        """
        With no message the table has one row saying so.
        """
        empty = Maildir(self.mktemp())
        empty.create()
        self.resource = StatusResource(empty)
        request, body = self.get(b"/")
        self.assertIn(b'<tr class="empty"><td colspan="6">No messages yet.</td></tr>', body)


class MessagePageTests(SynchronousTestCase):
    def setUp(self):
        self.maildir = Maildir(self.mktemp())
        self.maildir.create()
        header = trace_headers("a@b.test", ["r@y.test"], "h", "p", "mx", "ESMTP", "q2", 0.0)
        self.maildir.deliver("q2", [header, mime_message()])
        self.resource = StatusResource(self.maildir)

    def get(self, path):
        request = DummyRequest([])
        request.method = b"GET"
        request.path = path
        request.args = {}
        request.requestHeaders.setRawHeaders(b"host", [b"localhost:8025"])
        return request, self.resource.render(request)

    def test_parts_listed_text_escaped_image_inline(self):
        """
        The message page lists each MIME part; text and HTML parts are shown
        as escaped text (never rendered), the PNG inline from its part
        route, the SVG and the fake PNG not at all; the page's policy allows
        images from this origin only and no script.
        """
        request, body = self.get(b"/messages/q2")
        text = body.decode("utf-8")
        self.assertIn("Part 0: text/plain", text)
        self.assertIn("Hello &lt;b&gt;there&lt;/b&gt;", text)
        self.assertIn("Part 1: text/html", text)
        self.assertIn("&lt;script&gt;alert(1)&lt;/script&gt;", text)
        self.assertNotIn("<script", text)
        self.assertIn('<img src="/messages/q2/parts/2" alt="dot.png">', text)
        self.assertIn("Part 3: image/svg+xml, evil.svg", text)
        self.assertEqual(text.count("<img"), 1)
        self.assertIn('<a href="/messages/q2/raw">', text)
        policy = request.responseHeaders.getRawHeaders(b"content-security-policy")[0]
        self.assertIn(b"img-src 'self'", policy)
        self.assertIn(b"default-src 'none'", policy)
        self.assertNotIn(b"script-src", policy)

    def test_image_route_serves_decoded_image_sandboxed(self):
        """
        The part route serves the decoded PNG bytes as image/png with
        nosniff and a policy that sandboxes it; SVG, a PNG label on other
        bytes, a text part and a missing part are 404.
        """
        request, body = self.get(b"/messages/q2/parts/2")
        self.assertEqual(body, PNG)
        headers = request.responseHeaders
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"image/png"])
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])
        self.assertIn(b"sandbox", headers.getRawHeaders(b"content-security-policy")[0])
        self.assertIn(b"default-src 'none'", headers.getRawHeaders(b"content-security-policy")[0])
        for number in (b"3", b"4", b"0", b"9", b"99999999"):
            request, body = self.get(b"/messages/q2/parts/" + number)
            self.assertEqual(request.responseCode, 404, number)
            self.assertNotIn(b"<svg", body)
            self.assertNotIn(b"<html", body)

    def test_host_allowed(self):
        """
        IP literals, localhost names and configured names are allowed.
        """
        for host in [b"127.0.0.1", b"127.0.0.1:8025", b"[::1]:8025", b"localhost:1", b"mail.localhost", b"MX.test"]:
            self.assertTrue(host_allowed(host, ["mx.test"]), host)
        for host in [b"evil.test", b"localhost.evil.test:80", b"\xff"]:
            self.assertFalse(host_allowed(host, ["mx.test"]), host)

    def test_odd_messages_still_shown(self):
        """
        A plain (non-MIME) message, an unknown charset and broken base64
        are shown as well as they can be, never an error page.
        """
        header = trace_headers("a@b.test", ["r@y.test"], "h", "p", "mx", "ESMTP", "q3", 0.0)
        body = (
            b"Subject: odd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\nplain \xe9t\xe9\r\n"
            b"--XX\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n!!not base64!!\r\n"
            b"--XX--\r\n"
        )
        self.maildir.deliver("q3", [header, body])
        request, page = self.get(b"/messages/q3")
        self.assertIsNone(request.responseCode)  # DummyRequest: None means 200
        self.assertIn(b"Part 0: text/plain", page)
        self.assertIn("plain \ufffdt\ufffd".encode("utf-8"), page)
        self.assertIn(b"Part 1: image/png", page)
        self.assertNotIn(b"<img", page)
        self.maildir.deliver("q4", [header, b"Subject: plain\r\n\r\njust text <b>\r\n"])
        request, page = self.get(b"/messages/q4")
        self.assertIn(b"just text &lt;b&gt;", page)
