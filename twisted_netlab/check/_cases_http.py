# -*- test-case-name: tests.check.test_cases_http -*-
# About 720 lines, over the ~700 guide: the 15 lab cases are data, each with
# its judge beside it; the RFC and hardening cases already live elsewhere.
"""
The pure cases of ``netlab check http``, lab profile, plus what every HTTP
case shares: the fixtures (names and bytes), request building, the
L{Await} predicates and the wording of what came.  The RFC cases live in
L{_cases_http_rfc}, the hardening ones in L{_cases_http_hardening};
L{all_cases} lists every case in report order.  Responses are read with the web family's tolerant reader
(L{twisted_netlab.web._response_checks}), the same one ``netlab get``
warns with.  Standard library only.
"""

from __future__ import annotations

import hashlib
import random
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from twisted_netlab.check._case import (
    Await,
    Case,
    Context,
    Outcome,
    Pause,
    Profile,
    Recording,
    Send,
    Stream,
    StreamRecord,
    failed,
    passed,
    warned,
)
from twisted_netlab.web._response_checks import (
    BARE_LF,
    BAD_STATUS_LINE,
    HEAD_UNTERMINATED,
    NO_FRAMING,
    NO_STATUS_LINE,
    Reading,
    SeenResponse,
    date_findings,
    read_responses,
)

LAB = Profile.LAB

# -- fixtures -----------------------------------------------------------

#: Fixture file -> (relative path in the fixture folder, availability name).
SMALL = "small.txt"
UTF8 = "utf8-text.txt"
BINARY = "binary.bin"
INDEX = "folder/index.html"
NO_INDEX_FILE = "no-index/other.txt"
SPACE = "with space.txt"
BINARY_BYTES = 3 * 1024 * 1024


def fixture_files(seed: int = 15) -> Dict[str, bytes]:
    """
    The fixture files (relative path -> bytes), the same for a given
    C{seed}: a small ASCII file, a UTF-8 text with multi-byte characters,
    a 3 MB binary, a folder with an ``index.html``, a folder without one,
    and a name with a space.
    """
    small = b"".join(b"netlab check: line %02d of a small ASCII file.\n" % i for i in range(8))
    utf8 = ("Grüße aus Köln, naïve café, 日本語のテキスト, ✓ → ∞\n" * 12).encode("utf-8")
    binary = random.Random(seed).randbytes(BINARY_BYTES)
    index = b"<!doctype html>\n<title>netlab check</title>\n<p>The folder's index page.</p>\n"
    return {
        SMALL: small,
        UTF8: utf8,
        BINARY: binary,
        INDEX: index,
        NO_INDEX_FILE: b"a file in a folder without index.html\n",
        SPACE: b"a file whose name has a space\n",
    }


#: Availability names that cases put in C{needs}.
FILES = "files"
MARKER = "marker"


def marker_bytes(token: str) -> bytes:
    """
    What the traversal marker file holds: a line no server makes up.
    """
    return b"netlab-check secret " + hashlib.sha256(token.encode()).hexdigest().encode() + b"\n"


def quote_path(path: str) -> str:
    out = []
    for char in path:
        if char.isalnum() or char in "/-._~":
            out.append(char)
        else:
            out.append("".join(f"%{byte:02X}" for byte in char.encode("utf-8")))
    return "".join(out)


def url(context: Context, name: str) -> str:
    """
    The request-target of fixture C{name}.
    """
    assert context.fixture_path is not None
    return context.fixture_path + quote_path(name)


def files(context: Context) -> Dict[str, bytes]:
    return context.extra.get("files", {})


# -- requests and waiting ---------------------------------------------------

CRLF = b"\r\n"


