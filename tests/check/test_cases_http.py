"""
Tests for the pure HTTP cases (L{twisted_netlab.check._cases_http} and
L{_cases_http_rfc}): every judge on recordings written by hand, the plans'
bytes, and the case list's stable ids.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.check import _cases_http as lab
from twisted_netlab.check import _cases_http_rfc as rfc
from twisted_netlab.check._case import Await, Pause, Profile, Send, Verdict, select

from tests.check.recordings import context, file, ok, recording, stream

SMALL = file(lab.SMALL)
NOT_FOUND = ok(b"<h1>404</h1>", b"404 Not Found")


def case(case_id):
    [found] = [c for c in lab.all_cases() if c.id == case_id]
    return found


def judge(case_id, *streams, fixtures=True):
    return case(case_id).judge(recording(*streams), context(fixtures))


class CaseListTests(SynchronousTestCase):
    LAB_IDS = [
        "get.file", "get.utf8", "get.binary", "get.index", "get.missing", "method.unsupported", "head.no-body",
        "keepalive.reuse", "request.split", "request.pipelined", "concurrency.idle-peer", "concurrency.burst",
        "path.traversal", "date.format", "status-line.form",
    ]

    def test_lab_ids_are_the_fixed_ones(self):
        """
        The lab profile is exactly the issue's fixed ids, in that order
        (graders rely on them).
        """
        self.assertEqual([c.id for c in select(lab.all_cases(), "lab")], self.LAB_IDS)

    def test_ids_unique_and_every_case_has_a_reference(self):
        """
        Ids are unique; every case names its reference and has a one-line
        title.
        """
        cases = lab.all_cases()
        self.assertEqual(len({c.id for c in cases}), len(cases))
        for c in cases:
            self.assertTrue(c.ref and c.title and "\n" not in c.title, c.id)
        self.assertGreaterEqual(len([c for c in cases if c.profile is Profile.RFC]), 50)

    def test_every_plan_builds_without_fixtures_or_is_skipped(self):
        """
        Without fixtures every case either needs them (and is skipped) or
        builds a plan; with fixtures every case builds one.
        """
        for c in lab.all_cases():
            if not c.missing(context(fixtures=False)):
                self.assertTrue(c.plan(context(fixtures=False)), c.id)
            self.assertTrue(c.plan(context()), c.id)


class RequestTests(SynchronousTestCase):
    def test_request_like_curl(self):
        """
        Requests carry Host (the target's authority), a User-Agent and
        Accept, and end with an empty line.
        """
        data = lab.request(context(), "/x")
        self.assertEqual(data, b"GET /x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: netlab-check\r\nAccept: */*\r\n\r\n")

    def test_fixture_names_are_percent_encoded(self):
        """
        A fixture name with a space is requested as %20.
        """
        self.assertEqual(lab.url(context(), lab.SPACE), "/netlab-check-0123abcd/with%20space.txt")

    def test_split_plan_sends_the_head_in_pieces(self):
        """
        request.split sends the whole head in several pieces with pauses.
        """
        [plan] = case("request.split").plan(context())
        sends = [s.data for s in plan.steps if isinstance(s, Send)]
        self.assertGreaterEqual(len(sends), 4)
        self.assertEqual(b"".join(sends), lab.request(context(), lab.url(context(), lab.SMALL)))
        self.assertTrue(any(isinstance(s, Pause) for s in plan.steps))
        self.assertIsInstance(plan.steps[-1], Await)

    def test_fixtures_are_stable(self):
        """
        The fixtures are the same for a seed: a 3 MB binary, multi-byte
        UTF-8, a name with a space.
        """
        files = lab.fixture_files()
        self.assertEqual(files, lab.fixture_files())
        self.assertEqual(len(files[lab.BINARY]), 3 * 1024 * 1024)
        text = files[lab.UTF8]
        self.assertGreater(len(text), len(text.decode("utf-8")))
        self.assertIn(" ", lab.SPACE)


class LabJudgeTests(SynchronousTestCase):
    def test_get_file_pass(self):
        """
        200 with the file's bytes and the right Content-Length passes.
        """
        outcome = judge("get.file", stream(ok(SMALL)))
        self.assertEqual(outcome.verdict, Verdict.PASS, outcome.detail)

    def test_get_file_failures(self):
        """
        A wrong status, wrong bytes, a missing or wrong Content-Length, and
        silence each fail with what came.
        """
        wrong_length = ok(SMALL).replace(b"Content-Length: %d" % len(SMALL), b"Content-Length: 3")
        no_length = (b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + SMALL)
        table = [
            (stream(NOT_FOUND), "expected 200"),
            (stream(ok(SMALL[:-1] + b"X")), "differs from the file at byte"),
            (stream(wrong_length, closed=True), "is 3 bytes, the file has"),
            (stream(no_length, closed=True), "no Content-Length"),
            (stream(expired=True), "no response within 5s"),
            (stream(refused=True), "could not connect"),
            (stream(closed=True), "closed without a response"),
        ]
        for record, words in table:
            outcome = judge("get.file", record)
            self.assertEqual(outcome.verdict, Verdict.FAIL, words)
            self.assertIn(words, outcome.detail)

    def test_get_missing_needs_the_empty_line(self):
        """
        The handout's 404 (a status line, then the connection closes) fails
        because no empty line ends the head; a framed 404 passes.
        """
        bare = judge("get.missing", stream(b"HTTP/1.1 404 Not Found\r\n<h1>404</h1>", closed=True), fixtures=False)
        self.assertEqual(bare.verdict, Verdict.FAIL)
        self.assertIn("empty line", bare.detail)
        good = judge("get.missing", stream(NOT_FOUND), fixtures=False)
        self.assertEqual(good.verdict, Verdict.PASS, good.detail)
        wrong = judge("get.missing", stream(ok(b"not found")), fixtures=False)
        self.assertEqual(wrong.verdict, Verdict.FAIL)

    def test_get_missing_without_framing_on_an_open_connection_fails(self):
        """
        A 404 with no length, no chunking and no close, on a connection the
        server keeps open, leaves the client waiting: fail.
        """
        data = b"HTTP/1.1 404 Not Found\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nnope"
        outcome = judge("get.missing", stream(data, expired=True), fixtures=False)
        self.assertEqual(outcome.verdict, Verdict.FAIL)
        self.assertIn("never ends", outcome.detail)

    def test_keepalive_announced_then_closed_fails(self):
        """
        'Connection: keep-alive' and then a close is a fail; 'Connection:
        close' and a close is a pass; three answers in order pass.
        """
        said = ok(SMALL, extra=b"Connection: keep-alive\r\n")
        self.assertEqual(judge("keepalive.reuse", stream(said, closed=True)).verdict, Verdict.FAIL)
        implied = judge("keepalive.reuse", stream(ok(SMALL), closed=True))
        self.assertEqual(implied.verdict, Verdict.FAIL)
        self.assertIn("without Connection: close", implied.detail)
        closing = ok(SMALL, extra=b"Connection: close\r\n")
        self.assertEqual(judge("keepalive.reuse", stream(closing, closed=True)).verdict, Verdict.PASS)
        three = ok(SMALL) + ok(file(lab.UTF8)) + ok(file(lab.INDEX))
        self.assertEqual(judge("keepalive.reuse", stream(three)).verdict, Verdict.PASS)
        swapped = ok(file(lab.UTF8)) + ok(SMALL) + ok(file(lab.INDEX))
        self.assertEqual(judge("keepalive.reuse", stream(swapped)).verdict, Verdict.FAIL)

    def test_pipelined(self):
        """
        Both answers in order pass; only the first, with the connection left
        open, fails; only the first with an HTTP/1.0 close is a warn.
        """
        both = ok(SMALL) + ok(file(lab.UTF8))
        self.assertEqual(judge("request.pipelined", stream(both)).verdict, Verdict.PASS)
        self.assertEqual(judge("request.pipelined", stream(ok(SMALL), expired=True)).verdict, Verdict.FAIL)
        old = ok(SMALL, version=b"HTTP/1.0")
        self.assertEqual(judge("request.pipelined", stream(old, closed=True)).verdict, Verdict.WARN)

    def test_head_with_body_fails(self):
        """
        Body bytes after a HEAD response fail; a bodiless HEAD that agrees
        with GET passes.
        """
        get = stream(ok(SMALL))
        self.assertEqual(judge("head.no-body", stream(ok(SMALL)), get).verdict, Verdict.FAIL)
        head_only = ok(SMALL)[: -len(SMALL)]
        self.assertEqual(judge("head.no-body", stream(head_only), get).verdict, Verdict.PASS)
        other = head_only.replace(b"Content-Length: %d" % len(SMALL), b"Content-Length: 1")
        self.assertEqual(judge("head.no-body", stream(other), get).verdict, Verdict.FAIL)

    def test_method_unsupported(self):
        """
        405 needs Allow (RFC 9110 15.5.6); 501 passes; serving the file fails.
        """
        allow = ok(b"no", b"405 Method Not Allowed", b"Allow: GET, HEAD\r\n")
        self.assertEqual(judge("method.unsupported", stream(allow), stream(allow)).verdict, Verdict.PASS)
        bare = ok(b"no", b"405 Method Not Allowed")
        self.assertIn("without Allow", judge("method.unsupported", stream(bare), stream(allow)).detail)
        nope = ok(b"no", b"501 Not Implemented")
        self.assertEqual(judge("method.unsupported", stream(nope), stream(nope)).verdict, Verdict.PASS)
        self.assertEqual(judge("method.unsupported", stream(ok(SMALL)), stream(nope)).verdict, Verdict.FAIL)

    def test_index(self):
        """
        folder/ serving index.html passes whether folder redirects or not; a
        404 for folder/ fails.
        """
        index = ok(file(lab.INDEX))
        moved = ok(b"", b"301 Moved Permanently", b"Location: /netlab-check-0123abcd/folder/\r\n")
        self.assertEqual(judge("get.index", stream(index), stream(moved)).verdict, Verdict.PASS)
        self.assertEqual(judge("get.index", stream(index), stream(NOT_FOUND)).verdict, Verdict.WARN)
        self.assertEqual(judge("get.index", stream(NOT_FOUND), stream(moved)).verdict, Verdict.FAIL)

    def test_idle_peer(self):
        """
        The second client served while the idle one is open passes; served
        only after the idle one was dropped is a warn; not served fails.
        """
        idle_open = stream(sent=b"")
        served = stream(ok(SMALL), received_at=0.3)
        self.assertEqual(judge("concurrency.idle-peer", idle_open, served).verdict, Verdict.PASS)
        dropped = stream(sent=b"", closed=True, closed_at=0.2)
        self.assertEqual(judge("concurrency.idle-peer", dropped, served).verdict, Verdict.WARN)
        starved = stream(expired=True)
        self.assertEqual(judge("concurrency.idle-peer", idle_open, starved).verdict, Verdict.FAIL)

    def test_burst_counts_every_client(self):
        """
        One client of 50 without its bytes fails the burst, naming it.
        """
        names = (lab.SMALL, lab.UTF8)
        streams = [stream(ok(file(names[i % 2]))) for i in range(lab.BURST)]
        self.assertEqual(judge("concurrency.burst", *streams).verdict, Verdict.PASS)
        streams[7] = stream(refused=True)
        outcome = judge("concurrency.burst", *streams)
        self.assertEqual(outcome.verdict, Verdict.FAIL)
        self.assertIn("49 of 50", outcome.detail)
        self.assertIn("client 8", outcome.detail)

    def test_traversal(self):
        """
        The marker (or /etc/passwd) in any response fails; 404s pass.
        """
        targets = lab.traversal_targets(context())
        self.assertIn("/../netlab-check-secret-0123abcd.txt", targets)
        self.assertIn("/..%2fnetlab-check-secret-0123abcd.txt", targets)
        self.assertIn("//tmp/x/netlab-check-secret-0123abcd.txt", targets)
        clean = [stream(NOT_FOUND, label=t) for t in targets]
        self.assertEqual(judge("path.traversal", *clean).verdict, Verdict.PASS)
        leaked = list(clean)
        leaked[2] = stream(ok(context().extra["marker_bytes"]), label=targets[2])
        outcome = judge("path.traversal", *leaked)
        self.assertEqual(outcome.verdict, Verdict.FAIL)
        self.assertIn(targets[2], outcome.detail)
        leaked[2] = stream(ok(b"root:x:0:0:root:/root:/bin/bash\n"), label=targets[2])
        self.assertIn("/etc/passwd", judge("path.traversal", *leaked).detail)

    def test_date_and_status_line(self):
        """
        A missing Date, a non-IMF Date, a bare-LF head and a bad status line
        fail.
        """
        self.assertEqual(judge("date.format", stream(NOT_FOUND)).verdict, Verdict.PASS)
        undated = NOT_FOUND.replace(b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n", b"")
        self.assertIn("no Date", judge("date.format", stream(undated)).detail)
        iso = NOT_FOUND.replace(b"Sun, 06 Nov 1994 08:49:37 GMT", b"2026-11-30 05:00:00")
        self.assertEqual(judge("date.format", stream(iso)).verdict, Verdict.FAIL)
        self.assertEqual(judge("status-line.form", stream(NOT_FOUND), stream(NOT_FOUND)).verdict, Verdict.PASS)
        bare = NOT_FOUND.replace(b"\r\n", b"\n")
        self.assertEqual(judge("status-line.form", stream(bare), stream(NOT_FOUND)).verdict, Verdict.FAIL)
        two = NOT_FOUND.replace(b"HTTP/1.1", b"HTTP/2")
        self.assertEqual(judge("status-line.form", stream(NOT_FOUND), stream(two)).verdict, Verdict.FAIL)


class RfcJudgeTests(SynchronousTestCase):
    BAD = ok(b"bad", b"400 Bad Request", b"Connection: close\r\n")

    def test_rejects(self):
        """
        A MUST-400 case: 400 passes, 200 fails, another 4xx warns, a close
        without a response fails, an HTTP/0.9 reply fails.
        """
        table = [
            (stream(self.BAD, closed=True), Verdict.PASS),
            (stream(ok(SMALL)), Verdict.FAIL),
            (stream(NOT_FOUND), Verdict.WARN),
            (stream(closed=True), Verdict.FAIL),
            (stream(b"<html>hi</html>", closed=True), Verdict.FAIL),
        ]
        for record, verdict in table:
            self.assertEqual(judge("host.missing", record).verdict, verdict)

    def test_rejects_should(self):
        """
        A SHOULD case: accepting it is a warn, not a fail.
        """
        self.assertEqual(judge("field.control-char", stream(ok(SMALL))).verdict, Verdict.WARN)

    def test_http09_reply_to_a_versionless_line_is_a_warn(self):
        """
        'GET /' answered HTTP/0.9-style (no status line) is legal but worse.
        """
        self.assertEqual(judge("request-line.no-version", stream(b"<html>", closed=True)).verdict, Verdict.WARN)

    def test_close_required_after_invalid_content_length(self):
        """
        RFC 9112 6.3: a 400 for a bad Content-Length that keeps the
        connection open is a warn.
        """
        open_400 = ok(b"bad", b"400 Bad Request")
        self.assertEqual(judge("content-length.negative", stream(open_400, expired=True)).verdict, Verdict.WARN)
        self.assertEqual(judge("content-length.negative", stream(self.BAD, closed=True)).verdict, Verdict.PASS)

    def test_accepts(self):
        """
        A valid request answered 400 fails; a normal answer passes.
        """
        self.assertEqual(judge("field.empty-value", stream(ok(SMALL))).verdict, Verdict.PASS)
        self.assertEqual(judge("field.empty-value", stream(self.BAD)).verdict, Verdict.FAIL)

    def test_smuggling_shape(self):
        """
        TE and CL together: 400 passes, an answer then close passes, two
        answers on one connection fail.
        """
        self.assertEqual(judge("te-cl.both", stream(self.BAD, closed=True)).verdict, Verdict.PASS)
        closing = ok(b"x", b"405 Method Not Allowed", b"Allow: GET\r\nConnection: close\r\n")
        self.assertEqual(judge("te-cl.both", stream(closing, closed=True)).verdict, Verdict.PASS)
        both = ok(b"x", b"405 Method Not Allowed", b"Allow: GET\r\n") + ok(SMALL)
        self.assertEqual(judge("te-cl.both", stream(both)).verdict, Verdict.FAIL)

    def test_body_not_next_request(self):
        """
        A 400 for the GET that follows a body shows the body was read as a
        request: fail; a normal second answer passes.
        """
        first = ok(b"x", b"405 Method Not Allowed", b"Allow: GET\r\n")
        self.assertEqual(judge("chunked.valid", stream(first + self.BAD)).verdict, Verdict.FAIL)
        self.assertEqual(judge("chunked.valid", stream(first + ok(SMALL))).verdict, Verdict.PASS)

    def test_incomplete_head(self):
        """
        Any byte (or a close) on an incomplete head fails; silence passes.
        """
        quiet = [stream(sent=b"G") for _ in range(15)]
        self.assertEqual(judge("request.incomplete", *quiet).verdict, Verdict.PASS)
        quiet[3] = stream(self.BAD, sent=b"GET / ", label="'GET / '")
        self.assertEqual(judge("request.incomplete", *quiet).verdict, Verdict.FAIL)

    def test_ranges(self):
        """
        The right 206 passes, 200 with the file warns (Range ignored), a
        wrong 206 fails, 416 needs 'bytes */N'.
        """
        size = len(SMALL)
        right = ok(SMALL[:5], b"206 Partial Content", b"Content-Range: bytes 0-4/%d\r\n" % size)
        self.assertEqual(judge("range.single", stream(right)).verdict, Verdict.PASS)
        self.assertEqual(judge("range.single", stream(ok(SMALL))).verdict, Verdict.WARN)
        wrong = ok(SMALL[:4], b"206 Partial Content", b"Content-Range: bytes 0-3/%d\r\n" % size)
        self.assertEqual(judge("range.single", stream(wrong)).verdict, Verdict.FAIL)
        full = ok(b"", b"416 Range Not Satisfiable", b"Content-Range: bytes */%d\r\n" % size)
        self.assertEqual(judge("range.unsatisfiable", stream(full)).verdict, Verdict.PASS)
        bare = ok(b"", b"416 Range Not Satisfiable")
        self.assertEqual(judge("range.unsatisfiable", stream(bare)).verdict, Verdict.WARN)

    def test_if_range_stale_must_not_get_206(self):
        """
        RFC 9110 13.1.5: a stale If-Range with a 206 fails.
        """
        partial = ok(SMALL[:5], b"206 Partial Content", b"Content-Range: bytes 0-4/%d\r\n" % len(SMALL))
        self.assertEqual(judge("conditional.if-range", stream(partial)).verdict, Verdict.FAIL)
        self.assertEqual(judge("conditional.if-range", stream(ok(SMALL))).verdict, Verdict.PASS)

    def test_not_modified(self):
        """
        304 for the ETag just given passes; 200 again warns; no ETag warns.
        """
        tagged = ok(SMALL, extra=b'ETag: "abc"\r\n')
        not_modified = b'HTTP/1.1 304 Not Modified\r\nETag: "abc"\r\n\r\n'
        self.assertEqual(judge("conditional.if-none-match", stream(tagged), stream(not_modified)).verdict, Verdict.PASS)
        self.assertEqual(judge("conditional.if-none-match", stream(tagged), stream(tagged)).verdict, Verdict.WARN)
        self.assertEqual(judge("conditional.if-none-match", stream(ok(SMALL)), stream(ok(SMALL))).verdict, Verdict.WARN)

    def test_conditional_request_quotes_the_etag(self):
        """
        The second request of conditional.if-none-match is made from the
        first response's ETag.
        """
        first, second = case("conditional.if-none-match").plan(context())
        self.assertEqual(second.after, 0)
        make = second.steps[0].data
        data = make((ok(SMALL, extra=b'ETag: "v1"\r\n'), b""))
        self.assertIn(b'If-None-Match: "v1"\r\n', data)

    def test_slowloris(self):
        """
        Others served and the slow head cut off passes; still open warns;
        others starved fails.
        """
        served = stream(ok(SMALL))
        self.assertEqual(judge("hardening.slowloris", stream(closed=True, closed_at=2.0), served).verdict, Verdict.PASS)
        self.assertEqual(judge("hardening.slowloris", stream(), served).verdict, Verdict.WARN)
        self.assertEqual(judge("hardening.slowloris", stream(), stream(expired=True)).verdict, Verdict.FAIL)

    def test_rfc_plans_request_the_fixture_when_there_is_one(self):
        """
        With fixtures, RFC cases ask for the small file (so taking a bad
        request as valid shows as 200); without, for the target's path.
        """
        [plan] = case("host.duplicate").plan(context())
        self.assertTrue(plan.steps[0].data.startswith(b"GET /netlab-check-0123abcd/small.txt HTTP/1.1\r\n"))
        [plan] = case("host.duplicate").plan(context(fixtures=False))
        self.assertTrue(plan.steps[0].data.startswith(b"GET / HTTP/1.1\r\n"))
        self.assertIs(rfc.target(context(fixtures=False)), "/")
