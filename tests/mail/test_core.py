"""
Tests for the sans-IO mail client core L{twisted_netlab.mail._core}: reply
parsing, capabilities, AUTH encodings, DATA framing, addresses and message
building, and dialogue decisions, without any I/O.
"""

from __future__ import annotations

import base64
import email
import email.policy
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._core import (
    MAX_REPLY_LINES,
    Attachment,
    ClientConfig,
    ClientDialogue,
    CloseConnection,
    Credentials,
    DialogueFailed,
    Envelope,
    LocalProtocolError,
    Mailbox,
    PeerProtocolError,
    Reply,
    ReplyParser,
    SendData,
    SendLine,
    StartTLS,
    State,
    Step,
    TLSMode,
    auth_plain_response,
    build_message,
    check_address,
    choose_auth_mechanism,
    cram_md5_response,
    frame_data,
    make_message_id,
    normalize_crlf,
    parse_capabilities,
    parse_enhanced_status,
)


class ReplyParserTests(SynchronousTestCase):
    def test_single_line(self):
        """
        A one-line reply is complete at once, with its enhanced status code.
        """
        reply = ReplyParser().feed_line(b"250 2.1.0 Sender OK")
        self.assertEqual(reply, Reply(250, ("2.1.0 Sender OK",), (2, 1, 0)))

    def test_multiline(self):
        """
        Continuation lines ("250-") are collected until the final "250 ".
        """
        parser = ReplyParser()
        self.assertIsNone(parser.feed_line(b"250-mx.example"))
        self.assertTrue(parser.in_progress)
        self.assertIsNone(parser.feed_line(b"250-SIZE 100"))
        reply = parser.feed_line(b"250 HELP")
        self.assertEqual(reply.lines, ("mx.example", "SIZE 100", "HELP"))
        self.assertFalse(parser.in_progress)

    def test_code_only_line(self):
        """
        RFC 5321 4.2: a reply may be just the code.
        """
        self.assertEqual(ReplyParser().feed_line(b"354").lines, ("",))

    def test_malformed_lines(self):
        """
        Lines that are not "<3 digits>[ -]text" are refused, not guessed at.
        """
        for line in [b"", b"25", b"abc def", b"250x", b"150 bad class", b"650 bad", b"250 a\x00b", b"250 a\nb",
                     b"250 \x1b[2Jcleared", "250 \x9b31m".encode("utf-8")]:
            with self.assertRaises(PeerProtocolError, msg=line):
                ReplyParser().feed_line(line)

    def test_code_change_inside_multiline(self):
        """
        Every line of one reply must carry the same code.
        """
        parser = ReplyParser()
        parser.feed_line(b"250-a")
        with self.assertRaises(PeerProtocolError):
            parser.feed_line(b"251 b")

    def test_line_count_limit(self):
        """
        An endless multi-line reply is cut off at MAX_REPLY_LINES.
        """
        parser = ReplyParser()
        with self.assertRaises(PeerProtocolError):
            for _ in range(MAX_REPLY_LINES + 1):
                parser.feed_line(b"250-x")

    def test_enhanced_status_codes(self):
        """
        The enhanced code counts only when its class matches the reply code.
        """
        table = [
            (550, "5.1.1 no such user", (5, 1, 1)),
            (250, "2.0.0", (2, 0, 0)),
            (550, "2.1.1 mismatched class", None),
            (550, "5.1 too short", None),
            (250, "2.0.0x", None),
            (421, "4.7.0 closing", (4, 7, 0)),
        ]
        for code, text, expected in table:
            self.assertEqual(parse_enhanced_status(code, text), expected, text)

    def test_quoted(self):
        """
        Errors quote the reply as the server wrote it.
        """
        self.assertEqual(Reply(550, ("a", "b")).quoted(), "550 a / 550 b")