def request(
    context: Context,
    target: str,
    method: str = "GET",
    headers: Sequence[Tuple[str, str]] = (),
    body: bytes = b"",
    version: str = "HTTP/1.1",
    host: bool = True,
) -> bytes:
    """
    A request as curl would send it (Host, User-Agent, Accept), plus
    C{headers}; Content-Length added when there is a body.
    """
    lines = [f"{method} {target} {version}".encode("latin-1")]
    if host:
        lines.append(b"Host: " + context.authority.encode("ascii"))
    lines.append(b"User-Agent: netlab-check")
    lines.append(b"Accept: */*")
    for name, value in headers:
        lines.append(f"{name}: {value}".encode("latin-1"))
    if body and not any(name.lower() in ("content-length", "transfer-encoding") for name, _ in headers):
        lines.append(b"Content-Length: %d" % len(body))
    return CRLF.join(lines) + CRLF + CRLF + body


def answered(methods: Sequence[str]) -> Callable[[bytes, bool], bool]:
    """
    An L{Await} predicate: the responses to C{methods} are all complete,
    or the last one complete says the connection will close.
    """

    def until(received: bytes, closed: bool) -> bool:
        reading = read_responses(received, methods, closed)
        finals = reading.finals
        if len(finals) >= len(methods) and finals[-1].complete:
            return True
        if finals and finals[-1].complete and not finals[-1].keep_alive:
            return True
        return bool(reading.responses) and reading.responses[-1].framing == "close" and closed

    return until


def anything(received: bytes, closed: bool) -> bool:
    return bool(received) or closed


def nothing(received: bytes, closed: bool) -> bool:
    return False


def exchange(context: Context, data: bytes, methods: Sequence[str] = ("GET",), label: str = "") -> Stream:
    """
    One connection: send C{data}, wait (within the case bound) for the
    responses to C{methods}.
    """
    return Stream((Send(data), Await(answered(methods), context.timeout_seconds)), label)


def get(context: Context, target: str, **kwargs: object) -> Stream:
    return exchange(context, request(context, target, **kwargs), ("HEAD",) if kwargs.get("method") == "HEAD" else ("GET",))  # type: ignore[arg-type]


def read(stream: StreamRecord, methods: Sequence[str] = ("GET",)) -> Reading:
    return read_responses(stream.received, methods, stream.peer_closed)


def first(stream: StreamRecord, methods: Sequence[str] = ("GET",)) -> Optional[SeenResponse]:
    finals = read(stream, methods).finals
    return finals[0] if finals else None


# -- wording ------------------------------------------------------------


def shown(response: SeenResponse) -> str:
    if response.status is None:
        return f"no status line ({response.body[:30]!r})"
    return repr(response.status_line[:60])


def silence(stream: StreamRecord, timeout: float, reading: Optional[Reading] = None) -> str:
    """
    Why there is no (further) response on C{stream}, in words; with
    C{reading}, only what came after its complete responses counts.
    """
    failure = stream.first_failure()
    if failure:
        return failure
    if reading is not None and reading.responses:
        last = reading.responses[-1]
        if last.complete and not last.keep_alive and not stream.peer_closed:
            return f"nothing: the response before it ({shown(last)}) did not keep the connection alive"
        if last.complete:
            if reading.leftover:
                return f"unreadable bytes: {reading.leftover[:60]!r}"
            return "the connection closed" if stream.peer_closed else f"nothing within {timeout:g}s"
        if last.status is None:
            return f"a reply without status line (HTTP/0.9 style): {last.body[:60]!r}"
        return f"an incomplete response: {last.head[:60]!r}"
    if stream.received and not stream.peer_closed:
        return f"an incomplete response within {timeout:g}s: {stream.received[:60]!r}"
    if stream.received:
        if not stream.received.lstrip().startswith(b"HTTP/"):
            return f"a reply without status line (HTTP/0.9 style): {stream.received[:60]!r}"
        return f"the connection closed inside the response: {stream.received[:60]!r}"
    if stream.peer_closed:
        return "the connection closed without a response"
    return f"no response within {timeout:g}s"


def no_response(stream: StreamRecord, context: Context, expected: str) -> Outcome:
    return failed(f"expected {expected}; got {silence(stream, context.timeout_seconds)}")


