"""
Tests for ``netlab check smtp``: the reply reader and every kind of judge
on recorded dialogues (pure), then the whole check against netlab-mailsink
and aiosmtpd over loopback, with each verdict asserted.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from typing import Dict, List, Sequence, Tuple

from twisted.internet import defer, reactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests.helpers import start_server
from twisted_netlab.check import smtp as check_smtp
from twisted_netlab.check._case import Context, Entry, EntryKind, Recording, StreamRecord, Verdict
from twisted_netlab.check._cases_smtp import all_cases, available_from, parse_replies

GREETING = b"220 mx.example.com ESMTP\r\n"
EHLO = b"250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 STARTTLS\r\n"


def recorded(*pieces: Tuple[str, bytes]) -> Recording:
    """
    A one-stream recording: ">" sent, "<" received, "tls" TLS started,
    "closed" the peer closed; each 0.01 s after the one before.
    """
    kinds = {">": EntryKind.SENT, "<": EntryKind.RECEIVED, "tls": EntryKind.TLS_STARTED, "closed": EntryKind.PEER_CLOSED, "wait": EntryKind.WAIT_EXPIRED}
    entries = tuple(Entry(index * 0.01, kinds[kind], data) for index, (kind, data) in enumerate(pieces))
    return Recording((StreamRecord(entries),))


def judge(case_id: str, recording: Recording, **extra) -> Tuple[Verdict, str]:
    case = {case.id: case for case in all_cases()}[case_id]
    context = Context("127.0.0.1", 25, extra=dict({"domain": "example.com"}, **extra))
    outcome = case.judge(recording, context)
    return outcome.verdict, outcome.detail


class ReplyReaderTests(SynchronousTestCase):
    def test_multiline_reply_is_one(self):
        """
        ``250-`` lines continue a reply and the ``250 `` line ends it; an
        unfinished last line is not a reply yet.
        """
        replies = parse_replies(GREETING + EHLO + b"250 O")
        self.assertEqual([r.code for r in replies], [220, 250])
        self.assertEqual(len(replies[1].lines), 4)

    def test_garbage_line_is_a_reply_without_code(self):
        """
        A line that is not an SMTP reply line ends a reply whose code is None.
        """
        self.assertEqual(parse_replies(b"hello\r\n")[0].code, None)

    def test_available_from_ehlo(self):
        """
        STARTTLS, SIZE with its limit and --send become the needs met.
        """
        ehlo = parse_replies(EHLO)[0]
        have, limit = available_from(ehlo, send=True)
        self.assertEqual(have, frozenset({"send", "starttls", "size"}))
        self.assertEqual(limit, 1000)


class JudgeTests(SynchronousTestCase):
    """
    Each judge on a recorded dialogue: the claim is in the case table.
    """

    CASES: List[Tuple[str, Sequence[Tuple[str, bytes]], Dict, Verdict]] = [
        ("smtp.greeting", [("<", GREETING), (">", b"QUIT\r\n"), ("<", b"221 bye\r\n")], {}, Verdict.PASS),
        ("smtp.greeting", [("<", b"HTTP/1.1 400 Bad\r\n")], {}, Verdict.FAIL),
        ("smtp.ehlo", [("<", GREETING), ("<", b"502 no ESMTP here\r\n")], {}, Verdict.FAIL),
        ("smtp.helo", [("<", GREETING), ("<", EHLO)], {}, Verdict.WARN),
        ("smtp.order.mail-before-ehlo", [("<", GREETING), ("<", b"503 hello first\r\n")], {}, Verdict.PASS),
        ("smtp.order.mail-before-ehlo", [("<", GREETING), ("<", b"250 ok\r\n")], {}, Verdict.WARN),
        ("smtp.noop", [("<", GREETING), ("<", EHLO), ("<", b"500 what\r\n")], {}, Verdict.FAIL),
        ("smtp.line-length", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n")], {}, Verdict.WARN),
        ("smtp.line-length", [("<", GREETING), ("<", EHLO), ("<", b"500 line too long\r\n")], {}, Verdict.PASS),
        ("smtp.line-length", [("<", GREETING), ("<", EHLO), ("wait", b"")], {}, Verdict.FAIL),
        ("smtp.starttls.offered", [("<", GREETING), ("<", b"250-mx\r\n250 PIPELINING\r\n")], {}, Verdict.WARN),
        ("smtp.8bitmime", [("<", GREETING), ("<", EHLO), ("<", b"555 unknown parameter\r\n")], {}, Verdict.FAIL),
        ("smtp.smtputf8", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n")], {}, Verdict.PASS),
        (
            "smtp.smuggling.cr",
            [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n"), ("<", b"354 go\r\n"),
             (">", b"Subject: x\r\n\r\nbefore\r.\rNOOP\r\nafter\r\n"), ("wait", b""), (">", b".\r\n"), ("<", b"250 queued\r\n")],
            {},
            Verdict.PASS,
        ),
        (
            "smtp.data.transparency",
            [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n"), ("<", b"354 go\r\n"),
             (">", b"Subject: x\r\n\r\n..\r\nlast\r\n"), ("<", b"250 queued\r\n"), (">", b".\r\n"), ("<", b"500 ?\r\n")],
            {},
            Verdict.FAIL,
        ),
        ("smtp.unknown-command", [("<", GREETING), (">", b"EHLO x\r\n"), ("<", EHLO), (">", b"XYZZY\r\n"), ("<", b"250 ok\r\n")], {}, Verdict.FAIL),
        ("smtp.order.data-before-rcpt", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"354 go\r\n")], {}, Verdict.FAIL),
        ("smtp.order.data-before-rcpt", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"554 no valid recipients\r\n")], {}, Verdict.PASS),
        ("smtp.rset", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n")], {}, Verdict.FAIL),
        ("smtp.vrfy", [("<", GREETING), ("<", EHLO), ("<", b"250 <root@mx.example.com>\r\n")], {}, Verdict.WARN),
        ("smtp.quit", [("<", GREETING), ("<", EHLO), ("<", b"221 bye\r\n")], {}, Verdict.WARN),
        ("smtp.quit", [("<", GREETING), ("<", EHLO), ("<", b"221 bye\r\n"), ("closed", b"")], {}, Verdict.PASS),
        # SMTP smuggling: a reply before the checker's real end of data.
        (
            "smtp.smuggling.lf",
            [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n"), ("<", b"354 go\r\n"),
             (">", b"Subject: x\r\n\r\nbefore\n.\nNOOP\r\nafter\r\n"), ("<", b"250 queued\r\n250 ok\r\n"), (">", b".\r\n"), ("<", b"500 ?\r\n")],
            {},
            Verdict.FAIL,
        ),
        (
            "smtp.smuggling.lf",
            [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n"), ("<", b"250 ok\r\n"), ("<", b"354 go\r\n"),
             (">", b"Subject: x\r\n\r\nbefore\n.\nNOOP\r\nafter\r\n"), ("wait", b""), (">", b".\r\n"), ("<", b"554 bare LF\r\n")],
            {},
            Verdict.PASS,
        ),
        (
            "smtp.data.transparency",
            [("<", GREETING), ("<", EHLO), ("<", b"550 relaying denied\r\n")],
            {},
            Verdict.SKIP,
        ),
        # CVE-2011-0411: the NOOP pipelined in clear answered over TLS.
        (
            "smtp.starttls.injection",
            [("<", GREETING), ("<", EHLO), (">", b"STARTTLS\r\nNOOP\r\n"), ("<", b"220 go\r\n"), ("tls", b""), ("<", b"250 ok\r\n"), (">", b"EHLO x\r\n"), ("<", EHLO)],
            {},
            Verdict.FAIL,
        ),
        (
            "smtp.starttls.injection",
            [("<", GREETING), ("<", EHLO), (">", b"STARTTLS\r\nNOOP\r\n"), ("<", b"220 go\r\n"), ("tls", b""), (">", b"EHLO x\r\n"), ("<", EHLO)],
            {},
            Verdict.PASS,
        ),
        ("smtp.starttls.resets-state", [("<", GREETING), ("<", EHLO), ("<", b"220 go\r\n"), ("tls", b""), ("<", b"250 ok\r\n")], {}, Verdict.FAIL),
        ("smtp.auth.not-in-clear", [("<", GREETING), ("<", EHLO), ("<", b"235 welcome\r\n")], {}, Verdict.FAIL),
        ("smtp.auth.not-in-clear", [("<", GREETING), ("<", EHLO), ("<", b"538 encryption required\r\n")], {}, Verdict.PASS),
        ("smtp.size.enforced", [("<", GREETING), ("<", EHLO), ("<", b"250 ok\r\n")], {"size_limit": 1000}, Verdict.FAIL),
        # Over TLS first (the server said 530 in clear): replies shift by two.
        ("smtp.noop", [("<", GREETING), ("<", EHLO), ("<", b"220 go\r\n"), ("tls", b""), ("<", EHLO), ("<", b"250 ok\r\n")], {"tls_first": True}, Verdict.PASS),
    ]

    def test_table(self):
        """
        Every recorded dialogue of the table gets its verdict.
        """
        for case_id, pieces, extra, expected in self.CASES:
            verdict, detail = judge(case_id, recorded(*pieces), **extra)
            self.assertEqual(verdict, expected, f"{case_id}: {detail}")

    def test_every_case_has_a_section(self):
        """
        Case ids are unique and each cites its RFC section.
        """
        cases = all_cases()
        self.assertEqual(len({case.id for case in cases}), len(cases))
        for case in cases:
            self.assertTrue(case.ref.startswith("RFC "), case.id)


class OptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> check_smtp.Options:
        options = check_smtp.Options()
        options.parseOptions(list(argv))
        return options

    def test_address_forms(self):
        """
        HOST, HOST:PORT, [V6]:PORT and smtp://HOST:PORT are accepted; the port defaults to 25.
        """
        self.assertEqual(check_smtp.parse_address("127.0.0.1"), ("127.0.0.1", 25))
        self.assertEqual(check_smtp.parse_address("127.0.0.1:2525"), ("127.0.0.1", 2525))
        self.assertEqual(check_smtp.parse_address("[::1]:2525"), ("::1", 2525))
        self.assertEqual(check_smtp.parse_address("smtp://localhost:587/"), ("localhost", 587))

    def test_usage_errors(self):
        """
        No target, a remote target without --allow-remote, a bad port and a
        bad --domain are usage errors.
        """
        for argv in ([], ["192.0.2.1:25"], ["127.0.0.1:0"], ["--domain", "not a domain", "127.0.0.1"]):
            self.assertRaises(usage.UsageError, self.parse, *argv)


def run_check(*argv: str) -> defer.Deferred:
    """
    Run ``netlab check smtp ARGV --json`` in this reactor; fires with
    (exit code, {case id: verdict}, the JSON document).
    """
    options = check_smtp.Options()
    options.parseOptions(["--json", "--timeout", "3s", *argv])
    out, err = io.StringIO(), io.StringIO()

    def done(code: int):
        document = json.loads(out.getvalue()) if out.getvalue().strip() else {"cases": [], "stderr": err.getvalue()}
        return code, {case["id"]: case["verdict"] for case in document["cases"]}, document

    return check_smtp.main(reactor, options, out, err).addCallback(done)


#: What both reference servers get (mailsink as ``--storage discard``,
#: aiosmtpd with STARTTLS and nothing required).
EVERYTHING_PASSES = {case.id: "pass" for case in all_cases()}


class LoopbackTests(TestCase):
    """
    The whole check against real servers; every verdict is asserted, so the
    table in docs/check-labs.rst is this test's result.
    """

    timeout = 120

    def start_sink(self) -> int:
        folder = self.mktemp()
        os.makedirs(folder)
        sink = start_server(
            self,
            ["netlab-mailsink", "--listen", "tcp:0:interface=127.0.0.1", "--data-dir", os.path.abspath(folder), "--storage", "discard"],
        )
        return sink.ports[0][2]

    @defer.inlineCallbacks
    def test_mailsink(self):
        """
        netlab-mailsink passes every case.
        """
        port = self.start_sink()
        code, verdicts, _ = yield run_check("--send", f"127.0.0.1:{port}")
        self.assertEqual(verdicts, EVERYTHING_PASSES)
        self.assertEqual(code, 0)

    @defer.inlineCallbacks
    def test_mailsink_without_send_submits_nothing(self):
        """
        Without --send the cases that submit a message are skipped, saying why.
        """
        port = self.start_sink()
        code, verdicts, document = yield run_check("--only", "smtp.data.,smtp.smuggling.", f"127.0.0.1:{port}")
        self.assertEqual(set(verdicts.values()), {"skip"})
        self.assertIn("--send", document["cases"][0]["detail"])
        self.assertEqual(code, 0)

    def start_aiosmtpd(self, strict: bool):
        from tests.mail.aiosmtpd_peer import AiosmtpdPeer
        from tests.mail.certs import make_ca_and_server_certificate

        folder = tempfile.mkdtemp()
        self.addCleanup(__import__("shutil").rmtree, folder, True)
        _, certificate, key = make_ca_and_server_certificate(folder)
        peer = AiosmtpdPeer(certificate, key, users={"alice": "secret"}, strict=strict, enable_SMTPUTF8=True).start()
        self.addCleanup(peer.stop)
        return peer

    @defer.inlineCallbacks
    def test_aiosmtpd(self):
        """
        aiosmtpd (STARTTLS offered, nothing required) passes every case.
        """
        peer = self.start_aiosmtpd(strict=False)
        code, verdicts, _ = yield run_check("--send", f"127.0.0.1:{peer.port}")
        self.assertEqual(verdicts, EVERYTHING_PASSES)
        self.assertEqual(code, 0)
        self.assertEqual(len(peer.handler.envelopes), 4)
        for envelope in peer.handler.envelopes:
            self.assertTrue(envelope["mail_from"].endswith("@example.com"))
            self.assertEqual([r.split("@")[1] for r in envelope["rcpt_tos"]], ["example.com"])

    @defer.inlineCallbacks
    def test_aiosmtpd_strict(self):
        """
        aiosmtpd requiring STARTTLS and AUTH: the dialogue runs over TLS
        (530 in clear), and what needs a login is skipped, not failed.
        """
        peer = self.start_aiosmtpd(strict=True)
        code, verdicts, document = yield run_check("--send", f"127.0.0.1:{peer.port}")
        skipped = {"smtp.order.data-before-rcpt", "smtp.vrfy", "smtp.data.transparency", "smtp.smuggling.lf",
                   "smtp.smuggling.cr", "smtp.smuggling.lf-crlf", "smtp.size.enforced", "smtp.8bitmime", "smtp.smtputf8"}
        expected = {case_id: ("skip" if case_id in skipped else "pass") for case_id in EVERYTHING_PASSES}
        self.assertEqual(verdicts, expected)
        self.assertEqual(code, 0)
        self.assertTrue(any("run after STARTTLS" in note for note in document["notes"]))

    @defer.inlineCallbacks
    def test_aiosmtpd_strict_with_login(self):
        """
        The same strict aiosmtpd with --user: the checker logs in over TLS
        before the transaction cases, every case passes, the messages it
        submitted carry the login, and the transcripts never show the
        credentials.
        """
        peer = self.start_aiosmtpd(strict=True)
        password = os.path.join(os.path.abspath(self.mktemp()))
        with open(password, "w") as handle:
            handle.write("secret\n")
        code, verdicts, document = yield run_check("--send", "--user", "alice", "--password-file", password, f"127.0.0.1:{peer.port}")
        self.assertEqual(verdicts, EVERYTHING_PASSES)
        self.assertEqual(code, 0)
        self.assertEqual([e["login"] for e in peer.handler.envelopes], ["alice"] * 4)
        token = __import__("base64").b64encode(b"\0alice\0secret").decode()
        self.assertNotIn(token, json.dumps(document))

    @defer.inlineCallbacks
    def test_naive_student_server(self):
        """
        A lab server as students write it (tests/check/smtp_naive_server.py,
        started with --run): smuggling through <LF>.<LF> and <LF>.<CR><LF>,
        DATA without a recipient and RCPT after RSET fail; MAIL before
        EHLO, VRFY 250, a 5007-octet line and no STARTTLS warn.
        """
        import sys

        server = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smtp_naive_server.py")
        code, verdicts, document = yield run_check("--send", "--run", f"{sys.executable} {server} {{port}}")
        expected = dict(
            EVERYTHING_PASSES,
            **{
                "smtp.order.mail-before-ehlo": "warn",
                "smtp.order.data-before-rcpt": "fail",
                "smtp.rset": "fail",
                "smtp.vrfy": "warn",
                "smtp.line-length": "warn",
                "smtp.smuggling.lf": "fail",
                "smtp.smuggling.lf-crlf": "fail",
                "smtp.starttls.offered": "warn",
                "smtp.starttls.injection": "skip",
                "smtp.starttls.resets-state": "skip",
                "smtp.size.enforced": "skip",
                "smtp.8bitmime": "skip",
                "smtp.smtputf8": "skip",
            },
        )
        self.assertEqual(verdicts, expected)
        self.assertEqual(code, 1)

    @defer.inlineCallbacks
    def test_unreachable_exits_7(self):
        """
        Nothing listening: exit 7 and no report.
        """
        from twisted_netlab.check.runner import free_port

        code, verdicts, _ = yield run_check(f"127.0.0.1:{free_port()}")
        self.assertEqual((code, verdicts), (7, {}))
