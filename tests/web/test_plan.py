"""
Tests for L{twisted_netlab.web._plan}: the pure planner.  One table of
(request, what the filesystem said) -> (status, head fields, body), for
every status it decides: 200 204 206 301 304 404 405 412 416 501 503.
"""

from typing import Dict, Optional, Tuple

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._listing import ListingEntry
from twisted_netlab.web._plan import (
    Folder,
    HeadContext,
    Listing,
    NotFound,
    Plan,
    Representation,
    Unavailable,
    error_page,
    plan_method,
    plan_target,
    wants_listing,
)
from twisted_netlab.web._server_core import NEED_DATA, Request, RequestParser

DATE = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nServer: netlab-http\r\n"
FRAMING = HeadContext(DATE, b"", "no-cache")
ETAG = '"1-c-5"'
MTIME = 784111777.0
LAST_MODIFIED = "Sun, 06 Nov 1994 08:49:37 GMT"
EARLIER = "Sat, 05 Nov 1994 08:49:37 GMT"


def representation(body: Optional[bytes], size: int = 12) -> Representation:
    fragment = (
        f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {size}\r\n"
        f"Last-Modified: {LAST_MODIFIED}\r\nETag: {ETAG}\r\nCache-Control: no-cache\r\nAccept-Ranges: bytes\r\n"
    ).encode("latin-1")
    return Representation("/srv/a.txt", ("a.txt",), (1, 1), size, MTIME, ETAG, "text/plain; charset=utf-8", fragment, body)


SMALL = representation(b"hello world\n")
LARGE = representation(None, 100_000)
FOLDER = Folder("/srv/sub", ("sub",), ("sub",))
LISTING = Listing(FOLDER, (ListingEntry("file10", False, 1, 0), ListingEntry("file2", False, 1, 0)))


def request(method: str = "GET", target: str = "/a.txt", *fields: str, version: str = "1.1") -> Request:
    parser = RequestParser()
    head = f"{method} {target} HTTP/{version}\r\nHost: h\r\n" + "".join(f + "\r\n" for f in fields) + "\r\n"
    parser.receive_data(head.encode("latin-1"))
    event = parser.next_event()
    assert isinstance(event, Request), event
    return event


def split(plan: Plan) -> Tuple[int, Dict[str, str]]:
    lines = plan.head.decode("latin-1").split("\r\n")
    assert plan.head.endswith(b"\r\n\r\n")
    status = int(lines[0].split(" ")[1])
    fields = dict(line.split(": ", 1) for line in lines[1:] if line)
    return status, fields


def plan_for(req: Request, target=SMALL) -> Plan:
    return plan_method(req, FRAMING) or plan_target(req, target, FRAMING, lambda: "BOUNDARY")


