# -*- test-case-name: tests.web.test_core -*-
"""
The pure HTTP/1.1 request side of netlab-http: a sans-IO parser fed bytes
that returns events (h11's model), response-head building, dates, and the
mapping from a request target to a path inside the served root.

No reactor, no sockets, no clock, no filesystem: the adapter in
L{twisted_netlab.web.server} does all I/O.  Rules cite RFC 9110 / 9112.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import List, Optional, Tuple, Union
from urllib.parse import unquote_to_bytes

Headers = Tuple[Tuple[bytes, bytes], ...]


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


#: Returned by L{RequestParser.next_event} when more bytes are needed.
NEED_DATA = _Sentinel.NEED_DATA


@dataclass(frozen=True)
class Limits:
    """
    Caps on everything the parser buffers.  The request line cap answers
    414 when the target is what made it long; header caps answer 431.
    """

    max_request_line: int = 8190
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_chunk_line: int = 1024
    #: A framed body on GET/HEAD is read and discarded, up to this much.
    max_body_bytes: int = 1 << 20


@dataclass(frozen=True)
class Request:
    """
    A complete request head whose body (if any) has been framed and
    discarded.  C{headers} keep the received order; names are lowercase.
    """

    method: str
    target: str
    version: Tuple[int, int]
    headers: Headers
    path: str
    query: str
    host: Optional[str]
    keep_alive: bool

    def header(self, name: bytes) -> Optional[bytes]:
        """
        The value of the header C{name} (lowercase); several are joined by
        C{", "} as RFC 9110 5.3 allows for list-valued fields.
        """
        values = [v for n, v in self.headers if n == name]
        if not values:
            return None
        return b", ".join(values)


@dataclass(frozen=True)
class Rejection:
    """
    The peer broke the protocol or a limit: answer C{status} and close,
    since the stream can no longer be framed.
    """

    status: int
    reason: str


@dataclass(frozen=True)
class ConnectionClosed:
    """
    The peer closed its side cleanly between requests.
    """


Event = Union[Request, Rejection, ConnectionClosed, _Sentinel]


class _State(Enum):
    AWAITING_HEAD = "AWAITING_HEAD"
    DISCARDING_BODY = "DISCARDING_BODY"
    DISCARDING_CHUNKED = "DISCARDING_CHUNKED"
    CLOSED = "CLOSED"


# RFC 9110 5.6.2: token = 1*tchar
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 5.5: field-value = *field-content; no CR, LF or NUL; other CTLs
# are rejected too (as h11 does), obs-text (0x80-0xFF) is allowed.
_FIELD_VALUE = re.compile(rb"^[\t\x20-\x7e\x80-\xff]*$")
_VERSION = re.compile(rb"^HTTP/([0-9])\.([0-9])$")
# origin-form and absolute-form targets: visible ASCII only (RFC 9112 3.2).
_TARGET = re.compile(rb"^[\x21-\x7e]+$")
_CONTENT_LENGTH = re.compile(rb"^[0-9]{1,18}$")
_HEX = re.compile(rb"^[0-9A-Fa-f]{1,16}$")

KNOWN_METHODS = frozenset(
    ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
)


class RequestParser:
    """
    Feed bytes with L{receive_data} (C{b""} means the peer closed), then
    call L{next_event} until it returns L{NEED_DATA}.

    After a L{Rejection} or L{ConnectionClosed} the parser is finished and
    returns that event again.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._state = _State.AWAITING_HEAD
        self._eof = False
        self._pending: Optional[Request] = None
        self._remaining = 0
        self._chunk_phase = "size"
        self._final: Optional[Union[Rejection, ConnectionClosed]] = None

    @property
    def buffered(self) -> int:
        """
        How many received bytes are not yet consumed (for backpressure).
        """
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        if not data:
            self._eof = True
        else:
            self._buffer += data

    def next_event(self) -> Event:
        if self._final is not None:
            return self._final
        while True:
            if self._state is _State.AWAITING_HEAD:
                event = self._read_head()
            elif self._state is _State.DISCARDING_BODY:
                event = self._discard_length()
            else:
                event = self._discard_chunked()
            if event is None:
                continue
            if isinstance(event, (Rejection, ConnectionClosed)):
                self._final = event
                self._state = _State.CLOSED
                self._buffer.clear()
            return event

    # -- head -----------------------------------------------------------

    def _read_head(self) -> Optional[Event]:
        buffer = self._buffer
        # RFC 9112 2.2: ignore at least one empty line before a request.
        while buffer.startswith(b"\r\n"):
            del buffer[:2]
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            line_end = buffer.find(b"\n")
            if line_end < 0 and len(buffer) > self.limits.max_request_line:
                return self._too_long_line(bytes(buffer))
            if len(buffer) > self.limits.max_request_line + self.limits.max_header_bytes + 4:
                return Rejection(431, "request header fields too large")
            if re.search(rb"(?<!\r)\n", buffer):
                return Rejection(400, "bare LF in request head")
            if self._eof:
                if buffer:
                    return Rejection(400, "connection closed inside a request head")
                return ConnectionClosed()
            return NEED_DATA
        head = bytes(buffer[:end])
        del buffer[: end + 4]
        return self._parse_head(head)

    def _too_long_line(self, line: bytes) -> Rejection:
        return Rejection(414, "request target too long")

    def _parse_head(self, head: bytes) -> Event:
        if b"\n" in head.replace(b"\r\n", b"") or b"\r" in head.replace(b"\r\n", b""):
            return Rejection(400, "bare CR or LF in request head")
        lines = head.split(b"\r\n")
        request_line, field_lines = lines[0], lines[1:]
        if len(request_line) > self.limits.max_request_line:
            return Rejection(414, "request target too long")
        if len(head) - len(request_line) > self.limits.max_header_bytes:
            return Rejection(431, "request header fields too large")
        if len(field_lines) > self.limits.max_headers:
            return Rejection(431, "too many header fields")
        # RFC 9112 3: method SP request-target SP HTTP-version, single spaces.
        parts = request_line.split(b" ")
        if len(parts) != 3:
            return Rejection(400, "malformed request line")
        method_bytes, target_bytes, version_bytes = parts
        if not _TOKEN.match(method_bytes):
            return Rejection(400, "malformed method")
        version_match = _VERSION.match(version_bytes)
        if not version_match:
            return Rejection(400, "malformed HTTP version")
        version = (int(version_match.group(1)), int(version_match.group(2)))
        if version[0] != 1:
            return Rejection(505, "HTTP version not supported")
        if not _TARGET.match(target_bytes):
            return Rejection(400, "malformed request target")
        headers: List[Tuple[bytes, bytes]] = []
        for line in field_lines:
            if line[:1] in (b" ", b"\t"):
                # RFC 9112 5.2: obs-fold is rejected with 400.
                return Rejection(400, "obsolete line folding")
            name, colon, value = line.partition(b":")
            if not colon or not _TOKEN.match(name):
                # RFC 9112 5.1: no whitespace between name and colon.
                return Rejection(400, "invalid header field name")
            value = value.strip(b" \t")
            if not _FIELD_VALUE.match(value):
                return Rejection(400, "invalid header field value")
            headers.append((name.lower(), value))
        return self._frame(method_bytes.decode("ascii"), target_bytes.decode("ascii"), version, tuple(headers))

    def _frame(self, method: str, target: str, version: Tuple[int, int], headers: Headers) -> Optional[Event]:
        hosts = [v for n, v in headers if n == b"host"]
        # RFC 9112 3.2: exactly one Host in HTTP/1.1; at most one in 1.0.
        if len(hosts) > 1 or (version >= (1, 1) and not hosts):
            return Rejection(400, "missing or duplicate Host")
        host = hosts[0].decode("latin-1") if hosts else None
        if host is not None and not re.match(r"^[A-Za-z0-9.\-_~!$&'()*+,;=:%\[\]]*$", host):
            return Rejection(400, "invalid Host")
        if target.startswith("/"):
            path, _, query = target.partition("?")
        elif "://" in target and target.split("://", 1)[0].lower() in ("http", "https"):
            # RFC 9112 3.2.2: absolute-form; its authority replaces Host.
            rest = target.split("://", 1)[1]
            authority, slash, remainder = rest.partition("/")
            if not authority or "@" in authority:
                return Rejection(400, "invalid absolute-form target")
            host = authority
            path, _, query = ("/" + remainder).partition("?")
        elif target == "*" and method == "OPTIONS":
            path, query = "*", ""
        else:
            return Rejection(400, "unsupported request-target form")
        path = path.partition("#")[0]
        transfer_encodings = [v for n, v in headers if n == b"transfer-encoding"]
        lengths = [v for n, v in headers if n == b"content-length"]
        if transfer_encodings and lengths:
            # RFC 9112 6.1: both present is a smuggling vector; reject.
            return Rejection(400, "both Transfer-Encoding and Content-Length")
        connection_tokens = {t for n, v in headers if n == b"connection" for t in (x.strip().lower() for x in v.split(b","))}
        if version >= (1, 1):
            keep_alive = b"close" not in connection_tokens
        else:
            keep_alive = b"keep-alive" in connection_tokens and b"close" not in connection_tokens
        request = Request(method, target, version, headers, path, query, host, keep_alive)
        if transfer_encodings:
            if version < (1, 1):
                return Rejection(400, "Transfer-Encoding in HTTP/1.0")
            codings = [c.strip().lower() for v in transfer_encodings for c in v.split(b",")]
            if codings != [b"chunked"]:
                # RFC 9112 6.3: chunked must be final; we accept only it.
                return Rejection(501 if codings[-1:] == [b"chunked"] else 400, "unsupported transfer coding")
            self._pending = request
            self._state = _State.DISCARDING_CHUNKED
            self._chunk_phase = "size"
            self._remaining = 0
            return None
        if lengths:
            if len(lengths) > 1 or not _CONTENT_LENGTH.match(lengths[0]):
                return Rejection(400, "invalid or duplicate Content-Length")
            length = int(lengths[0])
            if length > self.limits.max_body_bytes:
                return Rejection(413, "request body too large")
            if length:
                self._pending = request
                self._remaining = length
                self._state = _State.DISCARDING_BODY
                return None
        return request

    # -- bodies (read and discarded: GET/HEAD bodies carry no meaning) ---

    def _finish_body(self) -> Request:
        request = self._pending
        assert request is not None
        self._pending = None
        self._state = _State.AWAITING_HEAD
        return request

    def _discard_length(self) -> Event:
        take = min(self._remaining, len(self._buffer))
        del self._buffer[:take]
        self._remaining -= take
        if self._remaining == 0:
            return self._finish_body()
        if self._eof:
            return Rejection(400, "connection closed inside a request body")
        return NEED_DATA

    def _discard_chunked(self) -> Optional[Event]:
        buffer = self._buffer
        while True:
            if self._chunk_phase == "data":
                take = min(self._remaining, len(buffer))
                del buffer[:take]
                self._remaining -= take
                if self._remaining:
                    break
                self._chunk_phase = "data-end"
            if self._chunk_phase == "data-end":
                if len(buffer) < 2:
                    break
                if buffer[:2] != b"\r\n":
                    return Rejection(400, "chunk data not followed by CRLF")
                del buffer[:2]
                self._chunk_phase = "size"
            line_end = buffer.find(b"\r\n")
            if line_end < 0:
                if len(buffer) > self.limits.max_chunk_line:
                    return Rejection(400, "chunk line too long")
                break
            line = bytes(buffer[:line_end])
            del buffer[: line_end + 2]
            if b"\n" in line or b"\r" in line:
                return Rejection(400, "bare CR or LF in chunked framing")
            if self._chunk_phase == "size":
                size_text, _, _extension = line.partition(b";")
                if not _HEX.match(size_text):
                    return Rejection(400, "invalid chunk size")
                size = int(size_text, 16)
                self._body_seen = getattr(self, "_body_seen", 0) + size
                if self._body_seen > self.limits.max_body_bytes:
                    return Rejection(413, "request body too large")
                if size == 0:
                    self._chunk_phase = "trailers"
                else:
                    self._chunk_phase = "data"
                    self._remaining = size
                continue
            # trailers: until an empty line
            if line == b"":
                self._body_seen = 0
                return self._finish_body()
            name, colon, _value = line.partition(b":")
            if not colon or not _TOKEN.match(name):
                return Rejection(400, "invalid trailer field")
        if self._eof:
            return Rejection(400, "connection closed inside a chunked body")
        return NEED_DATA


