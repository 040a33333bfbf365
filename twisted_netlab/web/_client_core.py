# -*- test-case-name: tests.web.test_client_core -*-
# About 790 lines, over the ~700 guide: one response parser (every framing
# rule of RFC 9112 section 6.3 with its limits) plus the small request, URL
# and file-name rules it is always used with.
"""
The pure half of ``netlab get``: a sans-IO HTTP/1.x *response* parser
(fed bytes, returns events), request serialisation, URL parsing, redirect
resolution and the ``-O`` file-name rule.  Standard library only: no
reactor, no sockets, no clock.

How the parser works: L{ResponseParser.expect_response} queues the method
of every request sent (a pipeline is a queue), L{ResponseParser.receive_data}
buffers bytes (C{b""} means EOF) and L{ResponseParser.next_event} returns
one event or L{NEED_DATA}.  Body framing follows RFC 9112 section 6.3, in
its order of precedence; every event carries C{raw}, the exact bytes it was
made from, so ``--raw`` can print the response as received.  Whatever the
peer sends, the only exception that leaves the parser is
L{PeerProtocolError} (or its subclass L{TruncatedResponse}).
"""

from __future__ import annotations

import enum
import posixpath
import re
from dataclasses import dataclass, field
from typing import Callable, Deque, Dict, List, Optional, Tuple, Union
from collections import deque
from urllib.parse import unquote, urljoin, urlsplit
import ipaddress

Headers = Tuple[Tuple[str, str], ...]


#: Why ``netlab get`` sends a request again on a new connection, when the
#: server closed a kept-alive one without having said so (the response
#: checks report it as a finding).
UNANNOUNCED_CLOSE = "server closed the connection after the response without Connection: close"


# -- errors ------------------------------------------------------------


class PeerProtocolError(Exception):
    """
    The server broke HTTP/1.x framing or a limit: the connection cannot be
    trusted any further (``netlab get`` exit code 8).
    """


class TruncatedResponse(PeerProtocolError):
    """
    The connection ended before the framing said the response was complete:
    a lying Content-Length, a cut chunked body, or a cut head (exit 18).
    """


class EmptyResponse(PeerProtocolError):
    """
    The server closed the connection without sending a single byte of the
    response we were waiting for (curl's "Empty reply from server", exit 52).
    """


class LocalProtocolError(Exception):
    """
    Our caller asked for something illegal (a header with CR/LF, a bad URL).
    """


class MalformedURL(LocalProtocolError):
    """
    The URL cannot be used (exit 3).
    """


class UnsupportedScheme(LocalProtocolError):
    """
    The URL's scheme is not http or https (exit 1).
    """


