# -*- test-case-name: tests.check.test_cases_http -*-
"""
The pure RFC 9110/9112 and hardening cases of ``netlab check http``.
They cover every case of uNetworking/h1spec and dropseed/h1spec that
applies to a static-file server (facts taken, nothing copied), plus the
request-side rules RFC 9112 sets for servers and RFC 9110's semantics of
static files (ranges, conditionals, validators).  Where a choice is legal
either way both pass; legal but worse is a warn that says why.
"""

from __future__ import annotations

from typing import Callable, Collection, List, Optional, Sequence, Tuple

from twisted_netlab.check._case import (
    Await,
    Case,
    Context,
    Outcome,
    Profile,
    Recording,
    Send,
    Stream,
    failed,
    passed,
    warned,
)
from twisted_netlab.check._cases_http import (
    FILES,
    INDEX,
    NO_INDEX_FILE,
    SMALL,
    SPACE,
    anything,
    answered,
    exchange,
    files,
    first,
    framing_problem,
    get,
    no_response,
    read,
    request,
    same_file,
    shown,
    silence,
    url,
)
from twisted_netlab.web._response_checks import SeenResponse, is_imf_fixdate

RFC = Profile.RFC
Judge = Callable[[Recording, Context], Outcome]
Build = Callable[[Context], bytes]


def target(context: Context) -> str:
    """
    What the RFC cases request: the small fixture file when there are
    fixtures (a server that takes a bad request as valid then answers 200,
    not a 404 that hides it), else the target URL's path.
    """
    return url(context, SMALL) if FILES in context.available else context.base_path


def _raw(text: bytes) -> Build:
    """
    A request written out by hand; ``{host}`` is the target's authority
    and ``{base}`` the path L{target} chooses.
    """

    def build(context: Context) -> bytes:
        return text.replace(b"{host}", context.authority.encode()).replace(b"{base}", target(context).encode())

    return build


def _follow_up(context: Context) -> bytes:
    return request(context, target(context), headers=[("Connection", "close")])


def _case(case_id: str, title: str, ref: str, build: Build, judge: Judge, follow: bool = False,
          needs: Collection[str] = (), profile: Profile = RFC) -> Case:
    """
    A one-connection case: send C{build(context)} (and, with C{follow}, a
    second GET in the same write) and wait for the answers.
    """

    def plan(context: Context) -> Tuple[Stream, ...]:
        data = build(context)
        if follow:
            return (exchange(context, data + _follow_up(context), ("GET", "GET")),)
        return (exchange(context, data),)

    return Case(case_id, title, ref, profile, plan, judge, frozenset(needs))


def _normal(response: SeenResponse) -> bool:
    """
    A response that means "the request was taken as valid".
    """
    return response.status is not None and response.status != 400 and response.status < 500 and response.status != 431


def rejects(accept: Sequence[int] = (400,), must: bool = True, close: bool = False, ok_other: Sequence[int] = (),
            waiting: str = "", http09: bool = False) -> Judge:
    """
    The request is invalid: pass on a status in C{accept}; a request taken
    as valid fails when the RFC says MUST (C{must}), else warns.  With
    C{close}, the RFC also asks the server to close after the 400.  With
    C{waiting}, a server still waiting for more (a body it will never get)
    is a warn saying C{waiting}.  With C{http09}, a reply without status
    line (the server took the request for HTTP/0.9) is a warn.
    """
    expected = " or ".join(str(code) for code in accept)

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None or response.status is None:
            if stream.peer_closed and not stream.received:
                verdict = failed if must else warned
                return verdict(f"expected {expected}; the server closed the connection without a response")
            if response is not None:
                verdict = warned if http09 else failed
                return verdict(f"expected {expected}; got a reply without status line (HTTP/0.9 style): "
                               f"{response.body[:40]!r}")
            if waiting and not stream.received and not stream.peer_closed:
                return warned(f"no response within {context.timeout_seconds:g}s: {waiting}")
            return no_response(stream, context, expected)
        if response.status in accept or response.status in ok_other:
            problem = framing_problem(response, stream)
            if problem:
                return failed(f"{shown(response)}, but {problem}")
            if close and not stream.peer_closed and not response.has_token("Connection", "close"):
                return warned(f"{shown(response)}, but the connection stayed open (the RFC says close after it)")
            return passed(shown(response))
        if response.status is not None and 400 <= response.status < 600:
            return warned(f"expected {expected}; got {shown(response)} (an error, but not the one the RFC names)")
        verdict = failed if must else warned
        return verdict(f"expected {expected}; got {shown(response)}: the invalid request was taken as valid")

    return judge


