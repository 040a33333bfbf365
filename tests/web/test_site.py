"""
Tests for the bundled default site (served by netlab-http without
--path): its docs pages are built from the manual (docs/*.rst), every page
is linked from the index, the pages name only options the real commands
have, and the build is cached safely.
"""

import os
import re
import stat
from html import unescape

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import REPO
from twisted_netlab.web import _manual

SITE = os.path.join(REPO, "twisted_netlab", "web", "site")
DOCS = os.path.join(REPO, "docs")

#: Each docs page and the Options classes (module, class name) whose
#: options its tables and option lists document.
PAGES = {
    "http": [("twisted_netlab.web.tap", "Options")],
    "get": [("twisted_netlab.web.cli", "Options")],
    "ping": [("twisted_netlab.ping.tap", "Options"), ("twisted_netlab.ping.cli", "Options")],
    "heartbeat": [("twisted_netlab.heartbeat.tap", "Options"), ("twisted_netlab.heartbeat.cli", "Options")],
    "mail": [("twisted_netlab.mail.tap", "Options"), ("twisted_netlab.mail.cli", "Options")],
}


def known_options(classes):
    import importlib

    long_names, short_names = set(), set()
    for module, name in classes:
        options = getattr(importlib.import_module(module), name)()
        long_names.update(option.rstrip("=") for option in options.longOpt)
        short_names.update(options.shortOpt.replace(":", ""))
    return long_names, short_names


class BuiltSiteTests(SynchronousTestCase):
    """
    The site as netlab-http serves it, built into a temporary folder with
    the strict settings the docs test uses.
    """

    def setUp(self):
        self.target = self.mktemp()
        os.mkdir(self.target)
        self.names = _manual.build(self.target, _manual.STRICT, manual=DOCS)

    def read(self, *parts):
        with open(os.path.join(self.target, *parts), encoding="utf-8") as handle:
            return handle.read()

    def test_every_manual_page_is_built(self):
        """
        Each docs/NAME.rst becomes docs/NAME.html, and no other page exists:
        the site holds no hand-kept copy.
        """
        sources = sorted(name[:-4] for name in os.listdir(DOCS) if name.endswith(".rst"))
        self.assertEqual(sorted(self.names), sources)
        built = [name for name in os.listdir(os.path.join(self.target, "docs")) if name.endswith(".html")]
        self.assertEqual(sorted(built), sorted(f"{n}.html" for n in sources))
        self.assertFalse(os.path.exists(os.path.join(SITE, "docs")))

    def test_index_links_every_page(self):
        """
        The site's index.html links every page of the manual (its list is
        generated from the manual where the static page has the marker),
        and so does the manual's own contents page.
        """
        with open(os.path.join(SITE, "index.html"), encoding="utf-8") as handle:
            self.assertIn("<!-- NETLAB-MANUAL-PAGES", handle.read())
        index = self.read("index.html")
        self.assertNotIn("NETLAB-MANUAL-PAGES", index)
        contents = self.read("docs", "index.html")
        for name in self.names:
            self.assertIn(f'href="docs/{name}.html"', index)
            if name != "index":
                self.assertIn(f'href="{name}.html"', contents)

    def test_links_between_pages_resolve(self):
        """
        Every relative link of a built page (`page <page.rst>`_ in the
        source) and every picture it shows points at a file of the built
        site, and no link points at .rst.
        """
        for name in self.names:
            text = self.read("docs", f"{name}.html")
            self.assertNotIn('.rst"', text, name)
            for href in re.findall(r'(?:href|src)="([^":#]+)(?:#[^"]*)?"', text):
                path = os.path.normpath(os.path.join(self.target, "docs", href))
                self.assertTrue(os.path.isfile(path), (name, href))

    def test_page_shows_its_title_and_the_site_style(self):
        """
        A built page carries its section title as <title> and <h1>, the
        site's style sheet and a navigation bar back to the home page.
        """
        text = self.read("docs", "get.html")
        self.assertIn("<title>netlab get: a small curl - twisted-netlab</title>", text)
        self.assertIn('<h1 class="title">netlab get: a small curl</h1>', text)
        self.assertIn('<link rel="stylesheet" href="../style.css">', text)
        self.assertIn('<a href="../index.html">netlab home</a>', text)

    def test_documented_options_exist(self):
        """
        Every C{--long} and C{-x} option a docs page names in running text
        (an inline literal starting with a dash) is accepted by the commands
        the page documents, so the pages cannot drift from C{--help}
        unnoticed.
        """
        for page, classes in PAGES.items():
            long_names, short_names = known_options(classes)
            text = unescape(self.read("docs", f"{page}.html"))
            text = re.sub(r'</?span class="pre">', "", text)
            cited_long = set(re.findall(r'<span class="docutils literal">--([a-z][a-z0-9-]*)', text))
            cited_short = set(re.findall(r'<span class="docutils literal">-([a-zA-Z])\b', text))
            self.assertTrue(cited_long, page)
            self.assertEqual(cited_long - long_names, set(), page)
            self.assertEqual(cited_short - short_names, set(), page)


