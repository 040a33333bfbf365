"""
Tests for L{twisted_netlab.mail.sink}: the Twisted adapter of the mail
sink on StringTransport (timeouts with a Clock), and over
L{twisted.test.iosim} against a scripted client and against Twisted's own
ESMTP client, including STARTTLS (iosim's pretend TLS).
"""

import email
import os
from io import BytesIO

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred
from twisted.internet.protocol import Protocol
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import Logger
from twisted.mail.smtp import ESMTPSenderFactory, SMTPDeliveryError
from twisted.test import iosim
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail import sink
from twisted_netlab.mail._faults import FaultPlan, parse_fault
from twisted_netlab.mail._maildir import Maildir
from twisted_netlab.mail._sink_core import SinkPolicy

USERS = {"alice": "wonder land"}


class PretendTLSContext:
    """
    What iosim's FakeTransport.startTLS needs from a context: the
    handshake "succeeds" when both sides verify.
    """

    def iosimVerify(self, other):
        return True


class ScriptedClient(Protocol):
    """
    A client that sends what the test says and keeps every byte received.
    """

    def __init__(self):
        self.received = b""

    def dataReceived(self, data):
        self.received += data

    def take(self):
        data, self.received = self.received, b""
        return data


class FactoryMixin:
    def make_factory(self, faults=(), tls=True, factory_options=None, **policy):
        self.clock = Clock()
        self.clock.advance(1_700_000_000)
        self.root = self.mktemp()
        self.maildir = Maildir(self.root)
        self.maildir.create()
        self.store = sink.MaildirStore(self.maildir, self.clock, "mx.test", random_hex=lambda: "abc", pid=7)
        policy.setdefault("hostname", "mx.test")
        self.factory = sink.SinkFactory(
            SinkPolicy(tls_available=tls, **policy),
            self.store,
            tls_context=PretendTLSContext() if tls else None,
            faults=FaultPlan(parse_fault(f) for f in faults),
            timeout_seconds=30.0,
            reactor=self.clock,
            **{"max_connections": 2, **(factory_options or {})},
        )
        self.logged = []
        self.patch(sink, "log", Logger(observer=self.logged.append))
        return self.factory

    def connect(self, host="127.0.0.1"):
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 40000))
        protocol.makeConnection(transport)
        return protocol, transport

    def stored(self):
        folder = os.path.join(self.root, "new")
        return sorted(os.listdir(folder))