class CapabilityTests(SynchronousTestCase):
    def test_parse(self):
        """
        SIZE (with and without a limit), 8BITMIME, SMTPUTF8, PIPELINING,
        STARTTLS and AUTH mechanisms (also the old AUTH= form) are read.
        """
        reply = Reply(
            250,
            ("mx hello", "SIZE 35882577", "8bitmime", "PIPELINING", "SMTPUTF8", "STARTTLS",
             "AUTH PLAIN LOGIN", "AUTH=CRAM-MD5", "ENHANCEDSTATUSCODES"),
        )
        capabilities = parse_capabilities(reply)
        self.assertEqual(capabilities.size, 35882577)
        self.assertTrue(capabilities.eightbitmime and capabilities.smtputf8 and capabilities.pipelining)
        self.assertTrue(capabilities.starttls and capabilities.enhanced_status_codes)
        self.assertEqual(capabilities.auth, ("PLAIN", "LOGIN", "CRAM-MD5"))
        bare = parse_capabilities(Reply(250, ("mx", "SIZE")))
        self.assertEqual(bare.size, 0)
        self.assertFalse(bare.starttls)
        self.assertIsNone(parse_capabilities(Reply(250, ("mx",))).size)


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


class FramingTests(SynchronousTestCase):
    def test_normalize_crlf(self):
        """
        Bare LF, bare CR and CRLF all become CRLF; a final CRLF is added.
        """
        table = [
            (b"a\nb", b"a\r\nb\r\n"),
            (b"a\rb\r\n", b"a\r\nb\r\n"),
            (b"a\r\n\nb", b"a\r\n\r\nb\r\n"),
            (b"a\n\r", b"a\r\n\r\n"),
            (b"", b"\r\n"),
        ]
        for raw, expected in table:
            self.assertEqual(normalize_crlf(raw), expected, raw)

    def test_frame_data_dot_stuffing(self):
        """
        RFC 5321 4.5.2: leading dots doubled, ".CRLF" appended; a smuggled
        "<LF>.<LF>" becomes an ordinary stuffed line.
        """
        self.assertEqual(frame_data(b".a\n..b\nc.\n"), b"..a\r\n...b\r\nc.\r\n.\r\n")
        self.assertEqual(frame_data(b"x\n.\nMAIL FROM:<e>\n"), b"x\r\n..\r\nMAIL FROM:<e>\r\n.\r\n")
        self.assertNotIn(b"\r\n.\r\n", frame_data(b"x\r.\ry")[:-3])

    @settings(max_examples=300, deadline=None)
    @given(st.binary(max_size=300).map(lambda b: b.replace(b"x", b".").replace(b"y", b"\r").replace(b"z", b"\n")))
    def test_framing_properties(self, message):
        """
        For any bytes: the framed data has no bare CR or LF, ends the data
        only at its very end, and a server's unstuffing gives back exactly
        the CRLF-normalised message.
        """
        framed = frame_data(message)
        self.assertNotIn(b"\r", framed.replace(b"\r\n", b""))
        self.assertNotIn(b"\n", framed.replace(b"\r\n", b""))
        body, end = framed[:-3], framed[-3:]
        self.assertEqual(end, b".\r\n")
        lines = body.split(b"\r\n")[:-1]
        self.assertNotIn(b".", lines)  # no early terminator
        unstuffed = b"".join((line[1:] if line.startswith(b".") else line) + b"\r\n" for line in lines)
        self.assertEqual(unstuffed, normalize_crlf(message))

    def test_overlong_line_refused(self):
        """
        A line over 998 octets cannot be sent as SMTP text.
        """
        with self.assertRaises(LocalProtocolError):
            frame_data(b"x" * 999)
        frame_data(b"x" * 998)


class AddressTests(SynchronousTestCase):
    def test_header_injection_refused(self):
        """
        CR or LF in an address or display name is refused with a clear error.
        """
        for text in ["a@b.c\r\nBcc: victim@x.y", "Evil\n <a@b.c>", "a@b.c\rX: y"]:
            with self.assertRaises(LocalProtocolError) as caught:
                Mailbox.parse(text)
            self.assertIn("inject", str(caught.exception))

    def test_bad_addresses(self):
        """
        Addresses that would break the command line are refused.
        """
        for text in ["nobody", "@b.c", "a@", "a b@c.d", "a@b..c", "a@b.c>", "<a@b.c>x@y"]:
            with self.assertRaises(LocalProtocolError, msg=text):
                check_address(text)

    def test_mailbox_forms(self):
        """
        "a@b", "Name <a@b>" and '"Quoted, Name" <a@b>' are accepted.
        """
        self.assertEqual(Mailbox.parse("a@b.c"), Mailbox("a@b.c"))
        self.assertEqual(Mailbox.parse("Ann Lee <a@b.c>"), Mailbox("a@b.c", "Ann Lee"))
        self.assertEqual(Mailbox.parse('"Lee, Ann" <a@b.c>'), Mailbox("a@b.c", "Lee, Ann"))
        self.assertFalse(Mailbox.parse("jürgen@b.de").ascii)