class ManualFolderTests(SynchronousTestCase):
    def test_source_tree_manual(self):
        """
        Run from the source tree (an editable install), the manual is the
        tree's docs/ folder.
        """
        self.assertEqual(os.path.realpath(_manual.manual_folder()), os.path.realpath(DOCS))

    def test_pages_follow_the_index_order(self):
        """
        Pages come index first, then in the order index.rst links them, then
        the rest by name.
        """
        folder = self.mktemp()
        os.mkdir(folder)
        for name, text in [("index", "Index\n=====\n\n`b <b.rst>`_ `a <a.rst>`_\n"), ("a", "A\n=\n"), ("b", "B\n=\n"), ("c", "C\n=\n")]:
            with open(os.path.join(folder, name + ".rst"), "w") as handle:
                handle.write(text)
        self.assertEqual(_manual.page_names(folder), ["index", "b", "a", "c"])


class BuiltSiteCacheTests(SynchronousTestCase):
    """
    L{_manual.built_site} builds once per set of sources into a private
    cache folder and reuses it.
    """

    def setUp(self):
        self.cache = os.path.abspath(self.mktemp())
        old = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = self.cache

        def restore():
            if old is None:
                del os.environ["XDG_CACHE_HOME"]
            else:
                os.environ["XDG_CACHE_HOME"] = old

        self.addCleanup(restore)

    def test_built_once_then_reused(self):
        """
        The first call builds into $XDG_CACHE_HOME/netlab/site-<digest>
        (mode 0700, no scratch folder left); the second returns the same
        folder without writing the pages again.
        """
        first = _manual.built_site()
        self.assertEqual(os.path.dirname(first), os.path.join(self.cache, "netlab"))
        self.assertTrue(os.path.isfile(os.path.join(first, "docs", "http.html")))
        self.assertEqual(stat.S_IMODE(os.stat(first).st_mode), 0o700)
        self.assertEqual(os.listdir(os.path.dirname(first)), [os.path.basename(first)])
        page = os.path.join(first, "docs", "http.html")
        written = os.stat(page).st_mtime_ns
        self.assertEqual(_manual.built_site(), first)
        self.assertEqual(os.stat(page).st_mtime_ns, written)

    def test_folder_others_can_write_is_not_served(self):
        """
        A cached build that other users could have changed (group or world
        writable) is not reused: a fresh private one is built.
        """
        first = _manual.built_site()
        os.rename(first, first + ".moved")
        os.makedirs(os.path.join(first, "docs"))
        with open(os.path.join(first, "docs", "index.html"), "w") as handle:
            handle.write("planted")
        os.chmod(first, 0o777)
        second = _manual.built_site()
        with open(os.path.join(second, "docs", "index.html")) as handle:
            self.assertNotEqual(handle.read(), "planted")

    def test_unwritable_cache_falls_back_to_a_temporary_folder(self):
        """
        When the cache folder cannot be created, the site is built into a
        fresh temporary folder instead of failing.
        """
        with open(self.cache, "w") as handle:
            handle.write("a file where the cache folder should be")
        folder = _manual.built_site()
        self.assertFalse(folder.startswith(self.cache))
        self.assertTrue(os.path.isfile(os.path.join(folder, "docs", "index.html")))

    def test_tap_serves_the_built_site_by_default(self):
        """
        netlab-http without --path serves the built site.
        """
        from twisted_netlab.web.tap import Options

        options = Options()
        options.parseOptions([])
        self.assertEqual(options["path"], _manual.built_site())

    def test_missing_docutils_is_one_usage_error(self):
        """
        Without docutils the bundled site cannot be built: one usage line
        says so and names --path as the way around it.
        """

        def no_docutils():
            raise ImportError("No module named 'docutils'")

        self.patch(_manual, "_fingerprint", no_docutils)
        error = self.assertRaises(usage.UsageError, _manual.built_site)
        self.assertIn("docutils", str(error))
        self.assertIn("--path", str(error))