# -- responses ---------------------------------------------------------

REASONS = {
    200: "OK", 204: "No Content", 206: "Partial Content",
    301: "Moved Permanently", 304: "Not Modified", 308: "Permanent Redirect",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 408: "Request Timeout", 412: "Precondition Failed",
    413: "Content Too Large", 414: "URI Too Long", 416: "Range Not Satisfiable",
    431: "Request Header Fields Too Large", 500: "Internal Server Error",
    501: "Not Implemented", 503: "Service Unavailable", 505: "HTTP Version Not Supported",
}


def response_head(status: int, headers: List[Tuple[str, str]]) -> bytes:
    """
    Serialize a status line and header fields; values must already be
    free of CR/LF (they come from us, never straight from a request).
    """
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    for name, value in headers:
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} contains CR or LF")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_date(timestamp: float) -> str:
    """
    IMF-fixdate (RFC 9110 5.6.7), e.g. C{Sun, 06 Nov 1994 08:49:37 GMT}.
    """
    return email.utils.formatdate(timestamp, usegmt=True)


def parse_http_date(value: bytes) -> Optional[float]:
    """
    Parse any of the three HTTP date formats; L{None} if invalid.
    """
    try:
        parsed = email.utils.parsedate_to_datetime(value.decode("latin-1"))
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    return parsed.timestamp()


class UnsafePath(Exception):
    """
    The target names something that must never be served.
    """


def target_segments(path: str) -> Tuple[str, ...]:
    """
    Map the path part of a request target to segments inside the root.

    Percent-decoding happens once, on each segment; a decoded segment
    that is empty-dot, C{..}, contains C{/}, C{\\} or NUL, or is not
    UTF-8 is refused: it could only be used to leave the root or to
    confuse the filesystem.

    @raise UnsafePath: for any such target.
    """
    if not path.startswith("/"):
        raise UnsafePath("not an origin-form path")
    segments: List[str] = []
    for raw in path.split("/")[1:]:
        decoded_bytes = unquote_to_bytes(raw)
        try:
            decoded = decoded_bytes.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafePath("path is not UTF-8")
        if "\x00" in decoded or "/" in decoded or "\\" in decoded:
            raise UnsafePath("NUL, slash or backslash inside a segment")
        if decoded == "..":
            raise UnsafePath("dot-dot segment")
        if decoded in ("", "."):
            continue
        segments.append(decoded)
    return tuple(segments)