def accepts(what: str = "a normal response", ok: Sequence[int] = ()) -> Judge:
    """
    The request is valid: any response but 400/431/5xx passes (and the
    statuses in C{ok}, such as 501 for a method the server lacks).
    """

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None or response.status is None:
            return no_response(stream, context, what)
        if not _normal(response) and response.status not in ok:
            return failed(f"expected {what}; got {shown(response)} for a valid request")
        return passed(shown(response))

    return judge


def either(what: str) -> Judge:
    """
    Both rejecting (400) and accepting are legal; a hang or a 5xx is not.
    """

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None or response.status is None:
            if stream.peer_closed and not stream.received:
                return warned(f"closed without a response ({what}); a 400 tells the client why")
            if not stream.received and not stream.peer_closed:
                return warned(f"no response within {context.timeout_seconds:g}s ({what}): it waited for more")
            return no_response(stream, context, f"400 or a normal response ({what})")
        if response.status is not None and response.status >= 500:
            return failed(f"{shown(response)} ({what}): a server error")
        return passed(shown(response))

    return judge


def rejects_or_closes(what: str, waiting: str = "") -> Judge:
    """
    A request with faulty framing followed by a GET: pass when the server
    says 400 or closes before answering the GET; fail when it answers the
    GET on the same connection without a 400 (the rest was taken as a
    request: the shape of request smuggling).
    """

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        finals = read(stream, ["POST", "GET"]).finals
        if not finals:
            if stream.peer_closed:
                return passed(f"closed without answering ({what})")
            if waiting and not stream.received:
                return warned(f"no response within {context.timeout_seconds:g}s: {waiting}")
            return no_response(stream, context, f"400 or a close ({what})")
        statuses = [str(r.status) for r in finals]
        if finals[0].status == 400:
            if len(finals) > 1:
                return warned(f"400, then answered the next request on the same connection ({' '.join(statuses)}); "
                              "closing after a framing error is safer")
            return passed(shown(finals[0]))
        if len(finals) == 1:
            if stream.peer_closed or not finals[0].keep_alive:
                return passed(f"{shown(finals[0])}, then closed ({what})")
            return no_response(stream, context, "a close or the second response")
        return failed(f"{what}: answered {' '.join(statuses)} on one connection: after a request it could not "
                      "frame, the server read on (the rest became the next request)")

    return judge


def body_then_next(what: str) -> Judge:
    """
    A request with a valid body, then a GET: the body must not be read as
    the next request (a 400 for the GET shows it was).
    """

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        finals = read(stream, ["POST", "GET"]).finals
        if not finals:
            return no_response(stream, context, f"a response ({what})")
        if finals[0].status == 400:
            return failed(f"{shown(finals[0])} for a valid request ({what})")
        if len(finals) == 1:
            reading = read(stream, ["POST", "GET"])
            if (stream.peer_closed or not finals[0].keep_alive) and not reading.leftover:
                return passed(f"{shown(finals[0])}, then closed (legal; the next request is retried)")
            return failed(f"{shown(finals[0])}, then for the next request "
                          + silence(stream, context.timeout_seconds, reading))
        if finals[1].status == 400:
            return failed(f"{shown(finals[0])}, then 400 for the next GET: the body was read as a request")
        return passed(f"{finals[0].status} then {finals[1].status}: the body was skipped")

    return judge


# -- request line, targets, Host ------------------------------------------

_PREFIXES = [b"G", b"GET ", b"GET /", b"GET / ", b"GET / HTTP", b"GET / HTTP/1.1", b"GET / HTTP/1.1\r",
             b"GET / HTTP/1.1\r\n", b"GET / HTTP/1.1\r\nHos", b"GET / HTTP/1.1\r\nHost:",
             b"GET / HTTP/1.1\r\nHost: ", b"GET / HTTP/1.1\r\nHost: {host}", b"GET / HTTP/1.1\r\nHost: {host}\r",
             b"GET / HTTP/1.1\r\nHost: {host}\r\n", b"GET / HTTP/1.1\r\nHost: {host}\r\n\r"]
