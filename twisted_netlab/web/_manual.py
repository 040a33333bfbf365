# -*- test-case-name: tests.web.test_site -*-
"""
The bundled site's docs pages, built from the manual (docs/*.rst) with
docutils the first time netlab-http serves the bundled site: a helper of
the web family's tap (reads and writes files; no reactor, no sockets).
"""

import atexit
import hashlib
import html
import os
import re
import shutil
import tempfile
import time
from typing import Any, Dict, List, Optional, Tuple

from twisted.python import usage

#: Bump when the page template or the link rewriting changes, so a cached
#: build made by an older netlab is not served.
TEMPLATE_VERSION = "1"

#: Cached builds older than this (and not the current one) are removed.
STALE_SECONDS = 24 * 3600

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: A link to another page of the manual, as written in the .rst sources
#: (`netlab get <get.rst>`_) and as docutils renders it.
_RST_HREF = re.compile(r'href="([a-z0-9][a-z0-9-]*)\.rst(#[^"]*)?"')
_RST_LINK = re.compile(r"<([a-z0-9][a-z0-9-]*)\.rst(?:#[^>]*)?>`_")

#: docutils settings.  No raw HTML and no file inclusion: a page can only
#: be text.  Strict settings (used by the tests) stop at the first warning.
_SAFE = {
    "raw_enabled": False,
    "file_insertion_enabled": False,
    "output_encoding": "unicode",
    "embed_stylesheet": False,
    "stylesheet_path": "",
    "stylesheet": "",
    "doctitle_xform": True,
    "_disable_config": True,
}
LENIENT = dict(_SAFE, halt_level=5, report_level=5)
STRICT = dict(_SAFE, halt_level=2, report_level=2, warning_stream=False)


def static_site() -> str:
    """
    The folder of the hand-written part of the bundled site (index.html,
    style.css).
    """
    return os.path.join(_PACKAGE, "web", "site")


def manual_folder() -> str:
    """
    The folder holding the manual's .rst pages: inside the installed
    package (a wheel ships docs/ as twisted_netlab/manual), else the docs/
    folder of the source tree (an editable install).
    """
    installed = os.path.join(_PACKAGE, "manual")
    if os.path.isfile(os.path.join(installed, "index.rst")):
        return installed
    return os.path.join(os.path.dirname(_PACKAGE), "docs")


def page_names(folder: Optional[str] = None) -> List[str]:
    """
    The manual's pages (file names without .rst): index first, then in the
    order index.rst links them, then any other page by name.
    """
    folder = folder or manual_folder()
    names = sorted(name[:-4] for name in os.listdir(folder) if name.endswith(".rst"))
    with open(os.path.join(folder, "index.rst"), encoding="utf-8") as handle:
        linked = _RST_LINK.findall(handle.read())
    ordered = ["index"] + [name for name in linked if name in names and name != "index"]
    ordered = list(dict.fromkeys(ordered))
    return ordered + [name for name in names if name not in ordered]


def render(source: str, source_path: str, settings: Dict[str, Any]) -> Tuple[str, str]:
    """
    One .rst page as (title, HTML body), links to other .rst pages pointing
    at their .html.  With L{STRICT} settings any docutils warning (a broken
    reference, bad markup) raises L{docutils.utils.SystemMessage}.
    """
    from docutils.core import publish_parts

    parts = publish_parts(source, source_path=source_path, writer_name="html5", settings_overrides=settings)
    body = _RST_HREF.sub(lambda m: f'href="{m.group(1)}.html{m.group(2) or ""}"', parts["html_body"])
    return html.unescape(parts["title"]), body


#: Where the site's index.html gets the list of the manual's pages.
_MANUAL_MARK = re.compile(r"<!-- NETLAB-MANUAL-PAGES\b.*?-->", re.S)


def manual_list(names: List[str], rendered: Dict[str, Tuple[str, str]]) -> str:
    """
    An HTML list linking every page of the manual (from the site's root),
    in the order of L{page_names}, each by its title.
    """
    items = "".join(
        f'<li><a href="docs/{name}.html">{html.escape("Contents" if name == "index" else rendered[name][0])}</a></li>\n'
        for name in names
    )
    return f"<ul>\n{items}</ul>"


def page(title: str, body: str, nav: List[Tuple[str, str]]) -> str:
    """
    A whole HTML page around a rendered body, with the site's style sheet
    and a navigation bar of (href, label).
    """
    links = "".join(f'<a href="{html.escape(href)}">{html.escape(label)}</a>' for href, label in nav)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)} - twisted-netlab</title>\n"
        '<link rel="stylesheet" href="../style.css">\n</head>\n<body>\n'
        f"<nav>{links}</nav>\n{body}\n</body>\n</html>\n"
    )


