# -*- test-case-name: tests.web.test_server_core -*-
# About 960 lines, over the ~700 guide: one request parser whose fast path and
# line path must give identical events, with the rule tables they share.
"""
The pure HTTP/1.1 request side of netlab-http: a sans-IO parser fed bytes
that returns events (h11's model), response-head building, dates, and the
mapping from a request target to a path inside the served root.

No reactor, no sockets, no clock, no filesystem: the adapter in
L{twisted_netlab.web.server} does all I/O.  Rules cite RFC 9110 / 9112.

How the parser works
====================
Bytes are appended to one buffer; nothing is parsed until L{next_event}
asks, and each call returns at most one event, so a flood of pipelined
requests costs nothing until the server is ready for the next one.

A request head is read in one of two ways that always give the same event:

  - fast path: the whole head is already buffered, every line is valid
    and every limit holds; one C{find}, one request-line match and one
    C{findall} over the field section, then L{_finish_head}.  A field
    section byte-equal to the last valid one on the connection (what a
    browser sends while only the target changes) reuses that parse,
    which is a pure function of the bytes; a head equal to the last one
    reuses the whole Request.
  - line path: otherwise lines are found one at a time as their LF
    arrives (offsets into the buffer, never searching a byte twice),
    framing limits are checked as soon as they can be exceeded, and the
    complete head goes through the same matching (L{_parse_head}), which
    on failure names the first bad line.

So a rule is either a framing rule checked on each line in stream order
(bare CR/LF, line and section size caps, header count) or a rule on the
complete head (syntax of every line, then framing decisions); the first
kind always wins over the second, whatever the packet boundaries.

Bodies (any method may send one) are framed and discarded before the
L{Request} is returned: they never reach the server and are never taken
as the next request.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType
from typing import Callable, Dict, List, Mapping, Optional, Tuple, Union, cast
from urllib.parse import unquote_to_bytes

Headers = Tuple[Tuple[bytes, bytes], ...]
#: A valid field section parsed: the headers (lowercase names, in order),
#: the read-only index of L{Request.index}, and the names that repeat.
_Fields = Tuple[Headers, Mapping[bytes, bytes], Tuple[bytes, ...]]


class _Sentinel(Enum):
    NEED_DATA = "NEED_DATA"


#: Returned by L{RequestParser.next_event} when more bytes are needed.
NEED_DATA = _Sentinel.NEED_DATA


@dataclass(frozen=True)
class Limits:
    """
    Caps on everything the parser buffers or reads.

    A request line longer than C{max_request_line} answers 414 when the
    target is what made it long (400 otherwise); a field section longer
    than C{max_header_bytes} (every field line with its CRLF) or with more
    than C{max_headers} lines answers 431.  A discarded body longer than
    C{max_body_bytes} answers 413; for a chunked body the cap counts the
    bytes on the wire (sizes, extensions, data, trailers), so tiny chunks
    with long extensions cannot cost more than a plain body.
    """

    max_request_line: int = 8190
    max_header_bytes: int = 16384
    max_headers: int = 100
    max_chunk_line: int = 1024
    #: A framed body (on any method) is read and discarded, up to this much.
    max_body_bytes: int = 1 << 20
    #: RFC 9112 2.2: empty lines ignored before a request line.
    max_empty_lines: int = 8


@dataclass(frozen=True)
class Request:
    """
    A complete request head whose body (if any) has been framed and
    discarded.  C{headers} keep the received order; names are lowercase,
    values have their surrounding SP/HTAB removed.

    C{path} and C{query} are split from the target (C{"*"} for
    asterisk-form, C{""} for a CONNECT authority); C{host} is the target's
    authority for absolute-form and authority-form targets (RFC 9112
    3.2.2: it wins over the Host field), else the Host field, else
    L{None} (HTTP/1.0 without Host).
    """

    method: str
    target: str
    version: Tuple[int, int]
    headers: Headers
    path: str
    query: str
    host: Optional[str]
    keep_alive: bool
    #: Lowercase name -> value (repeated fields joined by ", "), read-only;
    #: filled by the parser so that L{header} is one dict lookup.
    index: Optional[Mapping[bytes, bytes]] = field(default=None, compare=False, repr=False)

    def header(self, name: bytes) -> Optional[bytes]:
        """
        The value of the header C{name} (lowercase); several are joined by
        C{", "} as RFC 9110 5.3 allows for list-valued fields.
        """
        if self.index is not None:
            return self.index.get(name)
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
    #: The rejected request is a HEAD (as far as its request line
    #: arrived): the answer must carry no body (RFC 9110 9.3.2).
    head_only: bool = False


@dataclass(frozen=True)
class ConnectionClosed:
    """
    The peer closed its side cleanly between requests.
    """


Event = Union[Request, Rejection, ConnectionClosed, _Sentinel]


class _State(Enum):
    AWAITING_HEAD = "AWAITING_HEAD"
    DISCARDING_BODY = "DISCARDING_BODY"
    AWAITING_CHUNK_SIZE = "AWAITING_CHUNK_SIZE"
    DISCARDING_CHUNK_DATA = "DISCARDING_CHUNK_DATA"
    AWAITING_CHUNK_END = "AWAITING_CHUNK_END"
    AWAITING_TRAILERS = "AWAITING_TRAILERS"
    #: After a request the server must close on, without reading its body
    #: (Expect: 100-continue): every later byte is dropped unparsed.
    DRAINING = "DRAINING"
    CLOSED = "CLOSED"

    # Singletons: hash by identity, in C (Enum's own __hash__ is Python
    # code, and the state indexes the reader table once per event).
    __hash__ = object.__hash__


class _Reject(Exception):
    """
    Raised inside the parser; L{RequestParser.next_event} turns it into a
    final L{Rejection}.
    """

    def __init__(self, status: int, reason: str, before_request: bool = False) -> None:
        self.status = status
        self.reason = reason
        #: Raised before any request line could be read (empty lines):
        #: whatever follows, this rejection answers no HEAD.
        self.before_request = before_request


# RFC 9110 5.6.2: token = 1*tchar
_TCHAR = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TCHAR + rb"]+")
# RFC 9112 3: method SP request-target SP HTTP-version, single spaces; the
# target is visible ASCII (checked in detail per form below).
_REQUEST_LINE = re.compile(rb"([" + _TCHAR + rb"]+) ([\x21-\x7e]+) HTTP/([0-9])\.([0-9])")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")
# RFC 9112 5.1: field-line = field-name ":" OWS field-value OWS.  The value
# may hold SP, HTAB, VCHAR and obs-text; NUL, CR, LF, DEL and the other
# CTLs are refused (RFC 9110 5.5).  One character class after the colon
# keeps the match linear.  Used to name the bad line and for trailers.
_FIELD_LINE = re.compile(rb"([" + _TCHAR + rb"]+):([\t\x20-\x7e\x80-\xff]*)")
# Visible ASCII except "#" (no fragment in a request-target, RFC 9112
# 3.2) and "%" unless it starts a valid pct-encoding (RFC 3986 2.1).
# (Written as runs of plain characters between escapes: same language as
# (?:plain|escape)*, several times faster on CPython's engine.)
_TARGET_CHARS = rb"[\x21\x22\x24\x26-\x7e]*(?:%[0-9A-Fa-f]{2}[\x21\x22\x24\x26-\x7e]*)*"
_ORIGIN_FORM = re.compile(rb"/" + _TARGET_CHARS)
_ANY_TARGET = re.compile(_TARGET_CHARS)
# Only applied after _ANY_TARGET: the authority runs to the first "/" or
# "?" and the rest always matches, so there is no backtracking.
_ABSOLUTE_FORM = re.compile(rb"([A-Za-z][A-Za-z0-9+\-.]*)://([^/?]*)(.*)")
# RFC 3986 3.2.2 host (reg-name, IPv4 or IP-literal), then [":" port].
_HOST_PART = (
    rb"(?:\[(?:[0-9A-Fa-f:.]+|[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+)\]"
    rb"|[A-Za-z0-9\-._~!$&'()*+,;=]*(?:%[0-9A-Fa-f]{2}[A-Za-z0-9\-._~!$&'()*+,;=]*)*)"
)
_HOST = re.compile(_HOST_PART + rb"(?::[0-9]{0,5})?")
# RFC 9112 3.2.3: authority-form = uri-host ":" port (CONNECT only).
_AUTHORITY_FORM = re.compile(_HOST_PART + rb":[0-9]{1,5}")
_CONTENT_LENGTH = re.compile(rb"[0-9]+")
# RFC 9112 7.1.1: chunk-size [ chunk-ext ], with no whitespace anywhere
# (BWS is refused, see README), at most 16 hex digits.
_QUOTED_STRING = rb'"(?:[\t\x20\x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t\x20-\x7e\x80-\xff])*"'
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:;[" + _TCHAR + rb"]+(?:=(?:[" + _TCHAR + rb"]+|" + _QUOTED_STRING + rb"))?)*"
)
# A request line cut by the length cap is a 414 only if the target is
# what ran past it: a valid method, one SP, target characters, then at
# most a SP and the start of a well-formed version.
_LONG_TARGET = re.compile(
    rb"[" + _TCHAR + rb"]+ [\x21-\x7e]+(?: (?:H(?:T(?:T(?:P(?:/(?:[0-9](?:\.[0-9]?)?)?)?)?)?)?)?)?"
)

# One field line of a section, anchored at a line start, OWS left out of
# the value.  A section is valid exactly when every LF in it ends a match.
# The lookahead makes leading OWS maximal, so leading and trailing OWS
# never compete for the same bytes; with searches starting only at line
# starts, matching stays linear even on hostile input (benchmarks/parser.py
# times hostile heads against a plain one of the same size).
_FIELD_VCHAR = rb"[\x21-\x7e\x80-\xff]"
_FIELD_IN_SECTION = re.compile(
    rb"^([" + _TCHAR + rb"]+):[ \t]*(?![ \t])"
    rb"(" + _FIELD_VCHAR + rb"[\t\x20-\x7e\x80-\xff]*" + _FIELD_VCHAR + rb"|" + _FIELD_VCHAR + rb"|)"
    rb"[ \t]*\r\n",
    re.MULTILINE,
)

_match_request_line = _REQUEST_LINE.fullmatch
# _REQUEST_LINE, major version 1 and an origin-form target (_ORIGIN_FORM)
# in one match: the language of the three checks together.
_match_origin_request_line = re.compile(
    rb"([" + _TCHAR + rb"]+) (/" + _TARGET_CHARS + rb") HTTP/1\.([0-9])"
).fullmatch
_match_field = _FIELD_LINE.fullmatch
#: (name, value) for each valid field line of a section.
_find_fields = _FIELD_IN_SECTION.findall

KNOWN_METHODS = frozenset(
    ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"]
)

#: Fields whose repetition changes framing or routing (RFC 9112 3.2, 6.3).
_SINGLETONS = frozenset([b"host", b"content-length"])
_OVERFLOW = object()
_NOT_TAKEN = object()
_NOT_IN_TRAILERS = frozenset(
    [b"content-length", b"transfer-encoding", b"host", b"connection", b"te", b"trailer", b"expect"]
)


class RequestParser:
    """
    Feed bytes with L{receive_data} (C{b""} means the peer closed), then
    call L{next_event} until it returns L{NEED_DATA}.

    After a L{Rejection} or L{ConnectionClosed} the parser is finished: it
    drops any further bytes and returns that event again.
    """

    def __init__(self, limits: Limits = Limits()) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._state = _State.AWAITING_HEAD
        self._eof = False
        self._final: Optional[Union[Rejection, ConnectionClosed]] = None
        # Line path (offsets into the buffer, which keeps the partial head):
        # where the current line starts, how far it has been searched for
        # LF, how many lines of the head are complete, their size.
        self._line_start = 0
        self._scan = 0
        self._line_count = 0
        self._field_bytes = 0
        self._empty_lines = 0
        # Body framing.
        self._pending: Optional[Request] = None
        self._remaining = 0
        self._body_bytes = 0
        self._trailer_count = 0
        self._last_host: Tuple[Optional[bytes], Optional[str]] = (None, None)
        self._repeated_head: Optional[bytes] = None
        self._repeated_request: Optional[Event] = None
        # The last valid field section and what it parsed to: a browser
        # sends the same fields on every request of a connection while the
        # target changes, so only the request line is new.
        self._repeated_section: Optional[bytes] = None
        self._repeated_fields: Optional[_Fields] = None
        # What such a section decided for an origin-form request with no
        # body framing fields, per HTTP minor version: the Host and the
        # keep-alive verdict (L{_frame} would decide the same again).
        # (Keyed by the minor digit's byte value.)
        self._section_verdicts: Dict[int, Tuple[Optional[str], bool]] = {}
        self._readers: Dict[_State, Callable[[], Optional[Event]]] = {
            _State.AWAITING_HEAD: self._read_head,
            _State.DISCARDING_BODY: self._discard_body,
            _State.AWAITING_CHUNK_SIZE: self._read_chunk_size,
            _State.DISCARDING_CHUNK_DATA: self._discard_chunk_data,
            _State.AWAITING_CHUNK_END: self._read_chunk_end,
            _State.AWAITING_TRAILERS: self._read_trailers,
            _State.DRAINING: self._drain,
        }

    @property
    def buffered(self) -> int:
        """
        How many received bytes have not yet become an event (a partial
        head, body bytes not yet discarded, pipelined requests not yet
        asked for).  A server pauses reading when this grows: the parser
        never consumes ahead of L{next_event}, which is the point.
        """
        return len(self._buffer)

    def receive_data(self, data: bytes) -> None:
        """
        Append C{data}; C{b""} means the peer will send nothing more.
        """
        if not data:
            self._eof = True
        elif self._state is _State.CLOSED or self._state is _State.DRAINING:
            return
        else:
            self._buffer += data

    def next_event(self) -> Event:
        """
        Parse just enough to return the next event (at most one request).
        """
        if self._final is not None:
            return self._final
        if not self._buffer and not self._eof and self._state is _State.AWAITING_HEAD:
            return NEED_DATA
        # Where the head being parsed starts (it stays in the buffer until
        # parsed whole, after at most max_empty_lines empty lines): kept
        # only to tell whether a rejection answers a HEAD.
        start = self._buffer[: 2 * self.limits.max_empty_lines + 7] if self._state is _State.AWAITING_HEAD else b""
        try:
            while True:
                event = self._readers[self._state]()
                if event is not None:
                    break
        except _Reject as reject:
            if self._pending is not None:
                head_only = self._pending.method == "HEAD"
            else:
                head_only = not reject.before_request and _starts_head(start)
            event = Rejection(reject.status, reject.reason, head_only)
        if event.__class__ is Rejection or event.__class__ is ConnectionClosed:
            self._final = event  # type: ignore[assignment]
            self._state = _State.CLOSED
            self._buffer = bytearray()
        return event

    # -- lines ------------------------------------------------------------

    def _take_line(self, window: int) -> object:
        """
        Consume and return the next line (without its CRLF) if its LF lies
        within the first C{window} bytes; L{None} if it has not arrived;
        C{_OVERFLOW} if it cannot end within the window.  Searching resumes
        where it stopped, so a line fed a byte at a time costs linear time.
        """
        buffer = self._buffer
        end = buffer.find(b"\n", self._scan, window)
        if end < 0:
            if len(buffer) >= window:
                return _OVERFLOW
            self._scan = len(buffer)
            return None
        self._scan = 0
        # RFC 9112 2.2: a bare LF is not accepted as a line terminator here
        # (the MAY is declined, consistently for heads, chunks and trailers).
        if end == 0 or buffer[end - 1] != 13:
            raise _Reject(400, "bare LF in request framing")
        line = bytes(buffer[: end - 1])
        del buffer[: end + 1]
        # RFC 9112 2.2: a bare CR anywhere is invalid.
        if b"\r" in line:
            raise _Reject(400, "bare CR in request framing")
        return line

    def _at_eof(self, inside: str) -> Event:
        if self._eof:
            raise _Reject(400, "connection closed inside " + inside)
        return NEED_DATA

    # -- head ---------------------------------------------------------------

    def _read_head(self) -> Optional[Event]:
        limits = self.limits
        buffer = self._buffer
        if self._scan == 0:
            # Fast path: the whole head is here and every line is valid;
            # any doubt goes to the line path, which decides the error.
            end = buffer.find(b"\r\n\r\n", 0, limits.max_request_line + limits.max_header_bytes + 4)
            if end > 0:
                # The same head again, or the same field section under a
                # new request line, is compared in place (no copy).
                repeated = self._repeated_head
                if repeated is not None and len(repeated) == end + 2 and buffer.startswith(repeated):
                    # The parse is a pure function of these bytes (and of
                    # limits, which do not change): a keep-alive client
                    # sending the very same head again gets the same
                    # immutable Request back without a second parse.
                    del buffer[: end + 4]
                    self._empty_lines = 0
                    return self._deliver(self._repeated_request)  # type: ignore[arg-type]
                line_end = buffer.find(b"\r\n", 0, end + 2)
                section = self._repeated_section
                if (
                    section is not None
                    and len(section) == end - line_end
                    and line_end <= limits.max_request_line
                    and buffer.startswith(section, line_end + 2)
                ):
                    # The fast lane: fields already parsed and judged; only
                    # the request line is new.  Anything but a well-formed
                    # origin-form HTTP/1.x line takes the full path below.
                    quick = _match_origin_request_line(buffer, 0, line_end)
                    if quick is not None:
                        # The minor version digit ends the line.
                        minor = buffer[line_end - 1]
                        verdict = self._section_verdicts.get(minor)
                        method_bytes, target_bytes = quick.group(1, 2)
                        if verdict is not None and method_bytes != b"CONNECT":
                            del buffer[: end + 4]
                            self._empty_lines = 0
                            headers, index, _ = self._repeated_fields  # type: ignore[misc]
                            target = target_bytes.decode("ascii")
                            path, _, query = target.partition("?")
                            request = _new_request(
                                method_bytes.decode("ascii"), target, (1, minor - 48), headers,
                                path, query, verdict[0], verdict[1], index,
                            )
                            return self._deliver(request)
                head = bytes(buffer[: end + 2])
                section = head[line_end + 2 :]
                if line_end <= limits.max_request_line and len(section) <= limits.max_header_bytes:
                    match = _match_request_line(head, 0, line_end)
                    if match is not None:
                        if section == self._repeated_section:
                            # Same field bytes as the last valid section:
                            # the same (pure) result, already checked.
                            parsed = self._repeated_fields
                        else:
                            fields = _find_fields(section)
                            if len(fields) == section.count(b"\n") <= limits.max_headers:
                                parsed = _index_fields(fields)
                                self._repeated_section = section
                                self._repeated_fields = parsed
                                self._section_verdicts = {}
                            else:
                                parsed = None
                        if parsed is not None:
                            del buffer[: end + 4]
                            self._empty_lines = 0
                            event = self._finish_head(match, parsed)
                            if event is not None:
                                # Only a Request with no body to frame.
                                self._repeated_head = head
                                self._repeated_request = event
                                if parsed is self._repeated_fields:
                                    self._judged(cast(Request, event), head[line_end - 1])
                            return event
        return self._read_head_lines()

    def _judged(self, request: Request, minor: int) -> None:
        """
        Remember what the repeated field section decided for C{request}
        when that carries over to any origin-form request line with the
        same minor version: the target was origin-form, so the Host came
        from the section.  (C{request} is a Request with no body to frame,
        so the section has no Transfer-Encoding and at most a zero
        Content-Length; and origin-form rules out CONNECT.)
        """
        if request.target[:1] == "/":
            self._section_verdicts[minor] = (request.host, request.keep_alive)

    def _read_head_lines(self) -> Optional[Event]:
        """
        Find the lines of the head one by one, from where the last call
        stopped, checking the framing rules in stream order; the partial
        head stays in the buffer until it is complete.
        """
        limits = self.limits
        buffer = self._buffer
        if self._line_count:
            event = self._finish_fields_at_once()
            if event is not _NOT_TAKEN:
                # A Request, or None when a body is now being framed.
                return event  # type: ignore[return-value]
        while True:
            start = self._line_start
            if self._line_count == 0:
                window = start + limits.max_request_line + 2
            else:
                remaining = limits.max_header_bytes - self._field_bytes
                window = start + (remaining if remaining > 2 else 2)
            end = buffer.find(b"\n", self._scan, window)
            if end < 0:
                if len(buffer) >= window:
                    if self._line_count == 0:
                        raise self._long_request_line(start)
                    raise _Reject(431, "request header fields too large")
                self._scan = len(buffer)
                if self._eof:
                    if not buffer:
                        return ConnectionClosed()
                    raise _Reject(400, "connection closed inside a request head")
                return NEED_DATA
            # RFC 9112 2.2: a bare LF is not accepted as a line terminator
            # (the MAY is declined, consistently for heads, chunks and
            # trailers), and a bare CR anywhere is invalid.
            if end == start or buffer[end - 1] != 13:
                raise _Reject(400, "bare LF in request framing")
            if buffer.find(b"\r", start, end - 1) >= 0:
                raise _Reject(400, "bare CR in request framing")
            self._line_start = self._scan = end + 1
            length = end - 1 - start
            if self._line_count == 0:
                if length == 0:
                    # RFC 9112 2.2: ignore empty lines before a request line.
                    del buffer[: end + 1]
                    self._line_start = self._scan = 0
                    self._empty_lines += 1
                    if self._empty_lines > limits.max_empty_lines:
                        raise _Reject(400, "too many empty lines before the request", before_request=True)
                    continue
                self._line_count = 1
            elif length:
                self._line_count += 1
                self._field_bytes += length + 2
                if self._line_count > limits.max_headers + 1:
                    raise _Reject(431, "too many header fields")
            else:
                head = bytes(buffer[: start])
                del buffer[: end + 1]
                self._line_start = self._scan = self._line_count = self._field_bytes = 0
                self._empty_lines = 0
                return self._parse_head(head)

    def _finish_fields_at_once(self) -> object:
        """
        Once the request line is in, if the rest of the head has arrived
        with no bare CR or LF and within the caps, take it in one step
        (what the loop would do line by line); else return C{_NOT_TAKEN}
        and leave it to the loop, which then finds the violation.  The
        search for the end of the head starts where an earlier one cannot
        be: at the CRLF before the current line, or past the bytes already
        searched for LF.
        """
        limits = self.limits
        buffer = self._buffer
        start = self._line_start
        search_from = max(start - 2, self._scan - 3, 0)
        end = buffer.find(b"\r\n\r\n", search_from, start + limits.max_header_bytes - self._field_bytes + 4)
        if end < 0:
            return _NOT_TAKEN
        stop = end + 2
        line_ends = buffer.count(b"\n", start, stop)
        if (
            buffer.count(b"\r\n", start, stop) != line_ends
            or buffer.count(b"\r", start, stop) != line_ends
            or self._field_bytes + stop - start > limits.max_header_bytes
            or self._line_count + line_ends > limits.max_headers + 1
        ):
            return _NOT_TAKEN
        head = bytes(buffer[:stop])
        del buffer[: stop + 2]
        self._line_start = self._scan = self._line_count = self._field_bytes = 0
        self._empty_lines = 0
        return self._parse_head(head)

    def _long_request_line(self, start: int) -> _Reject:
        # Decided on a fixed prefix so packet boundaries cannot change it.
        prefix = bytes(self._buffer[start : start + self.limits.max_request_line + 1])
        if _LONG_TARGET.fullmatch(prefix):
            return _Reject(414, "request target too long")
        return _Reject(400, "request line too long")

    def _parse_head(self, head: bytes) -> Optional[Event]:
        """
        Check a complete head (lines ending in CRLF, none with a bare CR
        or LF, within every cap) line by line, then frame the request.
        """
        line_end = head.find(b"\r\n")
        section = head[line_end + 2 :]
        match = _match_request_line(head, 0, line_end)
        if match is None:
            raise self._bad_request_line(head[:line_end])
        fields = _find_fields(section)
        if len(fields) != section.count(b"\n"):
            for line in section[:-2].split(b"\r\n"):
                if _match_field(line) is None:
                    raise self._bad_field_line(line)
            raise _Reject(400, "invalid header field")  # pragma: no cover
        return self._finish_head(match, _index_fields(fields))

    def _finish_head(self, match: "re.Match[bytes]", parsed: _Fields) -> Optional[Event]:
        """
        Build the request from a valid request line and the valid field
        section as L{_index_fields} returned it.
        """
        method_bytes, target_bytes, major, minor = match.groups()
        if major != b"1":
            # RFC 9110 15.6.6: a well-formed version we do not speak.
            raise _Reject(505, "HTTP version not supported")
        version = (1, 1) if minor == b"1" else (1, int(minor))
        return self._frame(method_bytes.decode("ascii"), target_bytes, version, *parsed)

    def _bad_request_line(self, line: bytes) -> _Reject:
        parts = line.split(b" ")
        if len(parts) != 3:
            return _Reject(400, "malformed request line")
        method, target, version = parts
        if not _TOKEN.fullmatch(method):
            return _Reject(400, "malformed method")
        if not _VERSION.fullmatch(version):
            return _Reject(400, "malformed HTTP version")
        return _Reject(400, "malformed request target")

    def _bad_field_line(self, line: bytes) -> _Reject:
        if line[:1] in (b" ", b"\t"):
            # RFC 9112 5.2: obs-fold is rejected (also a space before the
            # first field line, RFC 9112 2.2).
            return _Reject(400, "obsolete line folding")
        name, colon, _ = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            # RFC 9112 5.1: no whitespace between field name and colon.
            return _Reject(400, "invalid header field name")
        return _Reject(400, "invalid header field value")

    def _frame(
        self,
        method: str,
        target_bytes: bytes,
        version: Tuple[int, int],
        headers: Headers,
        index: Mapping[bytes, bytes],
        repeated: Tuple[bytes, ...],
    ) -> Optional[Event]:
        for name in repeated:
            if name in _SINGLETONS:
                # RFC 9112 3.2 (Host) and 6.3 (Content-Length): a repeated
                # field is refused even with equal values.
                raise _Reject(400, "duplicate " + name.decode("ascii") + " field")
        host_field = index.get(b"host")
        if host_field is None:
            # RFC 9112 3.2: a server MUST answer 400 to 1.1 without Host.
            if version >= (1, 1):
                raise _Reject(400, "missing Host")
            host = None
        elif host_field == self._last_host[0]:
            # A connection sends the same Host every time: checked once.
            host = self._last_host[1]
        elif _HOST.fullmatch(host_field):
            host = host_field.decode("ascii")
            self._last_host = (host_field, host)
        else:
            raise _Reject(400, "invalid Host")
        keep_alive = True
        first = target_bytes[:1]
        if first == b"/":
            if not _ORIGIN_FORM.fullmatch(target_bytes):
                raise _Reject(400, "malformed request target")
            if method == "CONNECT":
                raise _Reject(400, "CONNECT needs an authority-form target")
            target = target_bytes.decode("ascii")
            path, _, query = target.partition("?")
        elif method == "CONNECT":
            # RFC 9112 3.2.3: authority-form, only for CONNECT.  CONNECT is
            # never tunnelled here, and the connection closes after the
            # answer so no byte after this head is ever parsed.
            if not _AUTHORITY_FORM.fullmatch(target_bytes) or first == b":":
                raise _Reject(400, "malformed authority-form target")
            target = target_bytes.decode("ascii")
            path, query, host = "", "", target
            keep_alive = False
        elif target_bytes == b"*":
            # RFC 9112 3.2.4: asterisk-form, only for OPTIONS.
            if method != "OPTIONS":
                raise _Reject(400, "asterisk-form target without OPTIONS")
            target = path = "*"
            query = ""
        else:
            host, target, path, query = self._absolute_form(target_bytes)
        # RFC 9112 9.3: 1.1 persists unless "close"; 1.0 only on "keep-alive".
        connection = index.get(b"connection")
        if not keep_alive:
            pass
        elif connection is None or connection == b"keep-alive":
            keep_alive = version != (1, 0) or connection is not None
        else:
            tokens = _list_tokens(connection)
            keep_alive = b"close" not in tokens and (version != (1, 0) or b"keep-alive" in tokens)
        request = _new_request(method, target, version, headers, path, query, host, keep_alive, index)
        transfer_encoding = index.get(b"transfer-encoding")
        content_length = index.get(b"content-length")
        if transfer_encoding is not None:
            if content_length is not None:
                # RFC 9112 6.1: both present is the classic smuggling vector;
                # the server MAY reject, and does.
                raise _Reject(400, "both Transfer-Encoding and Content-Length")
            if version == (1, 0):
                # RFC 9112 6.1: framing of a 1.0 message with TE is faulty.
                raise _Reject(400, "Transfer-Encoding in HTTP/1.0")
            _check_transfer_coding(transfer_encoding)
            return self._start_body(request, _State.AWAITING_CHUNK_SIZE, 0)
        if content_length is not None:
            if not _CONTENT_LENGTH.fullmatch(content_length):
                # RFC 9112 6.3: an invalid Content-Length cannot be framed.
                raise _Reject(400, "invalid Content-Length")
            if len(content_length) > 19:
                # Padded or absurd: no real client sends this (h11 agrees).
                raise _Reject(400, "Content-Length has more than 19 digits")
            length = int(content_length)
            if length > self.limits.max_body_bytes:
                raise _Reject(413, "request body too large")
            if length:
                return self._start_body(request, _State.DISCARDING_BODY, length)
        return self._deliver(request)

    def _deliver(self, request: Request) -> Request:
        if not request.keep_alive:
            # RFC 9112 9.6: no further request on this connection is
            # processed; later bytes are dropped unparsed.
            self._state = _State.DRAINING
            self._buffer = bytearray()
        return request

    def _absolute_form(self, target_bytes: bytes) -> Tuple[str, str, str, str]:
        match = _ANY_TARGET.fullmatch(target_bytes) and _ABSOLUTE_FORM.fullmatch(target_bytes)
        if not match:
            raise _Reject(400, "malformed request target")
        scheme, authority, rest = match.groups()
        if scheme.lower() not in (b"http", b"https"):
            raise _Reject(400, "absolute-form target is not http or https")
        # RFC 9110 4.2.1/4.2.4: a non-empty host and no userinfo.
        if not _HOST.fullmatch(authority) or authority[:1] in (b"", b":"):
            raise _Reject(400, "invalid authority in absolute-form target")
        target = target_bytes.decode("ascii")
        path, _, query = rest.decode("ascii").partition("?")
        # RFC 9112 3.2.2: the target's authority wins over the Host field.
        return authority.decode("ascii"), target, path or "/", query

    def _start_body(self, request: Request, state: _State, length: int) -> Optional[Event]:
        if request.version >= (1, 1) and b"100-continue" in _list_tokens(request.header(b"expect") or b""):
            # The client waits for a 100 before sending the body, and we
            # never want it: answer now, read nothing more, close after
            # (RFC 9110 10.1.1 lets a server skip the content and close).
            return self._deliver(_closing(request))
        self._pending = request
        self._state = state
        self._remaining = length
        self._body_bytes = 0
        self._trailer_count = 0
        return None

    def _finish_body(self) -> Request:
        request = self._pending
        assert request is not None
        self._pending = None
        self._state = _State.AWAITING_HEAD
        self._scan = 0
        return self._deliver(request)

    # -- bodies (read and discarded) -------------------------------------

    def _discard_body(self) -> Event:
        buffer = self._buffer
        take = min(self._remaining, len(buffer))
        del buffer[:take]
        self._remaining -= take
        if self._remaining == 0:
            return self._finish_body()
        return self._at_eof("a request body")

    def _read_chunk_size(self) -> Optional[Event]:
        line = self._take_line(self.limits.max_chunk_line + 2)
        if line is _OVERFLOW:
            raise _Reject(400, "chunk line too long")
        if line is None:
            return self._at_eof("a chunked body")
        assert isinstance(line, bytes)
        match = _CHUNK_LINE.fullmatch(line)
        if match is None:
            # RFC 9112 7.1: no sign, no 0x, no whitespace; extensions are
            # token[=token/quoted-string].
            raise _Reject(400, "invalid chunk size line")
        size = int(match.group(1), 16)
        self._count_body(len(line) + 2 + (size + 2 if size else 0))
        if size:
            self._remaining = size
            self._state = _State.DISCARDING_CHUNK_DATA
        else:
            self._state = _State.AWAITING_TRAILERS
            self._field_bytes = 0
        return None

    def _count_body(self, wire_bytes: int) -> None:
        self._body_bytes += wire_bytes
        if self._body_bytes > self.limits.max_body_bytes:
            raise _Reject(413, "request body too large")

    def _discard_chunk_data(self) -> Optional[Event]:
        buffer = self._buffer
        take = min(self._remaining, len(buffer))
        del buffer[:take]
        self._remaining -= take
        if self._remaining:
            return self._at_eof("a chunked body")
        self._state = _State.AWAITING_CHUNK_END
        return None

    def _read_chunk_end(self) -> Optional[Event]:
        buffer = self._buffer
        # RFC 9112 7.1: chunk-data is followed by exactly CRLF.
        if buffer[:1] not in (b"", b"\r") or buffer[1:2] not in (b"", b"\n"):
            raise _Reject(400, "chunk data not followed by CRLF")
        if len(buffer) < 2:
            return self._at_eof("a chunked body")
        del buffer[:2]
        self._state = _State.AWAITING_CHUNK_SIZE
        return None

    def _read_trailers(self) -> Optional[Event]:
        limits = self.limits
        remaining = limits.max_header_bytes - self._field_bytes
        line = self._take_line(remaining if remaining > 2 else 2)
        if line is _OVERFLOW:
            raise _Reject(431, "trailer fields too large")
        if line is None:
            return self._at_eof("a chunked body")
        assert isinstance(line, bytes)
        self._count_body(len(line) + 2)
        if not line:
            self._field_bytes = 0
            return self._finish_body()
        # RFC 9112 7.1.2: trailer fields have the header field syntax.
        match = _match_field(line)
        if match is None:
            raise self._bad_field_line(line)
        if match.group(1).lower() in _NOT_IN_TRAILERS:
            # RFC 9110 6.5.1: framing and routing fields cannot be
            # trailers; refusing them outright leaves nothing to confuse.
            raise _Reject(400, "framing or routing field in trailers")
        self._field_bytes += len(line) + 2
        self._trailer_count += 1
        if self._trailer_count > limits.max_headers:
            raise _Reject(431, "too many trailer fields")
        return None

    def _drain(self) -> Event:
        self._buffer = bytearray()
        if self._eof:
            return ConnectionClosed()
        return NEED_DATA


def _index_fields(fields: List[Tuple[bytes, bytes]]) -> _Fields:
    """
    The (name, value) pairs of valid field lines, OWS already removed, as
    the parser keeps them.  Pure, so its result may be reused for the
    same section bytes; the index is read-only, so it may be shared.
    """
    headers = tuple([(name.lower(), value) for name, value in fields])
    index = dict(headers)
    repeated: List[bytes] = []
    if len(index) != len(headers):
        index = {}
        for name, value in headers:
            if name in index:
                index[name] += b", " + value
                repeated.append(name)
            else:
                index[name] = value
    return headers, MappingProxyType(index), tuple(repeated)


def _list_tokens(value: bytes) -> List[bytes]:
    """
    RFC 9110 5.6.1: the lowercase elements of a comma-separated list,
    with OWS removed and empty elements ignored.
    """
    tokens = []
    for element in value.split(b","):
        element = element.strip(b" \t")
        if element:
            tokens.append(element.lower())
    return tokens


def _starts_head(start: Union[bytes, bytearray]) -> bool:
    """
    Whether a head starting with C{start} is a HEAD request: C{HEAD }
    after whole CRLF empty lines only (after anything else, the rejection
    may come before those bytes arrive, so the answer must not depend on
    them).
    """
    index = 0
    while start.startswith(b"\r\n", index):
        index += 2
    return start.startswith(b"HEAD ", index)


def _check_transfer_coding(value: bytes) -> None:
    """
    Accept exactly C{chunked}; RFC 9112 6.3: a request whose final coding
    is not chunked cannot be framed (400); chunked twice is invalid
    (RFC 9112 7); valid codings before chunked are not implemented (501).
    Empty list elements (RFC 9110 5.6.1 would ignore them) are refused:
    on the field that frames the body, an empty or extra line is more
    likely an attack than a sloppy client.
    """
    if value.lower() == b"chunked":
        return
    codings = [coding.strip(b" \t").lower() for coding in value.split(b",")]
    for coding in codings:
        if not _TOKEN.fullmatch(coding):
            raise _Reject(400, "malformed Transfer-Encoding")
    if not codings or codings[-1] != b"chunked" or codings.count(b"chunked") > 1:
        raise _Reject(400, "Transfer-Encoding does not end in a single chunked")
    raise _Reject(501, "unsupported transfer coding")


def _new_request(
    method: str,
    target: str,
    version: Tuple[int, int],
    headers: Headers,
    path: str,
    query: str,
    host: Optional[str],
    keep_alive: bool,
    index: Mapping[bytes, bytes],
) -> Request:
    """
    L{Request}'s constructor without the per-field C{object.__setattr__}
    of frozen dataclasses: on the hot path it costs as much as parsing.
    The parser has already validated every value.
    """
    request = object.__new__(Request)
    request.__dict__.update(
        {
            "method": method, "target": target, "version": version, "headers": headers, "path": path,
            "query": query, "host": host, "keep_alive": keep_alive, "index": index,
        }
    )
    return request


def _closing(request: Request) -> Request:
    return Request(
        request.method, request.target, request.version, request.headers,
        request.path, request.query, request.host, False, request.index,
    )


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
