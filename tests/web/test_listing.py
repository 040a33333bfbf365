"""
Tests for L{twisted_netlab.web._listing}: the pure listing renderer.
"""

from twisted.trial.unittest import SynchronousTestCase

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