def build(target: str, settings: Dict[str, Any] = LENIENT, manual: Optional[str] = None) -> List[str]:
    """
    Write the whole bundled site into the empty folder C{target}: the
    static files, and docs/NAME.html for every page of the manual.  Returns
    the page names.
    """
    manual = manual or manual_folder()
    docs = os.path.join(target, "docs")
    os.mkdir(docs)
    names = page_names(manual)
    rendered = {}
    for name in names:
        path = os.path.join(manual, name + ".rst")
        with open(path, encoding="utf-8") as handle:
            rendered[name] = render(handle.read(), path, settings)
    for relative in media_files(manual):
        destination = os.path.join(docs, relative)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        shutil.copyfile(os.path.join(manual, relative), destination)
    static = static_site()
    for name in sorted(os.listdir(static)):
        source = os.path.join(static, name)
        if os.path.isfile(source) and name.endswith(".css"):
            shutil.copyfile(source, os.path.join(target, name))
        elif os.path.isfile(source) and name.endswith(".html"):
            with open(source, encoding="utf-8") as handle:
                text = handle.read()
            with open(os.path.join(target, name), "w", encoding="utf-8") as handle:
                handle.write(_MANUAL_MARK.sub(lambda m: manual_list(names, rendered), text))
    nav = [("../index.html", "netlab home")] + [(f"{name}.html", "manual" if name == "index" else name) for name in names]
    for name, (title, body) in rendered.items():
        with open(os.path.join(docs, name + ".html"), "w", encoding="utf-8") as handle:
            handle.write(page(title, body, nav))
    return names


#: Files besides the pages that the site serves from the manual's folders
#: (pictures the pages show with ``.. image::``).
MEDIA_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp")


def media_files(manual: str) -> List[str]:
    """
    The pictures in the manual's sub-folders, as paths relative to it
    (sorted; symlinks and other files left out).
    """
    found = []
    for folder, folders, files in os.walk(manual):
        folders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            if name.lower().endswith(MEDIA_SUFFIXES) and folder != manual and not os.path.islink(path):
                found.append(os.path.relpath(path, manual))
    return found


def _fingerprint() -> str:
    """
    A digest of everything a build depends on: sources, template, docutils.
    """
    import docutils

    digest = hashlib.sha256(f"{TEMPLATE_VERSION} {docutils.__version__}".encode())
    manual = manual_folder()
    sources = [os.path.join(manual, name) for name in sorted(os.listdir(manual)) if name.endswith(".rst")]
    sources += [os.path.join(manual, relative) for relative in media_files(manual)]
    static = static_site()
    sources += [os.path.join(static, name) for name in sorted(os.listdir(static)) if name.endswith((".html", ".css"))]
    for path in sources:
        if os.path.isfile(path):
            digest.update(path.encode() + b"\0")
            with open(path, "rb") as handle:
                digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()[:20]


def cache_root() -> str:
    """
    Where built sites are kept: $XDG_CACHE_HOME/netlab, else
    ~/.cache/netlab.
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "netlab")


def _usable(folder: str) -> bool:
    """
    C{folder} is a real folder (not a symlink) owned by us and writable by
    no one else, so nobody else can change what the server serves.
    """
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def _prune(root: str, keep: str) -> None:
    """
    Remove cached builds other than C{keep} unused for L{STALE_SECONDS}.
    """
    now = time.time()
    for name in os.listdir(root):
        path = os.path.join(root, name)
        if name.startswith("site-") and path != keep and _usable(path):
            try:
                if now - os.lstat(path).st_mtime > STALE_SECONDS:
                    shutil.rmtree(path)
            except OSError:
                pass


def built_site() -> str:
    """
    The folder netlab-http serves when no --path is given: the bundled
    site with its docs pages built from the manual.  Built once per set of
    sources into the cache folder (atomically: into a temporary folder, then
    renamed), so later starts take no time; if the cache folder cannot be
    used, built into a fresh temporary folder.  Raises L{usage.UsageError}
    with one line when the pages cannot be built at all.
    """
    try:
        key = _fingerprint()
    except ImportError:
        raise usage.UsageError("the bundled docs pages need docutils: pip install docutils (or use --path)")
    except OSError as error:
        raise usage.UsageError(f"cannot read the manual to build the bundled site: {error}")
    root = cache_root()
    target = os.path.join(root, f"site-{key}")
    if _usable(target) and os.path.isfile(os.path.join(target, "docs", "index.html")):
        os.utime(target)
        return target
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        if not _usable(root):
            raise OSError(f"{root} is not a private folder")
        scratch = tempfile.mkdtemp(prefix="building-", dir=root)
    except OSError:
        scratch = target = tempfile.mkdtemp(prefix="netlab-site-")
        atexit.register(shutil.rmtree, scratch, True)
    try:
        build(scratch)
    except Exception as error:
        shutil.rmtree(scratch, ignore_errors=True)
        raise usage.UsageError(f"cannot build the bundled docs pages: {error}")
    if scratch == target:
        return target
    try:
        os.rename(scratch, target)
    except OSError:
        if _usable(target) and os.path.isfile(os.path.join(target, "docs", "index.html")):
            # Another process built the same sources first: use theirs.
            shutil.rmtree(scratch, ignore_errors=True)
            return target
        # A folder we must not serve is in the way: serve our own build.
        atexit.register(shutil.rmtree, scratch, True)
        return scratch
    _prune(root, target)
    return target