def same_file(response: SeenResponse, expected: bytes, what: str) -> Optional[str]:
    """
    Why C{response} is not a faithful 200 of C{expected} (None when it is).
    """
    if response.status != 200:
        return f"expected 200 for {what}; got {shown(response)}"
    if not response.complete:
        return f"the body of {what} is incomplete: {len(response.body)} of {len(expected)} bytes"
    if response.body != expected:
        if len(response.body) != len(expected):
            return f"body of {what} is {len(response.body)} bytes, the file has {len(expected)}"
        at = next(i for i, (a, b) in enumerate(zip(response.body, expected)) if a != b)
        return f"body of {what} differs from the file at byte {at}"
    length = response.header("Content-Length")
    if response.framing == "chunked":
        return None
    if length is None:
        return f"no Content-Length for {what} ({len(expected)} bytes)"
    if length.strip() != str(len(expected)):
        return f"Content-Length {length!r} for {what}, but the file has {len(expected)} bytes"
    return None


# -- lab cases ------------------------------------------------------------


def _file_case(case_id: str, title: str, name: str, compare_hash: bool = False) -> Case:
    def plan(context: Context) -> Tuple[Stream, ...]:
        return (get(context, url(context, name)),)

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None:
            return no_response(stream, context, "200 and the file")
        expected = files(context)[name]
        problem = same_file(response, expected, name)
        if problem and response.status == 404:
            problem += " (is --root the folder this server serves at this URL?)"
        if problem:
            if compare_hash and response.status == 200:
                digest = hashlib.sha256(response.body).hexdigest()[:16]
                problem += f" (sha256 {digest}..., the file's is {hashlib.sha256(expected).hexdigest()[:16]}...)"
            return failed(problem)
        detail = f"200, {len(expected)} bytes"
        if compare_hash:
            detail += f", sha256 {hashlib.sha256(expected).hexdigest()[:16]}... matches"
        return passed(detail + f", Content-Length {response.header('Content-Length') or '(chunked)'}")

    return Case(case_id, title, "lab", LAB, plan, judge, frozenset([FILES]))


GET_FILE = _file_case("get.file", "GET of an existing file", SMALL)
GET_UTF8 = _file_case("get.utf8", "GET of a UTF-8 text file (Content-Length counts bytes)", UTF8)
GET_BINARY = _file_case("get.binary", "GET of a 3 MB binary file", BINARY, compare_hash=True)


def _index_plan(context: Context) -> Tuple[Stream, ...]:
    folder = url(context, "folder/")
    return (get(context, folder), get(context, folder[:-1]))


def _index_judge(recording: Recording, context: Context) -> Outcome:
    slash, bare = recording.streams
    expected = files(context)[INDEX]
    response = first(slash)
    if response is None:
        return no_response(slash, context, "the folder's index.html")
    problem = same_file(response, expected, "folder/ (its index.html)")
    if problem:
        return failed(problem)
    other = first(bare)
    if other is None:
        return warned(f"folder/ serves index.html; folder (no slash) got {silence(bare, context.timeout_seconds)}")
    if other.status in (301, 302, 303, 307, 308):
        location = other.header("Location") or ""
        if location.endswith("folder/"):
            return passed(f"folder/ serves index.html; folder redirects ({other.status}) to {location}")
        return warned(f"folder/ serves index.html; folder redirects to {location!r}, not to folder/")
    if other.status == 200:
        return passed("folder/ serves index.html; so does folder (no redirect: relative links resolve one level up)")
    return warned(f"folder/ serves index.html; folder (no slash) got {shown(other)}: a redirect to folder/ helps")


GET_INDEX = Case("get.index", "a folder URL serves its index.html", "lab", LAB, _index_plan, _index_judge, frozenset([FILES]))


def missing_target(context: Context) -> str:
    base = context.fixture_path or context.base_path
    return base + "netlab-check-no-such-file-" + context.extra.get("token", "x") + ".html"


def _missing_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, missing_target(context)),)


