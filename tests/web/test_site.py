"""
Tests for the bundled default site (served by netlab-http without
--path): every service has a docs page linked from the index, and the pages
name only options the real commands have.
"""

import os
import re
from html import unescape

from twisted.trial.unittest import SynchronousTestCase

SITE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "twisted_netlab", "web", "site")

#: Each docs page and the Options classes (module, class name) whose
#: options it documents.
PAGES = {
    "http.html": [("twisted_netlab.web.tap", "Options")],
    "get.html": [("twisted_netlab.web.cli", "Options")],
    "ping.html": [("twisted_netlab.ping.tap", "Options"), ("twisted_netlab.ping.cli", "Options")],
    "heartbeat.html": [("twisted_netlab.heartbeat.tap", "Options"), ("twisted_netlab.heartbeat.cli", "Options")],
    "mail.html": [("twisted_netlab.mail.tap", "Options"), ("twisted_netlab.mail.cli", "Options")],
}


def known_options(classes):
    import importlib

    long_names, short_names = set(), set()
    for module, name in classes:
        options = getattr(importlib.import_module(module), name)()
        long_names.update(option.rstrip("=") for option in options.longOpt)
        short_names.update(options.shortOpt.replace(":", ""))
    return long_names, short_names


class DocsPagesTests(SynchronousTestCase):
    def test_every_service_has_a_page_linked_from_the_index(self):
        """
        index.html links each docs page.
        """
        with open(os.path.join(SITE, "index.html"), encoding="utf-8") as handle:
            index = handle.read()
        for page in PAGES:
            self.assertTrue(os.path.isfile(os.path.join(SITE, "docs", page)), page)
            self.assertIn(f'href="docs/{page}"', index)

    def test_documented_options_exist(self):
        """
        Every C{--long} and C{-x} option a docs page shows in its option
        tables is accepted by the command it documents, so the pages cannot
        drift from C{--help} unnoticed.
        """
        for page, classes in PAGES.items():
            long_names, short_names = known_options(classes)
            with open(os.path.join(SITE, "docs", page), encoding="utf-8") as handle:
                text = unescape(handle.read())
            tables = "".join(re.findall(r"<table>.*?</table>", text, re.S))
            cited_long = set(re.findall(r"<code>--([a-z][a-z0-9-]*)", tables))
            cited_short = set(re.findall(r"<code>-([a-zA-Z])\b", tables))
            self.assertTrue(cited_long, page)
            self.assertEqual(cited_long - long_names, set(), page)
            self.assertEqual(cited_short - short_names, set(), page)
