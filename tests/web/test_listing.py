"""
Tests for L{twisted_netlab.web._listing} and L{twisted_netlab.web._accesslog}
(the two small pure renderers).
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._accesslog import combined_line, log_time
from twisted_netlab.web._listing import ListingEntry, render_listing


class ListingTests(SynchronousTestCase):
    def test_names_escaped_and_quoted(self):
        """
        A hostile file name is HTML-escaped in the text and URL-quoted in
        the link, so it can neither inject markup nor change the link.
        """
        page = render_listing("/", [ListingEntry('<script>a"b&c.txt', False, 10, 0)]).decode("utf-8")
        self.assertIn('href="./%3Cscript%3Ea%22b%26c.txt"', page)
        self.assertIn("&lt;script&gt;a&quot;b&amp;c.txt", page)
        self.assertNotIn("<script>", page)

    def test_scheme_like_name_stays_relative(self):
        """
        A name such as C{javascript:x} is linked as C{./javascript%3Ax}.
        """
        page = render_listing("/", [ListingEntry("javascript:x", False, 1, 0)]).decode("utf-8")
        self.assertIn('href="./javascript%3Ax"', page)

    def test_folders_first_sorted_with_sizes_and_dates(self):
        """
        Folders come first, then files, each sorted by name; sizes are
        human readable and dates UTC; a parent link is shown below the root.
        """
        page = render_listing(
            "/docs/",
            [
                ListingEntry("b.txt", False, 2048, 0),
                ListingEntry("zeta", True, 4096, 0),
                ListingEntry("A.txt", False, 5, 86400),
                ListingEntry("alpha", True, 4096, 0),
            ],
        ).decode("utf-8")
        order = [page.index(name) for name in ("alpha/", "zeta/", "A.txt", "b.txt")]
        self.assertEqual(order, sorted(order))
        self.assertIn('href="../"', page)
        self.assertIn("2.0 KiB", page)
        self.assertIn("5 B", page)
        self.assertIn("1970-01-02 00:00", page)
        self.assertIn("<title>Index of /docs/</title>", page)
        self.assertNotIn('href="../"', render_listing("/", []).decode("utf-8"))


class AccessLogLineTests(SynchronousTestCase):
    def test_combined_format(self):
        """
        A line has host, identity, user, time, request, status, bytes,
        referer and user agent in Combined Log Format.
        """
        line = combined_line("127.0.0.1", log_time(784111777), "GET / HTTP/1.1", 200, 12, b"http://r/", b"curl/8")
        self.assertEqual(
            line, '127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 12 "http://r/" "curl/8"'
        )

    def test_no_body_and_missing_headers_are_dashes(self):
        """
        Zero bytes and absent headers are written as "-".
        """
        line = combined_line("::1", "[t]", "HEAD / HTTP/1.1", 304, 0, None, None)
        self.assertTrue(line.endswith('304 - "-" "-"'))

    def test_quotes_and_controls_escaped(self):
        """
        Quotes, backslashes and bytes outside printable ASCII are written as
        \\xHH, so a client cannot end the field or forge a line.
        """
        line = combined_line("h", "[t]", "GET /a\"b HTTP/1.1", 200, 1, None, b'evil" \\ \x1b\xff')
        self.assertIn('"GET /a\\x22b HTTP/1.1"', line)
        self.assertIn('"evil\\x22 \\x5C \\x1B\\xFF"', line)
        self.assertNotIn("\n", line)