def framing_problem(response: SeenResponse, stream: StreamRecord) -> Optional[str]:
    """
    Why a client cannot tell where C{response} ends (None when it can).
    """
    codes = {f.code for f in response.findings}
    if HEAD_UNTERMINATED in codes:
        return "the head is not ended by an empty line (CRLF CRLF) before the connection closed"
    if NO_FRAMING in codes and not stream.peer_closed:
        return "no Content-Length, no chunked, no Connection: close, and the connection stayed open: the body never ends"
    if not response.complete:
        return f"the body is incomplete ({len(response.body)} bytes, framing {response.framing})"
    return None


def _missing_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    reading = read(stream)
    response = reading.finals[0] if reading.finals else None
    if response is None:
        if reading.responses:
            bad = reading.responses[0]
            return failed(f"expected a well-formed 404; got {shown(bad)} and "
                          f"{framing_problem(bad, stream) or silence(stream, context.timeout_seconds)}")
        return no_response(stream, context, "a 404")
    if response.status != 404:
        return failed(f"expected 404 for a missing file; got {shown(response)}")
    problem = framing_problem(response, stream) or _form_problem(response)
    if problem:
        return failed(f"404, but {problem}")
    how = "Content-Length" if response.framing == "content-length" else response.framing
    return passed(f"{response.status_line!r}, head ended by CRLF CRLF, framed by {how}")


GET_MISSING = Case("get.missing", "a missing file gets a well-formed 404", "lab", LAB, _missing_plan, _missing_judge)


def _method_plan(context: Context) -> Tuple[Stream, ...]:
    target = url(context, SMALL)
    return (
        exchange(context, request(context, target, "DELETE"), label="DELETE"),
        exchange(context, request(context, target, "POST", body=b"name=netlab"), ("POST",), label="POST"),
    )


def _method_judge(recording: Recording, context: Context) -> Outcome:
    seen = []
    for stream, method in zip(recording.streams, ("DELETE", "POST")):
        response = first(stream, (method,))
        if response is None:
            return no_response(stream, context, f"405 with Allow, or 501, for {method}")
        if response.status == 405:
            if response.header("Allow") is None:
                return failed(f"{method}: 405 without Allow (RFC 9110 15.5.6 requires it)")
        elif response.status != 501:
            return failed(f"expected 405 with Allow, or 501, for {method}; got {shown(response)}")
        problem = framing_problem(response, stream)
        if problem:
            return failed(f"{method}: {response.status}, but {problem}")
        seen.append(f"{method} {response.status}" + (f" (Allow: {response.header('Allow')})" if response.status == 405 else ""))
    return passed(", ".join(seen))


METHOD_UNSUPPORTED = Case(
    "method.unsupported", "DELETE and POST get 405 with Allow, or 501", "lab", LAB, _method_plan, _method_judge, frozenset([FILES])
)


def _head_plan(context: Context) -> Tuple[Stream, ...]:
    target = url(context, SMALL)
    head = Stream((
        Send(request(context, target, "HEAD")),
        Await(answered(["HEAD"]), context.timeout_seconds),
        # Anything arriving now is a body the HEAD response must not have.
        Await(nothing, 0.3),
    ), "HEAD")
    return (head, get(context, target))


def _head_judge(recording: Recording, context: Context) -> Outcome:
    head_stream, get_stream = recording.streams
    reading = read(head_stream, ["HEAD"])
    head = reading.finals[0] if reading.finals else None
    if head is None:
        return no_response(head_stream, context, "a response to HEAD")
    if not head.head_complete:
        return failed(f"HEAD: {framing_problem(head, head_stream)}")
    if reading.leftover:
        return failed(f"HEAD response followed by {len(reading.leftover)} body bytes: {reading.leftover[:40]!r}")
    got = first(get_stream)
    if got is None:
        return no_response(get_stream, context, "a response to GET (to compare with HEAD)")
    if head.status != got.status:
        return failed(f"HEAD got {head.status}, GET got {got.status}")
    if head.header("Content-Length") != got.header("Content-Length"):
        return failed(f"HEAD says Content-Length {head.header('Content-Length')!r}, GET {got.header('Content-Length')!r}")
    return passed(f"HEAD {head.status} with Content-Length {head.header('Content-Length')}, as GET, and no body")


