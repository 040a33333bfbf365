# -*- test-case-name: tests.web.test_listing -*-
"""
Pure rendering of netlab-http's directory listings: entries in, one small
HTML page out.  Every name is HTML-escaped for the text and URL-quoted
for the link, so a file called C{<script>} or C{a"b} stays a file name.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Iterable, List
from urllib.parse import quote


@dataclass(frozen=True)
class ListingEntry:
    """
    One child of the listed folder (symlinks already resolved or dropped
    by the adapter).
    """

    name: str
    is_folder: bool
    size: int
    mtime: float


_NUMBERS = re.compile(r"([0-9]+)")


def natural_key(name: str) -> tuple:
    """
    Sort key that compares runs of ASCII digits as numbers (file2 before
    file10), the rest case-insensitively, then by the exact name so the
    order is total.  Runs alternate text, number, text...: the compared
    items are always of one type.
    """
    parts = _NUMBERS.split(name)
    key = [int(part) if index % 2 else part.lower() for index, part in enumerate(parts)]
    return (key, name)


def _human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _date(mtime: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))


def render_listing(url_path: str, entries: Iterable[ListingEntry]) -> bytes:
    """
    The HTML listing of the folder at C{url_path} (decoded, ending in
    C{/}): folders first, then files, each group in natural order
    (L{natural_key}); sizes and UTC modification dates; a parent link
    except at the root.
    """
    ordered = sorted(entries, key=lambda e: (not e.is_folder, natural_key(e.name)))
    title = html.escape(f"Index of {url_path}")
    rows: List[str] = []
    if url_path != "/":
        rows.append('<tr><td><a href="../">../</a></td><td></td><td></td></tr>')
    for entry in ordered:
        suffix = "/" if entry.is_folder else ""
        # "./" keeps a name like "a:b" from being read as a URL scheme.
        href = "./" + quote(entry.name, safe="") + suffix
        size = "-" if entry.is_folder else _human_size(entry.size)
        rows.append(
            f'<tr><td><a href="{html.escape(href, quote=True)}">'
            f"{html.escape(entry.name + suffix)}</a></td>"
            f'<td class="size">{size}</td><td>{_date(entry.mtime)}</td></tr>'
        )
    page = (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
        f"<title>{title}</title>"
        "<style>body{font-family:sans-serif}td{padding:0 1em}"
        "td.size{text-align:right}</style></head>\n"
        f"<body><h1>{title}</h1>\n<table>\n"
        "<tr><th>Name</th><th>Size</th><th>Modified (UTC)</th></tr>\n"
        + "\n".join(rows)
        + "\n</table><hr><address>netlab-http</address></body></html>\n"
    )
    return page.encode("utf-8")
