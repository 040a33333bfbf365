# -*- test-case-name: tests.web.test_response_checks -*-
"""
Pure, lenient reading of what an HTTP/1.x server sent, and the findings
about it that ``netlab get`` prints as warnings and ``netlab check http``
judges: bare LF, a header line without colon, bytes after the body,
"keep-alive" then close, no length and no close, a Date that is not an
IMF-fixdate, a Content-Length the body does not match.  Standard library
only.

Unlike L{twisted_netlab.web._client_core.ResponseParser}, which stops at
the first framing error, L{read_responses} never raises: it reads as far
as the bytes allow, like a tolerant client, and notes every departure
from RFC 9112 as a L{Finding} (a stable C{code} and one line of text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import List, Optional, Sequence, Tuple

# UNANNOUNCED_CLOSE (a reconnection after a kept-alive connection closed unannounced) is
# defined with the client, which needs it without loading these checks.
from twisted_netlab.web._client_core import UNANNOUNCED_CLOSE as UNANNOUNCED_CLOSE

# Finding codes (stable: ``netlab get --strict`` and graders rely on them).
BARE_LF = "bare-lf"
NO_COLON = "header-without-colon"
OBS_FOLD = "obs-fold"
NO_STATUS_LINE = "no-status-line"
BAD_STATUS_LINE = "bad-status-line"
HEAD_UNTERMINATED = "head-unterminated"
EXTRA_BYTES = "bytes-after-body"
KEEP_ALIVE_CLOSED = "keep-alive-then-close"
NO_FRAMING = "no-length-no-close"
DATE_MISSING = "date-missing"
DATE_FORMAT = "date-not-imf-fixdate"
LENGTH_MISMATCH = "content-length-mismatch"
BAD_CONTENT_LENGTH = "bad-content-length"
BAD_CHUNKED = "bad-chunked"

#: The findings ``netlab get`` warns about (the others are for the checker).
GET_WARNINGS = frozenset(
    [BARE_LF, NO_COLON, OBS_FOLD, NO_STATUS_LINE, BAD_STATUS_LINE, HEAD_UNTERMINATED, EXTRA_BYTES,
     KEEP_ALIVE_CLOSED, NO_FRAMING, DATE_FORMAT, LENGTH_MISMATCH, BAD_CONTENT_LENGTH, BAD_CHUNKED]
)


@dataclass(frozen=True)
class Finding:
    code: str
    message: str


@dataclass(frozen=True)
class SeenResponse:
    """
    One response as a tolerant client reads it.

    @ivar head: the head bytes as received (status line to the empty line).
    @ivar status: L{None} when there was no parseable status line.
    @ivar framing: C{"none"}, C{"content-length"}, C{"chunked"} or C{"close"}.
    @ivar complete: the framing says the body is all there.
    @ivar keep_alive: the response lets the connection carry another one.
    """

    head: bytes
    status_line: str
    version: str
    status: Optional[int]
    reason: str
    headers: Tuple[Tuple[str, str], ...]
    head_complete: bool
    body: bytes
    framing: str
    complete: bool
    keep_alive: bool
    findings: Tuple[Finding, ...] = field(default=())

    def header(self, name: str) -> Optional[str]:
        values = self.all(name)
        return values[-1] if values else None

    def all(self, name: str) -> List[str]:
        lowered = name.lower()
        return [value for key, value in self.headers if key.lower() == lowered]

    def has_token(self, name: str, token: str) -> bool:
        return any(token == part.strip().lower() for value in self.all(name) for part in value.split(","))

    @property
    def interim(self) -> bool:
        return self.status is not None and 100 <= self.status < 200 and self.status != 101


@dataclass(frozen=True)
class Reading:
    """
    Everything read from one connection: the responses in order (interim
    1xx included), bytes left over after the last complete one, and
    findings about the connection as a whole.
    """

    responses: Tuple[SeenResponse, ...]
    leftover: bytes
    closed: bool
    findings: Tuple[Finding, ...]

    @property
    def finals(self) -> Tuple[SeenResponse, ...]:
        return tuple(r for r in self.responses if not r.interim)

    @property
    def complete_finals(self) -> int:
        return sum(1 for r in self.finals if r.complete)

    def all_findings(self) -> List[Finding]:
        out: List[Finding] = []
        for response in self.responses:
            out.extend(response.findings)
        out.extend(self.findings)
        return out


_STATUS_LINE = re.compile(rb"^HTTP/(\d)\.(\d) (\d{3}) ?([^\r\n]*)$")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"(\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$"
)
#: A head longer than this is read as far as this and no further.
MAX_HEAD_BYTES = 256 * 1024


def is_imf_fixdate(value: str) -> bool:
    """
    RFC 9110 5.6.7: ``Sun, 06 Nov 1994 08:49:37 GMT``, a real date whose
    weekday is right.
    """
    match = _IMF_FIXDATE.match(value)
    if match is None:
        return False
    try:
        moment = datetime.strptime(value[5:], "%d %b %Y %H:%M:%S GMT")
    except ValueError:
        return False
    return moment.strftime("%a") == match.group(1)


def _split_head(data: bytes, start: int) -> Tuple[List[Tuple[bytes, bool]], int, bool]:
    """
    Lines of the head starting at C{start}: (line without its ending, ended
    by a bare LF) pairs, the offset after the empty line, and whether the
    empty line came.  A line not ended at all is left out.
    """
    lines: List[Tuple[bytes, bool]] = []
    position = start
    limit = min(len(data), start + MAX_HEAD_BYTES)
    while position < limit:
        newline = data.find(b"\n", position, limit)
        if newline < 0:
            return lines, position, False
        line = data[position:newline]
        bare = not line.endswith(b"\r")
        if not bare:
            line = line[:-1]
        position = newline + 1
        if not line:
            if lines:
                lines.append((b"", bare))
                return lines, position, True
            continue  # RFC 9112 2.2: empty lines before a message are ignored
        lines.append((line, bare))
    return lines, position, False


def read_one(data: bytes, start: int, method: str, closed: bool) -> Tuple[Optional[SeenResponse], int]:
    """
    Read one response at C{start}; return it (L{None} when nothing has
    arrived yet) and the offset after it.  When the bytes end before the
    response does, it is returned with C{complete} false.
    """
    if start >= len(data):
        return None, start
    findings: List[Finding] = []
    rest = data[start:]
    stripped = rest.lstrip(b"\r\n")
    if not stripped:
        return None, start
    if not stripped.startswith(b"HTTP/"):
        if b"HTTP/".startswith(stripped) and not closed:
            return _partial(rest, []), len(data)
        # RFC 9112 2.3 (and curl's "Received HTTP/0.9"): no status line at
        # all; the bytes are a body that ends when the connection does.
        findings.append(Finding(NO_STATUS_LINE, f"no status line: the response starts {rest[:20]!r}"))
        response = SeenResponse(b"", "", "", None, "", (), False, rest, "close", closed, False, tuple(findings))
        return response, len(data)
    lines, after, ended = _split_head(data, start)
    if not ended and not closed:
        if not lines or len(data) - start < MAX_HEAD_BYTES:
            return _partial(data[start:], lines), len(data)
    status_raw, bare_status = lines[0] if lines else (data[start:], True)
    version, status, reason = "", None, ""
    match = _STATUS_LINE.match(status_raw)
    if match is None:
        findings.append(Finding(BAD_STATUS_LINE, f"status line is not 'HTTP/1.x NNN reason': {status_raw[:60]!r}"))
        loose = re.match(rb"^HTTP/(\d\.\d)\s+(\d{3})\s*(.*)$", status_raw)
        if loose:
            version, status, reason = "HTTP/" + loose.group(1).decode(), int(loose.group(2)), loose.group(3).decode("latin-1")
    else:
        version = f"HTTP/{match.group(1).decode()}.{match.group(2).decode()}"
        status, reason = int(match.group(3)), match.group(4).decode("latin-1")
    bare_lines = sum(1 for _, bare in lines if bare)
    if bare_lines:
        findings.append(Finding(BARE_LF, f"{bare_lines} head line(s) end in a bare LF, not CRLF (RFC 9112 2.2)"))
    headers: List[Tuple[str, str]] = []
    for raw, _ in lines[1:]:
        if not raw:
            continue
        if raw[:1] in (b" ", b"\t"):
            findings.append(Finding(OBS_FOLD, f"folded header line (obs-fold, RFC 9112 5.2): {raw[:60]!r}"))
            if headers:
                folded_name, folded_value = headers[-1]
                headers[-1] = (folded_name, folded_value + " " + raw.strip().decode("latin-1"))
            continue
        raw_name, colon, raw_value = raw.partition(b":")
        if not colon:
            findings.append(Finding(NO_COLON, f"header line without colon: {raw[:60]!r}"))
            continue
        headers.append((raw_name.decode("latin-1"), raw_value.strip(b" \t").decode("latin-1")))
    if not ended:
        findings.append(Finding(
            HEAD_UNTERMINATED,
            "the connection closed before the empty line that ends the head (RFC 9112 2.1)",
        ))
    head = data[start:after] if ended else data[start:]
    interim = status is not None and 100 <= status < 200 and status != 101
    provisional = SeenResponse(head, status_raw.decode("latin-1"), version, status, reason, tuple(headers), ended,
                               b"", "none", False, False)
    connection_close = provisional.has_token("Connection", "close")
    keep_alive = not connection_close and (version == "HTTP/1.1" or provisional.has_token("Connection", "keep-alive"))
    if not ended:
        return _with(provisional, findings, framing="none", complete=False, keep_alive=False), len(data)
    if interim:
        return _with(provisional, findings, framing="none", complete=True, keep_alive=True), after
    # RFC 9112 6.3, in order.
    if method == "HEAD" or status in (204, 304):
        return _with(provisional, findings, framing="none", complete=True, keep_alive=keep_alive), after
    if provisional.all("Transfer-Encoding"):
        if provisional.has_token("Transfer-Encoding", "chunked"):
            body, end, problem = _dechunk(data, after)
            if problem:
                findings.append(Finding(BAD_CHUNKED, problem))
            if end is None:
                if closed:
                    findings.append(Finding(LENGTH_MISMATCH, "the connection closed inside the chunked body"))
                return _with(provisional, findings, body=body, framing="chunked", complete=False,
                             keep_alive=False), len(data)
            return _with(provisional, findings, body=body, framing="chunked", complete=True,
                         keep_alive=keep_alive), end
    lengths = provisional.all("Content-Length")
    if lengths:
        values = {part.strip() for value in lengths for part in value.split(",")}
        if len(values) != 1 or not next(iter(values)).isdigit():
            findings.append(Finding(BAD_CONTENT_LENGTH, f"unusable Content-Length: {', '.join(lengths)!r}"))
        else:
            length = int(next(iter(values)))
            body = data[after:after + length]
            if len(body) < length:
                if closed:
                    findings.append(Finding(
                        LENGTH_MISMATCH,
                        f"Content-Length says {length} bytes but the connection closed after {len(body)}",
                    ))
                return _with(provisional, findings, body=body, framing="content-length", complete=False,
                             keep_alive=False), len(data)
            return _with(provisional, findings, body=body, framing="content-length", complete=True,
                         keep_alive=keep_alive), after + length
    # Read until close (RFC 9112 6.3 item 8).
    if not connection_close:
        findings.append(Finding(
            NO_FRAMING,
            "no Content-Length, no chunked and no Connection: close: the body ends only when the connection does",
        ))
    return _with(provisional, findings, body=data[after:], framing="close", complete=closed,
                 keep_alive=False), len(data)


def _partial(data: bytes, lines: List[Tuple[bytes, bool]]) -> SeenResponse:
    first = lines[0][0].decode("latin-1") if lines else data.split(b"\n")[0].decode("latin-1")
    return SeenResponse(data, first, "", None, "", (), False, b"", "none", False, False)


def _with(response: SeenResponse, findings: List[Finding], **changes: object) -> SeenResponse:
    from dataclasses import replace

    return replace(response, findings=tuple(findings), **changes)  # type: ignore[arg-type]


def _dechunk(data: bytes, start: int) -> Tuple[bytes, Optional[int], str]:
    """
    Decode a chunked body at C{start}: (body so far, offset after the last
    chunk and trailers or L{None} when not complete, problem or "").
    """
    body = bytearray()
    position = start
    while True:
        newline = data.find(b"\n", position)
        if newline < 0:
            return bytes(body), None, ""
        size_line = data[position:newline].rstrip(b"\r").split(b";")[0].strip()
        try:
            size = int(size_line, 16)
        except ValueError:
            return bytes(body), None, f"chunk size is not hexadecimal: {size_line[:20]!r}"
        position = newline + 1
        if size == 0:
            while True:
                newline = data.find(b"\n", position)
                if newline < 0:
                    return bytes(body), None, ""
                line = data[position:newline].rstrip(b"\r")
                position = newline + 1
                if not line:
                    return bytes(body), position, ""
        if len(data) < position + size:
            body += data[position:]
            return bytes(body), None, ""
        body += data[position:position + size]
        position += size
        if data[position:position + 2] == b"\r\n":
            position += 2
        elif data[position:position + 1] == b"\n":
            position += 1
        elif len(data) >= position + 2:
            return bytes(body), None, "chunk data not followed by CRLF"
        else:
            return bytes(body), None, ""


def read_responses(data: bytes, methods: Sequence[str], closed: bool) -> Reading:
    """
    Read the responses to C{methods} (one per request, in order) from the
    bytes C{data} received on one connection; C{closed}: the server closed
    it.  Interim 1xx responses are read and do not use up a request.
    """
    responses: List[SeenResponse] = []
    findings: List[Finding] = []
    position = 0
    index = 0
    while index < len(methods):
        response, position = read_one(data, position, methods[index].upper(), closed)
        if response is None:
            break
        responses.append(response)
        if not response.complete:
            break
        if not response.interim:
            index += 1
            if not response.keep_alive and index < len(methods):
                break
    leftover = data[position:] if (responses and responses[-1].complete) else b""
    if leftover.strip(b"\r\n"):
        findings.append(Finding(EXTRA_BYTES, f"{len(leftover)} bytes after the end of the last response: {leftover[:40]!r}"))
    finals = [r for r in responses if not r.interim]
    if closed and finals and finals[-1].complete and finals[-1].keep_alive and index < len(methods):
        findings.append(Finding(
            KEEP_ALIVE_CLOSED,
            "the server closed the connection after the response without Connection: close",
        ))
    return Reading(tuple(responses), leftover, closed, tuple(findings))


def date_findings(response: SeenResponse) -> List[Finding]:
    """
    RFC 9110 6.6.1: an origin server with a clock sends Date, as an
    IMF-fixdate (5.6.7).
    """
    dates = response.all("Date")
    if not dates:
        return [Finding(DATE_MISSING, "no Date header (RFC 9110 6.6.1)")]
    if len(dates) > 1:
        return [Finding(DATE_FORMAT, f"{len(dates)} Date headers")]
    if not is_imf_fixdate(dates[0]):
        return [Finding(DATE_FORMAT, f"Date is not an IMF-fixdate (RFC 9110 5.6.7): {dates[0]!r}")]
    return []


def response_findings(data: bytes, methods: Sequence[str], closed: bool) -> List[Finding]:
    """
    Every finding about C{data} that ``netlab get`` warns about: those of
    L{read_responses} plus the Date format of each final response.
    """
    reading = read_responses(data, methods, closed)
    found = reading.all_findings()
    for response in reading.finals:
        if response.head_complete:
            found.extend(f for f in date_findings(response) if f.code == DATE_FORMAT)
    return [f for f in found if f.code in GET_WARNINGS]


def status_line_ok(response: SeenResponse) -> bool:
    return not any(f.code in (BAD_STATUS_LINE, NO_STATUS_LINE, BARE_LF) for f in response.findings)


def is_token(text: str) -> bool:
    return bool(_TOKEN.match(text))
