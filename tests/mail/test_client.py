"""
Protocol tests for L{twisted_netlab.mail.client}: the SMTP client on a
StringTransport, fed scripted server replies, one test per branch of the
dialogue; STARTTLS end to end in memory with L{twisted.test.iosim}; and the
L{sendmail} entry point on a L{MemoryReactorClock}.
"""

from __future__ import annotations

import base64
from typing import List, Optional, Sequence

from twisted.internet.error import ConnectionDone
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail import (
    ClientConfig,
    ConnectionLost,
    Credentials,
    Envelope,
    PeerProtocolError,
    Phase,
    PolicyError,
    SMTPReplyError,
    Step,
    StepTimeout,
    TLSMode,
    sendmail,
)
from twisted_netlab.mail.client import SMTPClientProtocol, SystemTrust, local_ehlo_name, send_messages

TLS_OPTIONS = object()

EHLO_PLAIN = b"250-mx.test\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 STARTTLS\r\n"
EHLO_TLS = b"250-mx.test\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250-AUTH PLAIN LOGIN\r\n250 ENHANCEDSTATUSCODES\r\n"


class TLSStringTransport(StringTransport):
    """
    A StringTransport that records C{startTLS} and tells an abort from a
    polite close.  Test-only attributes: C{tls_started}, C{aborted},
    C{written_before_tls}, C{writes} (how many C{write} calls).
    """

    tls_started = None
    aborted = False
    protocol = None
    writes = 0

    def write(self, data):
        self.writes += 1
        super().write(data)

    def loseConnection(self):
        """
        Like a real transport, report the end to the protocol (here at once).
        """
        if self.disconnecting:
            return
        super().loseConnection()
        if self.protocol is not None:
            self.protocol.connectionLost(Failure(ConnectionDone("closed")))

    def startTLS(self, options):
        self.tls_started = options
        self.written_before_tls = self.value()

    def abortConnection(self):
        self.aborted = True
        self.loseConnection()


def message(data: bytes = b"Subject: hi\r\n\r\nhello\r\n", recipients: Sequence[str] = ("bob@example.com",)) -> Envelope:
    return Envelope("alice@example.com", tuple(recipients), data)


class Session:
    """
    A client protocol on a TLSStringTransport with a Clock, and the results
    it reports.
    """

    def __init__(
        self,
        messages: Optional[List[Envelope]] = None,
        tls: TLSMode = TLSMode.NONE,
        credentials: Optional[Credentials] = None,
        auth: Optional[str] = None,
        timeout: float = 10.0,
    ) -> None:
        self.clock = Clock()
        self.transport = TLSStringTransport()
        self.transcript: List[str] = []
        config = ClientConfig(tls=tls, credentials=credentials, auth_mechanism=auth, ehlo_name="client.test")
        self.protocol = SMTPClientProtocol(
            config,
            messages if messages is not None else [message()],
            tls_options=TLS_OPTIONS,
            reactor=self.clock,
            timeout_seconds=timeout,
            transcript=self.transcript.append,
        )
        self.results: list = []
        self.failures: list = []
        self.protocol.finished.addCallbacks(self.results.append, self.failures.append)
        self.transport.protocol = self.protocol
        self.protocol.makeConnection(self.transport)

    def server(self, data: bytes) -> bytes:
        """
        Deliver C{data} from the server; return what the client wrote.
        """
        self.transport.clear()
        self.protocol.dataReceived(data)
        return self.transport.value()

    def error(self):
        [failure] = self.failures
        return failure.value

    def up_to_starttls(self) -> bytes:
        """
        Greet and answer EHLO offering STARTTLS; return what the client
        wrote last (STARTTLS when it wants TLS).
        """
        self.server(b"220 mx.test\r\n")
        return self.server(EHLO_PLAIN)

    def to_mail(self) -> bytes:
        """
        Greet (no ESMTP extras) and return what the client says first.
        """
        self.server(b"220 mx.test ESMTP\r\n")
        return self.server(b"250-mx.test\r\n250 SIZE 1000\r\n")