INCOMPLETE_WAIT = 0.5


def _incomplete_plan(context: Context) -> Tuple[Stream, ...]:
    return tuple(
        Stream((Send(_raw(prefix)(context)), Await(anything, INCOMPLETE_WAIT)), repr(prefix))
        for prefix in _PREFIXES
    )


def _incomplete_judge(recording: Recording, context: Context) -> Outcome:
    for stream in recording.streams:
        if stream.received:
            return failed(f"answered the incomplete head {stream.label} instead of waiting: {stream.received[:40]!r}")
        if stream.peer_closed:
            return failed(f"closed on the incomplete head {stream.label} instead of waiting")
        failure = stream.first_failure()
        if failure:
            return failed(failure)
    return passed(f"waited on all {len(recording.streams)} incomplete heads for {INCOMPLETE_WAIT:g}s")


INCOMPLETE = Case("request.incomplete", "an incomplete head is waited for (15 cut points)", "RFC 9112 §2.1", RFC,
                  _incomplete_plan, _incomplete_judge)

_LONG = 100 * 1024

RFC_REQUEST_LINE = [
    INCOMPLETE,
    _case("request-line.no-version", "a request line without version gets 400", "RFC 9112 §3",
          _raw(b"GET {base}\r\nHost: {host}\r\n\r\n"), rejects(http09=True)),
    _case("request-line.trailing-space", "'GET / ' (empty version) gets 400", "RFC 9112 §3",
          _raw(b"GET {base} \r\n\r\n"), rejects(http09=True)),
    _case("request-line.bad-version", "HTTP/9.9 gets 505 (or 400)", "RFC 9110 §15.6.6",
          _raw(b"GET {base} HTTP/9.9\r\nHost: {host}\r\n\r\n"), rejects((505, 400))),
    _case("request-line.http2-version", "HTTP/2.0 on an HTTP/1 connection gets 505 (or 400)", "RFC 9110 §15.6.6",
          _raw(b"GET {base} HTTP/2.0\r\nHost: {host}\r\n\r\n"), rejects((505, 400))),
    _case("request-line.garbage-prefix", "junk before the method gets 400", "RFC 9112 §3",
          _raw(b"Extra lineGET {base} HTTP/1.1\r\nHost: {host}\r\n\r\n"), rejects((400, 501, 405))),
    _case("request-line.lowercase-method", "'get' (methods are case-sensitive) gets a framed 501/405/400",
          "RFC 9110 §9.1", _raw(b"get {base} HTTP/1.1\r\nHost: {host}\r\n\r\n"), rejects((501, 405, 400), must=False)),
    _case("request-line.too-long", "a 100 KB request-target gets 414 (or 400/431)", "RFC 9112 §3",
          lambda c: request(c, c.base_path + "a" * _LONG), rejects((414, 400, 431), must=False)),
    _case("request-target.absolute-form", "absolute-form target is served as the path", "RFC 9112 §3.2.2",
          lambda c: request(c, f"http://{c.authority}{target(c)}"), accepts()),
    _case("request-target.asterisk", "OPTIONS * is parsed (any answer but 400)", "RFC 9112 §3.2.4",
          _raw(b"OPTIONS * HTTP/1.1\r\nHost: {host}\r\n\r\n"), accepts("a response other than 400", ok=(501,))),
    _case("request-target.authority-form", "CONNECT to an origin server gets 405/501, never a tunnel",
          "RFC 9110 §9.3.6", _raw(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
          rejects((405, 501, 400))),
    _case("host.missing", "HTTP/1.1 without Host gets 400", "RFC 9112 §3.2",
          _raw(b"GET {base} HTTP/1.1\r\nUser-Agent: netlab-check\r\n\r\n"), rejects()),
    _case("host.duplicate", "two Host fields get 400", "RFC 9112 §3.2",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nHost: example.org\r\n\r\n"), rejects()),
    _case("host.invalid", "'Host: bad host' gets 400", "RFC 9112 §3.2",
          _raw(b"GET {base} HTTP/1.1\r\nHost: bad host\r\n\r\n"), rejects()),
    _case("host.http10-optional", "HTTP/1.0 without Host is served", "RFC 9112 §3.2",
          _raw(b"GET {base} HTTP/1.0\r\n\r\n"), accepts()),
]

# -- fields ------------------------------------------------------------------

RFC_FIELDS = [
    _case("field.edge-cases", "'hoSt:<TAB>name' (any case, tab as whitespace) is valid", "RFC 9110 §5.5",
          _raw(b"GET {base} HTTP/1.1\r\nhoSt:\t{host}\r\n\r\n"), accepts()),
    _case("field.empty-value", "an empty field value is valid", "RFC 9110 §5.5",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Empty:\r\nX-Empty-Too: \r\n\r\n"), accepts()),
    _case("field.invalid-name", "'X-Invalid[]' (not a token) gets 400", "RFC 9110 §5.1",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Invalid[]: test\r\n\r\n"), rejects(must=False)),
    _case("field.space-in-name", "a field name with a space gets 400", "RFC 9110 §5.1",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nBad Header: value\r\n\r\n"), rejects(must=False)),
    _case("field.space-before-colon", "whitespace before the colon gets 400", "RFC 9112 §5.1",
          _raw(b"GET {base} HTTP/1.1\r\nHost : {host}\r\n\r\n"), rejects()),
    _case("field.obs-fold", "a folded field line gets 400 or is unfolded", "RFC 9112 §5.2",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Folded: one\r\n  two\r\n\r\n"), either("obs-fold")),
    _case("field.nul", "NUL in a field value gets 400", "RFC 9110 §5.5",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Nul: a\x00b\r\n\r\n"), rejects(must=False)),
    _case("field.control-char", "a control character (BEL) in a field value gets 400", "RFC 9110 §5.5",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nX-Bad: test\x07\r\n\r\n"), rejects(must=False)),
    _case("field.bare-cr", "a bare CR in the head gets 400", "RFC 9112 §2.2",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\n\rX-After: test\r\n\r\n"), rejects(must=False)),
    _case("field.bare-lf", "a head with bare LF line ends is answered (or 400)", "RFC 9112 §2.2",
          _raw(b"GET {base} HTTP/1.1\nHost: {host}\n\n"), either("bare LF line ends")),
    _case("field.too-many", "1000 header fields get 431/400 or are handled", "RFC 6585 §5",
          lambda c: request(c, target(c), headers=[(f"X-Field-{i}", "value") for i in range(1000)]),
          either("1000 fields")),
    _case("field.too-large", "a 100 KB field gets 431 (or 400)", "RFC 6585 §5",
          lambda c: request(c, target(c), headers=[("X-Big", "x" * _LONG)]), rejects((431, 400, 413), must=False)),
]

# -- framing: Content-Length, Transfer-Encoding, bodies ---------------------------------

_TE_CL = b"POST {base} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
_TE_CL_CASE = (b"POST {base} HTTP/1.1\r\nHost: {host}\r\ntransfer-encoding: Chunked\r\n"
               b"CONTENT-LENGTH: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n")


def _chunked(body: bytes) -> Build:
    return _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n" + body)


RFC_FRAMING = [
    _case("content-length.negative", "Content-Length: -1234 gets 400", "RFC 9112 §6.3",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: -1234\r\n\r\n"), rejects(close=True)),
    _case("content-length.overflow", "Content-Length: -123456789123456789123456789 gets 400", "RFC 9112 §6.3",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: -123456789123456789123456789\r\n\r\n"),
          rejects(close=True)),
    _case("content-length.non-numeric", "Content-Length: abc gets 400", "RFC 9112 §6.3",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: abc\r\n\r\n"), rejects(close=True)),
    _case("content-length.conflicting", "Content-Length 5 and 7 get 400", "RFC 9112 §6.3",
          _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello!!"),
          rejects(close=True)),
    _case("content-length.huge", "Content-Length beyond 2^64 gets 400 (or 413)", "RFC 9112 §6.3",
          _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 99999999999999999999999\r\n\r\nhello"),
          rejects((400, 413), must=False, waiting="it waits for a 10^23-byte body; 413 or 400 would refuse it at once")),
    _case("te-cl.both", "Transfer-Encoding with Content-Length: 400, or answer and close", "RFC 9112 §6.3",
          _raw(_TE_CL), rejects_or_closes("chunked + Content-Length"), follow=True),
    _case("te-cl.both-mixed-case", "the same in varying case ('transfer-encoding: Chunked')", "RFC 9112 §6.3",
          _raw(_TE_CL_CASE), rejects_or_closes("chunked + Content-Length, varying case"), follow=True),
    _case("te.unknown", "Transfer-Encoding: nonsense gets 501 (or 400)", "RFC 9112 §6.1",
          _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: nonsense\r\n\r\nhello"),
          rejects((501, 400), must=False)),
    _case("te.chunked-not-final", "'chunked, gzip' gets 400 and close", "RFC 9112 §6.3",
          _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"
               b"5\r\nhello\r\n0\r\n\r\n"),
          rejects_or_closes("chunked not last"), follow=True),
    _case("te.http10", "Transfer-Encoding in HTTP/1.0: framing faulty, close after", "RFC 9112 §6.1",
          _raw(b"POST {base} HTTP/1.0\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
          rejects_or_closes("HTTP/1.0 with Transfer-Encoding"), follow=True),
    _case("chunked.valid", "a valid chunked body is read and skipped", "RFC 9112 §7.1",
          _chunked(b"5\r\nhello\r\n0\r\n\r\n"), body_then_next("chunked body"), follow=True),
    _case("chunked.bad-size", "chunk size 'Z' gets 400 or a close", "RFC 9112 §7.1",
          _chunked(b"Z\r\nhello\r\n0\r\n\r\n"), rejects_or_closes("bad chunk size"), follow=True),
    _case("chunked.missing-crlf", "chunk data without its CRLF gets 400 or a close", "RFC 9112 §7.1",
          _chunked(b"5\r\nhello0\r\n\r\n"), rejects_or_closes("chunk without CRLF"), follow=True),
    _case("chunked.oversized", "a chunk size beyond 2^64 gets 400/413 or a close", "RFC 9112 §7.1",
          _chunked(b"FFFFFFFFFFFFFFFFFFFFFF\r\nhello\r\n0\r\n\r\n"), rejects_or_closes("oversized chunk", waiting="it waits for a 2^88-byte chunk; 413 or 400 would refuse it at once"), follow=True),
    _case("body.get-with-body", "a GET's body is not taken as the next request", "RFC 9112 §6",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello"),
          body_then_next("GET with a 5-byte body"), follow=True),
    _case("body.post-content-length", "a POST body (Content-Length) is skipped before the next request",
          "RFC 9112 §6.2", _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\n\r\nhello"),
          body_then_next("POST with a 5-byte body"), follow=True),
]


def _expect_plan(context: Context) -> Tuple[Stream, ...]:
    head = _raw(b"POST {base} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")(context)
    return (Stream((Send(head), Await(anything, 1.0), Send(b"hello"),
                    Await(answered(["POST"]), context.timeout_seconds - 1.5))),)


def _expect_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    reading = read(stream, ["POST"])
    if not reading.responses:
        return no_response(stream, context, "100 Continue or a final status")
    opening = reading.responses[0]
    if opening.status == 100:
        finals = reading.finals
        if finals and _normal(finals[0]) or (finals and finals[0].status in (405, 501, 413, 417)):
            return passed(f"100 Continue, then {shown(finals[0])}")
        return no_response(stream, context, "a final response after 100 Continue")
    if stream.waits_expired and opening.status is not None:
        return warned(f"no 100 Continue: the client waited 1 s before sending the body; then {shown(opening)}")
    if opening.status is not None and 400 <= opening.status < 600 and opening.status != 400:
        return passed(f"a final {shown(opening)} at once, without reading the body (legal)")
    return passed(shown(opening)) if opening.status is not None and _normal(opening) else failed(f"got {shown(opening)}")


RFC_EXPECT = [
    Case("expect.100-continue", "Expect: 100-continue gets 100 or a final status at once", "RFC 9110 §10.1.1",
         RFC, _expect_plan, _expect_judge),
    _case("expect.get", "GET with Expect: 100-continue is answered", "RFC 9110 §10.1.1",
          _raw(b"GET {base} HTTP/1.1\r\nHost: {host}\r\nExpect: 100-continue\r\n\r\n"), accepts()),
]


def _close_judge(strict: bool) -> Judge:
    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        response = first(stream)
        if response is None or not response.complete:
            return no_response(stream, context, "a response, then a close")
        if stream.peer_closed:
            return passed(f"{shown(response)}, then the server closed")
        if strict:
            return failed(f"{shown(response)}, but the connection stayed open (the server MUST close)")
        return warned(f"{shown(response)}, but the connection stayed open (an HTTP/1.0 client without keep-alive expects a close)")

    return judge


def _close_plan(version: str, close: bool) -> Callable[[Context], Tuple[Stream, ...]]:
    def plan(context: Context) -> Tuple[Stream, ...]:
        headers = [("Connection", "close")] if close else []
        data = request(context, target(context), headers=headers, version=version)
        return (Stream((Send(data), Await(lambda received, closed: closed, min(2.0, context.timeout_seconds))),),)

    return plan


RFC_CONNECTION = [
    Case("connection.close", "Connection: close makes the server close after the response", "RFC 9112 §9.6",
         RFC, _close_plan("HTTP/1.1", True), _close_judge(True)),
    Case("connection.http10", "HTTP/1.0 without keep-alive: the server closes after the response", "RFC 9112 §9.3",
         RFC, _close_plan("HTTP/1.0", False), _close_judge(False)),
]

# -- semantics of static files (RFC 9110) --------------------------------------


def _range_case(case_id: str, title: str, spec: Callable[[int], str], expect: Callable[[bytes], Optional[Tuple[str, bytes]]]) -> Case:
    """
    C{expect(file)} gives the Content-Range and body of the right 206, or
    L{None} when the range is unsatisfiable (416 expected).
    """

    def plan(context: Context) -> Tuple[Stream, ...]:
        size = len(files(context)[SMALL])
        return (get(context, url(context, SMALL), headers=[("Range", spec(size))]),)

    def judge(recording: Recording, context: Context) -> Outcome:
        stream = recording.streams[0]
        content = files(context)[SMALL]
        response = first(stream)
        if response is None:
            return no_response(stream, context, "206 or 200")
        wanted = expect(content)
        if response.status == 200:
            problem = same_file(response, content, SMALL)
            return failed(problem) if problem else warned("200 with the whole file: Range ignored (legal, RFC 9110 §14.2 MAY)")
        if wanted is None:
            if response.status != 416:
                return failed(f"expected 416 for an unsatisfiable range; got {shown(response)}")
            expected_range = f"bytes */{len(content)}"
            if (response.header("Content-Range") or "").strip() != expected_range:
                return warned(f"416 with Content-Range {response.header('Content-Range')!r}, not {expected_range!r}")
            return passed(f"416 with Content-Range: {expected_range}")
        content_range, body = wanted
        if response.status != 206:
            return failed(f"expected 206 (or 200); got {shown(response)}")
        got_range = (response.header("Content-Range") or "").strip()
        if got_range != content_range or response.body != body:
            return failed(f"206 with Content-Range {got_range!r} and {len(response.body)} bytes; "
                          f"expected {content_range!r} and {len(body)} bytes")
        return passed(f"206, Content-Range: {content_range}")

    return Case(case_id, title, "RFC 9110 §14", RFC, plan, judge, frozenset([FILES]))


def _multi_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, url(context, SMALL), headers=[("Range", "bytes=0-1,10-11")]),)


def _multi_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    content = files(context)[SMALL]
    response = first(stream)
    if response is None:
        return no_response(stream, context, "206 multipart/byteranges or 200")
    if response.status == 200:
        problem = same_file(response, content, SMALL)
        return failed(problem) if problem else passed("200 with the whole file (legal: a server MAY ignore Range)")
    if response.status != 206:
        return failed(f"expected 206 or 200; got {shown(response)}")
    kind = (response.header("Content-Type") or "").lower()
    if kind.startswith("multipart/byteranges"):
        parts = (f"bytes 0-1/{len(content)}", f"bytes 10-11/{len(content)}")
        if all(p.encode() in response.body for p in parts) and content[0:2] in response.body and content[10:12] in response.body:
            return passed("206 multipart/byteranges with both parts")
        return failed("206 multipart/byteranges without both parts and their Content-Range")
    if response.header("Content-Range") == f"bytes 0-11/{len(content)}" and response.body == content[0:12]:
        return passed("206 with the two ranges coalesced into one (legal)")
    return failed(f"206 that is neither multipart nor a coalesced range: Content-Range {response.header('Content-Range')!r}")


RFC_RANGES = [
    _range_case("range.single", "Range: bytes=0-4 gets 206 with those bytes", lambda n: "bytes=0-4",
                lambda c: (f"bytes 0-4/{len(c)}", c[0:5])),
    _range_case("range.suffix", "Range: bytes=-5 gets the last 5 bytes", lambda n: "bytes=-5",
                lambda c: (f"bytes {len(c) - 5}-{len(c) - 1}/{len(c)}", c[-5:])),
    _range_case("range.open", "Range: bytes=10- gets the rest from byte 10", lambda n: "bytes=10-",
                lambda c: (f"bytes 10-{len(c) - 1}/{len(c)}", c[10:])),
    Case("range.multiple", "two ranges get multipart/byteranges (or 200)", "RFC 9110 §14.6", RFC,
         _multi_plan, _multi_judge, frozenset([FILES])),
    _range_case("range.unsatisfiable", "a range past the end gets 416 with 'bytes */N'", lambda n: f"bytes={n + 100}-",
                lambda c: None),
]


def _validator_plan(header: str, source: str) -> Callable[[Context], Tuple[Stream, ...]]:
    """
    GET the file, then GET it again quoting the first response's
    C{source} header in C{header}.
    """

    def plan(context: Context) -> Tuple[Stream, ...]:
        target = url(context, SMALL)

        def second(received: Tuple[bytes, ...]) -> bytes:
            response = _first_of(received[0])
            value = response.header(source) if response is not None else None
            extra = [(header, value)] if value else [("X-Netlab-No-Validator", source)]
            return request(context, target, headers=extra)

        return (get(context, target), Stream((Send(second), Await(answered(["GET"]), context.timeout_seconds)), after=0))

    return plan


def _first_of(data: bytes) -> Optional[SeenResponse]:
    from twisted_netlab.web._response_checks import read_responses

    finals = read_responses(data, ["GET"], True).finals
    return finals[0] if finals else None


def _not_modified_judge(source: str) -> Judge:
    def judge(recording: Recording, context: Context) -> Outcome:
        original = first(recording.streams[0])
        if original is None:
            return no_response(recording.streams[0], context, "200")
        if original.header(source) is None:
            return warned(f"no {source} on 200: clients cannot revalidate (RFC 9110 §8.8 SHOULD)")
        stream = recording.streams[1]
        response = first(stream)
        if response is None:
            return no_response(stream, context, "304")
        if response.status == 304:
            if response.body:
                return failed("304 with a body")
            return passed(f"304 for the {source} just received")
        if response.status == 200:
            return warned(f"200 again: the {source} precondition was ignored (legal, but every check downloads the file)")
        return failed(f"expected 304; got {shown(response)}")

    return judge


def _if_match_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, url(context, SMALL), headers=[("If-Match", '"netlab-does-not-match"')]),)


def _if_match_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is None:
        return no_response(stream, context, "412")
    if response.status == 412:
        return passed("412 for an If-Match no representation has")
    if response.status == 200:
        return warned("200: If-Match ignored (a server without ETags may; one with ETags MUST answer 412)")
    return failed(f"expected 412 (or 200); got {shown(response)}")


def _if_range_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, url(context, SMALL), headers=[("Range", "bytes=0-4"), ("If-Range", '"netlab-stale"')]),)


def _if_range_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is None:
        return no_response(stream, context, "200 with the whole file")
    if response.status == 206:
        return failed("206 although If-Range names a validator the file does not have (RFC 9110 §13.1.5: whole file)")
    problem = same_file(response, files(context)[SMALL], SMALL)
    return failed(problem) if problem else passed("200 with the whole file for a stale If-Range")


def _validators_plan(context: Context) -> Tuple[Stream, ...]:
    target = url(context, SMALL)
    return (get(context, target), Stream(get(context, target).steps, after=0))


def _validators_judge(recording: Recording, context: Context) -> Outcome:
    responses = [first(stream) for stream in recording.streams]
    if any(r is None for r in responses):
        return no_response(recording.streams[responses.index(None)], context, "200")
    one, two = responses
    assert one is not None and two is not None
    if one.header("ETag") is None and one.header("Last-Modified") is None:
        return warned("neither ETag nor Last-Modified: caches cannot revalidate (RFC 9110 §8.8)")
    for name in ("ETag", "Last-Modified"):
        if one.header(name) != two.header(name):
            return failed(f"{name} changed between two GETs of an unchanged file: {one.header(name)!r}, {two.header(name)!r}")
    modified = one.header("Last-Modified")
    if modified is not None and not is_imf_fixdate(modified):
        return failed(f"Last-Modified is not an IMF-fixdate: {modified!r}")
    return passed(f"stable ETag {one.header('ETag')!r}, Last-Modified {modified!r}")


def _type_plan(context: Context) -> Tuple[Stream, ...]:
    return (get(context, url(context, SMALL)), get(context, url(context, INDEX)))


def _type_judge(recording: Recording, context: Context) -> Outcome:
    seen = []
    for stream, wanted in zip(recording.streams, ("text/plain", "text/html")):
        response = first(stream)
        if response is None:
            return no_response(stream, context, "200")
        kind = response.header("Content-Type")
        if kind is None:
            return warned(f"no Content-Type for a {wanted} file (RFC 9110 §8.3 SHOULD)")
        if kind.split(";")[0].strip().lower() != wanted:
            return warned(f"Content-Type {kind!r} for a {wanted} file")
        seen.append(kind)
    return passed(", ".join(seen))


RFC_SEMANTICS = [
    Case("conditional.if-none-match", "If-None-Match with the ETag gets 304", "RFC 9110 §13.1.2", RFC,
         _validator_plan("If-None-Match", "ETag"), _not_modified_judge("ETag"), frozenset([FILES])),
    Case("conditional.if-modified-since", "If-Modified-Since with Last-Modified gets 304", "RFC 9110 §13.1.3", RFC,
         _validator_plan("If-Modified-Since", "Last-Modified"), _not_modified_judge("Last-Modified"), frozenset([FILES])),
    Case("conditional.if-match", "If-Match with a foreign ETag gets 412", "RFC 9110 §13.1.1", RFC,
         _if_match_plan, _if_match_judge, frozenset([FILES])),
    Case("conditional.if-range", "a stale If-Range gets the whole file, not 206", "RFC 9110 §13.1.5", RFC,
         _if_range_plan, _if_range_judge, frozenset([FILES])),
    Case("validators.consistent", "ETag and Last-Modified present and stable", "RFC 9110 §8.8", RFC,
         _validators_plan, _validators_judge, frozenset([FILES])),
    Case("content-type.present", "Content-Type present and right for .txt and .html", "RFC 9110 §8.3", RFC,
         _type_plan, _type_judge, frozenset([FILES])),
    _case("get.folder-without-index", "a folder without index.html gets a listing, 403 or 404", "RFC 9110 §15",
          lambda c: request(c, url(c, NO_INDEX_FILE.split("/")[0] + "/")), accepts("a listing, 403 or 404"),
          needs=[FILES]),
    Case("get.encoded-name", "a percent-encoded name ('with%20space.txt') is served", "RFC 3986 §2.1", RFC,
         lambda c: (get(c, url(c, SPACE)),),
         lambda r, c: _encoded_judge(r, c), frozenset([FILES])),
]


def _encoded_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is None:
        return no_response(stream, context, "200")
    problem = same_file(response, files(context)[SPACE], SPACE)
    return failed(problem) if problem else passed("200 with the file")


RFC_CASES: List[Case] = RFC_REQUEST_LINE + RFC_FIELDS + RFC_FRAMING + RFC_EXPECT + RFC_CONNECTION + RFC_RANGES + RFC_SEMANTICS
