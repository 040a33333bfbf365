"""
Tests for L{twisted_netlab.mail._sink_core}: the pure SMTP server dialogue
of the mail sink, fed bytes, checked on the events it returns.
"""

import base64

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._faults import FaultPlan, parse_fault
from twisted_netlab.mail._sink_core import (
    AddressError,
    AuthenticationAttempted,
    CloseSession,
    ReceivedEnvelope,
    FaultInjected,
    MessageReceived,
    MessageRefused,
    PlaintextDiscarded,
    SendReply,
    SessionState,
    SinkPolicy,
    SinkSession,
    CommandReceived,
    MessageData,
    UnstuffedDot,
    DATA_CHUNK_BYTES,
    next_deadline,
    AcceptTLS,
    parse_mailbox,
    parse_parameters,
    split_path,
)

USERS = {"alice": "s3cret:colon", "bob": "hunter2"}


def codes(events):
    return [e.code for e in events if isinstance(e, SendReply)]


def texts(events):
    return " | ".join(line for e in events if isinstance(e, SendReply) for line in e.lines)


def plain(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()


class SessionMixin:
    def make(self, faults=(), **policy):
        plan = FaultPlan(parse_fault(f) for f in faults)
        self.session = SinkSession(SinkPolicy(hostname="mx.test", **policy), plan)
        self.greeting = self.session.start()
        return self.session

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8")
        return self.session.receive_data(data)

    def ready(self, **policy):
        """
        A session past EHLO (and STARTTLS when TLS is available).
        """
        self.make(**policy)
        self.assertEqual(codes(self.send("EHLO client.test\r\n")), [250])
        return self.session


class ReplyTests(SynchronousTestCase):
    def test_multiline_wire_format(self):
        """
        Every line but the last of a multi-line reply uses "code-"
        (RFC 5321 4.2.1).
        """
        self.assertEqual(SendReply(250, ("a", "b", "c")).to_bytes(), b"250-a\r\n250-b\r\n250 c\r\n")

    def test_single_line_wire_format(self):
        """
        A one-line reply is "code SP text CRLF", UTF-8 encoded, the same
        bytes as the last line of a multi-line one.
        """
        self.assertEqual(SendReply(250, ("2.0.0 Ok",)).to_bytes(), b"250 2.0.0 Ok\r\n")
        self.assertEqual(SendReply(553, ("5.6.7 caf\u00e9",)).to_bytes(), "553 5.6.7 caf\u00e9\r\n".encode("utf-8"))
        self.assertEqual(SendReply(250, ("x", "2.0.0 Ok")).to_bytes()[-14:], SendReply(250, ("2.0.0 Ok",)).to_bytes())

    def test_reply_text_cannot_carry_crlf(self):
        """
        A reply cannot be built with CR or LF in its text, so nothing a
        client sent can split a reply.
        """
        self.assertRaises(ValueError, SendReply, 250, ("ok\r\n250 fake",))
        self.assertRaises(ValueError, SendReply, 99, ("x",))


class GreetingAndHelloTests(SessionMixin, SynchronousTestCase):
    def test_greeting(self):
        """
        The session opens with 220 naming the host.
        """
        self.make()
        self.assertEqual(self.greeting, [SendReply(220, ("mx.test ESMTP netlab-mailsink",))])

    def test_ehlo_lists_extensions(self):
        """
        EHLO lists SIZE with the limit, PIPELINING, 8BITMIME, SMTPUTF8,
        ENHANCEDSTATUSCODES and STARTTLS, but no AUTH before TLS.
        """
        self.make(users=USERS, max_size=5000)
        [reply] = self.send("EHLO client.test\r\n")
        self.assertEqual(
            reply.lines,
            (
                "mx.test Hello client.test",
                "PIPELINING",
                "SIZE 5000",
                "8BITMIME",
                "SMTPUTF8",
                "ENHANCEDSTATUSCODES",
                "STARTTLS",
            ),
        )

    def test_ehlo_offers_auth_before_tls_only_when_allowed(self):
        """
        --allow-plaintext-auth makes AUTH appear before STARTTLS.
        """
        self.make(users=USERS, allow_plaintext_auth=True)
        [reply] = self.send("EHLO c\r\n")
        self.assertIn("AUTH PLAIN LOGIN", reply.lines)

    def test_no_tls_policy_hides_starttls(self):
        """
        Without TLS, STARTTLS is neither offered nor accepted.
        """
        self.make(tls_available=False)
        [reply] = self.send("EHLO c\r\n")
        self.assertNotIn("STARTTLS", reply.lines)
        self.assertEqual(codes(self.send("STARTTLS\r\n")), [502])

    def test_helo(self):
        """
        HELO answers one line and allows MAIL.
        """
        self.make()
        self.assertEqual(codes(self.send("HELO c\r\n")), [250])
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\n")), [250])

    def test_hello_needs_argument(self):
        """
        EHLO without a domain is a syntax error (501).
        """
        self.make()
        self.assertEqual(codes(self.send("EHLO\r\nHELO a b\r\n")), [501, 501])

    def test_mail_before_hello(self):
        """
        MAIL before EHLO/HELO gets 503.
        """
        self.make()
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\n")), [503])

    def test_ehlo_resets_transaction(self):
        """
        A second EHLO forgets the sender (RFC 5321 4.1.4).
        """
        self.ready()
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.send("EHLO again\r\n")
        self.assertEqual(codes(self.send("RCPT TO:<c@d.test>\r\n")), [503])


class TransactionTests(SessionMixin, SynchronousTestCase):
    def test_full_message(self):
        """
        MAIL, RCPT, DATA and a body produce one MessageReceived with the
        envelope and the dot-unstuffed body; 250 follows only after
        message_stored.
        """
        self.ready()
        self.assertEqual(
            codes(self.send("MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<e@f.test>\r\nDATA\r\n")),
            [250, 250, 250, 354],
        )
        events = self.send("Subject: x\r\n\r\n..leading dot\r\nend\r\n.\r\nNOOP\r\n")
        [received] = events
        self.assertIsInstance(received, MessageReceived)
        self.assertEqual(received.data, b"Subject: x\r\n\r\n.leading dot\r\nend\r\n")
        self.assertEqual(
            received.envelope,
            ReceivedEnvelope("a@b.test", ("c@d.test", "e@f.test"), "client.test", False, None, False, "8BITMIME"),
        )
        self.assertEqual(self.session.state, SessionState.AWAITING_STORAGE)
        after = self.session.message_stored("Q1")
        self.assertEqual(codes(after), [250, 250])
        self.assertIn("queued as Q1", texts(after))

    def test_storage_failure_is_451(self):
        """
        If storing fails the client hears 451 (try later), never 250.
        """
        self.ready()
        self.send("MAIL FROM:<>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        self.send("x\r\n.\r\n")
        self.assertEqual(codes(self.session.message_not_stored("disk full")), [451])

    def test_message_stored_out_of_turn(self):
        """
        Reporting storage when nothing is being stored is a caller bug.
        """
        self.ready()
        self.assertRaises(RuntimeError, self.session.message_stored, "x")

    def test_split_across_packets(self):
        """
        Lines and the final dot may arrive split at any byte, including
        between CR and LF.
        """
        self.ready()
        stream = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nhello\r\n.\r\n"
        events = []
        for index in range(len(stream)):
            events += self.session.receive_data(stream[index : index + 1])
        self.assertEqual(codes(events), [250, 250, 354])
        self.assertEqual(events[-1].data, b"hello\r\n")

    def test_sequence_errors(self):
        """
        RCPT before MAIL, DATA before MAIL, DATA without recipients and a
        nested MAIL are refused with 503/554.
        """
        self.ready()
        self.assertEqual(codes(self.send("RCPT TO:<c@d.test>\r\nDATA\r\n")), [503, 503])
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\nDATA\r\n")), [250, 503, 554])

    def test_rset_clears_transaction(self):
        """
        RSET forgets sender and recipients.
        """
        self.ready()
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n")
        self.assertEqual(codes(self.send("RSET\r\nDATA\r\n")), [250, 503])

    def test_syntax_errors(self):
        """
        Malformed MAIL/RCPT arguments get 501 and unknown parameters 555.
        """
        self.ready()
        for line, code in [
            ("MAIL FROM:a@b.test", 501),
            ("MAIL TO:<a@b.test>", 501),
            ("MAIL FROM:<a@b.test> FOO=1", 555),
            ("MAIL FROM:<a@b.test> SIZE=x", 501),
            ("MAIL FROM:<a@b.test> BODY=9BIT", 501),
            ("MAIL FROM:<no-at-sign>", 501),
            ("MAIL FROM:<a@b.test>SIZE=1", 501),
        ]:
            self.assertEqual(codes(self.send(line + "\r\n")), [code], line)
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes(self.send("RCPT TO:<c@d.test> NOTIFY=NEVER\r\nRCPT TO:<bad address>\r\n")), [555, 501])

    def test_postmaster_without_domain(self):
        """
        RCPT TO:<Postmaster> is accepted (RFC 5321 4.5.1).
        """
        self.ready()
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes(self.send("RCPT TO:<Postmaster>\r\n")), [250])

    def test_source_route_ignored(self):
        """
        A source route is accepted and dropped (RFC 5321 4.1.2).
        """
        self.ready()
        self.send("MAIL FROM:<@relay.test:a@b.test>\r\n")
        self.assertEqual(self.session.sender, "a@b.test")

    def test_too_many_recipients(self):
        """
        Past the recipient limit RCPT answers 452 (RFC 5321 4.5.3.1.10),
        and the accepted ones still get the message.
        """
        self.ready(max_recipients=2)
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes(self.send("RCPT TO:<1@d.test>\r\nRCPT TO:<2@d.test>\r\nRCPT TO:<3@d.test>\r\n")), [250, 250, 452])
        self.send("DATA\r\n")
        [received] = self.send("x\r\n.\r\n")
        self.assertEqual(received.envelope.recipients, ("1@d.test", "2@d.test"))

    def test_smtputf8(self):
        """
        A non-ASCII address needs the SMTPUTF8 parameter (553 without it),
        and is refused outright when the server does not offer SMTPUTF8.
        """
        self.ready()
        self.assertEqual(codes(self.send("MAIL FROM:<jos\u00e9@b.test>\r\n")), [553])
        self.assertEqual(codes(self.send("MAIL FROM:<jos\u00e9@b.test> SMTPUTF8\r\n")), [250])
        self.assertEqual(codes(self.send("RCPT TO:<\u00fc@d\u00e9.test>\r\n")), [250])
        self.ready(smtputf8=False)
        self.assertEqual(codes(self.send("MAIL FROM:<jos\u00e9@b.test> SMTPUTF8\r\n")), [555])

    def test_quit_closes(self):
        """
        QUIT answers 221 and closes; later bytes are ignored.
        """
        self.ready()
        events = self.send("QUIT\r\nNOOP\r\n")
        self.assertEqual(codes(events), [221])
        self.assertIsInstance(events[-1], CloseSession)
        self.assertEqual(self.send("NOOP\r\n"), [])

    def test_misc_commands(self):
        """
        NOOP, VRFY, HELP answer; EXPN and unknown commands are refused.
        """
        self.ready()
        self.assertEqual(codes(self.send("NOOP\r\nVRFY x\r\nHELP\r\nEXPN x\r\nFOO\r\nBDAT 10\r\n")), [250, 252, 214, 502, 500, 500])

    def test_http_request_closes(self):
        """
        An HTTP request line is answered once and the connection closed.
        """
        self.make()
        events = self.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual(codes(events), [502])
        self.assertIsInstance(events[-1], CloseSession)