HEAD_NO_BODY = Case("head.no-body", "HEAD: same status and length as GET, no body", "lab", LAB, _head_plan, _head_judge, frozenset([FILES]))

_KEEPALIVE_FILES = (SMALL, UTF8, INDEX)


def _keepalive_plan(context: Context) -> Tuple[Stream, ...]:
    steps: List = []
    for count, name in enumerate(_KEEPALIVE_FILES, 1):
        steps.append(Send(request(context, url(context, name))))
        steps.append(Await(answered(["GET"] * count), context.timeout_seconds / 2))
    return (Stream(tuple(steps)),)


def _keepalive_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    methods = ["GET"] * len(_KEEPALIVE_FILES)
    reading = read(stream, methods)
    finals = reading.finals
    if stream.peer_closed and finals and len(finals) < len(_KEEPALIVE_FILES):
        last = finals[-1]
        if last.has_token("Connection", "keep-alive") and not last.has_token("Connection", "close"):
            return failed(f"response {len(finals)} said Connection: keep-alive, then the server closed the connection")
    for index, (response, name) in enumerate(zip(finals, _KEEPALIVE_FILES), 1):
        problem = same_file(response, files(context)[name], name)
        if problem:
            return failed(f"request {index}: {problem}")
        if not response.keep_alive and index < len(_KEEPALIVE_FILES):
            if stream.peer_closed or index == len(finals):
                close = "Connection: close" if response.has_token("Connection", "close") else f"{response.version}"
                return passed(f"response {index} said {close} and the server closed: legal, clients reconnect")
    if len(finals) == len(_KEEPALIVE_FILES) and all(r.complete for r in finals):
        return passed(f"{len(finals)} requests answered in order on one connection")
    count = len([r for r in finals if r.complete])
    if finals and stream.peer_closed:
        final = finals[-1]
        said = ("Connection: keep-alive" if final.has_token("Connection", "keep-alive")
                else f"{final.version} without Connection: close")
        return failed(f"response {count} said {said} (keep-alive), then the server closed the connection")
    return failed(f"request {count + 1} on the kept-alive connection got "
                  + silence(stream, context.timeout_seconds / 2, reading))


KEEPALIVE_REUSE = Case(
    "keepalive.reuse", "three requests on one connection, or Connection: close and close", "lab", LAB,
    _keepalive_plan, _keepalive_judge, frozenset([FILES]),
)