class PlanTableTests(SynchronousTestCase):
    #: (request, target, status, fields expected (subset), body: bytes, or
    #: a tuple of pieces, or None for "a page, not checked here")
    CASES = [
        # 200: small file fast path, HEAD without body, large file as one range
        (request(), SMALL, 200, {"Content-Length": "12", "ETag": ETAG}, (b"hello world\n",)),
        (request("HEAD"), SMALL, 200, {"Content-Length": "12"}, ()),
        (request(), LARGE, 200, {"Content-Length": "100000"}, ((0, 100_000),)),
        (request("HEAD"), LARGE, 200, {"Content-Length": "100000"}, ()),
        (request("GET", "/a.txt", "Range: bytes=0-"), LARGE, 206, {"Content-Range": "bytes 0-99999/100000"},
         ((0, 100_000),)),
        # 204 / 405 / 501: decided by the method alone
        (request("OPTIONS"), SMALL, 204, {"Allow": "GET, HEAD, OPTIONS"}, ()),
        (request("OPTIONS", "*"), SMALL, 204, {"Allow": "GET, HEAD, OPTIONS"}, ()),
        (request("DELETE"), SMALL, 405, {"Allow": "GET, HEAD, OPTIONS"}, None),
        (request("BREW"), SMALL, 501, {}, None),
        # 206: one range of a small file (bytes), of a large file (a file range)
        (request("GET", "/a.txt", "Range: bytes=0-4"), SMALL, 206,
         {"Content-Range": "bytes 0-4/12", "Content-Length": "5"}, (b"hello",)),
        (request("GET", "/a.txt", "Range: bytes=-3"), LARGE, 206, {"Content-Range": "bytes 99997-99999/100000"},
         ((99997, 3),)),
        # 304 / 412 in RFC 9110 13.2.2 order
        (request("GET", "/a.txt", f"If-None-Match: {ETAG}"), SMALL, 304, {"ETag": ETAG, "Cache-Control": "no-cache"}, ()),
        (request("GET", "/a.txt", f"If-Modified-Since: {LAST_MODIFIED}"), LARGE, 304, {"ETag": ETAG}, ()),
        (request("GET", "/a.txt", 'If-Match: "other"'), SMALL, 412, {}, None),
        (request("GET", "/a.txt", f"If-Unmodified-Since: {EARLIER}", f"If-None-Match: {ETAG}"), SMALL, 412, {}, None),
        (request("HEAD", "/a.txt", 'If-Match: "other"'), SMALL, 412, {}, ()),
        # If-Range that does not match: the whole file
        (request("GET", "/a.txt", "Range: bytes=0-4", 'If-Range: "old"'), SMALL, 200, {"Content-Length": "12"},
         (b"hello world\n",)),
        # 416
        (request("GET", "/a.txt", "Range: bytes=50-60"), SMALL, 416, {"Content-Range": "bytes */12"}, None),
        # 301 for a folder without its slash, query kept; 200 listing with it
        (request("GET", "/sub?x=1"), FOLDER, 301, {"Location": "/sub/?x=1"}, None),
        (request("HEAD", "/sub"), FOLDER, 301, {"Location": "/sub/"}, ()),
        (request("GET", "/sub/"), LISTING, 200, {"Cache-Control": "no-cache"}, None),
        (request("HEAD", "/sub/"), LISTING, 200, {"Cache-Control": "no-cache"}, ()),
        # 404 / 503
        (request(), NotFound.NOT_FOUND, 404, {"Content-Type": "text/html; charset=utf-8"}, None),
        (request("HEAD"), NotFound.NOT_FOUND, 404, {}, ()),
        (request(), Unavailable("EMFILE"), 503, {"Retry-After": "5"}, None),
        (request("HEAD"), Unavailable("ENOMEM"), 503, {"Retry-After": "5"}, ()),
    ]

    def test_table(self):
        """
        Each (request, target) gets its status, these head fields, and this
        body (bytes or ranges of the opened file); Content-Length always
        equals the planned body size, and a HEAD answer has no body.
        """
        for req, target, status, fields, body in self.CASES:
            label = (req.method, req.target, req.headers, target)
            plan = plan_for(req, target)
            got_status, got_fields = split(plan)
            self.assertEqual((plan.status, got_status), (status, status), label)
            for name, value in fields.items():
                self.assertEqual(got_fields.get(name), value, (label, name))
            if body is not None:
                self.assertEqual(plan.body, body, label)
            self.assertEqual(plan.streams, any(not isinstance(p, bytes) for p in plan.body), label)
            if req.method == "HEAD" or status in (204, 304):
                self.assertEqual((plan.body, plan.size), ((), 0), label)
            elif "Content-Length" in got_fields:
                self.assertEqual(plan.size, int(got_fields["Content-Length"]), label)
                self.assertEqual(plan.size, sum(len(p) if isinstance(p, bytes) else p[1] for p in plan.body), label)
            self.assertEqual(got_fields["Date"], "Sun, 06 Nov 1994 08:49:37 GMT", label)

    def test_multipart(self):
        """
        Several ranges become one multipart/byteranges body with the
        caller's boundary; a small file's parts are bytes, a large file's
        parts are ranges between part heads.
        """
        req = request("GET", "/a.txt", "Range: bytes=0-1,10000-10001")
        small = plan_for(req, representation(b"ab" + b"." * 9998 + b"yz" + b"." * 9998, 20000))
        status, fields = split(small)
        self.assertEqual((status, fields["Content-Type"]), (206, "multipart/byteranges; boundary=BOUNDARY"))
        joined = b"".join(small.body)  # type: ignore[arg-type]
        self.assertIn(b"Content-Range: bytes 0-1/20000\r\n\r\nab\r\n", joined)
        self.assertIn(b"Content-Range: bytes 10000-10001/20000\r\n\r\nyz\r\n", joined)
        self.assertTrue(joined.endswith(b"--BOUNDARY--\r\n"))
        self.assertEqual(len(joined), int(fields["Content-Length"]))
        large = plan_for(request("GET", "/a.txt", "Range: bytes=0-1,50000-50001"), LARGE)
        self.assertEqual([p for p in large.body if not isinstance(p, bytes)], [(0, 2), (50000, 2)])
        self.assertTrue(large.streams)
        self.assertFalse(small.streams)

    def test_connection_line_is_the_framings(self):
        """
        Every head carries the Connection line the connection chose, just
        before the blank line.
        """
        framing = HeadContext(DATE, b"Connection: close\r\n")
        for plan in (
            plan_target(request(), SMALL, framing, str),
            plan_target(request(), NotFound.NOT_FOUND, framing, str),
            plan_method(request("OPTIONS"), framing),
            error_page(400, "bad", framing),
        ):
            assert plan is not None
            self.assertTrue(plan.head.endswith(b"Connection: close\r\n\r\n"), plan.head)

    def test_rejection_page_and_note(self):
        """
        An error page for a rejected HEAD has its head only; the note (the
        parser's reason, an errno name) travels with the plan for the log.
        """
        plan = error_page(431, "request header fields too large", FRAMING, head_only=True, note="too large")
        self.assertEqual((plan.status, plan.body, plan.note), (431, (), "too large"))
        self.assertIn(b"Content-Length: ", plan.head)
        self.assertEqual(plan_for(request(), Unavailable("EMFILE")).note, "EMFILE")

    def test_page_escapes_message(self):
        """
        The message of an error page is HTML-escaped.
        """
        plan = error_page(404, "<script>", FRAMING)
        self.assertIn(b"&lt;script&gt;", plan.body[0])  # type: ignore[operator]

    def test_wants_listing_only_with_the_slash(self):
        """
        The filesystem is asked for a listing only for a folder named with
        its trailing slash (without it, the answer is a 301).
        """
        self.assertTrue(wants_listing(request("GET", "/sub/"), FOLDER))
        self.assertFalse(wants_listing(request("GET", "/sub"), FOLDER))
        self.assertFalse(wants_listing(request("GET", "/sub/"), SMALL))

    def test_planner_imports_no_twisted(self):
        """
        The planner is pure: importing it loads no Twisted module.
        """
        import subprocess
        import sys

        from tests.helpers import child_env

        code = "import sys, twisted_netlab.web._plan; print(any(m.startswith('twisted.') for m in sys.modules))"
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual(result.stdout.strip(), "False", result.stderr)