class StringTransportTests(FactoryMixin, SynchronousTestCase):
    def test_message_stored_and_logged(self):
        """
        A message is written to new/ with trace headers, acknowledged with
        its queue id, and logged in one info line.
        """
        self.make_factory()
        protocol, transport = self.connect()
        self.assertEqual(transport.value(), b"220 mx.test ESMTP netlab-mailsink\r\n")
        transport.clear()
        protocol.dataReceived(
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
            b"Subject: hi\r\n\r\n..dot\r\n.\r\nQUIT\r\n"
        )
        name = "1700000000.M0P7Q1Rabc.mx.test"
        self.assertEqual(self.stored(), [name])
        lines = transport.value().split(b"\r\n")
        self.assertIn(f"250 2.0.0 Ok: queued as {name}".encode(), lines)
        self.assertEqual(lines[-2], b"221 2.0.0 Bye")
        self.assertTrue(transport.disconnecting)
        with open(os.path.join(self.root, "new", name), "rb") as handle:
            raw = handle.read()
        message = email.message_from_bytes(raw)
        self.assertEqual(message["Return-Path"], "<a@b.test>")
        self.assertEqual(message["X-Envelope-To"], "<c@d.test>")
        self.assertIn("with ESMTP id " + name, message["Received"])
        self.assertEqual(message["Subject"], "hi")
        self.assertTrue(raw.endswith(b"\r\nSubject: hi\r\n\r\n.dot\r\n"))
        stored = [e for e in self.logged if e["log_format"].startswith("stored message")]
        self.assertEqual(len(stored), 1)
        self.assertEqual(stored[0]["log_level"].name, "info")
        self.assertEqual(stored[0]["queue_id"], name)

    def test_discard_storage_logs_no_line_per_message(self):
        """
        With discard storage (benchmarks) a message is acknowledged and
        counted, but nothing is written and no "stored message" line is
        logged; durable storage logs it (test above).
        """
        self.make_factory()
        self.store.discard = True
        protocol, transport = self.connect()
        protocol.dataReceived(
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
            b"Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"
        )
        self.assertIn(b"250 2.0.0 Ok: queued as 1700000000.M0P7Q1Rabc.mx.test", transport.value())
        self.assertEqual(self.stored(), [])
        self.assertEqual((self.factory.messages_stored, self.factory.bytes_stored > 0), (1, True))
        self.assertEqual([e for e in self.logged if e["log_format"].startswith("stored message")], [])

    def test_many_pipelined_messages_in_one_packet(self):
        """
        A packet carrying more pipelined messages than Python's recursion limit has frames are all stored and answered in
        order (no recursion per message).
        """
        self.make_factory()
        # fsync is slow and beside the point here.
        self.store.maildir = Maildir(self.root, fsync=lambda descriptor: None)
        protocol, transport = self.connect()
        transport.clear()
        one = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n"
        protocol.dataReceived(b"EHLO c\r\n" + one * 1500 + b"QUIT\r\n")
        self.assertEqual(len(self.stored()), 1500)
        replies = [line[:3] for line in transport.value().split(b"\r\n") if line[:3].isdigit() and line[3:4] == b" "]
        self.assertEqual(replies, [b"250"] + [b"250", b"250", b"354", b"250"] * 1500 + [b"221"])

    def test_idle_timeout(self):
        """
        After the idle timeout the server says 421 and closes; every
        complete command line re-arms the timer.
        """
        self.make_factory()
        protocol, transport = self.connect()
        self.clock.advance(29)
        protocol.dataReceived(b"NOOP\r\n")
        self.clock.advance(29)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(2)
        self.assertTrue(transport.value().endswith(b"421 4.4.2 mx.test Error: timeout exceeded\r\n"))
        self.assertTrue(transport.disconnecting)

    def test_timer_cancelled_on_close(self):
        """
        A closed connection leaves no pending timer.
        """
        self.make_factory()
        protocol, transport = self.connect()
        protocol.dataReceived(b"QUIT\r\n")
        protocol.connectionLost(None)
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_connection_limit(self):
        """
        Past max_connections, new connections get 421 and are closed.
        """
        self.make_factory()
        self.connect()
        self.connect()
        protocol, transport = self.connect()
        self.assertEqual(transport.value(), b"421 4.7.0 Too many connections, try again later\r\n")
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(None)
        self.assertEqual(self.factory.active_connections, 2)

    def test_storage_failure(self):
        """
        When the Maildir cannot take the message the client gets 451, not
        250, and new/ stays empty.
        """
        self.make_factory()

        def broken_rename(source, destination):
            raise OSError(28, "No space left on device")

        self.store.maildir = Maildir(self.root, rename=broken_rename)
        protocol, transport = self.connect()
        protocol.dataReceived(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n")
        self.assertIn(b"451 4.3.0 Could not store the message (No space left on device)", transport.value())
        self.assertEqual(self.stored(), [])
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [])

    def test_size_limit(self):
        """
        SIZE is advertised and a bigger body is refused with 552 and not
        stored.
        """
        self.make_factory(max_size=2048)
        protocol, transport = self.connect()
        protocol.dataReceived(b"EHLO c\r\n")
        self.assertIn(b"250-SIZE 2048\r\n", transport.value())
        protocol.dataReceived(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        for _ in range(40):
            protocol.dataReceived(b"x" * 98 + b"\r\n")
        protocol.dataReceived(b".\r\n")
        self.assertTrue(transport.value().endswith(b"552 5.3.4 Message size exceeds fixed maximum message size (2048 octets)\r\n"))
        self.assertEqual(self.stored(), [])

    def test_smuggling_attempt_not_stored(self):
        """
        An <LF>.<LF> smuggling attempt: the smuggled second message is never
        seen as commands, and the carrying message is refused (554).
        """
        self.make_factory()
        protocol, transport = self.connect()
        protocol.dataReceived(
            b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"
            b"Subject: one\r\n\r\nx\n.\nMAIL FROM:<admin@bank.test>\r\nRCPT TO:<victim@d.test>\r\nDATA\r\n"
            b"Subject: forged\r\n\r\ny\r\n.\r\n"
        )
        replies = [line[:3] for line in transport.value().split(b"\r\n") if line]
        self.assertEqual(replies[-4:], [b"250", b"250", b"354", b"554"])
        self.assertEqual(self.stored(), [])

    def test_faults_count_across_connections(self):
        """
        DATA=451:2 refuses the second message even when each message comes
        on its own connection.
        """
        self.make_factory(faults=["DATA=451:2"])
        results = []
        for _ in range(3):
            protocol, transport = self.connect()
            protocol.dataReceived(b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\nQUIT\r\n")
            results.append(transport.value().split(b"\r\n")[-3][:3])
            protocol.connectionLost(None)
        self.assertEqual(results, [b"250", b"451", b"250"])
        self.assertEqual(len(self.stored()), 2)


class IOSimTests(FactoryMixin, SynchronousTestCase):
    def pair(self, **kwargs):
        self.make_factory(**kwargs)
        self.client = ScriptedClient()
        client, server, pump = iosim.connectedServerAndClient(
            lambda: self.factory.buildProtocol(None), lambda: self.client, greet=True
        )
        self.pump = pump
        self.server = server
        return self.client.take()

    def say(self, data):
        self.client.transport.write(data)
        self.pump.flush()
        return self.client.take()

    def test_starttls_flushes_pipelined_plaintext(self):
        """
        Commands pipelined after STARTTLS in the same plaintext packet are
        discarded: after the handshake the session is fresh, and the
        injected MAIL never ran (CVE-2024-34083).
        """
        greeting = self.pair()
        self.assertTrue(greeting.startswith(b"220 "))
        self.say(b"EHLO c\r\n")
        reply = self.say(b"STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\n")
        self.assertEqual(reply, b"220 2.0.0 Ready to start TLS\r\n")
        self.client.transport.startTLS(PretendTLSContext())
        self.pump.flush()
        # iosim drops its handshake buffer once both sides finished TLS.
        self.assertIsNone(getattr(self.server.transport, "tlsbuf", "TLS never started"))
        self.assertTrue(self.server.session.tls_active)
        self.assertEqual(self.say(b"RCPT TO:<v@y.test>\r\n")[:4], b"503 ")
        self.assertIn(b"250 ", self.say(b"EHLO c\r\n"))
        self.assertEqual(self.say(b"MAIL FROM:<a@b.test>\r\n"), b"250 2.1.0 Sender <a@b.test> ok\r\n")
        warnings = [e for e in self.logged if "discarded" in e["log_format"]]
        self.assertEqual(warnings[0]["count"], len(b"MAIL FROM:<evil@x.test>\r\nRCPT TO:<v@y.test>\r\n"))

    def test_auth_offered_only_after_starttls(self):
        """
        AUTH is not in EHLO before STARTTLS and is refused with 538; after
        STARTTLS it is offered and works.
        """
        self.pair(users=USERS)
        self.assertNotIn(b"AUTH", self.say(b"EHLO c\r\n"))
        self.assertEqual(self.say(b"AUTH PLAIN AGFsaWNlAHdvbmRlciBsYW5k\r\n")[:4], b"538 ")
        self.say(b"STARTTLS\r\n")
        self.client.transport.startTLS(PretendTLSContext())
        self.pump.flush()
        self.assertIn(b"250 AUTH PLAIN LOGIN\r\n", self.say(b"EHLO c\r\n"))
        self.assertEqual(self.say(b"AUTH PLAIN AGFsaWNlAHdvbmRlciBsYW5k\r\n"), b"235 2.7.0 Authentication successful\r\n")


class TwistedClientTests(FactoryMixin, SynchronousTestCase):
    """
    Twisted's own ESMTP client (which nobody here wrote) as the peer.
    """

    def send(self, message, **factory_options):
        self.make_factory(**factory_options)
        result = Deferred()
        client_factory = ESMTPSenderFactory(
            b"alice",
            b"wonder land",
            "a@b.test",
            ["c@d.test", "e@f.test"],
            BytesIO(message),
            result,
            contextFactory=PretendTLSContext(),
            retries=0,
            requireAuthentication=True,
            requireTransportSecurity=True,
        )
        iosim.connectedServerAndClient(
            lambda: self.factory.buildProtocol(None), lambda: client_factory.buildProtocol(None), greet=True
        )
        return result

    def test_starttls_login_and_send(self):
        """
        The Twisted client does STARTTLS, AUTH LOGIN and sends to two
        recipients; the stored file parses back with the same body (the
        client turns local LF line ends into CRLF and dot-stuffs).
        """
        body = b"From: a@b.test\nSubject: round trip\n\nline 1\n.line 2 starts with a dot\n"
        result = self.successResultOf(self.send(body, users=USERS))
        self.assertEqual(result[0], 2)
        [name] = self.stored()
        with open(os.path.join(self.root, "new", name), "rb") as handle:
            raw = handle.read()
        message = email.message_from_bytes(raw)
        self.assertEqual(message["Subject"], "round trip")
        self.assertIn("with ESMTPSA", message["Received"])
        self.assertTrue(raw.endswith(b"\r\n\r\nline 1\r\n.line 2 starts with a dot\r\n"))
        attempts = [e for e in self.logged if e["log_format"].startswith("{peer}: AUTH")]
        self.assertEqual([(e["mechanism"], e["user"], e["outcome"]) for e in attempts], [("LOGIN", "alice", "succeeded")])

    def test_client_sending_bare_cr_is_refused(self):
        """
        Given CRLF input, Twisted's client (which turns every LF into CRLF)
        sends CR CR LF; the sink refuses that message as carrying bare CR
        instead of storing a mangled one.
        """
        failure = self.failureResultOf(self.send(b"Subject: x\r\n\r\ny\r\n", users=USERS), SMTPDeliveryError)
        self.assertEqual(failure.value.code, 554)
        self.assertEqual(self.stored(), [])

    def test_rcpt_fault_reaches_client(self):
        """
        With --fault RCPT=550 for every recipient, the Twisted client
        reports a delivery error carrying our code.
        """
        failure = self.failureResultOf(self.send(b"Subject: x\r\n\r\ny\r\n", users=USERS, faults=["RCPT=550"]), SMTPDeliveryError)
        self.assertEqual(failure.value.code, 550)
        self.assertEqual(self.stored(), [])


ENVELOPE = b"EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n"


class HardeningTests(FactoryMixin, SynchronousTestCase):
    """
    The holes of the attack campaign (issue 14 items 7-9), closed.
    """

    def tmp_files(self):
        folder = os.path.join(self.root, "tmp")
        return {name: os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder)}

    def test_dribbled_command_line_meets_its_deadline(self):
        """
        A client sending one byte every 5 s never completes a line in the
        30 s timeout: it is answered 421 and closed 30 s after its last
        complete line, although bytes kept arriving (slowloris).
        """
        self.make_factory()
        protocol, transport = self.connect()
        for second in range(5, 30, 5):
            self.clock.advance(5)
            protocol.dataReceived(b"N")
            self.assertFalse(transport.disconnecting, second)
        self.clock.advance(5.1)
        self.assertTrue(transport.value().endswith(b"421 4.4.2 mx.test Error: timeout exceeded\r\n"))
        self.assertTrue(transport.disconnecting)
        self.assertTrue(any(e.get("what") == "command line deadline" for e in self.logged))

    def test_data_phase_deadline_scales_with_size(self):
        """
        The DATA phase gets the timeout plus one second per 500 octets:
        a client sending 100 KB every 20 s goes on for minutes, one
        dribbling 10 bytes every 5 s is cut off after about 30 s.
        """
        self.make_factory()
        protocol, transport = self.connect()
        protocol.dataReceived(ENVELOPE)
        for _ in range(10):
            self.clock.advance(20)
            protocol.dataReceived((b"x" * 998 + b"\r\n") * 100)
        protocol.dataReceived(b".\r\n")
        self.assertFalse(transport.disconnecting)
        self.assertIn(b"250 2.0.0 Ok: queued as", transport.value())
        transport.clear()
        protocol.dataReceived(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        for _ in range(6):
            self.clock.advance(5)
            protocol.dataReceived(b"y" * 8 + b"\r\n")
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)
        self.assertTrue(transport.value().endswith(b"421 4.4.2 mx.test Error: timeout exceeded\r\n"))
        self.assertEqual(self.tmp_files(), {})

    def test_per_address_connection_cap(self):
        """
        One address cannot take every slot: past max_connections_per_address
        it gets 421, while another address is still served; a closed
        connection gives its slot back.
        """
        self.make_factory(factory_options={"max_connections": 10, "max_connections_per_address": 2})
        first, _ = self.connect("127.0.0.2")
        self.connect("127.0.0.2")
        refused, transport = self.connect("127.0.0.2")
        self.assertEqual(transport.value(), b"421 4.7.0 Too many connections from your address, try again later\r\n")
        self.assertTrue(transport.disconnecting)
        refused.connectionLost(None)
        other, other_transport = self.connect("127.0.0.1")
        self.assertTrue(other_transport.value().startswith(b"220 "))
        first.connectionLost(None)
        again, again_transport = self.connect("127.0.0.2")
        self.assertTrue(again_transport.value().startswith(b"220 "))
        self.assertEqual(self.factory.connections_by_address, {"127.0.0.2": 2, "127.0.0.1": 1})

    def test_body_streams_into_tmp(self):
        """
        The body is written to tmp/ as it arrives, before the final dot
        (dot-unstuffed), then renamed into new/ whole at the final dot.
        """
        self.make_factory()
        protocol, transport = self.connect()
        protocol.dataReceived(ENVELOPE)
        line = b"..dotted" + b"z" * 90 + b"\r\n"
        for _ in range(30):
            protocol.dataReceived(line * 100)
        [(name, size)] = self.tmp_files().items()
        self.assertGreater(size, 200_000)
        self.assertEqual(self.stored(), [])
        protocol.dataReceived(b".\r\n")
        self.assertEqual(self.stored(), [name])
        self.assertEqual(self.tmp_files(), {})
        with open(os.path.join(self.root, "new", name), "rb") as handle:
            raw = handle.read()
        self.assertTrue(raw.endswith(b"\r\n\r\n" + line[1:] * 3000) or raw.endswith(line[1:] * 3000))
        self.assertEqual(raw.count(b".dotted"), 3000)
        self.assertEqual(raw.count(b"..dotted"), 0)

    def test_refused_or_cut_message_leaves_no_tmp_file(self):
        """
        A message over the size limit and one whose connection drops mid-DATA
        leave nothing in tmp/ or new/.
        """
        self.make_factory(max_size=150_000)
        protocol, transport = self.connect()
        protocol.dataReceived(ENVELOPE)
        for _ in range(20):
            protocol.dataReceived((b"q" * 98 + b"\r\n") * 100)
        protocol.dataReceived(b".\r\n")
        self.assertIn(b"552 5.3.4", transport.value())
        self.assertEqual(self.tmp_files(), {})
        protocol.dataReceived(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")
        protocol.dataReceived((b"q" * 98 + b"\r\n") * 1000)
        self.assertEqual(len(self.tmp_files()), 1)
        protocol.connectionLost(None)
        self.assertEqual(self.tmp_files(), {})
        self.assertEqual(self.stored(), [])

    def test_commit_runs_off_the_reactor_thread(self):
        """
        With run_commit (a thread pool in the tap), 250 waits for the commit
        to finish, the transport is paused meanwhile, and pipelined
        commands are answered after it.
        """
        commits = []

        def run_commit(commit):
            result = Deferred()
            commits.append((commit, result))
            return result

        self.make_factory(factory_options={"run_commit": run_commit})
        protocol, transport = self.connect()
        protocol.dataReceived(ENVELOPE + b"x\r\n.\r\nNOOP\r\n")
        self.assertNotIn(b"queued", transport.value())
        self.assertEqual(transport.producerState, "paused")
        [(commit, result)] = commits
        result.callback(commit())
        self.assertEqual(transport.producerState, "producing")
        self.assertTrue(transport.value().endswith(b"queued as 1700000000.M0P7Q1Rabc.mx.test\r\n250 2.0.0 Ok\r\n"))
        self.assertEqual(len(self.stored()), 1)
