"""
Tests for ``netlab check smtp-client``: reading a recorded sink session
back into units and replies, every judge on recorded sessions (pure), and
whole runs of the student mail clients and ``netlab mail`` against the
sink instrument, each verdict asserted.
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

from twisted.internet import defer, reactor
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_netlab.check import smtp_client
from twisted_netlab.check._case import Verdict
from twisted_netlab.check._cases_smtp_client import ClientRun, SmtpClientSession, WireEvent, all_cases, dialogue, read_session
from twisted_netlab.check._session import judge_session
from twisted_netlab.check._student_output import OutputLine

STUDENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "students")
EHLO = ["250-localhost", "250-PIPELINING", "250 STARTTLS"]
EHLO_TLS = ["250-localhost", "250-PIPELINING", "250 AUTH PLAIN LOGIN"]


def events(*pieces) -> Tuple[WireEvent, ...]:
    """
    ("S", lines) server lines; ("C", bytes) client bytes in clear; ("T",
    bytes) client bytes over TLS; each piece one event.
    """
    out: List[WireEvent] = []
    for index, (kind, value) in enumerate(pieces):
        if kind == "S":
            out.extend(WireEvent(index * 0.01, "server", line.encode()) for line in value)
        else:
            out.append(WireEvent(index * 0.01, "client", value, tls=kind == "T"))
    return tuple(out)


GOOD = (
    ("S", ["220 localhost ESMTP"]),
    ("C", b"EHLO me\r\n"),
    ("S", EHLO),
    ("C", b"STARTTLS\r\n"),
    ("S", ["220 go ahead"]),
    ("T", b"EHLO me\r\n"),
    ("S", EHLO_TLS),
    ("T", b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"),
    ("S", ["235 ok"]),
    ("T", b"MAIL FROM:<a@example.com>\r\n"),
    ("S", ["250 ok"]),
    ("T", b"RCPT TO:<b@example.com>\r\n"),
    ("S", ["250 ok"]),
    ("T", b"DATA\r\n"),
    ("S", ["354 go"]),
    ("T", b"From: a@example.com\r\nDate: Mon, 30 Nov 2026 05:00:00 +0000\r\n\r\nhi\r\n..dots\r\n.\r\n"),
    ("S", ["250 queued"]),
    ("T", b"QUIT\r\n"),
    ("S", ["221 bye"]),
)


def judged(pieces, faulted: Optional[ClientRun] = None, user: Optional[str] = "alice") -> Dict[str, Verdict]:
    session = read_session(SmtpClientSession(ClientRun(events(*pieces)), faulted, user))
    return {result.case.id: result.verdict for result in judge_session(all_cases(), session)}


def replaced(pieces, index: int, piece) -> tuple:
    out = list(pieces)
    out[index] = piece
    return tuple(out)


class ReadingTests(SynchronousTestCase):
    def test_units_pair_with_replies(self):
        """
        Commands, the AUTH line and the DATA body become units; unit k is
        answered by reply k+1 and the body ends at CRLF.CRLF.
        """
        session = read_session(SmtpClientSession(ClientRun(events(*GOOD))))
        self.assertEqual([u.verb for u in session.units], ["EHLO", "STARTTLS", "EHLO", "AUTH", "MAIL", "RCPT", "DATA", "BODY", "QUIT"])
        self.assertEqual([u.tls for u in session.units], [False, False] + [True] * 7)
        self.assertEqual(session.replies[8].code, 250)

    def test_auth_is_masked(self):
        """
        The dialogue never shows the credentials unless asked.
        """
        shown = "\n".join(dialogue(read_session(SmtpClientSession(ClientRun(events(*GOOD))))))
        self.assertNotIn("AGFsaWNl", shown)
        self.assertIn("AUTH PLAIN <credentials masked>", shown)


class JudgeTests(SynchronousTestCase):
    def test_good_client(self):
        """
        A correct session passes every case but reports-4xx, which needs
        the second run.
        """
        found = judged(GOOD)
        self.assertEqual(found.pop("smtp.reports-4xx"), Verdict.SKIP)
        self.assertEqual(set(found.values()), {Verdict.PASS}, found)

    def test_auth_in_clear(self):
        """
        AUTH sent before STARTTLS fails starttls-before-auth.
        """
        pieces = (("S", ["220 hi"]), ("C", b"EHLO me\r\n"), ("S", EHLO), ("C", b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"), ("S", ["538 TLS first"]))
        found = judged(pieces)
        self.assertEqual((found["smtp.starttls-before-auth"], found["smtp.auth"]), (Verdict.FAIL, Verdict.FAIL))

    def test_speaks_before_greeting_and_does_not_wait(self):
        """
        EHLO before the greeting fails waits-greeting; STARTTLS sent in the
        same packet as EHLO (before its reply) fails waits-replies.
        """
        pieces = (("C", b"EHLO me\r\nSTARTTLS\r\n"), ("S", ["220 hi"]), ("S", EHLO), ("S", ["220 go"]))
        found = judged(pieces)
        self.assertEqual((found["smtp.waits-greeting"], found["smtp.waits-replies"]), (Verdict.FAIL, Verdict.FAIL))

    def test_pipelining_mail_rcpt_is_allowed(self):
        """
        With PIPELINING offered, MAIL, RCPT and DATA may go in one packet.
        """
        pieces = GOOD[:9] + (("T", b"MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"), ("S", ["250 ok", "250 ok", "354 go"])) + GOOD[15:]
        self.assertEqual(judged(pieces)["smtp.waits-replies"], Verdict.PASS)

    def test_bare_lf_and_no_stuffing(self):
        """
        A body with bare LF fails line-endings; a line after a bare LF that
        begins with a dot, and a CRLF line with a single dot, fail dot-stuffing.
        """
        for body in (b"From: a@example.com\nDate: x\n\nhi\n...dots\r\n.\r\n", b"From: a@example.com\r\n\r\n.dot\r\n.\r\n"):
            found = judged(replaced(GOOD, 15, ("T", body)))
            self.assertEqual(found["smtp.dot-stuffing"], Verdict.FAIL, body)
        self.assertEqual(judged(replaced(GOOD, 15, ("T", b"From: a@example.com\nDate: x\n\nhi\n.\r\n")))["smtp.line-endings"], Verdict.FAIL)

    def test_message_without_from(self):
        """
        A message without From fails message-parses.
        """
        found = judged(replaced(GOOD, 15, ("T", b"Subject: x\r\n\r\nhi\r\n.\r\n")))
        self.assertEqual(found["smtp.message-parses"], Verdict.FAIL)

    def test_no_quit(self):
        """
        Closing without QUIT fails smtp.quit.
        """
        self.assertEqual(judged(GOOD[:17])["smtp.quit"], Verdict.FAIL)

    def test_reports_4xx(self):
        """
        After 450 on RCPT: claiming success fails, exiting 0 silently warns,
        saying nothing and exiting non-zero passes; an echoed server reply
        ("S: 235 ... successful") is not a claim.
        """
        faulted_events = events(("S", ["220 hi"]), ("C", b"RCPT TO:<b@example.com>\r\n"), ("S", ["450 try later"]))

        def run(text: str, code: int) -> ClientRun:
            lines = tuple(OutputLine(0.0, "out", line) for line in text.splitlines())
            return ClientRun(faulted_events, lines, code, f"exited with status {code}")

        self.assertEqual(judged(GOOD, run("Mail sent!", 0))["smtp.reports-4xx"], Verdict.FAIL)
        self.assertEqual(judged(GOOD, run("bye", 0))["smtp.reports-4xx"], Verdict.WARN)
        self.assertEqual(judged(GOOD, run("S: 235 Authentication successful\nerror: 450", 1))["smtp.reports-4xx"], Verdict.PASS)


class OptionsTests(SynchronousTestCase):
    def test_user_needs_password_file(self):
        """
        --user without --password-file (and the reverse) is a usage error.
        """
        self.assertRaises(usage.UsageError, smtp_client.Options().parseOptions, ["--run", "x", "--user", "alice"])
        self.assertRaises(usage.UsageError, smtp_client.Options().parseOptions, [])


def run_check(command: str, *argv: str) -> defer.Deferred:
    options = smtp_client.Options()
    options.parseOptions(["--json", "--limit", "20s", "--run", command, *argv])
    out, err = io.StringIO(), io.StringIO()

    def done(code: int):
        document = json.loads(out.getvalue())
        return code, {case["id"]: case["verdict"] for case in document["cases"]}, document

    return smtp_client.main(reactor, options, out, err).addCallback(done)


ALL_PASS = {case.id: "pass" for case in all_cases()}


class StudentRunTests(TestCase):
    """
    The student mail clients and ``netlab mail`` against the sink
    instrument, at once, every verdict asserted.
    """

    timeout = 90

    @defer.inlineCallbacks
    def test_verdicts(self):
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        password = os.path.join(folder, "password")
        with open(password, "w") as handle:
            handle.write("correct horse\n")
        image = os.path.join(folder, "cat.png")
        with open(image, "wb") as handle:
            handle.write(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20)
        body = os.path.join(folder, "body.txt")
        with open(body, "w") as handle:
            handle.write("Hello,\n.a line with a leading dot\nbye\n")

        def student(name: str) -> str:
            return f"{sys.executable} {os.path.join(STUDENTS, name)} {{host}} {{port}} alice {password} {image}"

        netlab = os.path.join(os.path.dirname(sys.executable), "netlab")
        expected = {
            student("mail_good.py"): ALL_PASS,
            student("mail_auth_in_clear.py"): dict(
                ALL_PASS, **{"smtp.starttls-before-auth": "fail", "smtp.auth": "fail", "smtp.message-parses": "skip",
                             "smtp.dot-stuffing": "skip", "smtp.reports-4xx": "skip"}
            ),
            student("mail_ignores_450.py"): dict(
                ALL_PASS, **{"smtp.reports-4xx": "fail", "smtp.message-parses": "warn", "smtp.dot-stuffing": "skip"}
            ),
            student("mail_no_dot_stuffing.py"): dict(ALL_PASS, **{"smtp.line-endings": "fail", "smtp.dot-stuffing": "fail"}),
            f"{netlab} mail --server {{host}}:{{port}} --insecure -u alice --password-file {password} "
            f"-f alice@example.com -t bob@example.com --body-file {body} --attach {image}": ALL_PASS,
        }
        commands = list(expected)
        outcomes = yield defer.gatherResults(
            [run_check(command, "--user", "alice", "--password-file", password, "--expect-attachment", image) for command in commands]
        )
        for command, (code, found, document) in zip(commands, outcomes):
            self.assertEqual(found, expected[command], f"{command}:\n" + "\n".join(document["notes"]))
            self.assertEqual(code, 1 if "fail" in expected[command].values() else 0, command)
