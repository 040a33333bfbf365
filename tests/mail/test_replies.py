"""
Tests for L{twisted_netlab.mail._replies}: reply parsing and EHLO
capabilities, without any I/O.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._replies import (
    MAX_REPLY_LINES,
    PeerProtocolError,
    Reply,
    ReplyParser,
    Step,
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


_PIECES = [
    b"250", b"550", b"421", b"199", b"600", b"25", b" ", b"-", b"2.1.0", b"5.1.1", b"4.7.0", b"2.1.0000",
    b"2.", b"2.1", b"5.1.1.", b" ok", b"ok", b".", b"1", b"\t", b"\r", b"\x1b", b"\x7f", b"\x85", b"\xc3\xa9",
]


def _outcome(parse, line):
    try:
        return parse(line, Step.MAIL)
    except PeerProtocolError as error:
        return str(error)


class ReplyFastPathTests(SynchronousTestCase):
    @given(st.lists(st.sampled_from(_PIECES), min_size=1, max_size=7).map(b"".join))
    def test_one_match_path_agrees_with_the_general_path(self, line):
        """
        The single regular-expression match that reads the usual one-line
        reply gives the same reply (code, text, enhanced code) or the same
        refusal as the general line-by-line path, for any line.
        """
        self.assertEqual(_outcome(ReplyParser().feed_line, line), _outcome(ReplyParser()._feed_line, line))

    def test_table(self):
        """
        Lines the single match takes and those it leaves to the general
        path (continuation, bare code, non-ASCII, control, wrong class).
        """
        cases = [
            (b"250 2.1.0 Ok", Reply(250, ("2.1.0 Ok",), (2, 1, 0))),
            (b"550 5.1.1 no such user", Reply(550, ("5.1.1 no such user",), (5, 1, 1))),
            (b"250 5.1.1 class differs", Reply(250, ("5.1.1 class differs",), None)),
            (b"250 2.1.0000 too long", Reply(250, ("2.1.0000 too long",), None)),
            (b"354 go\tahead", Reply(354, ("go\tahead",), None)),
            (b"250 caf\xc3\xa9", Reply(250, ("caf\xe9",), None)),
            (b"250", Reply(250, ("",), None)),
            (b"250 ok\r", Reply(250, ("ok",), None)),
            (b"250 \x1b[2J", "control character"),
            (b"2500 x", "malformed"),
            (b"250-more", None),
        ]
        for line, expected in cases:
            outcome = _outcome(ReplyParser().feed_line, line)
            if isinstance(expected, str):
                self.assertIn(expected, outcome, line)
            else:
                self.assertEqual(outcome, expected, line)


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
