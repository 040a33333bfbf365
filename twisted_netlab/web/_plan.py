# -*- test-case-name: tests.web.test_plan -*-
"""
The pure planner of netlab-http: from a parsed request, what the
filesystem said about its target and the date, decide the whole response
(status, head, the body as bytes or ranges of the opened file, what to
log).  No I/O, no clock, no randomness: those come in as arguments.

Every response head is built here, by L{_head}.  The adapter
(L{twisted_netlab.web.server}) only asks the filesystem (L{_files}),
calls these functions and writes what they return.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Callable, NamedTuple, Optional, Tuple, Union
from urllib.parse import quote

from twisted_netlab.web._listing import ListingEntry, render_listing
from twisted_netlab.web._negotiation import (
    FullResponse,
    PartialResponse,
    Precondition,
    UnsatisfiableRange,
    content_range,
    evaluate_preconditions,
    if_range_allows,
    multipart_layout,
    select_ranges,
)
from twisted_netlab.web._server_core import KNOWN_METHODS, REASONS, Request, http_date

#: The one Allow value, used by 405 and OPTIONS alike.
ALLOW = "GET, HEAD, OPTIONS"
#: Seconds a client is asked to wait after a 503 (a resource shortage
#: such as EMFILE is usually over by then).
RETRY_AFTER_SECONDS = 5

# Request headers that take the slow path (conditional requests, ranges).
_NEGOTIATION_HEADERS = frozenset(
    [b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"range", b"if-range"]
)

#: Formatting a date is slow and files share few distinct mtimes.
_http_date = lru_cache(maxsize=4096)(http_date)


# -- what the filesystem says about a target ---------------------------------


@dataclass(frozen=True)
class Representation:
    """
    What we know about one regular file at one moment, and the header
    lines of its 200 answer precomputed (without Date, Server,
    Connection).  C{body} holds the bytes of small files, read from the
    fd the safe walk opened; a large file is reopened by walking
    C{segments} (its symlink-free path below the root) with
    C{O_NOFOLLOW} again, and C{identity} (st_dev, st_ino) tells whether
    it is still the file that was checked.
    """

    real: str
    segments: Tuple[str, ...]
    identity: Tuple[int, int]
    size: int
    mtime: float
    etag: str
    content_type: str
    fragment: bytes
    body: Optional[bytes]


@dataclass(frozen=True)
class Folder:
    """
    A folder below the root: C{segments} are the request's decoded path
    segments, C{real_segments} its symlink-free path below the root.
    """

    real: str
    segments: Tuple[str, ...]
    real_segments: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """
    A folder and the entries to show for it (read by the filesystem side).
    """

    folder: Folder
    entries: Tuple[ListingEntry, ...]


class NotFound(Enum):
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class Unavailable:
    """
    The filesystem failed for a reason that says nothing about the file
    (C{reason}: the errno name, e.g. C{EMFILE}): answer 503, never cache.
    """

    reason: str


#: What a request path resolves to.
Resolution = Union[Representation, Folder, NotFound, Unavailable]
#: What the planner is told about a GET or HEAD target.
Target = Union[Representation, Folder, Listing, NotFound, Unavailable]


# -- what the adapter is told to do ----------------------------------------------

#: A body piece: bytes to write, or (offset, length) of the opened file.
Piece = Union[bytes, Tuple[int, int]]


class Plan(NamedTuple):
    """
    One whole response: write C{head}, then C{body} in order; when
    C{streams}, some pieces are ranges of the file the adapter opened.
    C{size} is the body length announced; C{note} says why, for the log,
    when it was not a plain success (a parser's reason, an errno name).
    (A NamedTuple: immutable, and cheap to build once per request.)
    """

    status: int
    head: bytes
    body: Tuple[Piece, ...] = ()
    size: int = 0
    note: Optional[str] = None
    streams: bool = False


@dataclass(frozen=True)
class HeadContext:
    """
    What every head of one response shares: C{date_lines} (Date and
    Server, formatted once a second by the adapter), C{connection_line}
    (C{Connection: close} or C{keep-alive} or nothing, as the connection
    decided) and the Cache-Control value of file answers.
    """

    date_lines: bytes
    connection_line: bytes
    cache_control: str = "no-cache"


def _head(status: int, lines: str, framing: HeadContext) -> bytes:
    return (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n".encode("ascii")
        + framing.date_lines
        + lines.encode("latin-1")
        + framing.connection_line
        + b"\r\n"
    )


def quote_segment(segment: str) -> str:
    """
    Percent-encode one decoded path segment for a Location or href.
    """
    return quote(segment, safe="!$&'()*+,;=:@-._~")


# -- plans -------------------------------------------------------------------------


def error_page(
    status: int, message: str, framing: HeadContext, head_only: bool = False, extra: str = "", note: Optional[str] = None
) -> Plan:
    """
    A small HTML page for errors and redirects (C{extra}: header lines
    ending in CRLF).  A HEAD answer carries its head only.
    """
    reason = REASONS.get(status, "")
    body = (
        f"<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>"
        f"<body><h1>{status} {reason}</h1><p>{html.escape(message)}</p></body></html>\n"
    ).encode("utf-8")
    lines = f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n{extra}"
    if head_only:
        return Plan(status, _head(status, lines, framing), (), 0, note)
    return Plan(status, _head(status, lines, framing), (body,), len(body), note)


def plan_method(request: Request, framing: HeadContext) -> Optional[Plan]:
    """
    The answer to a method other than GET and HEAD (OPTIONS 204, a known
    method 405, an unknown one 501); L{None} for GET and HEAD, whose
    answer depends on the target.
    """
    method = request.method
    if method == "GET" or method == "HEAD":
        return None
    if method == "OPTIONS":
        # RFC 9110 8.6: no Content-Length in a 204.
        return Plan(204, _head(204, f"Allow: {ALLOW}\r\n", framing))
    if method in KNOWN_METHODS:
        return error_page(405, f"{method} is not allowed here", framing, extra=f"Allow: {ALLOW}\r\n")
    return error_page(501, "method not implemented", framing)


def wants_listing(request: Request, target: Resolution) -> bool:
    """
    Whether the adapter must read the folder's entries before planning.
    """
    return isinstance(target, Folder) and request.path.endswith("/")


def plan_target(request: Request, target: Target, framing: HeadContext, make_boundary: Callable[[], str]) -> Plan:
    """
    The answer to a GET or HEAD for C{target}; C{make_boundary} gives the
    multipart boundary (randomness comes from the caller).
    """
    head_only = request.method == "HEAD"
    if isinstance(target, Representation):
        index = request.index
        names = index if index is not None else [name for name, _ in request.headers]
        if target.body is not None and _NEGOTIATION_HEADERS.isdisjoint(names):
            # The fast path: a small file, head and body in one write.
            head = b"".join(
                (b"HTTP/1.1 200 OK\r\n", framing.date_lines, target.fragment, framing.connection_line, b"\r\n")
            )
            if head_only:
                return Plan(200, head)
            return Plan(200, head, (target.body,), target.size)
        return plan_file(request, target, framing, make_boundary)
    if isinstance(target, Folder):
        # Built from decoded, re-quoted segments: it starts with exactly
        # one "/" followed by a non-empty segment (or is "/"), so it can
        # never be "//host" or "/\host" (CVE-2021-28861 family).
        location = "/" + "".join(quote_segment(s) + "/" for s in target.segments)
        if request.query:
            location += "?" + request.query
        return error_page(301, "moved to " + location, framing, head_only, f"Location: {location}\r\n")
    if isinstance(target, Listing):
        url_path = "/" + "".join(s + "/" for s in target.folder.segments)
        body = render_listing(url_path, target.entries)
        lines = f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\nCache-Control: no-cache\r\n"
        return Plan(200, _head(200, lines, framing), () if head_only else (body,), 0 if head_only else len(body))
    if isinstance(target, Unavailable):
        return error_page(
            503,
            "temporarily unable to serve this file",
            framing,
            head_only,
            f"Retry-After: {RETRY_AFTER_SECONDS}\r\n",
            note=target.reason,
        )
    return error_page(404, "not found", framing, head_only)


def _header_text(request: Request, name: bytes) -> Optional[str]:
    value = request.header(name)
    return None if value is None else value.decode("latin-1")


def plan_file(request: Request, rep: Representation, framing: HeadContext, make_boundary: Callable[[], str]) -> Plan:
    """
    A regular file with preconditions and ranges evaluated (RFC 9110
    13.2.2, 14): 200, 206 (one range or multipart/byteranges), 304, 412
    or 416.  Small files' pieces come as bytes, large files' as ranges of
    the opened file.
    """
    head_only = request.method == "HEAD"
    status = 200
    size = rep.size
    ranges: Tuple[Tuple[int, int], ...] = ((0, size - 1),) if size else ()
    fragment = rep.fragment
    parts: Optional[Tuple[list, bytes]] = None
    if any(name in _NEGOTIATION_HEADERS for name, _ in request.headers):
        outcome = evaluate_preconditions(
            request.method,
            _header_text(request, b"if-match"),
            _header_text(request, b"if-none-match"),
            _header_text(request, b"if-modified-since"),
            _header_text(request, b"if-unmodified-since"),
            rep.etag,
            rep.mtime,
        )
        if outcome is Precondition.NOT_MODIFIED:
            # RFC 9110 15.4.5: the validators and Cache-Control, no body.
            lines = (
                f"ETag: {rep.etag}\r\nLast-Modified: {_http_date(rep.mtime)}\r\n"
                f"Cache-Control: {framing.cache_control}\r\n"
            )
            return Plan(304, _head(304, lines, framing))
        if outcome is Precondition.FAILED:
            return error_page(412, "precondition failed", framing, head_only)
        range_value = _header_text(request, b"range")
        if_range = _header_text(request, b"if-range")
        if range_value is not None and (if_range is None or if_range_allows(if_range, rep.etag, rep.mtime)):
            decision = select_ranges(range_value, size)
            if isinstance(decision, UnsatisfiableRange):
                return error_page(416, "range not satisfiable", framing, head_only, f"Content-Range: bytes */{size}\r\n")
            if isinstance(decision, PartialResponse):
                status = 206
                ranges = decision.ranges
                common = (
                    f"Last-Modified: {_http_date(rep.mtime)}\r\nETag: {rep.etag}\r\n"
                    f"Cache-Control: {framing.cache_control}\r\nAccept-Ranges: bytes\r\n"
                )
                if len(ranges) == 1:
                    first, last = ranges[0]
                    fragment = (
                        f"Content-Type: {rep.content_type}\r\nContent-Length: {last - first + 1}\r\n"
                        f"Content-Range: {content_range(first, last, size)}\r\n" + common
                    ).encode("latin-1")
                else:
                    boundary = make_boundary()
                    part_heads, closing, length = multipart_layout(ranges, size, rep.content_type, boundary)
                    parts = (part_heads, closing)
                    fragment = (
                        f"Content-Type: multipart/byteranges; boundary={boundary}\r\n"
                        f"Content-Length: {length}\r\n" + common
                    ).encode("latin-1")
            else:
                assert isinstance(decision, FullResponse)
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n".encode("ascii")
        + framing.date_lines
        + fragment
        + framing.connection_line
        + b"\r\n"
    )
    if head_only:
        return Plan(status, head)
    pieces: list = []
    if parts is not None:
        part_heads, closing = parts
        for part_head, first, last in part_heads:
            pieces.append(part_head)
            pieces.append((first, last - first + 1))
        pieces.append(closing)
    else:
        for first, last in ranges:
            pieces.append((first, last - first + 1))
    if rep.body is not None:
        body = rep.body
        pieces = [p if isinstance(p, bytes) else body[p[0] : p[0] + p[1]] for p in pieces]
    size_sent = sum(len(p) if isinstance(p, bytes) else p[1] for p in pieces)
    return Plan(status, head, tuple(pieces), size_sent, None, rep.body is None and bool(pieces))


__all__ = [
    "ALLOW",
    "Folder",
    "HeadContext",
    "Listing",
    "NotFound",
    "Plan",
    "Representation",
    "Resolution",
    "Target",
    "Unavailable",
    "error_page",
    "plan_file",
    "plan_method",
    "plan_target",
    "quote_segment",
    "wants_listing",
]