class GreetingAndEhloTests(SynchronousTestCase):
    def test_multiline_ehlo_reply_is_one_reply(self):
        """
        A multi-line EHLO reply arriving in pieces, even split inside a line,
        is read as one reply: the client says nothing until its last line.
        """
        session = Session()
        self.assertEqual(session.server(b"220-mx.test ESMTP\r\n220 welcome\r\n"), b"EHLO client.test\r\n")
        self.assertEqual(session.server(b"250-mx.test\r\n250-SI"), b"")
        self.assertEqual(session.server(b"ZE 1000\r\n"), b"")
        self.assertEqual(session.server(b"250 8BITMIME\r\n"), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")

    def test_helo_fallback(self):
        """
        A server that does not know EHLO (502) gets HELO, then the mail,
        without ESMTP parameters.
        """
        session = Session()
        session.server(b"220 old.test\r\n")
        self.assertEqual(session.server(b"502 5.5.1 command not implemented\r\n"), b"HELO client.test\r\n")
        self.assertEqual(session.server(b"250 old.test\r\n"), b"MAIL FROM:<alice@example.com>\r\n")

    def test_helo_refused_is_session_failure(self):
        """
        When HELO is refused too, the dialogue fails in the session phase and
        quotes the server.
        """
        session = Session()
        session.server(b"220 old.test\r\n")
        session.server(b"500 what\r\n")
        self.assertEqual(session.server(b"554 go away\r\n"), b"QUIT\r\n")
        error = session.error()
        self.assertIsInstance(error, SMTPReplyError)
        self.assertEqual((error.step, error.phase), (Step.HELO, Phase.SESSION))
        self.assertIn("554 go away", str(error))

    def test_greeting_554_says_quit(self):
        """
        RFC 5321 3.1: a 554 greeting is answered with QUIT, not EHLO.
        """
        session = Session()
        self.assertEqual(session.server(b"554 5.7.1 no service for you\r\n"), b"QUIT\r\n")
        self.assertEqual(session.error().step, Step.GREETING)
        self.assertFalse(session.transport.aborted)
        self.assertTrue(session.transport.disconnecting)

    def test_malformed_reply_aborts(self):
        """
        A reply line without a code is a protocol violation: abort, no QUIT.
        """
        session = Session()
        self.assertEqual(session.server(b"hello there\r\n"), b"")
        self.assertIsInstance(session.error(), PeerProtocolError)
        self.assertTrue(session.transport.aborted)

    def test_terminal_escapes_never_reach_the_transcript(self):
        """
        A reply carrying an ANSI escape is refused, and the transcript shows
        it escaped rather than passing it to the terminal.
        """
        session = Session()
        session.server(b"220 hi \x1b[2J\r\n")
        self.assertIsInstance(session.error(), PeerProtocolError)
        self.assertIn("<- 220 hi \\x1b[2J", session.transcript)
        self.assertFalse(any("\x1b" in line for line in session.transcript))

    def test_overlong_reply_line_aborts(self):
        """
        A reply line longer than the limit is refused instead of buffered.
        """
        session = Session()
        session.server(b"220 " + b"x" * 5000)
        self.assertIsInstance(session.error(), PeerProtocolError)
        self.assertIn("longer than", str(session.error()))

    def test_ehlo_name_from_local_address(self):
        """
        Without --ehlo the client greets with its address literal.
        """
        transport = StringTransport(hostAddress=IPv4Address("TCP", "192.0.2.7", 4321))
        self.assertEqual(local_ehlo_name(transport), "[192.0.2.7]")
        transport6 = StringTransport(hostAddress=IPv6Address("TCP", "::1", 4321))
        self.assertEqual(local_ehlo_name(transport6), "[IPv6:::1]")


class STARTTLSTests(SynchronousTestCase):
    def test_required_but_not_offered_aborts_before_mail(self):
        """
        --tls required (the default): no STARTTLS offered means QUIT before
        any AUTH or MAIL, a TLS-phase error.
        """
        session = Session(tls=TLSMode.REQUIRED, credentials=Credentials("u", "p"))
        written = session.to_mail()
        self.assertEqual(written, b"QUIT\r\n")
        error = session.error()
        self.assertIsInstance(error, PolicyError)
        self.assertEqual((error.step, error.phase), (Step.STARTTLS, Phase.TLS))

    def test_opportunistic_continues_in_plaintext(self):
        """
        --tls opportunistic goes on without TLS when STARTTLS is not offered.
        """
        session = Session(tls=TLSMode.OPPORTUNISTIC)
        self.assertEqual(session.to_mail(), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")

    def test_opportunistic_never_sends_credentials_in_plaintext(self):
        """
        Even opportunistic TLS refuses AUTH when TLS did not happen.
        """
        session = Session(tls=TLSMode.OPPORTUNISTIC, credentials=Credentials("u", "p"))
        self.assertEqual(session.to_mail(), b"QUIT\r\n")
        self.assertEqual(session.error().step, Step.AUTH)
        self.assertIn("without TLS", str(session.error()))

    def test_starttls_then_ehlo_again_with_fresh_capabilities(self):
        """
        After 220 the client starts TLS and says EHLO again (RFC 3207 4.2);
        capabilities from before the handshake are forgotten: only the
        post-TLS SIZE limit counts.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.server(b"220 mx.test\r\n")
        self.assertEqual(session.server(b"250-mx.test\r\n250-SIZE 10\r\n250 STARTTLS\r\n"), b"STARTTLS\r\n")
        written = session.server(b"220 2.0.0 ready\r\n")
        self.assertIs(session.transport.tls_started, TLS_OPTIONS)
        self.assertEqual(written, b"EHLO client.test\r\n")
        self.assertEqual(session.transport.written_before_tls, b"")
        self.assertEqual(
            session.server(b"250-mx.test\r\n250 SIZE 1000\r\n"), b"MAIL FROM:<alice@example.com> SIZE=22\r\n"
        )
        self.assertTrue(any(line == "=== starting TLS" for line in session.transcript))

    def test_injection_after_220_aborts(self):
        """
        A server (or a man in the middle) sending "220 ready" and "250 fake"
        in one packet: the bytes after 220 arrived in plaintext before the
        handshake; the client aborts without starting TLS or saying more.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.up_to_starttls()
        written = session.server(b"220 ready\r\n250 fake\r\n")
        self.assertEqual(written, b"")
        self.assertIsNone(session.transport.tls_started)
        self.assertTrue(session.transport.aborted)
        error = session.error()
        self.assertIsInstance(error, PeerProtocolError)
        self.assertEqual(error.phase, Phase.TLS)
        self.assertIn("injection", str(error))

    def test_partial_line_injection_aborts(self):
        """
        Even an incomplete line after the 220 counts as injected data.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.up_to_starttls()
        session.server(b"220 ready\r\n2")
        self.assertIsNone(session.transport.tls_started)
        self.assertIsInstance(session.error(), PeerProtocolError)

    def test_starttls_refused(self):
        """
        STARTTLS answered 454 with TLS required: TLS-phase error quoting it.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.up_to_starttls()
        self.assertEqual(session.server(b"454 4.7.0 TLS not available\r\n"), b"QUIT\r\n")
        self.assertEqual(session.error().phase, Phase.TLS)
        self.assertIn("454 4.7.0 TLS not available", str(session.error()))

    def test_handshake_failure_is_tls_phase(self):
        """
        The connection dying before the first reply through TLS (a failed
        certificate check looks like this) is reported as a TLS failure.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.up_to_starttls()
        session.server(b"220 ready\r\n")
        from twisted.python.failure import Failure

        session.protocol.connectionLost(Failure(Exception("certificate verify failed")))
        error = session.error()
        self.assertIsInstance(error, ConnectionLost)
        self.assertEqual(error.step, Step.TLS)
        self.assertIn("certificate verify failed", str(error))


class SystemTrustTests(SynchronousTestCase):
    """
    L{SystemTrust}: the default TLS settings, made when TLS starts.
    """

    def test_send_messages_defaults_to_system_trust_made_later(self):
        """
        Without C{tls_options}, the protocol gets a L{SystemTrust} for the
        host that has made no settings yet; made, they check that host.
        """
        reactor = MemoryReactorClock()
        send_messages(reactor, "127.0.0.1", [message()], tls=TLSMode.REQUIRED)
        [(_, _, factory, _, _)] = reactor.tcpClients
        trust = factory.buildProtocol(None).tls_options
        self.assertIsInstance(trust, SystemTrust)
        self.assertEqual((trust.host, trust._options), ("127.0.0.1", None))
        from twisted.internet.interfaces import IOpenSSLClientConnectionCreator

        self.assertTrue(IOpenSSLClientConnectionCreator.providedBy(trust))
        made = trust.options()
        self.assertIs(trust.options(), made)
        self.assertEqual(made._hostnameBytes, b"127.0.0.1")

    def test_starttls_makes_the_settings_first(self):
        """
        At STARTTLS the settings are made before the transport starts TLS,
        which then gets the L{SystemTrust} itself.
        """
        session = Session(tls=TLSMode.REQUIRED)
        trust = session.protocol.tls_options = SystemTrust("mx.example")
        session.up_to_starttls()
        self.assertEqual(session.server(b"220 ready\r\n"), b"EHLO client.test\r\n")
        self.assertIs(session.transport.tls_started, trust)
        self.assertIsNotNone(trust._options)

    def test_settings_that_cannot_be_made_end_the_session_in_tls(self):
        """
        A host name the settings cannot check (an empty label) ends the
        session at STARTTLS: aborted, nothing sent in the clear, a TLS
        error naming the host and the reason.
        """
        session = Session(tls=TLSMode.REQUIRED)
        session.protocol.tls_options = SystemTrust("mx..example")
        session.up_to_starttls()
        self.assertEqual(session.server(b"220 ready\r\n"), b"")
        self.assertIsNone(session.transport.tls_started)
        self.assertTrue(session.transport.aborted)
        error = session.error()
        self.assertIsInstance(error, ConnectionLost)
        self.assertEqual(error.phase, Phase.TLS)
        self.assertIn("no TLS settings for 'mx..example'", str(error))


def authenticated_session(auth: Optional[str] = None, ehlo: bytes = EHLO_TLS) -> Session:
    session = Session(tls=TLSMode.IMPLICIT, credentials=Credentials("alice", "wonder land"), auth=auth)
    session.server(b"220 mx.test\r\n")
    session.transport.clear()
    session.protocol.dataReceived(ehlo)
    return session


class AuthTests(SynchronousTestCase):
    def test_plain_masked_in_transcript(self):
        """
        AUTH PLAIN sends the initial response; the transcript masks it.
        """
        session = authenticated_session()
        expected = base64.b64encode(b"\0alice\0wonder land")
        self.assertEqual(session.transport.value(), b"AUTH PLAIN " + expected + b"\r\n")
        self.assertIn("-> AUTH PLAIN ********", session.transcript)
        self.assertFalse(any(expected.decode() in line for line in session.transcript))
        self.assertEqual(session.server(b"235 2.7.0 ok\r\n"), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")

    def test_login_answers_both_challenges(self):
        """
        AUTH LOGIN: user name and password, each base64, each masked.
        """
        session = authenticated_session(auth="LOGIN")
        self.assertEqual(session.transport.value(), b"AUTH LOGIN\r\n")
        self.assertEqual(session.server(b"334 VXNlcm5hbWU6\r\n"), base64.b64encode(b"alice") + b"\r\n")
        self.assertEqual(session.server(b"334 UGFzc3dvcmQ6\r\n"), base64.b64encode(b"wonder land") + b"\r\n")
        self.assertEqual(session.transcript.count("-> ********"), 2)

    def test_cram_md5_preferred_when_offered(self):
        """
        With CRAM-MD5 offered and no --auth, it is chosen; the response is the
        RFC 2195 HMAC of the challenge.
        """
        session = authenticated_session(ehlo=b"250-mx\r\n250 AUTH PLAIN CRAM-MD5\r\n")
        self.assertEqual(session.transport.value(), b"AUTH CRAM-MD5\r\n")
        challenge = base64.b64encode(b"<1896.697170952@postoffice.reston.mci.net>")
        answer = session.server(b"334 " + challenge + b"\r\n")
        user, digest = base64.b64decode(answer.strip()).split(b" ")
        self.assertEqual(user, b"alice")
        self.assertEqual(len(digest), 32)

    def test_auth_failure_is_auth_phase(self):
        """
        535 to AUTH: QUIT, an AUTH-phase error quoting the reply.
        """
        session = authenticated_session()
        self.assertEqual(session.server(b"535 5.7.8 bad credentials\r\n"), b"QUIT\r\n")
        error = session.error()
        self.assertEqual((error.step, error.phase), (Step.AUTH, Phase.AUTH))
        self.assertIn("535 5.7.8 bad credentials", str(error))

    def test_auth_not_offered(self):
        """
        Credentials given, no AUTH offered: stop before MAIL.
        """
        session = authenticated_session(ehlo=b"250 mx\r\n")
        self.assertEqual(session.transport.value(), b"QUIT\r\n")
        self.assertIsInstance(session.error(), PolicyError)
        self.assertEqual(session.error().phase, Phase.AUTH)

    def test_wanted_mechanism_not_offered(self):
        """
        --auth CRAM-MD5 against a server offering only PLAIN: clear error.
        """
        session = authenticated_session(auth="CRAM-MD5")
        self.assertIn("not CRAM-MD5", str(session.error()))


class TransactionTests(SynchronousTestCase):
    def test_partial_rcpt_still_sends_to_accepted(self):
        """
        One recipient refused: the message still goes to the others; the
        result says which recipient got which reply.
        """
        session = Session([message(recipients=("a@x.test", "nobody@x.test", "c@x.test"))])
        session.to_mail()
        self.assertEqual(session.server(b"250 ok\r\n"), b"RCPT TO:<a@x.test>\r\n")
        self.assertEqual(session.server(b"250 ok\r\n"), b"RCPT TO:<nobody@x.test>\r\n")
        self.assertEqual(session.server(b"550 5.1.1 no such user\r\n"), b"RCPT TO:<c@x.test>\r\n")
        self.assertEqual(session.server(b"250 ok\r\n"), b"DATA\r\n")
        self.assertEqual(session.server(b"354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(session.server(b"250 2.0.0 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertTrue(result.delivered)
        self.assertEqual(result.accepted, ("a@x.test", "c@x.test"))
        [refused] = result.refused
        self.assertEqual((refused.address, refused.reply.code, refused.reply.enhanced), ("nobody@x.test", 550, (5, 1, 1)))

    def test_every_rcpt_refused_no_data(self):
        """
        Without pipelining, when every recipient is refused DATA is never sent.
        """
        session = Session([message(recipients=("nobody@x.test",))])
        session.to_mail()
        session.server(b"250 ok\r\n")
        self.assertEqual(session.server(b"550 no\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertFalse(result.delivered)
        self.assertEqual(result.error.phase, Phase.ENVELOPE)

    def test_temporary_and_permanent_rejections_differ(self):
        """
        A 451 and a 554 at the end of data are both failures of the message
        phase; only the first is marked temporary.
        """
        for code, temporary in [(b"451 4.3.0 later", True), (b"554 5.6.0 no", False)]:
            session = Session()
            session.to_mail()
            session.server(b"250 ok\r\n")
            session.server(b"250 ok\r\n")
            session.server(b"354 go\r\n")
            self.assertEqual(session.server(code + b"\r\n"), b"QUIT\r\n")
            session.server(b"221 bye\r\n")
            [[result]] = session.results
            self.assertEqual((result.error.phase, result.error.temporary), (Phase.MESSAGE, temporary))
            self.assertIn(code.decode(), str(result.error))

    def test_mail_from_refused(self):
        """
        A refused MAIL FROM stops the transaction before any RCPT.
        """
        session = Session()
        session.to_mail()
        self.assertEqual(session.server(b"553 5.1.8 bad sender\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertEqual(result.error.step, Step.MAIL)

    def test_size_too_big_refused_before_data(self):
        """
        A message bigger than the announced SIZE is not sent at all.
        """
        session = Session([message(b"Subject: big\r\n\r\n" + b"line\r\n" * 200)])
        written = session.to_mail()
        self.assertEqual(written, b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertIsInstance(result.error, PolicyError)
        self.assertIn("at most 1000", str(result.error))

    def test_421_ends_everything(self):
        """
        421 at any step means the server is closing: no QUIT, a failure.
        """
        session = Session()
        session.to_mail()
        self.assertEqual(session.server(b"421 4.3.2 shutting down\r\n"), b"")
        self.assertTrue(session.transport.disconnecting)
        self.assertIn("421 4.3.2", str(session.error()))

    def test_pipelining_sends_one_flight(self):
        """
        With PIPELINING the client sends MAIL, every RCPT and DATA at once
        and matches the replies in order.
        """
        session = Session([message(recipients=("a@x.test", "nobody@x.test"))])
        session.server(b"220 mx\r\n")
        written = session.server(b"250-mx\r\n250 PIPELINING\r\n")
        self.assertEqual(written, b"MAIL FROM:<alice@example.com>\r\nRCPT TO:<a@x.test>\r\nRCPT TO:<nobody@x.test>\r\nDATA\r\n")
        self.assertEqual(session.server(b"250 ok\r\n250 ok\r\n550 no\r\n"), b"")
        self.assertEqual(session.server(b"354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")

    def test_pipelining_all_refused_then_354_sends_empty_end(self):
        """
        RFC 2920 3.1: if DATA was accepted although every RCPT failed, the
        client ends the data at once with a lone dot and sends nothing else.
        """
        session = Session([message(recipients=("nobody@x.test",))])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        self.assertEqual(session.server(b"250 ok\r\n550 no\r\n354 go\r\n"), b".\r\n")
        self.assertEqual(session.server(b"554 no valid recipients\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertEqual(result.error.step, Step.RCPT)

    def test_several_messages_with_rset(self):
        """
        Several messages go over one connection; a refused message does not
        stop the next one, and RSET goes before it because the server still
        holds the envelope of a transaction whose MAIL it accepted.
        """
        session = Session([message(recipients=("nobody@x.test",)), message(recipients=("b@x.test",))])
        session.to_mail()
        session.server(b"250 ok\r\n")
        self.assertEqual(session.server(b"550 no\r\n"), b"RSET\r\n")
        self.assertEqual(session.server(b"250 flushed\r\n"), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")
        session.server(b"250 ok\r\n")
        session.server(b"250 ok\r\n")
        session.server(b"354 go\r\n")
        self.assertEqual(session.server(b"250 ok\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[first, second]] = session.results
        self.assertFalse(first.delivered)
        self.assertTrue(second.delivered)

    def test_no_rset_after_a_completed_transaction(self):
        """
        Any reply to the final dot ends the transaction (RFC 5321 4.1.1.4),
        so the next MAIL follows at once, after a delivered message as after
        one refused at the end of data; a MAIL refused opened nothing either.
        """
        session = Session([message(), message(), message(), message()])
        self.assertEqual(session.to_mail(), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")
        for end_of_data in [b"250 queued\r\n", b"554 5.7.1 spam\r\n"]:
            session.server(b"250 ok\r\n")
            session.server(b"250 ok\r\n")
            self.assertEqual(session.server(b"354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")
            self.assertEqual(session.server(end_of_data), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")
        self.assertEqual(session.server(b"553 5.1.8 bad sender\r\n"), b"MAIL FROM:<alice@example.com> SIZE=22\r\n")
        session.server(b"250 ok\r\n")
        session.server(b"250 ok\r\n")
        session.server(b"354 go\r\n")
        self.assertEqual(session.server(b"250 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [results] = session.results
        self.assertEqual(
            [(r.delivered, r.error and r.error.step) for r in results],
            [(True, None), (False, Step.MESSAGE), (False, Step.MAIL), (True, None)],
        )
        self.assertNotIn("-> RSET", session.transcript)

    def test_pipelined_content_carries_the_next_envelope(self):
        """
        RFC 2920 3.1: the content may open a group, so after the 354 one
        write carries the content, its final dot and the next message's
        MAIL, RCPT and DATA; the reply to the dot is matched to the first
        message and the next replies to the second.
        """
        session = Session([message(recipients=("a@x.test",)), message(recipients=("b@x.test",))])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        writes = session.transport.writes
        self.assertEqual(
            session.server(b"354 go\r\n"),
            b"Subject: hi\r\n\r\nhello\r\n.\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n",
        )
        self.assertEqual(session.transport.writes, writes + 1)
        self.assertEqual(session.protocol.dialogue.step, Step.MESSAGE)
        self.assertEqual(session.server(b"250 queued 1\r\n250 ok\r\n250 ok\r\n"), b"")
        self.assertEqual(session.server(b"354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(session.server(b"250 queued 2\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[first, second]] = session.results
        self.assertEqual((first.accepted, second.accepted), (("a@x.test",), ("b@x.test",)))
        self.assertEqual((first.reply.text, second.reply.text), ("queued 1", "queued 2"))
        self.assertNotIn("-> RSET", session.transcript)

    def test_pipelined_group_with_a_refused_rcpt_in_the_middle(self):
        """
        Replies are matched to the commands in the order sent (RFC 2920
        3.1): in a group riding with the first message's content, a refused
        middle RCPT is that recipient's, the others still get the message.
        """
        recipients = ("a@x.test", "nobody@x.test", "c@x.test")
        session = Session([message(), message(recipients=recipients)])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        self.assertTrue(session.server(b"354 go\r\n").endswith(
            b".\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<a@x.test>\r\n"
            b"RCPT TO:<nobody@x.test>\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"
        ))
        self.assertEqual(
            session.server(b"250 queued\r\n250 ok\r\n250 a ok\r\n550 5.1.1 no such user\r\n250 c ok\r\n"), b""
        )
        self.assertEqual(session.server(b"354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(session.server(b"250 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[first, second]] = session.results
        self.assertTrue(first.delivered)
        self.assertEqual(second.accepted, ("a@x.test", "c@x.test"))
        self.assertEqual([(r.address, r.reply.code) for r in second.refused], [("nobody@x.test", 550)])
        self.assertEqual([r.reply.text for r in second.recipients], ["a ok", "5.1.1 no such user", "c ok"])

    def test_pipelined_refused_data_sends_no_content(self):
        """
        When DATA of a group is refused the content is never sent (RFC 2920
        3.1: check every status); the server may still hold the envelope, so
        RSET rides in the next group with MAIL, RCPT and DATA.
        """
        session = Session([message(recipients=("a@x.test",)), message(recipients=("b@x.test",))])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        self.assertEqual(
            session.server(b"250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n"),
            b"RSET\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<b@x.test>\r\nDATA\r\n",
        )
        self.assertEqual(session.server(b"250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n"), b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(session.server(b"250 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[first, second]] = session.results
        self.assertEqual((first.error.step, first.error.temporary), (Step.DATA, True))
        self.assertIsNone(first.reply)
        self.assertTrue(second.delivered)
        self.assertEqual(session.transcript.count(" > hello"), 1)

    def test_pipelined_next_envelope_refused_after_content(self):
        """
        A next envelope whose every RCPT is refused while it rode with the
        previous content: the previous message is delivered, DATA (refused)
        sends nothing, and RSET precedes the third message.
        """
        session = Session([message(), message(recipients=("nobody@x.test",)), message()])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        session.server(b"354 go\r\n")
        self.assertEqual(
            session.server(b"250 queued\r\n250 ok\r\n550 no\r\n554 5.5.1 no valid recipients\r\n"),
            b"RSET\r\nMAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n",
        )
        session.server(b"250 reset\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        self.assertEqual(session.server(b"250 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [results] = session.results
        self.assertEqual([r.delivered for r in results], [True, False, True])
        self.assertEqual(results[1].error.step, Step.RCPT)

    def test_pipelined_421_after_content_fails_both_messages(self):
        """
        A 421 in reply to the final dot, while the next envelope is on its
        way, ends the session without QUIT; both messages are reported
        undelivered, in order.
        """
        session = Session([message(recipients=("a@x.test",)), message(recipients=("b@x.test",)), message()])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        session.server(b"354 go\r\n")
        self.assertEqual(session.server(b"421 4.3.2 shutting down\r\n"), b"")
        error = session.error()
        self.assertIn("421 4.3.2", str(error))
        self.assertEqual([r.recipients[0].address for r in error.results], ["a@x.test", "b@x.test"])
        self.assertEqual([r.delivered for r in error.results], [False, False])
        self.assertEqual(error.results[0].error.step, Step.MESSAGE)
        self.assertIs(error.result, error.results[0])

    def test_pipelined_connection_lost_after_content_fails_both_messages(self):
        """
        The connection closing while a content and the next envelope await
        their replies fails both messages (neither was acknowledged).
        """
        session = Session([message(recipients=("a@x.test",)), message(recipients=("b@x.test",))])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        session.server(b"354 go\r\n")
        session.server(b"250 queued\r\n")
        session.transport.loseConnection()
        error = session.error()
        self.assertIsInstance(error, ConnectionLost)
        self.assertEqual(error.step, Step.MAIL)
        self.assertEqual([r.delivered for r in error.results], [True, False])

    def test_pipelined_results_keep_message_order(self):
        """
        A message refused locally (bigger than SIZE) while the one before it
        still awaits the reply to its dot is reported after it: results come
        in the order of the messages.
        """
        big = message(b"Subject: big\r\n\r\n" + b"line\r\n" * 200)
        session = Session([message(recipients=("a@x.test",)), big, message(recipients=("c@x.test",))])
        session.server(b"220 mx\r\n")
        session.server(b"250-mx\r\n250-SIZE 1000\r\n250 PIPELINING\r\n")
        session.server(b"250 ok\r\n250 ok\r\n")
        self.assertTrue(session.server(b"354 go\r\n").endswith(b".\r\nMAIL FROM:<alice@example.com> SIZE=22\r\nRCPT TO:<c@x.test>\r\nDATA\r\n"))
        session.server(b"250 queued\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        self.assertEqual(session.server(b"250 queued\r\n"), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [results] = session.results
        self.assertEqual([r.delivered for r in results], [True, False, True])
        self.assertIsInstance(results[1].error, PolicyError)
        self.assertEqual(results[2].accepted, ("c@x.test",))

    def test_refused_rset_ends_the_session(self):
        """
        If the server refuses RSET, no further message is started (it could
        be mixed with the previous envelope); the error names RSET.
        """
        session = Session([message(recipients=("nobody@x.test",)), message()])
        session.to_mail()
        session.server(b"250 ok\r\n")
        self.assertEqual(session.server(b"550 no\r\n"), b"RSET\r\n")
        self.assertEqual(session.server(b"554 no\r\n"), b"QUIT\r\n")
        error = session.error()
        self.assertEqual(error.step, Step.RSET)
        self.assertEqual(len(error.results), 1)

    def test_smtputf8_needed_but_missing(self):
        """
        A non-ASCII address against a server without SMTPUTF8: clear error,
        nothing sent for that message.
        """
        session = Session([Envelope("alice@example.com", ("jürgen@example.de",), b"x\r\n")])
        self.assertEqual(session.to_mail(), b"QUIT\r\n")
        session.server(b"221 bye\r\n")
        [[result]] = session.results
        self.assertIn("SMTPUTF8", str(result.error))

    def test_smtputf8_used_when_offered(self):
        """
        A non-ASCII address with SMTPUTF8 offered: MAIL FROM carries the
        parameter and the address goes out in UTF-8.
        """
        session = Session([Envelope("alice@example.com", ("jürgen@example.de",), b"x\r\n")])
        session.server(b"220 mx\r\n")
        written = session.server(b"250-mx\r\n250 SMTPUTF8\r\n")
        self.assertEqual(written, b"MAIL FROM:<alice@example.com> SMTPUTF8\r\n")
        self.assertEqual(session.server(b"250 ok\r\n"), "RCPT TO:<jürgen@example.de>\r\n".encode("utf-8"))

    def test_dot_stuffing_and_crlf_on_the_wire(self):
        """
        Lines starting with "." are doubled and bare LF/CR become CRLF, so
        "<LF>.<LF>" in the message cannot end DATA early (SMTP smuggling).
        """
        session = Session([message(b"Subject: s\n\n.hidden\nline\n.\nMAIL FROM:<evil>\rend")])
        session.to_mail()
        session.server(b"250 ok\r\n")
        session.server(b"250 ok\r\n")
        written = session.server(b"354 go\r\n")
        self.assertEqual(written, b"Subject: s\r\n\r\n..hidden\r\nline\r\n..\r\nMAIL FROM:<evil>\r\nend\r\n.\r\n")


class TimeoutTests(SynchronousTestCase):
    def test_greeting_timeout(self):
        """
        No greeting within the timeout: abort, error names the step.
        """
        session = Session(timeout=5)
        session.clock.advance(4.9)
        self.assertEqual(session.failures, [])
        session.clock.advance(0.2)
        error = session.error()
        self.assertIsInstance(error, StepTimeout)
        self.assertEqual(error.step, Step.GREETING)
        self.assertTrue(session.transport.aborted)

    def test_timeout_is_per_reply(self):
        """
        The timer restarts with every complete reply, and continuation
        lines do not extend it.
        """
        session = Session(timeout=5)
        session.clock.advance(4)
        session.server(b"220 mx\r\n")
        session.clock.advance(4)
        session.server(b"250-mx\r\n")
        session.clock.advance(1.1)
        error = session.error()
        self.assertEqual(error.step, Step.EHLO)

    def test_timeout_after_data(self):
        """
        Waiting for the reply to the final dot times out too, reported as
        a message-phase failure carrying the message result.
        """
        session = Session(timeout=5)
        session.to_mail()
        session.server(b"250 ok\r\n")
        session.server(b"250 ok\r\n")
        session.server(b"354 go\r\n")
        session.clock.advance(6)
        error = session.error()
        self.assertEqual((error.step, error.phase), (Step.MESSAGE, Phase.MESSAGE))
        self.assertEqual(error.results[0].accepted, ())

    def test_big_message_gets_upload_time(self):
        """
        The wait for the reply to the final dot grows with the message size
        (one second per 64 KiB), so a slow upload is not a dead server.
        """
        # About 330 KB: five seconds of upload allowance on top of the timeout.
        session = Session([message(b"Subject: big\r\n\r\n" + (b"y" * 998 + b"\r\n") * 330)], timeout=5)
        session.server(b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n")
        session.clock.advance(9)
        self.assertEqual(session.failures, [])
        session.clock.advance(2)
        self.assertEqual(session.error().step, Step.MESSAGE)

    def test_no_timer_left_after_quit(self):
        """
        Once QUIT is answered no call is left pending on the clock.
        """
        session = Session()
        session.to_mail()
        session.server(b"250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n")
        self.assertEqual(len(session.results), 1)
        self.assertEqual(session.clock.getDelayedCalls(), [])


class FakeTLSOptions:
    """
    What iosim's fake TLS asks of the options on both ends.
    """

    def iosimVerify(self, other):
        return True


class ScriptedServer(LineReceiver):
    """
    A tiny in-memory ESMTP server for iosim: STARTTLS (fake TLS from iosim),
    then AUTH PLAIN and one message.
    """

    delimiter = b"\r\n"

    def __init__(self) -> None:
        self.tls = False
        self.received: List[bytes] = []
        self.data: List[bytes] = []
        self.in_data = False

    def connectionMade(self) -> None:
        self.sendLine(b"220 scripted ESMTP")

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)
        if self.in_data:
            if line == b".":
                self.in_data = False
                self.sendLine(b"250 2.0.0 stored")
            else:
                self.data.append(line)
            return
        verb = line.split(b" ")[0].upper()
        if verb == b"EHLO":
            extra = b"250 AUTH PLAIN" if self.tls else b"250 STARTTLS"
            self.sendLine(b"250-scripted\r\n250-PIPELINING\r\n" + extra)
        elif verb == b"STARTTLS":
            self.sendLine(b"220 go ahead")
            self.transport.startTLS(FakeTLSOptions())
            self.tls = True
        elif verb == b"AUTH":
            self.sendLine(b"235 ok" if self.tls else b"530 no")
        elif verb in (b"MAIL", b"RCPT"):
            self.sendLine(b"250 ok")
        elif verb == b"DATA":
            self.in_data = True
            self.sendLine(b"354 go")
        elif verb == b"QUIT":
            self.sendLine(b"221 bye")
            self.transport.loseConnection()


class InMemorySTARTTLSTests(SynchronousTestCase):
    def test_full_dialogue_over_iosim(self):
        """
        Against an in-memory server, STARTTLS really switches the transport
        to (iosim's fake) TLS before EHLO is repeated and AUTH is sent.
        """
        server = ScriptedServer()
        clock = Clock()
        client = SMTPClientProtocol(
            ClientConfig(tls=TLSMode.REQUIRED, credentials=Credentials("a", "b"), ehlo_name="c.test"),
            [message(b"Subject: x\r\n\r\n.dot\r\n")],
            tls_options=FakeTLSOptions(),
            reactor=clock,
        )
        results: list = []
        client.finished.addBoth(results.append)
        server_transport = iosim.FakeTransport(server, isServer=True)
        client_transport = iosim.FakeTransport(client, isServer=False)
        pump = iosim.connect(server, server_transport, client, client_transport, greet=False)
        pump.flush()
        [outcome] = results
        self.assertTrue(outcome[0].delivered, outcome)
        from twisted.internet.interfaces import ISSLTransport

        self.assertTrue(ISSLTransport.providedBy(client_transport))
        verbs = [line.split(b" ")[0] for line in server.received]
        self.assertEqual(verbs[:4], [b"EHLO", b"STARTTLS", b"EHLO", b"AUTH"])
        self.assertEqual(server.data, [b"Subject: x", b"", b"..dot"])


class SendmailTests(SynchronousTestCase):
    def test_connects_to_host_and_port(self):
        """
        sendmail() connects over TCP to the given address and port; a
        refused connection fails with a connect-phase error.
        """
        reactor = MemoryReactorClock()
        d = sendmail(reactor, "127.0.0.1", "a@x.test", ["b@x.test"], b"x\r\n", port=2525, tls=TLSMode.NONE)
        [(host, port, factory, timeout, _)] = reactor.tcpClients
        self.assertEqual((host, port), ("127.0.0.1", 2525))
        from twisted.internet.error import ConnectionRefusedError

        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
        error = self.failureResultOf(d).value
        self.assertIsInstance(error, ConnectionLost)
        self.assertEqual(error.phase, Phase.CONNECT)

    def test_sendmail_result_and_failure(self):
        """
        sendmail() fires with the MessageResult when delivered, and fails
        with the step's error (carrying the result) when nobody accepted.
        """
        for rcpt_reply, delivered in [(b"250 ok", True), (b"550 no", False)]:
            reactor = MemoryReactorClock()
            d = sendmail(reactor, "127.0.0.1", "a@x.test", ["b@x.test"], b"x\r\n", tls=TLSMode.NONE)
            [(_, port, factory, _, _)] = reactor.tcpClients
            self.assertEqual(port, 25)
            protocol = factory.buildProtocol(None)
            transport = TLSStringTransport()
            transport.protocol = protocol
            protocol.makeConnection(transport)
            protocol.dataReceived(b"220 mx\r\n250 mx\r\n250 ok\r\n" + rcpt_reply + b"\r\n")
            if delivered:
                protocol.dataReceived(b"354 go\r\n250 ok\r\n221 bye\r\n")
                result = self.successResultOf(d)
                self.assertEqual(result.accepted, ("b@x.test",))
            else:
                protocol.dataReceived(b"221 bye\r\n")
                error = self.failureResultOf(d, SMTPReplyError).value
                self.assertEqual(error.result.refused[0].reply.code, 550)

    def test_email_message_accepted(self):
        """
        sendmail() also takes an email.message.EmailMessage and sends it
        with CRLF line ends; anything else is a TypeError.
        """
        from email.message import EmailMessage

        built = EmailMessage()
        built["Subject"] = "object"
        built.set_content("hello\n")
        reactor = MemoryReactorClock()
        sendmail(reactor, "127.0.0.1", "a@x.test", ["b@x.test"], built, tls=TLSMode.NONE)
        [(_, _, factory, _, _)] = reactor.tcpClients
        protocol = factory.buildProtocol(None)
        self.assertIn(b"Subject: object\r\n", protocol.messages[0].data)
        with self.assertRaises(TypeError):
            sendmail(reactor, "127.0.0.1", "a@x.test", ["b@x.test"], "text", tls=TLSMode.NONE)

    def test_implicit_tls_default_port(self):
        """
        --tls implicit defaults to port 465 and wraps the connection in TLS.
        """
        reactor = MemoryReactorClock()
        send_messages(reactor, "127.0.0.1", [message()], tls=TLSMode.IMPLICIT)
        [(_, port, factory, _, _)] = reactor.tcpClients
        self.assertEqual(port, 465)
        from twisted.protocols.tls import TLSMemoryBIOFactory

        self.assertIsInstance(factory.factory, TLSMemoryBIOFactory)




class CloseTests(SynchronousTestCase):
    def test_result_waits_for_the_close(self):
        """
        finished fires only once the connection is closed, so the caller is
        never left with a half-open connection; if the close never completes
        the connection is aborted after one more timeout and then it fires.
        """
        clock = Clock()
        protocol = SMTPClientProtocol(
            ClientConfig(tls=TLSMode.NONE, ehlo_name="c.test"), [message()], reactor=clock, timeout_seconds=5
        )
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"220 mx\r\n250 mx\r\n250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n")
        self.assertTrue(transport.disconnecting)
        self.assertNoResult(protocol.finished)
        clock.advance(5)
        [result] = self.successResultOf(protocol.finished)
        self.assertTrue(result.delivered)


class FailureTextTests(SynchronousTestCase):
    def test_openssl_errors_made_readable(self):
        """
        An OpenSSL error list becomes its reasons, with the --cafile hint
        for an untrusted certificate.
        """
        from OpenSSL import SSL

        from twisted_netlab.mail.client import _failure_text

        reason = Failure(SSL.Error([("SSL routines", "", "certificate verify failed")]))
        text = _failure_text(reason)
        self.assertTrue(text.startswith("certificate verify failed"), text)
        self.assertIn("--cafile", text)
        self.assertEqual(_failure_text(Failure(ConnectionDone("bye"))), "Connection was closed cleanly: bye.")


class PublicAPITests(SynchronousTestCase):
    def test_every_exported_name_resolves(self):
        """
        Every name in twisted_netlab.mail.__all__ can be imported from the
        package (the exports are lazy, so a typo would only show at use).
        """
        import twisted_netlab.mail as package

        for name in package.__all__:
            self.assertIsNotNone(getattr(package, name), name)
        with self.assertRaises(AttributeError):
            package.no_such_name


class RobustnessTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None)
    @given(
        st.lists(
            st.one_of(
                st.sampled_from(
                    [b"220 hi\r\n", b"250 ok\r\n", b"250-mx\r\n", b"250 PIPELINING\r\n", b"250 STARTTLS\r\n",
                     b"354 go\r\n", b"334 VXNlcm5hbWU6\r\n", b"235 ok\r\n", b"421 bye\r\n", b"550 no\r\n",
                     b"221 bye\r\n", b"\r\n", b"\n", b"2", b"99 x\r\n"]
                ),
                st.binary(max_size=40),
            ),
            max_size=25,
        ),
        st.sampled_from(list(TLSMode)),
    )
    def test_any_server_bytes_end_in_a_result_or_an_smtp_error(self, chunks, tls):
        """
        Whatever a server sends, in whatever pieces, the client never raises:
        it carries on, or ends with results, or with an SMTPClientError.
        """
        from twisted_netlab.mail import SMTPClientError

        session = Session(
            [message(recipients=("a@x.test", "b@x.test")), message()],
            tls=tls,
            credentials=Credentials("u", "p") if tls is TLSMode.IMPLICIT else None,
        )
        for chunk in chunks:
            session.protocol.dataReceived(chunk)
            if session.transport.disconnecting:
                break
        session.clock.advance(60)
        self.assertEqual(len(session.results) + len(session.failures), 1)
        for failure in session.failures:
            self.assertIsInstance(failure.value, SMTPClientError)


class TLSOptionsTests(SynchronousTestCase):
    def test_cafile_bundle_loads_every_certificate(self):
        """
        --cafile may hold several PEM certificates (a bundle); each one is
        read, and a file without any is refused.
        """
        from tests.mail.certs import make_ca_and_server_certificate
        from twisted_netlab.mail.client import _pem_blocks, client_tls_options

        paths = make_ca_and_server_certificate(self.mktemp())[:2]
        pems = []
        for path in paths:
            with open(path, "rb") as f:
                pems.append(f.read())
        bundle = self.mktemp()
        with open(bundle, "wb") as f:
            f.write(b"# comment\n" + pems[0] + b"\n" + pems[1])
        self.assertEqual(len(_pem_blocks(b"# comment\n" + pems[0] + b"\n" + pems[1])), 2)
        self.assertIsNotNone(client_tls_options("127.0.0.1", bundle))
        empty = self.mktemp()
        with open(empty, "wb") as f:
            f.write(b"nothing here\n")
        with self.assertRaises(ValueError):
            client_tls_options("127.0.0.1", empty)


class WriteNowTests(SynchronousTestCase):
    def test_only_a_plain_tcp_connection_is_written_beneath_the_reactor(self):
        """
        write_now hands bytes straight to a plain TCP connection with
        nothing queued, but a wrapper that forwards unknown attributes to
        the TCP transport beneath it (as the TLS wrapper of implicit TLS
        does) is written through its own write(): writing beneath it would
        send plaintext around TLS.
        """
        from twisted.internet import tcp

        from twisted_netlab._write_now import write_now

        class Beneath(tcp.Connection):
            def __init__(self):
                self.direct, self.queued = [], []
                self.dataBuffer, self._tempDataBuffer, self.disconnecting, self.TLS = b"", [], False, False

            def writeSomeData(self, data):
                self.direct.append(data)
                return len(data)

            def write(self, data):
                self.queued.append(data)

        class ForwardingWrapper:
            def __init__(self, beneath):
                self.beneath, self.written = beneath, []

            def write(self, data):
                self.written.append(data)

            def __getattr__(self, name):
                return getattr(self.beneath, name)

        beneath = Beneath()
        write_now(beneath, b"NOOP\r\n")
        self.assertEqual((beneath.direct, beneath.queued), ([b"NOOP\r\n"], []))
        wrapper = ForwardingWrapper(Beneath())
        write_now(wrapper, b"AUTH PLAIN secret\r\n")
        self.assertEqual(wrapper.written, [b"AUTH PLAIN secret\r\n"])
        self.assertEqual((wrapper.beneath.direct, wrapper.beneath.queued), ([], []))
        beneath.TLS = True
        write_now(beneath, b"EHLO x\r\n")
        self.assertEqual(beneath.queued, [b"EHLO x\r\n"])
