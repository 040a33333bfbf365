"""
Tests for L{twisted_netlab.mail._client_core}: AUTH encodings and the
client dialogue's decisions, without any I/O.
"""

from __future__ import annotations

import base64
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._client_core import (
    ClientConfig,
    ClientDialogue,
    CloseConnection,
    Credentials,
    DialogueFailed,
    Envelope,
    SendData,
    SendLine,
    StartTLS,
    State,
    TLSMode,
    auth_plain_response,
    choose_auth_mechanism,
    cram_md5_response,
)
from twisted_netlab.mail._replies import LocalProtocolError, PeerProtocolError, Step


class AuthEncodingTests(SynchronousTestCase):
    def test_plain(self):
        """
        RFC 4616: empty authzid, NUL, user, NUL, password.
        """
        self.assertEqual(base64.b64decode(auth_plain_response("tim", "tanstaaf")), b"\0tim\0tanstaaf")

    def test_cram_md5_rfc2195_example(self):
        """
        The worked example of RFC 2195 section 2.
        """
        response = cram_md5_response("tim", "tanstaaftanstaaf", b"<1896.697170952@postoffice.reston.mci.net>")
        self.assertEqual(response, b"dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw")

    def test_choice(self):
        """
        The best mechanism offered wins unless one is asked for.
        """
        self.assertEqual(choose_auth_mechanism(["LOGIN", "PLAIN"]), "PLAIN")
        self.assertEqual(choose_auth_mechanism(["LOGIN", "PLAIN", "CRAM-MD5"]), "CRAM-MD5")
        self.assertEqual(choose_auth_mechanism(["LOGIN", "PLAIN"], "login"), "LOGIN")
        self.assertIsNone(choose_auth_mechanism(["PLAIN"], "LOGIN"))
        self.assertIsNone(choose_auth_mechanism(["XOAUTH2"]))

    def test_credentials_hide_password(self):
        """
        The password never shows in a repr (logs, tracebacks).
        """
        self.assertNotIn("hunter2", repr(Credentials("bob", "hunter2")))


def make_dialogue(tls=TLSMode.NONE, credentials=None, messages=None):
    config = ClientConfig(tls=tls, credentials=credentials, ehlo_name="c.test")
    if messages is None:
        messages = [Envelope("a@x.test", ("b@x.test",), b"hi\r\n")]
    return ClientDialogue(config, messages)


def feed(dialogue, *lines):
    events = []
    for line in lines:
        events.extend(dialogue.receive_line(line))
    return [e for e in events if isinstance(e, (SendLine, SendData, StartTLS, CloseConnection, DialogueFailed))]