class StrictInputTests(SessionMixin, SynchronousTestCase):
    def start_data(self, **policy):
        self.ready(**policy)
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")), [250, 250, 354])

    def test_lf_dot_lf_does_not_end_data(self):
        """
        <LF>.<LF> inside DATA is not the end of the message, and the
        smuggled commands after it are never executed: the message ends only
        at <CRLF>.<CRLF>, and is refused because it contains bare LF.
        """
        self.start_data()
        events = self.send("hello\n.\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<victim@y.test>\r\nDATA\r\nsmuggled\r\n")
        self.assertEqual(events, [])
        self.assertEqual(self.session.state, SessionState.RECEIVING_DATA)
        events = self.send(".\r\n")
        self.assertEqual(codes(events), [554])
        self.assertIsInstance(events[0], MessageRefused)
        self.assertNotIn(MessageReceived, [type(e) for e in events])

    def test_cr_dot_cr_and_mixed_endings_do_not_end_data(self):
        """
        <CR>.<CR>, <LF>.<CRLF> and <CR>.<CRLF> are not end-of-data either.
        """
        for attack in ["a\r.\rMAIL", "a\n.\r\nRSET", "a\r.\r\nRSET", "a\r\n.\nRSET", "a\r\n.\rRSET"]:
            self.start_data()
            events = self.send(attack + "\r\n")
            self.assertEqual(events, [], attack)
            self.assertEqual(self.session.state, SessionState.RECEIVING_DATA, attack)
            self.assertEqual(codes(self.send(".\r\n")), [554], attack)

    def test_bare_lf_in_command_refused(self):
        """
        A bare LF cannot end a command: the line is refused as a whole.
        """
        self.ready()
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\nRCPT TO:<c@d.test>\r\n")), [500])
        self.assertIsNone(self.session.sender)

    def test_clean_message_after_refused_one(self):
        """
        After a refused message the session goes on normally.
        """
        self.start_data()
        self.send("bad\nline\r\n.\r\n")
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        [received] = self.send("good\r\n.\r\n")
        self.assertEqual(received.data, b"good\r\n")

    def test_size_limit_enforced(self):
        """
        SIZE= above the limit gets 552 at MAIL; a body over the limit is
        read to its end, dropped, and answered 552 (RFC 1870).
        """
        self.ready(max_size=100)
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test> SIZE=101\r\n")), [552])
        self.send("MAIL FROM:<a@b.test> SIZE=100\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        events = self.send(("x" * 60 + "\r\n") * 2 + ".\r\n")
        self.assertEqual(codes(events), [552])
        self.assertEqual(events[0].reply.lines, ("5.3.4 Message size exceeds fixed maximum message size (100 octets)",))

    def test_size_exactly_at_limit(self):
        """
        A body of exactly max_size octets (CRLFs counted, final dot not)
        is accepted.
        """
        self.ready(max_size=100)
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        [received] = self.send("y" * 98 + "\r\n.\r\n")
        self.assertEqual(len(received.data), 100)

    def test_long_data_line(self):
        """
        A data line over 998 octets is refused with 500 at the end, without
        buffering it.
        """
        self.start_data()
        self.assertEqual(self.send("z" * 5000), [])
        self.assertLessEqual(len(self.session._buffer), 1000)
        self.assertEqual(codes(self.send("\r\n.\r\n")), [500])

    def test_long_command_line(self):
        """
        An overlong command is answered 500 once its CRLF arrives; the
        buffer never holds more than the limit.
        """
        self.ready()
        self.assertEqual(self.send("NOOP " + "a" * 10000), [])
        self.assertLessEqual(len(self.session._buffer), 2050)
        self.assertEqual(codes(self.send("\r\nNOOP\r\n")), [500, 250])

    def test_long_lines_in_one_packet_with_others(self):
        """
        An overlong line costs only itself: the lines after it in the same
        packet are processed (a command, or the end of DATA).
        """
        self.ready()
        self.assertEqual(codes(self.send("NOOP " + "a" * 5000 + "\r\nNOOP\r\n")), [500, 250])
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        self.assertEqual(codes(self.send("z" * 5000 + "\r\nshort\r\n.\r\nNOOP\r\n")), [500, 250])

    def test_invalid_utf8_and_controls(self):
        """
        Invalid UTF-8 and control characters in commands get 500.
        """
        self.ready()
        self.assertEqual(codes(self.send(b"NOOP \xff\r\nNOOP \x00\r\n")), [500, 500])

    def test_error_limit_closes(self):
        """
        Too many errors end the session with 421.
        """
        self.make(max_errors=3)
        events = self.send("X\r\nX\r\nX\r\nX\r\n")
        self.assertEqual(codes(events), [500, 500, 500, 421])
        self.assertIsInstance(events[-1], CloseSession)

    def test_junk_command_limit(self):
        """
        Endless NOOPs end with 421.
        """
        self.make(max_junk_commands=2)
        self.assertEqual(codes(self.send("NOOP\r\nNOOP\r\nNOOP\r\n")), [250, 250, 421])

    def test_junk_count_restarts_after_delivered_mail(self):
        """
        RSET after each of many delivered messages (smtplib's habit) never
        reaches the junk command limit: the count restarts with each
        delivered message, as Postfix's does.
        """
        self.make(max_junk_commands=2)
        self.send("EHLO c\r\n")
        for number in range(5):
            events = self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n")
            self.assertIsInstance(events[-1], MessageReceived, number)
            self.assertEqual(codes(self.session.message_stored(f"Q{number}")), [250])
            self.assertEqual(codes(self.send("RSET\r\nRSET\r\n")), [250, 250], number)

    def test_timeout(self):
        """
        The adapter's timer turns into 421 and a close.
        """
        self.make()
        events = self.session.timed_out()
        self.assertEqual(codes(events), [421])
        self.assertIsInstance(events[-1], CloseSession)


class StartTLSTests(SessionMixin, SynchronousTestCase):
    def test_pipelined_commands_after_starttls_are_discarded(self):
        """
        Commands in the same packet as STARTTLS are thrown away, not run
        after the handshake (CVE-2024-34083).
        """
        self.ready()
        events = self.send("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\n")
        self.assertEqual(codes(events), [220])
        self.assertIsInstance(events[1], AcceptTLS)
        self.assertEqual(events[2], PlaintextDiscarded(len("MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\n")))
        self.assertTrue(self.session.tls_active)
        self.assertIsNone(self.session.sender)
        # The next bytes are those from inside TLS; the session is fresh.
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\n")), [503])

    def test_partial_line_before_starttls_discarded(self):
        """
        Even half a line after STARTTLS is discarded.
        """
        self.ready()
        events = self.send("STARTTLS\r\nNOO")
        self.assertEqual(events[-1], PlaintextDiscarded(3))
        self.assertEqual(codes(self.send("P\r\n")), [500])

    def test_starttls_forgets_auth_and_ehlo(self):
        """
        After STARTTLS the session forgets EHLO and offers AUTH, not
        STARTTLS (RFC 3207 4.2).
        """
        self.ready(users=USERS)
        self.send("STARTTLS\r\n")
        self.assertIsNone(self.session.hello)
        [reply] = self.send("EHLO c\r\n")
        self.assertIn("AUTH PLAIN LOGIN", reply.lines)
        self.assertNotIn("STARTTLS", reply.lines)
        self.assertEqual(codes(self.send("STARTTLS\r\n")), [503])

    def test_starttls_rules(self):
        """
        STARTTLS takes no argument and is refused inside a transaction.
        """
        self.ready()
        self.assertEqual(codes(self.send("STARTTLS now\r\n")), [501])
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes(self.send("STARTTLS\r\n")), [503])

    def test_require_tls(self):
        """
        With require_tls, MAIL before STARTTLS gets 530.
        """
        self.ready(require_tls=True)
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\n")), [530])


