# -*- test-case-name: tests.web.test_negotiation -*-
"""
Pure HTTP semantics of netlab-http's responses: entity tags, conditional
requests (RFC 9110 13) and byte ranges (RFC 9110 14).

Standard library only; the adapter passes in the representation's
validators and size and gets back a decision to act on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import List, Optional, Sequence, Tuple, Union

from twisted_netlab.web._server_core import parse_http_date

#: More ranges than this in one Range header and we answer 200 with the
#: whole file (RFC 9110 14.2 lets a server ignore Range): a client cannot
#: make us send many small parts, each with its own part head.
MAX_RANGES = 16
#: Ranges closer than this are merged into one part: a part head costs
#: about this much, and overlapping ranges could otherwise repeat data.
COALESCE_GAP = 80


def make_etag(inode: int, size: int, mtime_ns: int) -> str:
    """
    A strong entity tag (RFC 9110 8.8.3) from what changes when a file's
    bytes change: inode (replaced by rename), size and modification time
    in nanoseconds.
    """
    return f'"{inode:x}-{size:x}-{mtime_ns:x}"'


# RFC 9110 8.8.3: entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
_ETAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def parse_etag_list(value: str) -> Optional[List[Tuple[bool, str]]]:
    """
    Parse an If-Match / If-None-Match list into (weak, opaque-tag) pairs.

    @return: L{None} when the value is C{*}; an empty list when it is
        malformed (a malformed list matches nothing).
    """
    stripped = value.strip()
    if stripped == "*":
        return None
    tags: List[Tuple[bool, str]] = []
    position = 0
    while position < len(value):
        # Empty list elements (", ,") are allowed by RFC 9110 5.6.1.
        while position < len(value) and value[position] in " \t,":
            position += 1
        if position >= len(value):
            break
        match = _ETAG.match(value, position)
        if match is None:
            return []
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def weak_match(tags: Optional[List[Tuple[bool, str]]], etag: str) -> bool:
    """
    RFC 9110 8.8.3.2 weak comparison against our (strong) C{etag};
    L{None} stands for C{*}.
    """
    if tags is None:
        return True
    return any(tag == etag for _weak, tag in tags)


def strong_match(tags: Optional[List[Tuple[bool, str]]], etag: str) -> bool:
    """
    RFC 9110 8.8.3.2 strong comparison: a weak tag never matches.
    """
    if tags is None:
        return True
    return any(tag == etag and not weak for weak, tag in tags)


class Precondition(Enum):
    """
    The outcome of evaluating the conditional headers (RFC 9110 13.2.2).
    """

    PROCEED = "PROCEED"
    NOT_MODIFIED = "NOT_MODIFIED"
    FAILED = "FAILED"


def evaluate_preconditions(
    method: str,
    if_match: Optional[str],
    if_none_match: Optional[str],
    if_modified_since: Optional[str],
    if_unmodified_since: Optional[str],
    etag: str,
    last_modified: float,
) -> Precondition:
    """
    Evaluate preconditions in the order of RFC 9110 13.2.2 for a
    representation with C{etag} and C{last_modified} (whole seconds).

    If-Modified-Since is ignored when If-None-Match is present, and
    If-Unmodified-Since when If-Match is; dates that do not parse are
    ignored (RFC 9110 13.1.3).  The caller only asks for GET and HEAD,
    where a failed If-None-Match means 304.
    """
    if if_match is not None:
        if not strong_match(parse_etag_list(if_match), etag):
            return Precondition.FAILED
    elif if_unmodified_since is not None:
        date = parse_http_date(if_unmodified_since.encode("latin-1"))
        if date is not None and last_modified > date:
            return Precondition.FAILED
    if if_none_match is not None:
        if weak_match(parse_etag_list(if_none_match), etag):
            if method in ("GET", "HEAD"):
                return Precondition.NOT_MODIFIED
            return Precondition.FAILED
    elif if_modified_since is not None and method in ("GET", "HEAD"):
        date = parse_http_date(if_modified_since.encode("latin-1"))
        if date is not None and last_modified <= date:
            return Precondition.NOT_MODIFIED
    return Precondition.PROCEED


def if_range_allows(value: str, etag: str, last_modified: float) -> bool:
    """
    RFC 9110 13.1.5: the Range applies only when If-Range's validator
    matches the current representation: an entity tag by strong
    comparison, or a date exactly equal to Last-Modified.
    """
    text = value.strip()
    if text.startswith('"') or text.startswith("W/"):
        tags = parse_etag_list(text)
        return bool(tags) and strong_match(tags, etag)
    date = parse_http_date(text.encode("latin-1"))
    return date is not None and int(date) == int(last_modified)


@dataclass(frozen=True)
class FullResponse:
    """
    Serve the whole representation with 200 (no usable Range).
    """


@dataclass(frozen=True)
class PartialResponse:
    """
    Serve these byte ranges with 206: one range as a plain body with
    Content-Range, several as multipart/byteranges.  Each range is
    C{(first, last)} inclusive, sorted, disjoint and inside the file.
    """

    ranges: Tuple[Tuple[int, int], ...]


@dataclass(frozen=True)
class UnsatisfiableRange:
    """
    Answer 416 with C{Content-Range: bytes */size}.
    """


RangeDecision = Union[FullResponse, PartialResponse, UnsatisfiableRange]

_RANGE_SPEC = re.compile(r"^\s*(?:([0-9]{1,18})-([0-9]{0,18})|-([0-9]{1,18}))\s*$")


def select_ranges(value: str, size: int) -> RangeDecision:
    """
    Decide how to answer C{Range: value} for a representation of C{size}
    bytes (RFC 9110 14.1.2, 14.2).

    Syntax errors and units other than C{bytes} ignore the header (200).
    Ranges that start past the end are dropped; the rest are clipped to
    the end.  Suffix ranges (C{-N}) take the last N bytes.  If none is
    satisfiable the answer is 416.  More than L{MAX_RANGES} ranges are
    ignored; the rest are sorted and overlapping or nearby ones merged,
    so the body is never much larger than the file.
    """
    unit, equals, specs = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return FullResponse()
    parts = specs.split(",")
    if len(parts) > MAX_RANGES:
        return FullResponse()
    satisfiable: List[Tuple[int, int]] = []
    seen_any = False
    for part in parts:
        if not part.strip():
            continue  # RFC 9110 5.6.1: empty list elements
        match = _RANGE_SPEC.match(part)
        if match is None:
            return FullResponse()
        seen_any = True
        first_text, last_text, suffix_text = match.groups()
        if suffix_text is not None:
            suffix = int(suffix_text)
            if suffix == 0 or size == 0:
                continue
            satisfiable.append((max(0, size - suffix), size - 1))
            continue
        first = int(first_text)
        if last_text:
            last = int(last_text)
            if last < first:
                return FullResponse()  # invalid range-spec: ignore Range
        else:
            last = size - 1
        if first >= size:
            continue
        satisfiable.append((first, min(last, size - 1)))
    if not seen_any:
        return FullResponse()
    if not satisfiable:
        return UnsatisfiableRange()
    return PartialResponse(coalesce(satisfiable))


def coalesce(ranges: Sequence[Tuple[int, int]], gap: int = COALESCE_GAP) -> Tuple[Tuple[int, int], ...]:
    """
    Sort inclusive ranges and merge those that overlap or lie less than
    C{gap} bytes apart (RFC 9110 14.3 lets the server coalesce).
    """
    merged: List[Tuple[int, int]] = []
    for first, last in sorted(ranges):
        if merged and first <= merged[-1][1] + 1 + gap:
            if last > merged[-1][1]:
                merged[-1] = (merged[-1][0], last)
        else:
            merged.append((first, last))
    return tuple(merged)


def content_range(first: int, last: int, size: int) -> str:
    """
    The Content-Range value of one part (RFC 9110 14.4).
    """
    return f"bytes {first}-{last}/{size}"


def multipart_layout(
    ranges: Sequence[Tuple[int, int]], size: int, content_type: str, boundary: str
) -> Tuple[List[Tuple[bytes, int, int]], bytes, int]:
    """
    Lay out a multipart/byteranges body (RFC 9110 14.6).

    @return: C{(parts, closing, length)}: each part is its head bytes and
        the inclusive range whose file bytes follow it; C{closing} ends the
        body; C{length} is the exact Content-Length of the whole body.
    """
    parts: List[Tuple[bytes, int, int]] = []
    length = 0
    for first, last in ranges:
        head = (
            f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
            f"Content-Range: {content_range(first, last, size)}\r\n\r\n"
        ).encode("latin-1")
        parts.append((head, first, last))
        length += len(head) + last - first + 1
    closing = f"\r\n--{boundary}--\r\n".encode("latin-1")
    return parts, closing, length + len(closing)
