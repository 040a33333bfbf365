"""
Tests for L{twisted_netlab.mail._message}: DATA framing, addresses and
message building, without any I/O.
"""

from __future__ import annotations

import email
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._message import (
    Attachment,
    Mailbox,
    build_message,
    check_address,
    frame_data,
    frame_message,
    make_message_id,
    normalize_crlf,
)
from twisted_netlab.mail._replies import LocalProtocolError


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

    @settings(max_examples=500, deadline=None)
    @given(
        st.lists(
            st.sampled_from([b"a", b".", b"\r", b"\n", b"\r\n", b"\r\n.", b"x" * 500, b"\x0b", b"\x85"]), max_size=12
        ).map(b"".join)
    )
    def test_fast_framing_agrees_with_the_general_path(self, message):
        """
        frame_message (three C passes when lines already end in CRLF) gives
        the size after normalisation and the framed data exactly as
        normalize_crlf and frame_data do, or the same refusal, for any bytes.
        """
        def outcome(frame):
            try:
                return frame(message)
            except LocalProtocolError as error:
                return str(error)

        self.assertEqual(
            outcome(frame_message), outcome(lambda data: (len(normalize_crlf(data)), frame_data(data)))
        )

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