class AuthTests(SessionMixin, SynchronousTestCase):
    def tls_ready(self, **policy):
        self.ready(users=USERS, **policy)
        self.send("STARTTLS\r\n")
        self.send("EHLO c\r\n")

    def test_plain_initial_response(self):
        """
        AUTH PLAIN with an initial response logs in; passwords may contain
        colons.
        """
        self.tls_ready()
        events = self.send(f"AUTH PLAIN {plain('alice', 's3cret:colon')}\r\n")
        self.assertEqual(codes(events), [235])
        self.assertEqual(events[0], AuthenticationAttempted("PLAIN", "alice", True))
        self.assertEqual(self.session.authenticated_as, "alice")

    def test_plain_with_challenge(self):
        """
        AUTH PLAIN without initial response gets an empty 334 first.
        """
        self.tls_ready()
        self.assertEqual(self.send("AUTH PLAIN\r\n"), [SendReply(334, ("",))])
        self.assertEqual(codes(self.send(plain("bob", "hunter2") + "\r\n")), [235])

    def test_login(self):
        """
        AUTH LOGIN asks Username: then Password: (base64).
        """
        self.tls_ready()
        self.assertEqual(self.send("AUTH LOGIN\r\n"), [SendReply(334, (b64("Username:"),))])
        self.assertEqual(self.send(b64("bob") + "\r\n"), [SendReply(334, (b64("Password:"),))])
        self.assertEqual(codes(self.send(b64("hunter2") + "\r\n")), [235])

    def test_login_with_initial_username(self):
        """
        AUTH LOGIN <user> goes straight to the password prompt.
        """
        self.tls_ready()
        self.assertEqual(codes(self.send(f"AUTH LOGIN {b64('bob')}\r\n")), [334])
        self.assertEqual(codes(self.send(b64("hunter2") + "\r\n")), [235])

    def test_wrong_password_unknown_user_and_authzid(self):
        """
        Wrong password, unknown user and a foreign authzid all get 535.
        """
        self.tls_ready()
        for response in [plain("alice", "nope"), plain("carol", "x"), plain("alice", "s3cret:colon", authzid="bob")]:
            events = self.send(f"AUTH PLAIN {response}\r\n")
            self.assertEqual(codes(events), [535])
            self.assertFalse(events[0].succeeded)
        self.assertIsNone(self.session.authenticated_as)

    def test_auth_errors(self):
        """
        Cancel (*), bad base64, unknown mechanism and AUTH twice get
        501/501/504/503.
        """
        self.tls_ready()
        self.send("AUTH LOGIN\r\n")
        self.assertEqual(codes(self.send("*\r\n")), [501])
        self.assertEqual(codes(self.send("AUTH PLAIN !!!\r\n")), [501])
        self.assertEqual(codes(self.send("AUTH CRAM-MD5\r\n")), [504])
        self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")
        self.assertEqual(codes(self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")), [503])

    def test_auth_refused_before_tls(self):
        """
        AUTH before STARTTLS gets 538 and never checks the password.
        """
        self.ready(users=USERS)
        events = self.send(f"AUTH PLAIN {plain('alice', 's3cret:colon')}\r\n")
        self.assertEqual(codes(events), [538])
        self.assertIsNone(self.session.authenticated_as)

    def test_auth_without_users(self):
        """
        Without a users file AUTH is not available.
        """
        self.ready(allow_plaintext_auth=True)
        self.assertEqual(codes(self.send(f"AUTH PLAIN {plain('a', 'b')}\r\n")), [502])

    def test_plaintext_auth_when_allowed(self):
        """
        allow_plaintext_auth lets AUTH work before STARTTLS.
        """
        self.ready(users=USERS, allow_plaintext_auth=True)
        self.assertEqual(codes(self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")), [235])

    def test_require_auth(self):
        """
        With require_auth, MAIL needs a successful AUTH; the envelope
        records the user.
        """
        self.tls_ready(require_auth=True)
        self.assertEqual(codes(self.send("MAIL FROM:<a@b.test>\r\n")), [530])
        self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        [received] = self.send("x\r\n.\r\n")
        self.assertEqual(received.envelope.authenticated_as, "bob")
        self.assertTrue(received.envelope.tls)


class FaultTests(SessionMixin, SynchronousTestCase):
    def message(self):
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        events = self.send("body\r\n.\r\n")
        if self.session.state is SessionState.AWAITING_STORAGE:
            events += self.session.message_stored("Q")
        return events

    def test_rcpt_fault_always(self):
        """
        --fault RCPT=451 answers every RCPT with 451 and a text saying so.
        """
        self.ready(faults=["RCPT=451"])
        self.send("MAIL FROM:<a@b.test>\r\n")
        events = self.send("RCPT TO:<c@d.test>\r\nRCPT TO:<e@d.test>\r\n")
        self.assertEqual(codes(events), [451, 451])
        self.assertIn("4.3.0", texts(events))
        self.assertIn("netlab fault RCPT #2", texts(events))
        self.assertEqual(self.session.recipients, [])

    def test_data_fault_only_third_message(self):
        """
        --fault DATA=552:3 refuses only the third message; the others are
        received.
        """
        self.ready(faults=["DATA=552:3"])
        results = [codes(self.message()) for _ in range(4)]
        self.assertEqual([r[-1] for r in results], [250, 250, 552, 250])

    def test_counts_span_sessions(self):
        """
        Occurrences are counted per server (the fault plan), not per
        connection.
        """
        plan = FaultPlan([parse_fault("MAIL=550:2")])
        got = []
        for _ in range(3):
            session = SinkSession(SinkPolicy(), plan)
            session.start()
            session.receive_data(b"EHLO c\r\n")
            got += codes(session.receive_data(b"MAIL FROM:<a@b.test>\r\n"))
        self.assertEqual(got, [250, 550, 250])

    def test_starttls_fault(self):
        """
        --fault STARTTLS=454 answers 454 and TLS is not started.
        """
        self.ready(faults=["STARTTLS=454"])
        events = self.send("STARTTLS\r\n")
        self.assertEqual(codes(events), [454])
        self.assertNotIn(AcceptTLS(), events)
        self.assertFalse(self.session.tls_active)
        self.assertIn("TLS not available", texts(events))

    def test_auth_fault(self):
        """
        --fault AUTH=535 refuses even correct credentials.
        """
        self.ready(users=USERS, allow_plaintext_auth=True, faults=["AUTH=535:1"])
        self.assertEqual(codes(self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")), [535])
        self.assertEqual(codes(self.send(f"AUTH PLAIN {plain('bob', 'hunter2')}\r\n")), [235])

    def test_ehlo_fault_and_helo_fallback(self):
        """
        --fault EHLO=502 lets a client fall back to HELO.
        """
        self.make(faults=["EHLO=502"])
        self.assertEqual(codes(self.send("EHLO c\r\nHELO c\r\n")), [502, 250])

    def test_421_fault_closes(self):
        """
        A 421 fault closes the connection (RFC 5321 3.8).
        """
        self.ready(faults=["MAIL=421"])
        events = self.send("MAIL FROM:<a@b.test>\r\nNOOP\r\n")
        self.assertEqual(codes(events), [421])
        self.assertIsInstance(events[-1], CloseSession)
        self.assertIsInstance(events[0], FaultInjected)

    def test_connect_fault_554(self):
        """
        A 554 greeting leaves only QUIT usable (503 to the rest, RFC 5321 3.1).
        """
        self.make(faults=["CONNECT=554"])
        self.assertEqual(codes(self.greeting), [554])
        self.assertEqual(codes(self.send("EHLO c\r\nQUIT\r\n")), [503, 221])

    def test_connect_fault_421(self):
        """
        A 421 greeting closes at once.
        """
        self.make(faults=["CONNECT=421"])
        self.assertEqual(codes(self.greeting), [421])
        self.assertIsInstance(self.greeting[-1], CloseSession)

    def test_invalid_commands_do_not_count(self):
        """
        Commands refused for syntax or sequence do not advance a stage's
        count, so ":N" means the Nth real attempt.
        """
        self.ready(faults=["RCPT=450:1"])
        self.send("RCPT TO:<c@d.test>\r\n")  # before MAIL: 503, not counted
        self.send("MAIL FROM:<a@b.test>\r\n")
        self.assertEqual(codes(self.send("RCPT TO:<c@d.test>\r\nRCPT TO:<c@d.test>\r\n")), [450, 250])


class AddressTests(SynchronousTestCase):
    def test_split_path(self):
        """
        The path ends at the first unquoted '>'.
        """
        self.assertEqual(split_path('<"a>b"@c.test> SIZE=1'), ('"a>b"@c.test', "SIZE=1"))
        self.assertEqual(split_path("<>"), ("", ""))
        self.assertRaises(AddressError, split_path, "a@b")
        self.assertRaises(AddressError, split_path, "<a@b")

    def test_split_path_without_quotes_matches_the_scan(self):
        """
        Without a quote split_path's shortcut (the first '>') finds the
        same closing bracket as the quote-aware scan, and the same result
        or refusal follows.
        """
        from twisted_netlab.mail._sink_addresses import _closing_bracket

        cases = ["<>", "<a@b>", "<a@b> SIZE=1", "<a@b>SIZE=1", "<a@b", "<a\\>b@c>", "<<a@b>>", "<a@b> >",
                 "<@r.test:a@b> BODY=8BITMIME", "<a>b>", "<>>", "<", "<a@b>  "]
        for text in cases:
            self.assertEqual(text.find(">", 1), _closing_bracket(text), text)
            index = _closing_bracket(text)
            rest = text[index + 1 :]
            if index < 0 or (rest and not rest.startswith(" ")):
                self.assertRaises(AddressError, split_path, text)
            else:
                self.assertEqual(split_path(text), (text[1:index], rest.strip()), text)
        self.assertEqual(_closing_bracket('<"a>b"@c> X'), 8)
        self.assertEqual(_closing_bracket('<"a\\"> "@c> X'), 10)

    def test_mailboxes(self):
        """
        Dot-atoms, quoted local parts and address literals are mailboxes;
        broken ones are not.
        """
        for good in ["a@b", "a.b+c@d-e.test", '"john doe"@x.test', "x@[127.0.0.1]", "x@[IPv6:::1]"]:
            self.assertEqual(parse_mailbox(good, allow_utf8=False), good)
        for bad in ["a", "@b", "a@", "a..b@c", ".a@b", "a@-b", "a b@c", "a@b c", "a" * 65 + "@b"]:
            self.assertRaises(AddressError, parse_mailbox, bad, False)

    def test_parameters(self):
        """
        Parameters are KEY or KEY=value, keys case-insensitive, no repeats.
        """
        self.assertEqual(parse_parameters("size=10 SMTPUTF8"), {"SIZE": "10", "SMTPUTF8": None})
        self.assertRaises(AddressError, parse_parameters, "SIZE=1 size=2")
        self.assertRaises(AddressError, parse_parameters, "SIZE=")


class PurityTests(SynchronousTestCase):
    def test_pure_modules_import_no_twisted(self):
        """
        The session, fault and Maildir modules load nothing from Twisted
        (checked in a fresh interpreter).
        """
        import subprocess
        import sys

        from tests.helpers import child_env

        code = (
            "import sys\n"
            "import twisted_netlab.mail._sink_core, twisted_netlab.mail._faults, twisted_netlab.mail._maildir, twisted_netlab.mail._transcript\n"
            "print(sorted(m for m in sys.modules if m == 'twisted' or m.startswith('twisted.')))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "[]")


class StreamingTests(SessionMixin, SynchronousTestCase):
    def test_body_leaves_in_bounded_chunks(self):
        """
        A 3 MB body fed in 60 KB packets comes out as MessageData chunks of
        about DATA_CHUNK_BYTES each plus the rest in MessageReceived, in
        order and unstuffed: the session never holds the whole message.
        """
        self.ready()
        self.send("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        line = b"..x" + b"y" * 97 + b"\r\n"
        packet = line * 600
        events = []
        for _ in range(50):
            events += self.session.receive_data(packet)
        events += self.session.receive_data(b".\r\n")
        chunks = [e.data for e in events if isinstance(e, MessageData)]
        [received] = [e for e in events if isinstance(e, MessageReceived)]
        self.assertGreater(len(chunks), 40)
        self.assertTrue(all(len(chunk) < DATA_CHUNK_BYTES + 1000 for chunk in chunks))
        self.assertLess(len(received.data), DATA_CHUNK_BYTES)
        self.assertEqual(b"".join(chunks) + received.data, line[1:] * 30000)
        self.assertEqual({e.envelope for e in events if isinstance(e, MessageData)}, {received.envelope})


class DeadlineTests(SynchronousTestCase):
    CASES = [
        # (deadline, now, bytes, line completed, was in DATA, in DATA) -> deadline
        ((130.0, 110.0, 1, False, False, False), 130.0),  # a dribbled byte buys nothing
        ((130.0, 110.0, 6, True, False, False), 140.0),  # a whole line re-arms
        ((130.0, 110.0, 0, True, False, True), 140.0),  # DATA starts: base time
        ((130.0, 110.0, 5000, True, False, True), 150.0),  # ... plus what came with it
        ((130.0, 125.0, 1000, True, True, True), 132.0),  # 1000 octets buy 2 s
        ((130.0, 125.0, 1000, True, True, False), 155.0),  # final dot: a command line again
    ]

    def test_table(self):
        """
        Outside DATA only complete lines move the deadline; in DATA each
        octet buys 1/500 s beyond the base time (Postfix's
        smtpd_min_data_rate).
        """
        for arguments, expected in self.CASES:
            self.assertEqual(next_deadline(*arguments, line_seconds=30.0, min_data_rate=500), expected, arguments)


class RecordDialogueTests(SynchronousTestCase):
    def test_commands_recorded_with_auth_masked_and_unstuffed_dot_warned(self):
        """
        With record_dialogue each command line is reported (AUTH initial
        responses and continuation lines masked), the body is summarised,
        and a body line starting with a lone dot is a warning; without it
        none of these events exist.
        """
        policy = SinkPolicy(hostname="mx.test", users=USERS, allow_plaintext_auth=True, tls_available=False)
        stream = (
            b"EHLO c\r\nAUTH PLAIN " + plain("alice", "wrong").encode() + b"\r\nAUTH LOGIN\r\n"
            + b64("bob").encode() + b"\r\n" + b64("hunter2").encode() + b"\r\n"
            b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nok\r\n.unstuffed\r\n..stuffed\r\n.\r\n"
        )
        session = SinkSession(policy, record_dialogue=True)
        session.start()
        events = session.receive_data(stream)
        recorded = [e.text for e in events if isinstance(e, CommandReceived)]
        self.assertEqual(
            recorded,
            [
                "EHLO c",
                "AUTH PLAIN ********",
                "AUTH LOGIN",
                "********",
                "********",
                "MAIL FROM:<a@b.test>",
                "RCPT TO:<c@d.test>",
                "DATA",
                "[message body: 3 lines, 25 octets unstuffed]",
                ".",
            ],
        )
        self.assertNotIn("hunter2", repr(events))
        self.assertEqual([e.line_number for e in events if isinstance(e, UnstuffedDot)], [2])
        quiet = SinkSession(policy)
        quiet.start()
        self.assertEqual(
            [e for e in quiet.receive_data(stream) if isinstance(e, (CommandReceived, UnstuffedDot))], []
        )


def _drive(fast, packets, record_dialogue, **policy):
    """
    Everything a session does with C{packets} (storing each message at
    once), and its counters after each packet.
    """
    session = SinkSession(
        SinkPolicy(hostname="mx.test", tls_available=False, **policy), record_dialogue=record_dialogue
    )
    session.fast_data = fast
    seen = [session.start()]
    stored = 0
    for packet in packets:
        events = session.receive_data(packet)
        seen.append(events)
        while session.state is SessionState.AWAITING_STORAGE:
            stored += 1
            events = session.message_stored(f"q{stored}")
            seen.append(events)
        seen.append((session.lines_received, session.state, session.partial_line, session.error_count))
    return seen


class DataFastPathTests(SynchronousTestCase):
    """
    The DATA fast path (SinkSession._data_run) against the line-by-line
    path it stands in for.
    """

    ENVELOPE = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
    BODIES = [
        b"Subject: plain\r\n\r\nline one\r\nline two\r\n",
        b"",
        b"..stuffed\r\nmiddle\r\n...two dots\r\nend\r\n",
        b".unstuffed\r\nafter\r\n",
        b"before\r\n.unstuffed in the middle\r\n",
        b"bare\rCR\r\nmore\r\n",
        b"bare\nLF\r\nmore\r\n",
        b"CR before CRLF\r\r\nmore\r\n",
        b"x" * 998 + b"\r\nlongest allowed\r\n",
        b"ok\r\n" + b"x" * 999 + b"\r\none over\r\n",
        b"ok\r\n" + b"y" * 3000 + b"\r\nfar over\r\n",
        b"\r\n\r\nempty lines\r\n\r\n",
        (b"z" * 98 + b"\r\n") * 1500,  # about 150 KB: MessageData chunks
        (b"v" * 126 + b"\r\n") * 600,  # a chunk ends exactly at DATA_CHUNK_BYTES
        (b"w" * 78 + b"\r\n") * 12,  # 960 octets: the size limit below
    ]

    def conversations(self):
        for body in self.BODIES:
            yield self.ENVELOPE + body + b".\r\n" + b"NOOP\r\nQUIT\r\n"
        # Pipelined: two messages and their envelopes in one stream.
        first, second = self.BODIES[0], self.BODIES[2]
        yield self.ENVELOPE + first + b".\r\n" + self.ENVELOPE + second + b".\r\nQUIT\r\n"

    def splits(self, stream):
        yield [stream]
        for size in (1, 2, 3, 7, 100, 1000, 4096):
            if size < 100 and len(stream) > 10000:
                continue
            yield [stream[i : i + size] for i in range(0, len(stream), size)]
        if len(stream) < 400:
            for cut in range(1, len(stream)):
                yield [stream[:cut], stream[cut:]]

    def test_same_events_as_line_by_line(self):
        """
        Fed the same bytes in any packet sizes, the session with the fast
        path returns exactly the events (replies, body chunks, warnings,
        refusals) and counts (lines, errors, partial line) of the session
        without it, with and without record_dialogue, under the default
        limits and a small size limit (960 octets, hit exactly and passed).
        """
        policies = [{}, {"max_size": 960}, {"max_size": 959}]
        for stream in self.conversations():
            for packets in self.splits(b"EHLO c.test\r\n" + stream):
                for record in (False, True):
                    for policy in policies:
                        self.assertEqual(
                            _drive(True, packets, record, **policy),
                            _drive(False, packets, record, **policy),
                            (stream[:80], len(packets), record, policy),
                        )

    def test_fast_path_is_taken(self):
        """
        A plain body in one packet is taken as one run: the line-by-line
        path sees only the final dot and the commands around it.
        """
        session = SinkSession(SinkPolicy(hostname="mx.test", tls_available=False))
        session.start()
        session.receive_data(b"EHLO c.test\r\n" + self.ENVELOPE)
        lines = []
        original = session._next_line

        def spy():
            line = original()
            lines.append(line)
            return line

        session._next_line = spy
        events = session.receive_data(b"a\r\nb\r\nc\r\n.\r\n")
        [received] = [e for e in events if isinstance(e, MessageReceived)]
        self.assertEqual(received.data, b"a\r\nb\r\nc\r\n")
        self.assertEqual([line for line in lines if line is not None], [b"."])
        self.assertEqual(session.lines_received, 8)