class MessageTests(SynchronousTestCase):
    def build(self, **extra):
        arguments = dict(
            sender=Mailbox("alice@example.com", "Alice Ærø"),
            to=[Mailbox("bob@example.com")],
            cc=[Mailbox("carol@example.com")],
            subject="Grüße, a long subject " * 4,
            body="Hello\n.dot line\nünïcode\n",
            attachments=[
                Attachment("photo.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256))),
                Attachment("notes.txt", b"plain\n"),
                Attachment("blob.unknownext", b"\0\1"),
            ],
            now=784111777.0,
            message_id=make_message_id(b"\x01\x02", "example.com"),
        )
        arguments.update(extra)
        return build_message(**arguments)

    def test_headers_and_parts_parse_back(self):
        """
        The built message parses back to the same headers (non-ASCII
        encoded on the wire), body and attachment bytes with MIME types from
        the file names.
        """
        data = self.build()
        self.assertTrue(data.isascii())
        self.assertNotIn(b"\n", data.replace(b"\r\n", b""))
        parsed = email.message_from_bytes(data, policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Grüße, a long subject " * 4)
        self.assertEqual(parsed["From"].addresses[0].display_name, "Alice Ærø")
        self.assertEqual(parsed["Date"], "Sun, 06 Nov 1994 08:49:37 +0000")
        self.assertEqual(parsed["Message-ID"], "<0102@example.com>")
        self.assertEqual(parsed["Cc"], "carol@example.com")
        self.assertIsNone(parsed["Bcc"])
        # On the wire every line ends in CRLF, and so does the decoded text.
        self.assertEqual(parsed.get_body().get_content(), "Hello\r\n.dot line\r\nünïcode\r\n")
        parts = {p.get_filename(): p for p in parsed.iter_attachments()}
        self.assertEqual(parts["photo.png"].get_content_type(), "image/png")
        self.assertEqual(parts["photo.png"].get_content(), b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
        self.assertEqual(parts["notes.txt"].get_content_type(), "text/plain")
        self.assertEqual(parts["blob.unknownext"].get_content_type(), "application/octet-stream")

    def test_deterministic(self):
        """
        The same inputs give the same bytes: the core uses no hidden clock or
        randomness (the MIME boundary is a hash of the parts).
        """
        self.assertEqual(self.build(), self.build())
        self.assertIn(b'boundary="=_netlab_', self.build())

    def test_subject_injection_refused(self):
        """
        A subject with a line break could add headers: refused.
        """
        with self.assertRaises(LocalProtocolError):
            self.build(subject="hi\r\nBcc: everyone@example.com")

    def test_display_names_round_trip(self):
        """
        Display names with specials, backslashes or non-ASCII come back
        unchanged from the parsed From header.
        """
        for name in ["Ann Lee", "Lee, Ann", "Ærø Ünïcode", "back\\slash", "Dr. X (lab)"]:
            data = build_message(Mailbox("a@b.test", name), [Mailbox("x@y.test")])
            parsed = email.message_from_bytes(data, policy=email.policy.default)
            self.assertEqual(parsed["From"].addresses[0].display_name, name)

    def test_extra_headers_cannot_replace_built_ones(self):
        """
        Extra headers may not repeat or override what the builder writes
        (a second Subject, a Content-Type breaking the MIME structure).
        """
        for name in ["Subject", "content-type", "Bcc", "MIME-Version"]:
            with self.assertRaises(LocalProtocolError, msg=name):
                self.build(extra_headers=[(name, "x")])
        data = self.build(extra_headers=[("X-Lab", "3")])
        self.assertIn(b"\r\nX-Lab: 3\r\n", data)

    def test_utf8_addresses_make_utf8_message(self):
        """
        A non-ASCII address makes an RFC 6532 message (UTF-8 headers).
        """
        data = self.build(to=[Mailbox("jürgen@example.de")], attachments=[])
        self.assertIn("To: jürgen@example.de".encode("utf-8"), data)


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
        code = "import sys, twisted_netlab.mail._core; print('twisted.internet' in sys.modules)"
        output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        self.assertEqual(output.stdout.strip(), "False", output.stderr)
