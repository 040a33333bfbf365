"""
Tests for L{twisted_netlab.mail._transcript} and the sink's observers:
each session's whole dialogue, AUTH masked, errors and warnings included.
"""

import base64
import os

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail import sink
from twisted_netlab.mail._maildir import Maildir
from twisted_netlab.mail._sink_core import SinkPolicy
from twisted_netlab.mail._transcript import MAX_LINES_PER_SESSION, EntryKind, TranscriptEntry, TranscriptFiles


class TranscriptTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(1_700_000_000.25)
        root = self.mktemp()
        maildir = Maildir(root)
        maildir.create()
        store = sink.MaildirStore(maildir, self.clock, "mx.test", random_hex=lambda: "abc", pid=7)
        policy = SinkPolicy(
            hostname="mx.test", users={"alice": "hunter2"}, tls_available=False, allow_plaintext_auth=True
        )
        self.factory = sink.SinkFactory(policy, store, reactor=self.clock)
        self.entries = []
        self.factory.observers.append(self.entries.append)
        self.folder = self.mktemp()
        os.makedirs(self.folder)
        self.factory.observers.append(TranscriptFiles(self.folder))

    def session(self, data):
        protocol = self.factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 40000))
        protocol.makeConnection(transport)
        protocol.dataReceived(data)
        protocol.connectionLost(None)
        return transport

    def test_whole_dialogue_written_with_auth_masked(self):
        """
        The transcript file holds both sides in order: client lines (AUTH
        response masked, never the password), every server reply including
        the errors, the body summarised, a warning for the unstuffed dot,
        and the close.
        """
        secret = base64.b64encode(b"\0alice\0hunter2").decode()
        self.session(
            f"EHLO c.test\r\nFROB\r\nAUTH PLAIN {secret}\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"
            "DATA\r\nSubject: x\r\n\r\n.oops\r\n.\r\nQUIT\r\n".encode()
        )
        [name] = os.listdir(self.folder)
        self.assertRegex(name, r"^20231114T221320-s1-127\.0\.0\.1__40000\.txt$")
        with open(os.path.join(self.folder, name)) as handle:
            lines = [line.split(" ", 1)[1].rstrip("\n") for line in handle]
        self.assertEqual(
            lines,
            [
                "=== [127.0.0.1]:40000",
                "S: 220 mx.test ESMTP netlab-mailsink",
                "C: EHLO c.test",
                "S: 250-mx.test Hello c.test",
                "S: 250-PIPELINING",
                "S: 250-SIZE 10485760",
                "S: 250-8BITMIME",
                "S: 250-SMTPUTF8",
                "S: 250-ENHANCEDSTATUSCODES",
                "S: 250 AUTH PLAIN LOGIN",
                "C: FROB",
                "S: 500 5.5.2 Command not recognized",
                "C: AUTH PLAIN ********",
                "S: 235 2.7.0 Authentication successful",
                "C: MAIL FROM:<a@b.test>",
                "S: 250 2.1.0 Sender <a@b.test> ok",
                "C: RCPT TO:<c@d.test>",
                "S: 250 2.1.5 Recipient <c@d.test> ok",
                "C: DATA",
                "S: 354 End data with <CR><LF>.<CR><LF>",
                "!! body line 3 began with an unstuffed '.' (RFC 5321 4.5.2): the client did not double it, so that dot was removed",
                "C: [message body: 3 lines, 20 octets unstuffed]",
                "C: .",
                "S: 250 2.0.0 Ok: queued as 1700000000.M250000P7Q1Rabc.mx.test",
                "C: QUIT",
                "S: 221 2.0.0 Bye",
                "--- connection closed",
            ],
        )
        self.assertNotIn(secret, repr(self.entries))
        self.assertEqual({type(e) for e in self.entries}, {TranscriptEntry})
        self.assertEqual({e.session for e in self.entries}, {1})

    def test_refused_connection_is_transcribed(self):
        """
        A connection refused by the limits gets a transcript too: the 421
        it was told.
        """
        self.factory.max_connections_per_address = 0
        self.session(b"EHLO c\r\n")
        texts = [(e.kind, e.text) for e in self.entries]
        self.assertEqual(
            texts,
            [
                (EntryKind.OPENED, "[127.0.0.1]:40000"),
                (EntryKind.SERVER, "421 4.7.0 Too many connections from your address, try again later"),
                (EntryKind.CLOSED, "connection closed"),
            ],
        )

    def test_lines_per_session_capped(self):
        """
        A chatty client cannot grow its transcript without bound (the
        default cap is MAX_LINES_PER_SESSION lines).
        """
        self.assertEqual(TranscriptFiles(self.folder).max_lines, MAX_LINES_PER_SESSION)
        self.factory.observers[1:] = [TranscriptFiles(self.folder, max_lines=40)]
        self.session(b"NOOP\r\n" * 90)
        [name] = os.listdir(self.folder)
        with open(os.path.join(self.folder, name)) as handle:
            lines = handle.read().splitlines()
        self.assertEqual(len(lines), 41)
        self.assertEqual(lines[-2], "[transcript cut after 40 lines]")
        self.assertTrue(lines[-1].endswith("--- connection closed"))