def _split_plan(context: Context) -> Tuple[Stream, ...]:
    data = request(context, url(context, SMALL))
    cuts = [0, 3, 9, len(data) // 2, len(data) - 3, len(data)]
    steps: List = []
    for start, end in zip(cuts, cuts[1:]):
        steps.append(Send(data[start:end]))
        if end < len(data):
            steps.append(Pause(0.15))
    steps.append(Await(answered(["GET"]), context.timeout_seconds))
    return (Stream(tuple(steps)),)


def _single_file_judge(what: str) -> Callable[[Recording, Context], Outcome]:
    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None:
            return no_response(stream, context, f"200 and the file for {what}")
        problem = same_file(response, files(context)[SMALL], SMALL)
        return failed(problem) if problem else passed(f"{what}: answered with the whole file")

    return judge


REQUEST_SPLIT = Case(
    "request.split", "a head sent in 5 pieces with pauses is answered", "lab", LAB,
    _split_plan, _single_file_judge("head in 5 pieces, 0.15 s apart"), frozenset([FILES]),
)


def _pipelined_plan(context: Context) -> Tuple[Stream, ...]:
    both = request(context, url(context, SMALL)) + request(context, url(context, UTF8))
    return (exchange(context, both, ("GET", "GET")),)


def _pipelined_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    finals = read(stream, ["GET", "GET"]).finals
    if not finals:
        return no_response(stream, context, "two responses")
    problem = same_file(finals[0], files(context)[SMALL], "request 1")
    if problem:
        return failed(problem)
    if len(finals) < 2:
        reading = read(stream, ["GET", "GET"])
        if not finals[0].keep_alive and not reading.leftover:
            return warned(f"only the first answered, and {shown(finals[0])} did not keep the connection alive "
                          "(legal; the client must resend the second)")
        return failed("only the first of two pipelined requests was answered; then "
                      + silence(stream, context.timeout_seconds, reading))
    problem = same_file(finals[1], files(context)[UTF8], "request 2")
    return failed(problem) if problem else passed("both answered, in order")


REQUEST_PIPELINED = Case(
    "request.pipelined", "two requests in one packet are both answered, in order", "lab", LAB,
    _pipelined_plan, _pipelined_judge, frozenset([FILES]),
)


def _idle_plan(context: Context) -> Tuple[Stream, ...]:
    hold = max(1.0, context.timeout_seconds - 1.0)
    idle = Stream((Pause(hold),), "idle client")
    served = Stream((Pause(0.2), Send(request(context, url(context, SMALL))),
                     Await(answered(["GET"]), hold - 0.5)), "second client", ends_case=True)
    return (idle, served)


def _idle_judge(recording: Recording, context: Context) -> Outcome:
    idle, served = recording.streams
    response = first(served)
    if response is None or not response.complete:
        return failed("while one client held a connection open and sent nothing, another got "
                      + silence(served, context.timeout_seconds - 1.5))
    problem = same_file(response, files(context)[SMALL], SMALL)
    if problem:
        return failed(problem)
    closed = idle.first_closed_at()
    done = served.last_received_at()
    if closed is not None and done is not None and closed <= done:
        return warned(f"the other client was served only after the server dropped the idle one at {closed:.2f}s")
    return passed(f"served in {done:.2f}s while the idle connection stayed open" if done else "served")


IDLE_PEER = Case(
    "concurrency.idle-peer", "a silent open connection does not block another client", "lab", LAB,
    _idle_plan, _idle_judge, frozenset([FILES]),
)

BURST = 50


def _burst_plan(context: Context) -> Tuple[Stream, ...]:
    names = (SMALL, UTF8)
    return tuple(get(context, url(context, names[i % 2])) for i in range(BURST))


def _burst_judge(recording: Recording, context: Context) -> Outcome:
    names = (SMALL, UTF8)
    bad = []
    for index, stream in enumerate(recording.streams):
        response = first(stream)
        if response is None:
            bad.append((index, silence(stream, context.timeout_seconds)))
            continue
        problem = same_file(response, files(context)[names[index % 2]], names[index % 2])
        if problem:
            bad.append((index, problem))
    if bad:
        index, why = bad[0]
        return failed(f"{BURST - len(bad)} of {BURST} clients got the right bytes; client {index + 1}: {why}")
    return passed(f"all {BURST} clients got the right bytes in {recording.elapsed:.2f}s")


CONCURRENCY_BURST = Case(
    "concurrency.burst", f"{BURST} clients at once all get the right bytes", "lab", LAB,
    _burst_plan, _burst_judge, frozenset([FILES]),
)


def traversal_targets(context: Context) -> List[str]:
    """
    Request-targets that reach outside the root on a server that joins
    the path to its root without care.
    """
    base = context.base_path
    name = context.extra.get("marker_name", "")
    fixture = context.fixture_path or base
    targets = []
    if name:
        targets += [
            f"{base}../{name}",
            f"{base}%2e%2e/{name}",
            f"{base}..%2f{name}",
            f"{base}%2e%2e%2f{name}",
            f"{base}..\\{name}",
            f"{base}..%5c{name}",
            f"{fixture}../../{name}",
            f"{fixture}%2e%2e/%2e%2e/{name}",
        ]
        absolute = context.extra.get("marker_path", "")
        if absolute:
            targets.append("/" + absolute)
            targets.append(f"http://{context.authority}{base}../{name}")
    targets += [base + "../" * 12 + "etc/passwd", base + "%2e%2e/" * 12 + "etc/passwd", "//etc/passwd"]
    return targets


def _traversal_plan(context: Context) -> Tuple[Stream, ...]:
    return tuple(
        exchange(context, request(context, target, headers=[("Connection", "close")]), label=target)
        for target in traversal_targets(context)
    )


def _traversal_judge(recording: Recording, context: Context) -> Outcome:
    secret = context.extra.get("marker_bytes", b"\x00no marker\x00")
    statuses = []
    for stream in recording.streams:
        data = stream.received
        if secret in data or b"root:x:0:0:" in data:
            what = "the marker file planted beside the root" if secret in data else "/etc/passwd"
            return failed(f"{stream.label} returned {what}")
        response = first(stream)
        statuses.append(str(response.status) if response is not None and response.status else "-")
    return passed(f"{len(recording.streams)} escaping targets, none served a file outside the root "
                  f"(statuses {' '.join(statuses)})")


PATH_TRAVERSAL = Case(
    "path.traversal", "/../, %2e%2e, ..%2f, ..\\ and absolute targets stay inside the root", "lab", LAB,
    _traversal_plan, _traversal_judge, frozenset([MARKER]),
)


def _date_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, context.base_path),)


