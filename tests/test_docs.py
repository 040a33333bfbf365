"""
The manual (docs/*.rst) and README.rst build with docutils with warnings
as errors: a broken reference, a bad table or a stray markup character
fails here, page by page.
"""

import os

from docutils.utils import SystemMessage
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import REPO
from twisted_netlab.web import _manual

DOCS = os.path.join(REPO, "docs")


def sources():
    """
    Every page of the manual, then the README.
    """
    pages = sorted(os.path.join(DOCS, name) for name in os.listdir(DOCS) if name.endswith(".rst"))
    return pages + [os.path.join(REPO, "README.rst")]


class BuildTests(SynchronousTestCase):
    def test_every_page_builds_without_warnings(self):
        """
        Each page renders with halt_level and report_level at "warning", the
        settings the bundled site's pages are built with in these tests.
        """
        self.assertIn(os.path.join(DOCS, "index.rst"), sources())
        for path in sources():
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            try:
                title, body = _manual.render(text, path, _manual.STRICT)
            except SystemMessage as error:
                self.fail(f"{os.path.relpath(path, REPO)}: {error}")
            self.assertTrue(title, path)

    def test_broken_reference_fails_the_build(self):
        """
        The strict settings really are strict: an unknown reference target
        and a title underline too short each stop the build.
        """
        for text in ["Title\n=====\n\nSee `nowhere`_.\n", "Title\n=====\n\nSections\n-----\n\ntext\n"]:
            self.assertRaises(SystemMessage, _manual.render, text, "broken.rst", _manual.STRICT)

    def test_raw_html_is_refused(self):
        """
        A page cannot carry raw HTML or include files: the bundled site only
        ever serves what docutils rendered from text.
        """
        text = "Title\n=====\n\n.. raw:: html\n\n   <script>alert(1)</script>\n"
        self.assertRaises(SystemMessage, _manual.render, text, "raw.rst", _manual.STRICT)
        title, body = _manual.render(text, "raw.rst", _manual.LENIENT)
        self.assertNotIn("<script>", body)

    def test_links_to_other_pages_point_at_html(self):
        """
        `text <page.rst>`_ (which GitHub follows in the source) becomes a
        link to page.html on the site, anchors kept.
        """
        title, body = _manual.render("T\n=\n\n`get <get.rst>`_ and `x <mail.rst#faults>`_\n", "t.rst", _manual.STRICT)
        self.assertIn('href="get.html"', body)
        self.assertIn('href="mail.html#faults"', body)


class ReadmeTests(SynchronousTestCase):
    def test_short_with_the_two_commands_first(self):
        """
        README.rst stays short (the manual is in docs/), its first literal
        block is the two commands, and it points at the manual.
        """
        with open(os.path.join(REPO, "README.rst"), encoding="utf-8") as handle:
            text = handle.read()
        self.assertLessEqual(text.count("\n"), 250)
        first_block = text[text.index("::\n") : text.index("::\n") + 400]
        self.assertIn("bash scripts/lab", first_block)
        self.assertIn("bash scripts/test", first_block)
        self.assertLess(first_block.index("bash scripts/lab"), first_block.index("bash scripts/test"))
        self.assertIn("docs/index.rst", text)
