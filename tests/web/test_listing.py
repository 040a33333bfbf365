"""
Tests for L{twisted_netlab.web._listing}: the pure listing renderer.
"""

import re

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


class NaturalSortTests(SynchronousTestCase):
    def test_numbers_sort_as_people_count(self):
        """
        Names sort as people count (file1, file2, file10, file100), as
        miniserve and file managers do; case is ignored, then used to break
        ties; folders still come first.
        """
        names = ["file100", "file10", "File2", "file1", "file2", "a10b2", "a10b10", "a9", "x", "001", "1", "10"]
        entries = [ListingEntry(name, False, 1, 0) for name in names] + [ListingEntry("dir10", True, 0, 0),
                                                                          ListingEntry("dir9", True, 0, 0)]
        page = render_listing("/", entries).decode("utf-8")
        shown = re.findall(r'href="\./([^"]+)"', page)
        self.assertEqual(
            shown,
            ["dir9/", "dir10/", "001", "1", "10", "a9", "a10b2", "a10b10", "file1", "File2", "file2", "file10",
             "file100", "x"],
        )

    def test_non_ascii_digits_do_not_break_the_order(self):
        """
        Only ASCII digits count as numbers: a superscript two is text.
        """
        page = render_listing("/", [ListingEntry("a\u00b2", False, 1, 0), ListingEntry("a1", False, 1, 0)])
        self.assertLess(page.index(b"a1"), page.index("a\u00b2".encode("utf-8")))


class SizeTests(SynchronousTestCase):
    def test_sizes_switch_unit_at_1024(self):
        """
        Sizes below 1024 are bytes, from 1024 KiB, then MiB and GiB (never
        beyond GiB).
        """
        cases = [(1023, "1023 B"), (1024, "1.0 KiB"), (1024 * 1024 - 1, "1024.0 KiB"), (1024 * 1024, "1.0 MiB"),
                 (1024 ** 3, "1.0 GiB"), (5 * 1024 ** 4, "5120.0 GiB")]
        for size, shown in cases:
            page = render_listing("/", [ListingEntry("f", False, size, 0)]).decode("utf-8")
            self.assertIn(f'<td class="size">{shown}</td>', page, size)