class DialogueTests(SynchronousTestCase):
    def test_states_follow_the_replies(self):
        """
        The state names what the dialogue waits for.
        """
        dialogue = make_dialogue()
        self.assertEqual(dialogue.state, State.AWAITING_GREETING)
        feed(dialogue, b"220 hi")
        self.assertEqual(dialogue.state, State.AWAITING_EHLO_REPLY)
        feed(dialogue, b"250 hi")
        self.assertEqual((dialogue.state, dialogue.step), (State.AWAITING_TRANSACTION_REPLY, Step.MAIL))

    def test_starttls_event_then_ehlo(self):
        """
        220 to STARTTLS asks the adapter to start TLS; tls_started() says
        EHLO again with the capabilities forgotten.
        """
        dialogue = make_dialogue(tls=TLSMode.REQUIRED)
        feed(dialogue, b"220 hi", b"250-hi", b"250 STARTTLS")
        self.assertEqual(feed(dialogue, b"220 go"), [StartTLS()])
        self.assertEqual(dialogue.state, State.NEGOTIATING_TLS)
        self.assertEqual(dialogue.tls_started(b""), [SendLine(b"EHLO c.test", "EHLO c.test")])
        self.assertIsNone(dialogue.capabilities)
        self.assertTrue(dialogue.tls_active)

    def test_unread_plaintext_at_tls_start_is_an_attack(self):
        """
        Bytes already read when TLS starts are refused (RFC 3207 5).
        """
        dialogue = make_dialogue(tls=TLSMode.REQUIRED)
        feed(dialogue, b"220 hi", b"250-hi", b"250 STARTTLS", b"220 go")
        events = dialogue.tls_started(b"250 fake\r\n")
        self.assertEqual(events[0], CloseConnection(abort=True))
        self.assertIsInstance(events[1].error, PeerProtocolError)

    def test_line_while_negotiating_is_an_attack(self):
        """
        A line delivered between the 220 and tls_started() is an attack too.
        """
        dialogue = make_dialogue(tls=TLSMode.REQUIRED)
        feed(dialogue, b"220 hi", b"250-hi", b"250 STARTTLS", b"220 go")
        events = feed(dialogue, b"250 fake")
        self.assertEqual(events[0], CloseConnection(abort=True))

    def test_auth_never_without_tls(self):
        """
        With --tls none and credentials, AUTH is refused locally.
        """
        dialogue = make_dialogue(credentials=Credentials("u", "p"))
        events = feed(dialogue, b"220 hi", b"250-hi", b"250 AUTH PLAIN")
        self.assertEqual(events[-2:][0], CloseConnection())
        self.assertEqual(dialogue.error.step, Step.AUTH)

    def test_quit_after(self):
        """
        quit_after stops with QUIT right after the named step worked: the
        greeting, the first EHLO, TLS (or its absence, when allowed), AUTH.
        """
        script = [b"220 hi", b"250-hi", b"250-AUTH PLAIN", b"250 STARTTLS", b"220 go"]
        table = [
            (Step.GREETING, TLSMode.REQUIRED, 1),
            (Step.EHLO, TLSMode.REQUIRED, 4),
            (Step.TLS, TLSMode.NONE, 4),
            (Step.AUTH, TLSMode.NONE, 4),
        ]
        for step, tls, lines in table:
            dialogue = ClientDialogue(ClientConfig(tls=tls, ehlo_name="c.test", quit_after=step), [])
            events = feed(dialogue, *script[:lines])
            self.assertEqual(events[-1], SendLine(b"QUIT", "QUIT"), step)
            self.assertEqual(dialogue.state, State.AWAITING_QUIT_REPLY)
        dialogue = ClientDialogue(
            ClientConfig(tls=TLSMode.REQUIRED, credentials=Credentials("u", "p"), ehlo_name="c", quit_after=Step.AUTH), []
        )
        feed(dialogue, *script)
        dialogue.tls_started()
        self.assertEqual(feed(dialogue, b"250-hi", b"250 AUTH PLAIN")[-1].display, "AUTH PLAIN ********")
        self.assertEqual(feed(dialogue, b"235 ok"), [SendLine(b"QUIT", "QUIT")])
        with self.assertRaises(LocalProtocolError):
            ClientConfig(quit_after=Step.DATA)

    def test_content_opens_the_next_pipelined_group(self):
        """
        With PIPELINING, the 354 is answered with the content first and the
        next message's MAIL, RCPT and DATA after it, in one list of events
        (RFC 2920 3.1); the dialogue then waits for the reply to the dot.
        """
        messages = [Envelope("a@x.test", ("b@x.test",), b"hi\r\n"), Envelope("a@x.test", ("c@x.test",), b"ho\r\n")]
        dialogue = make_dialogue(messages=messages)
        feed(dialogue, b"220 hi", b"250-hi", b"250 PIPELINING", b"250 ok", b"250 ok")
        self.assertEqual(
            feed(dialogue, b"354 go"),
            [
                SendData(b"hi\r\n.\r\n"),
                SendLine(b"MAIL FROM:<a@x.test>", "MAIL FROM:<a@x.test>"),
                SendLine(b"RCPT TO:<c@x.test>", "RCPT TO:<c@x.test>"),
                SendLine(b"DATA", "DATA"),
            ],
        )
        self.assertEqual((dialogue.state, dialogue.step), (State.AWAITING_MESSAGE_REPLY, Step.MESSAGE))
        self.assertEqual(feed(dialogue, b"250 queued"), [])
        self.assertEqual((dialogue.step, [r.delivered for r in dialogue.results]), (Step.MAIL, [True]))

    def test_next_message_prepared_while_waiting(self):
        """
        prepare_next(), called while a reply is awaited, checks and frames
        the next messages ahead: one refused locally (over SIZE) is recorded
        only after the message in flight, and the next sendable one goes
        out unchanged when its turn comes.
        """
        big = Envelope("a@x.test", ("b@x.test",), b"x" * 500 + b"\r\n")
        messages = [Envelope("a@x.test", ("b@x.test",), b"hi\r\n"), big, Envelope("a@x.test", ("c@x.test",), b"ho\r\n")]
        dialogue = make_dialogue(messages=messages)
        dialogue.prepare_next()  # not in a transaction yet: nothing happens
        feed(dialogue, b"220 hi", b"250-hi", b"250 SIZE 100")
        dialogue.prepare_next()
        self.assertEqual(dialogue.results, [])
        feed(dialogue, b"250 ok", b"250 ok")
        self.assertEqual(feed(dialogue, b"354 go"), [SendData(b"hi\r\n.\r\n")])
        self.assertEqual(
            feed(dialogue, b"250 queued"),
            [SendLine(b"MAIL FROM:<a@x.test> SIZE=4", "MAIL FROM:<a@x.test> SIZE=4")],
        )
        self.assertEqual([r.delivered for r in dialogue.results], [True, False])
        self.assertIn("at most 100", str(dialogue.results[1].error))
        feed(dialogue, b"250 ok")
        self.assertEqual(feed(dialogue, b"250 ok"), [SendLine(b"DATA", "DATA")])
        self.assertEqual(feed(dialogue, b"354 go"), [SendData(b"ho\r\n.\r\n")])

    def test_envelope_validation(self):
        """
        An envelope with a bad address or no recipient cannot be made.
        """
        with self.assertRaises(LocalProtocolError):
            Envelope("a@x.test", (), b"")
        with self.assertRaises(LocalProtocolError):
            Envelope("a@x.test", ("b@x.test>\r\nRCPT TO:<c@x.test",), b"")

    def test_send_line_refuses_line_breaks(self):
        """
        A command line can never carry CR or LF.
        """
        with self.assertRaises(LocalProtocolError):
            SendLine(b"RCPT TO:<a>\r\nDATA", "x")


class PurityTests(SynchronousTestCase):
    def test_core_imports_no_twisted(self):
        """
        The core (and the package it sits in) loads nothing from Twisted.
        """
        code = "import sys, twisted_netlab.mail._client_core, twisted_netlab.mail._replies, twisted_netlab.mail._message, twisted_netlab.mail._servers; print('twisted.internet' in sys.modules)"
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(output.stdout.strip(), "False", output.stderr)

    def test_package_exports_resolve_lazily(self):
        """
        Every name in C{twisted_netlab.mail.__all__} resolves to an object
        defined in the module it is exported from, and importing the
        package loads no Twisted until an adapter name is used.
        """
        code = (
            "import sys, twisted_netlab.mail as m\n"
            "assert 'twisted.internet' not in sys.modules\n"
            "for name in m.__all__:\n"
            "    assert getattr(m, name).__module__.startswith('twisted_netlab.mail.'), name\n"
            "print(len(m.__all__))"
        )
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(output.returncode, 0, output.stderr)
        self.assertGreater(int(output.stdout), 30)
