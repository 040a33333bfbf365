"""
Tests for L{twisted_netlab.mail._replies}: reply parsing and EHLO
capabilities, without any I/O.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._replies import (
    MAX_REPLY_LINES,
    PeerProtocolError,
    Reply,
    ReplyParser,
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