def _date_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is not None and not response.head_complete and response.status is not None:
        return failed(f"{shown(response)}: {framing_problem(response, stream)}")
    if response is None or not response.head_complete:
        return no_response(stream, context, "a response with a Date")
    problems = date_findings(response)
    if problems:
        return failed(problems[0].message)
    return passed(f"Date: {response.header('Date')}")


DATE_FORMAT = Case("date.format", "Date present, as an IMF-fixdate", "RFC 9110 §6.6.1", LAB, _date_plan, _date_judge)


def _form_problem(response: SeenResponse) -> Optional[str]:
    for finding in response.findings:
        if finding.code in (NO_STATUS_LINE, BAD_STATUS_LINE, BARE_LF):
            return finding.message
    if response.version not in ("HTTP/1.0", "HTTP/1.1"):
        return f"version {response.version!r} in the status line"
    return None


def _form_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, context.base_path), get(context, missing_target(context)))


def _form_judge(recording: Recording, context: Context) -> Outcome:
    lines = []
    for stream in recording.streams:
        reading = read(stream)
        if not reading.responses:
            return no_response(stream, context, "a response")
        response = reading.responses[0]
        problem = _form_problem(response)
        if problem:
            return failed(problem)
        if not response.head_complete:
            return failed(f"{shown(response)}: {framing_problem(response, stream)}")
        lines.append(repr(response.status_line))
    return passed(", ".join(lines) + "; head lines end in CRLF")


STATUS_LINE_FORM = Case(
    "status-line.form", "responses start 'HTTP/1.x NNN reason', head lines end in CRLF", "RFC 9112 §4", LAB,
    _form_plan, _form_judge,
)

LAB_CASES = [
    GET_FILE, GET_UTF8, GET_BINARY, GET_INDEX, GET_MISSING, METHOD_UNSUPPORTED, HEAD_NO_BODY,
    KEEPALIVE_REUSE, REQUEST_SPLIT, REQUEST_PIPELINED, IDLE_PEER, CONCURRENCY_BURST, PATH_TRAVERSAL,
    DATE_FORMAT, STATUS_LINE_FORM,
]


def all_cases() -> List[Case]:
    """
    Every HTTP case in report order: lab, then RFC, then hardening.
    """
    from twisted_netlab.check._cases_http_hardening import HARDENING_CASES
    from twisted_netlab.check._cases_http_rfc import RFC_CASES

    return LAB_CASES + RFC_CASES + HARDENING_CASES