# -- limits and events --------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """
    Bounds on what one response head (or trailer section) may cost us.
    """

    max_head_bytes: int = 64 * 1024
    max_header_count: int = 100
    max_chunk_line_bytes: int = 4096

    def __post_init__(self) -> None:
        if self.max_head_bytes < 64 or self.max_header_count < 1 or self.max_chunk_line_bytes < 8:
            raise ValueError("limits too small to parse any response")


class Framing(enum.Enum):
    """
    How the end of a response body is found (RFC 9112 6.3).
    """

    NO_BODY = "no body"
    CONTENT_LENGTH = "content-length"
    CHUNKED = "chunked"
    UNTIL_CLOSE = "until close"


class _Sentinel(enum.Enum):
    NEED_DATA = "need data"


#: Returned by L{ResponseParser.next_event} when more bytes are needed.
NEED_DATA = _Sentinel.NEED_DATA


@dataclass(frozen=True)
class InformationalResponse:
    """
    A 1xx interim response (100 Continue, 103 Early Hints): skipped, the
    final response follows on the same request.
    """

    status: int
    reason: str
    headers: Headers
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class ResponseHead:
    """
    The status line and headers of a final response.

    @ivar content_length: the announced length, L{None} unless framing is
        L{Framing.CONTENT_LENGTH}.
    @ivar keep_alive: whether the connection may carry another response.
    """

    version: Tuple[int, int]
    status: int
    reason: str
    headers: Headers
    framing: Framing
    content_length: Optional[int]
    keep_alive: bool
    raw: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not 200 <= self.status <= 999:
            raise LocalProtocolError(f"a final response has status 200-999, not {self.status}")

    def get(self, name: str) -> Optional[str]:
        """
        The value of the last header called C{name} (case-insensitive).
        """
        lowered = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == lowered:
                found = value
        return found


@dataclass(frozen=True)
class BodyData:
    """
    Decoded body bytes (chunk framing removed); C{raw} includes framing.
    """

    data: bytes
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class ResponseEnd:
    """
    The body is complete.  C{trailers} are the chunked trailer fields.
    """

    trailers: Headers
    keep_alive: bool
    raw: bytes = field(repr=False)


@dataclass(frozen=True)
class ConnectionClosed:
    """
    The server closed the connection while no response was outstanding.
    """

    raw: bytes = field(default=b"", repr=False)


Event = Union[InformationalResponse, ResponseHead, BodyData, ResponseEnd, ConnectionClosed]


#: A server may send interim 1xx responses before the final one; an endless
#: stream of them is a way to hold a client forever, so they are counted.
MAX_INTERIM_RESPONSES = 16


class _State(enum.Enum):
    AWAITING_HEAD = "awaiting head"
    READING_FIXED_BODY = "reading fixed body"
    AWAITING_CHUNK_SIZE = "awaiting chunk size"
    READING_CHUNK_DATA = "reading chunk data"
    AWAITING_CHUNK_END = "awaiting chunk end"
    AWAITING_TRAILERS = "awaiting trailers"
    READING_UNTIL_CLOSE = "reading until close"
    ENDING = "body complete, end not yet reported"
    CLOSED = "closed"
    BROKEN = "broken"


# RFC 9110 5.6.2: token = 1*tchar
_TOKEN = re.compile(rb"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
# RFC 9110 5.5: field-value may hold VCHAR, SP, HTAB and obs-text; never CR, LF, NUL.
_BAD_VALUE = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
_STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3})(?: ([^\r\n]*))?$")
_CHUNK_SIZE = re.compile(rb"^([0-9A-Fa-f]{1,16})[ \t]*(;.*)?$")


def _header_lines(block: bytes, limits: Limits, what: str) -> Headers:
    """
    Parse header field lines (no status line, no final empty line).
    """
    headers: List[Tuple[str, str]] = []
    for line in block.split(b"\n"):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 5.2: obs-fold is obsolete; we reject rather than guess.
            raise PeerProtocolError(f"{what}: obsolete line folding is not accepted")
        name, colon, value = line.partition(b":")
        if not colon:
            raise PeerProtocolError(f"{what}: header line without a colon: {line[:40]!r}")
        if not _TOKEN.match(name):
            # RFC 9112 5.1: no whitespace between field name and colon.
            raise PeerProtocolError(f"{what}: invalid header name {name[:40]!r}")
        value = value.strip(b" \t")
        if _BAD_VALUE.search(value):
            raise PeerProtocolError(f"{what}: control character in header {name.decode('ascii')!r}")
        headers.append((name.decode("ascii"), value.decode("latin-1")))
        if len(headers) > limits.max_header_count:
            raise PeerProtocolError(f"{what}: more than {limits.max_header_count} header fields")
    return tuple(headers)


def _values(headers: Headers, name: str) -> List[str]:
    return [v for k, v in headers if k.lower() == name]


def _tokens(headers: Headers, name: str) -> List[str]:
    return [t.strip().lower() for v in _values(headers, name) for t in v.split(",") if t.strip()]


class ResponseParser:
    """
    Parse the responses to the requests announced with L{expect_response},
    in order.  See the module docstring for the model.
    """

    _READERS: Dict[_State, Callable[["ResponseParser"], Union[Event, _Sentinel]]]

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._eof = False
        self._state = _State.AWAITING_HEAD
        self._expected: Deque[str] = deque()
        self._remaining = 0
        self._keep_alive = True
        self._pending_raw = bytearray()
        self._received_this_response = 0
        self._interim_count = 0
        self._searched = 0

    # -- feeding ---------------------------------------------------------

    def expect_response(self, method: str) -> None:
        """
        Announce that a request with C{method} was sent; responses are
        matched to requests in this order (RFC 9112 9.3.2).
        """
        self._expected.append(method.upper())

    @property
    def outstanding(self) -> int:
        """
        Requests announced whose response has not ended yet.
        """
        return len(self._expected)

    @property
    def in_response(self) -> bool:
        """
        Whether part of a response (head or body) has been received.
        """
        return self._state not in (_State.AWAITING_HEAD, _State.CLOSED, _State.BROKEN) or bool(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """
        Buffer C{data}; C{b""} means the server closed the connection.
        """
        if self._eof:
            if data:
                raise LocalProtocolError("data received after EOF")
            return
        if not data:
            self._eof = True
            return
        self._buffer += data

    # -- events ----------------------------------------------------------

    def next_event(self) -> Union[Event, _Sentinel]:
        """
        The next event, or L{NEED_DATA}.

        @raise PeerProtocolError: the server broke framing or a limit; the
            parser stays broken afterwards.
        """
        if self._state is _State.BROKEN:
            raise PeerProtocolError("the response stream is already broken")
        try:
            return self._next()
        except PeerProtocolError:
            self._state = _State.BROKEN
            raise

    def _take(self, count: int) -> bytes:
        chunk = bytes(self._buffer[:count])
        del self._buffer[:count]
        return chunk

    def _raw(self, tail: bytes) -> bytes:
        if self._pending_raw:
            raw = bytes(self._pending_raw) + tail
            self._pending_raw.clear()
            return raw
        return tail

    def _next(self) -> Union[Event, _Sentinel]:
        # One reader per state, chosen from a table (as h11's _readers).
        return self._READERS[self._state](self)

    def _read_fixed_body(self) -> Union[Event, _Sentinel]:
        if not self._buffer:
            if self._eof:
                raise TruncatedResponse(
                    f"connection closed {self._remaining} bytes before the end of the body "
                    "announced by Content-Length"
                )
            return NEED_DATA
        data = self._take(min(self._remaining, len(self._buffer)))
        self._remaining -= len(data)
        if self._remaining == 0:
            # The end is known without more bytes; the body goes first.
            self._state = _State.ENDING
        return BodyData(data, self._raw(data))

    def _read_until_close(self) -> Union[Event, _Sentinel]:
        if self._buffer:
            data = self._take(len(self._buffer))
            return BodyData(data, data)
        if self._eof:
            return self._finish(keep_alive=False)
        return NEED_DATA

    def _read_chunk_size(self) -> Union[Event, _Sentinel]:
        line = self._line(self.limits.max_chunk_line_bytes, "chunk size line")
        if line is None:
            return NEED_DATA
        match = _CHUNK_SIZE.match(line.rstrip(b"\r\n"))
        if match is None:
            raise PeerProtocolError(f"invalid chunk size line {line[:40]!r}")
        # RFC 9112 7.1.1: chunk extensions are ignored when not understood.
        self._remaining = int(match.group(1), 16)
        self._state = _State.AWAITING_TRAILERS if self._remaining == 0 else _State.READING_CHUNK_DATA
        return self._next()

    def _read_chunk_data(self) -> Union[Event, _Sentinel]:
        if not self._buffer:
            if self._eof:
                raise TruncatedResponse("connection closed in the middle of a chunk")
            return NEED_DATA
        data = self._take(min(self._remaining, len(self._buffer)))
        self._remaining -= len(data)
        if self._remaining == 0:
            self._state = _State.AWAITING_CHUNK_END
        return BodyData(data, self._raw(data))

    def _read_chunk_end(self) -> Union[Event, _Sentinel]:
        # RFC 9112 7.1: chunk-data is followed by CRLF (a bare LF tolerated).
        if self._buffer[:2] == b"\r\n":
            self._pending_raw += self._take(2)
        elif self._buffer[:1] == b"\n":
            self._pending_raw += self._take(1)
        elif len(self._buffer) >= 2 or (self._buffer and self._buffer[:1] != b"\r"):
            raise PeerProtocolError("chunk data is longer than its announced size")
        else:
            if self._eof:
                raise TruncatedResponse("connection closed after chunk data")
            return NEED_DATA
        self._state = _State.AWAITING_CHUNK_SIZE
        return self._next()

    def _read_trailers(self) -> Union[Event, _Sentinel]:
        block = self._block("trailer section")
        if block is None:
            return NEED_DATA
        trailers = _header_lines(block, self.limits, "trailer section")
        return self._finish(keep_alive=self._keep_alive, trailers=trailers, raw_tail=block)

    def _read_ending(self) -> Union[Event, _Sentinel]:
        return self._finish(keep_alive=self._keep_alive)

    def _read_closed(self) -> Union[Event, _Sentinel]:
        if self._buffer:
            raise PeerProtocolError("data after the connection was closed")
        return NEED_DATA

    def _finish(self, keep_alive: bool, trailers: Headers = (), raw_tail: bytes = b"") -> ResponseEnd:
        self._expected.popleft()
        self._received_this_response = 0
        self._interim_count = 0
        self._state = _State.AWAITING_HEAD if keep_alive else _State.CLOSED
        return ResponseEnd(trailers, keep_alive, self._raw(raw_tail))

    def _line(self, limit: int, what: str) -> Optional[bytes]:
        end = self._buffer.find(b"\n", 0, limit + 1)
        if end < 0:
            if len(self._buffer) > limit:
                raise PeerProtocolError(f"{what} longer than {limit} bytes")
            if self._eof:
                raise TruncatedResponse(f"connection closed in the middle of a {what}")
            return None
        line = self._take(end + 1)
        self._pending_raw += line
        return line

    def _block(self, what: str) -> Optional[bytes]:
        """
        Take bytes up to and including an empty line (CRLF CRLF or LF LF),
        within the head size limit.  The search resumes where the last one
        stopped, so a head dribbled in byte by byte costs linear time.
        """
        limit = self.limits.max_head_bytes
        buffer = self._buffer
        # A block may be empty (no trailers): then it is just the empty line.
        if buffer[:2] == b"\r\n":
            end = 2
        elif buffer[:1] == b"\n":
            end = 1
        else:
            start = max(0, self._searched - 3)
            stop = min(len(buffer), limit + 4)
            crlf = buffer.find(b"\r\n\r\n", start, stop)
            lf = buffer.find(b"\n\n", start, stop)
            candidates = [i + 4 for i in (crlf,) if i >= 0] + [i + 2 for i in (lf,) if i >= 0]
            end = min(candidates) if candidates else -1
        if end < 0 or end > limit:
            if len(buffer) > limit or end > limit:
                raise PeerProtocolError(f"{what} longer than {limit} bytes")
            if self._eof:
                raise TruncatedResponse(f"connection closed in the middle of the {what}")
            self._searched = len(buffer)
            return None
        self._searched = 0
        return self._take(end)

    def _read_head(self) -> Union[Event, _Sentinel]:
        if not self._expected:
            if self._buffer:
                raise PeerProtocolError(
                    f"server sent {len(self._buffer)} bytes nobody asked for "
                    "(more body than its Content-Length, or an unsolicited response)"
                )
            if self._eof:
                self._state = _State.CLOSED
                return ConnectionClosed()
            return NEED_DATA
        if not self._buffer and self._eof:
            self._state = _State.CLOSED
            if self._received_this_response:
                raise TruncatedResponse("connection closed before the final response")
            raise EmptyResponse("server closed the connection without sending a response")
        # RFC 9112 2.2: a client SHOULD ignore at least one empty line before the status line.
        while self._buffer[:2] == b"\r\n" or self._buffer[:1] == b"\n":
            self._pending_raw += self._take(2 if self._buffer[:1] == b"\r" else 1)
        if self._buffer and not b"HTTP/".startswith(bytes(self._buffer[:5])):
            raise PeerProtocolError(f"not an HTTP/1.x response: {bytes(self._buffer[:20])!r}")
        block = self._block("response head")
        if block is None:
            return NEED_DATA
        self._received_this_response += len(block)
        status_line, _, rest = block.partition(b"\n")
        match = _STATUS_LINE.match(status_line.rstrip(b"\r"))
        if match is None:
            raise PeerProtocolError(f"invalid status line {status_line[:60]!r}")
        version = (int(match.group(1)), int(match.group(2)))
        if version[0] != 1:
            raise PeerProtocolError(f"unsupported HTTP version {version[0]}.{version[1]}")
        status = int(match.group(3))
        reason = (match.group(4) or b"").decode("latin-1")
        if _BAD_VALUE.search(match.group(4) or b""):
            raise PeerProtocolError("control character in the reason phrase")
        headers = _header_lines(rest, self.limits, "response head")
        raw = self._raw(block)
        if status < 100:
            raise PeerProtocolError(f"invalid status code {status}")
        if status < 200:
            if status == 101:
                raise PeerProtocolError("server switched protocols although no upgrade was asked for")
            self._interim_count += 1
            if self._interim_count > MAX_INTERIM_RESPONSES:
                raise PeerProtocolError(f"more than {MAX_INTERIM_RESPONSES} interim 1xx responses")
            return InformationalResponse(status, reason, headers, raw)
        return self._start_body(version, status, reason, headers, raw)

    def _start_body(self, version: Tuple[int, int], status: int, reason: str, headers: Headers, raw: bytes) -> Event:
        method = self._expected[0]
        connection = _tokens(headers, "connection")
        if version >= (1, 1):
            keep_alive = "close" not in connection
        else:
            keep_alive = "keep-alive" in connection and "close" not in connection
        transfer = _tokens(headers, "transfer-encoding")
        lengths = _values(headers, "content-length")
        content_length: Optional[int] = None
        # RFC 9112 6.3, in order.
        if method == "HEAD" or status in (204, 304):
            framing = Framing.NO_BODY
        elif transfer:
            if lengths:
                # RFC 9112 6.3 item 3: "ought to be handled as an error" (smuggling).
                raise PeerProtocolError("response has both Transfer-Encoding and Content-Length")
            if version < (1, 1):
                raise PeerProtocolError("Transfer-Encoding in an HTTP/1.0 response")
            if transfer[-1] == "chunked":
                if transfer.count("chunked") != 1:
                    raise PeerProtocolError("chunked applied more than once")
                if len(transfer) > 1:
                    raise PeerProtocolError(f"unsupported transfer coding {transfer[0]!r}")
                framing = Framing.CHUNKED
            else:
                framing = Framing.UNTIL_CLOSE
        elif lengths:
            # RFC 9110 8.6: a list of identical values may be taken as one.
            values = {v.strip() for value in lengths for v in value.split(",")}
            if len(values) != 1:
                raise PeerProtocolError(f"conflicting Content-Length values {sorted(values)}")
            (value,) = values
            if not value.isdigit() or not value.isascii() or len(value) > 18:
                raise PeerProtocolError(f"invalid Content-Length {value[:30]!r}")
            content_length = int(value)
            framing = Framing.CONTENT_LENGTH if content_length else Framing.NO_BODY
        else:
            framing = Framing.UNTIL_CLOSE
        if framing is Framing.UNTIL_CLOSE:
            keep_alive = False
        self._keep_alive = keep_alive
        if framing is Framing.NO_BODY:
            self._state = _State.ENDING
        elif framing is Framing.CONTENT_LENGTH:
            assert content_length is not None
            self._remaining = content_length
            self._state = _State.READING_FIXED_BODY
        elif framing is Framing.CHUNKED:
            self._state = _State.AWAITING_CHUNK_SIZE
        else:
            self._state = _State.READING_UNTIL_CLOSE
        return ResponseHead(version, status, reason, headers, framing, content_length, keep_alive, raw)


ResponseParser._READERS = {
    _State.AWAITING_HEAD: ResponseParser._read_head,
    _State.READING_FIXED_BODY: ResponseParser._read_fixed_body,
    _State.READING_UNTIL_CLOSE: ResponseParser._read_until_close,
    _State.AWAITING_CHUNK_SIZE: ResponseParser._read_chunk_size,
    _State.READING_CHUNK_DATA: ResponseParser._read_chunk_data,
    _State.AWAITING_CHUNK_END: ResponseParser._read_chunk_end,
    _State.AWAITING_TRAILERS: ResponseParser._read_trailers,
    _State.ENDING: ResponseParser._read_ending,
    _State.CLOSED: ResponseParser._read_closed,
}


# -- requests ------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """
    A parsed http(s) URL.

    @ivar host: the host without brackets (IPv6 literals bare).
    @ivar request_target: path and query, as sent on the request line.
    """

    scheme: str
    host: str
    port: int
    request_target: str
    explicit_port: bool = False

    @property
    def origin(self) -> Tuple[str, str, int]:
        return (self.scheme, self.host.lower(), self.port)

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}" if self.explicit_port else host

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}{self.request_target}"


_DEFAULT_PORTS = {"http": 80, "https": 443}
# RFC 3986 3.2.2 reg-name characters, plus percent (rejected below) we refuse anyway.
_HOST = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=]+$")
# Bytes that must never reach a request line.
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")


def parse_url(url: str) -> Target:
    """
    Parse an absolute http(s) URL.  A URL without a scheme is taken as
    http, as curl does.

    @raise MalformedURL: for anything that cannot be requested safely.
    @raise UnsupportedScheme: for a scheme other than http or https.
    """
    original = url
    if not url or _UNSAFE_TARGET.search(url.strip(" ")) or url != url.strip(" "):
        raise MalformedURL(f"malformed URL {url!r}: empty, or contains spaces or control characters")
    if "://" not in url:
        scheme_part = url.split(":", 1)[0]
        if ":" in url and scheme_part.isalpha() and not url.split(":", 1)[1][:1].isdigit():
            raise UnsupportedScheme(f"unsupported protocol {scheme_part!r} in {url!r}")
        url = "http://" + url
    shown = original
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise MalformedURL(f"malformed URL {shown!r}: {error}")
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsupportedScheme(f"unsupported protocol {scheme!r} in {shown!r}")
    if "@" in parts.netloc:
        raise MalformedURL(f"malformed URL {shown!r}: credentials in URLs are not supported (use -H Authorization)")
    host = parts.hostname or ""
    if not host:
        raise MalformedURL(f"malformed URL {shown!r}: no host")
    if parts.netloc.startswith("["):
        try:
            address = ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise MalformedURL(f"malformed URL {shown!r}: bad IPv6 literal")
        host = str(address)
    elif not _HOST.match(host) or "%" in host or host.startswith(("-", ".")) or ".." in host:
        raise MalformedURL(f"malformed URL {shown!r}: bad host name {host!r}")
    if port == 0:
        raise MalformedURL(f"malformed URL {shown!r}: port 0")
    path = parts.path or "/"
    if not path.startswith("/"):
        raise MalformedURL(f"malformed URL {shown!r}: path must start with '/'")
    target = path + (f"?{parts.query}" if parts.query or url.split("#", 1)[0].endswith("?") else "")
    # The fragment is never sent (RFC 9110 4.2.4).
    return Target(scheme, host, port or _DEFAULT_PORTS[scheme], target, explicit_port=port is not None)


def check_header(name: str, value: str) -> None:
    """
    Refuse a header that would change the request's framing on the wire
    (CR/LF/NUL: header injection, CWE-113) or is not a token.

    @raise LocalProtocolError: with the reason.
    """
    if not _TOKEN.match(name.encode("latin-1", "replace")):
        raise LocalProtocolError(f"invalid header name {name!r}")
    if any(c in value for c in "\r\n\x00"):
        raise LocalProtocolError(f"header {name!r} contains CR, LF or NUL (header injection)")
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        raise LocalProtocolError(f"header {name!r} is not latin-1 text")


def request_bytes(method: str, target: Target, headers: Headers) -> bytes:
    """
    Serialise a request head.  Host comes first unless C{headers} replaces
    it; a header with an empty value removes a default one (as curl's
    ``-H 'Accept:'``).
    """
    if not _TOKEN.match(method.encode("ascii", "replace")):
        raise LocalProtocolError(f"invalid method {method!r}")
    if _UNSAFE_TARGET.search(target.request_target):
        raise LocalProtocolError("request target contains spaces or control characters")
    lines = [f"{method} {target.request_target} HTTP/1.1"]
    for name, value in headers:
        check_header(name, value)
    for name, value in headers:
        if value:
            lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def merge_headers(defaults: Headers, extra: Headers) -> Headers:
    """
    C{defaults} with each header named in C{extra} replaced by C{extra}'s
    values (empty value: removed), in order.
    """
    overridden = {name.lower() for name, _ in extra}
    merged = [(n, v) for n, v in defaults if n.lower() not in overridden]
    merged += [(n, v) for n, v in extra if v]
    return tuple(merged)


# RFC 9110 15.4: the redirections a client may follow automatically.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Credentials never sent to another origin after a redirect
#: (CVE-2018-1000007 curl, CVE-2022-21712 twisted, follow-redirects).
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


def redirect_target(base: Target, location: str) -> Target:
    """
    Resolve a Location header against the URL it came from (RFC 9110
    10.2.2, RFC 3986 5.2).

    @raise MalformedURL: for an unusable Location.
    @raise UnsupportedScheme: for a redirect to something not http(s).
    """
    location = location.strip()
    if not location or _UNSAFE_TARGET.search(location):
        raise MalformedURL(f"unusable redirect Location {location[:80]!r}")
    return parse_url(urljoin(base.url, location))


def redirect_headers(headers: Headers, source: Target, destination: Target) -> Headers:
    """
    The user's headers to send after a redirect: all of them on the same
    origin, none of the credential ones when scheme, host or port change.
    """
    if source.origin == destination.origin:
        return headers
    return tuple((n, v) for n, v in headers if n.lower() not in CREDENTIAL_HEADERS)


class UnsafeFileName(LocalProtocolError):
    """
    ``-O`` cannot derive a safe local file name from the URL.
    """


def remote_file_name(target: Target) -> str:
    """
    The ``-O`` name: the last segment of the URL's own path, percent-decoded,
    refused when it is empty, a dot name (".", "..", ".profile"), holds a
    separator or control character: the file always lands in the current
    folder and never replaces a hidden configuration file.
    """
    path = target.request_target.split("?", 1)[0]
    segment = path.rsplit("/", 1)[-1]
    name = unquote(segment, errors="strict") if "%" in segment else segment
    if not name:
        raise UnsafeFileName(f"no file name in the URL path {path!r} (use -o FILE)")
    if name.startswith(".") or "/" in name or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise UnsafeFileName(f"refusing unsafe file name {name!r} from the URL (use -o FILE)")
    if posixpath.basename(name) != name or len(name.encode("utf-8", "surrogateescape")) > 255:
        raise UnsafeFileName(f"refusing unsafe file name {name[:40]!r} from the URL (use -o FILE)")
    return name


def parse_byte_range(value: str) -> str:
    """
    Validate a ``--range`` value such as ``0-499``, ``500-``, ``-500`` or a
    comma list of those; return the Range header value.
    """
    spec = value.strip(" ")
    if spec.startswith("bytes="):
        spec = spec[len("bytes="):]
    parts = spec.split(",")
    for part in parts:
        match = re.fullmatch(r" *([0-9]*)-([0-9]*) *", part)
        if match is None or (not match.group(1) and not match.group(2)):
            raise LocalProtocolError(f"invalid range {value!r} (try 0-499, 500-, -500)")
        if match.group(1) and match.group(2) and int(match.group(1)) > int(match.group(2)):
            raise LocalProtocolError(f"invalid range {value!r}: first byte after last byte")
    return "bytes=" + ",".join(p.strip(" ") for p in parts)
