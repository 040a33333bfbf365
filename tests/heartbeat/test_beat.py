"""
Tests for L{twisted_netlab.heartbeat._beat}: the beat wire format (classic,
extended and signed), its limits and its two error families.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.heartbeat._beat import (
    MAX_DATAGRAM_BYTES,
    MIN_KEY_BYTES,
    Beat,
    LocalProtocolError,
    PeerProtocolError,
    RejectReason,
    check_key,
    decode_beat,
    encode_beat,
    new_boot_id,
    verify_beat,
)

KEY = b"0123456789abcdef0123456789abcdef"
BOOT_A = "a" * 16
BOOT_B = "b" * 16
T0 = 1_700_000_000.0
SOURCE = ("127.0.0.1", 5000)


class WireFormatTests(SynchronousTestCase):
    def test_classic_round_trip(self):
        """
        Without id, boot or key a beat is the lab's C{<seq> - <epoch>}.
        """
        data = encode_beat(7, T0 + 0.25)
        self.assertEqual(data, b"7 - 1700000000.250000")
        self.assertEqual(decode_beat(data), Beat(7, T0 + 0.25))

    def test_lab_client_line(self):
        """
        A lab client's C{f"{seq} - {time.time()}"}, with a trailing newline
        and Python's full float precision, decodes.
        """
        beat = decode_beat(b"12 - 1700000000.1234567\n")
        self.assertEqual((beat.sequence, beat.client_id, beat.boot), (12, None, None))
        self.assertAlmostEqual(beat.sent_at, 1700000000.1234567, places=6)

    def test_extended_round_trip(self):
        """
        The extended format carries the id and boot id after the classic
        part, so a classic parser reading only the head still works.
        """
        data = encode_beat(3, T0, client_id="alpha-1", boot=BOOT_A)
        self.assertEqual(data, b"3 - 1700000000.000000 id=alpha-1 boot=" + BOOT_A.encode())
        self.assertEqual(decode_beat(data), Beat(3, T0, "alpha-1", BOOT_A))

    def test_signed_round_trip(self):
        """
        A signed beat verifies under its key and under no other; changing
        any byte before the MAC breaks it.
        """
        data = encode_beat(3, T0, client_id="alpha", boot=BOOT_A, key=KEY)
        beat = decode_beat(data)
        self.assertTrue(verify_beat(beat, KEY))
        self.assertFalse(verify_beat(beat, KEY[::-1]))
        altered = decode_beat(data.replace(b"3 - ", b"4 - ", 1))
        self.assertFalse(verify_beat(altered, KEY))
        self.assertFalse(verify_beat(decode_beat(encode_beat(3, T0)), KEY))

    def test_malformed(self):
        """
        Anything outside the grammar is refused with a reason, never an
        exception of another kind.
        """
        mac = b"0" * 64
        cases = [
            b"", b"hello", b"1 -", b"1 - ", b"-1 - 5", b"1 - -5", b"1 - nan", b"1 - inf",
            b"1 - 1e9", b"1 - 5 x=y", b"1 - 5 id=", b"1 - 5 id=a id=b", b"1 - 5 id=1abc",
            b"1 - 5 id=a:b", b"1 - 5 boot=xyz", b"1 - 5 mac=" + mac, b"1 - 5 boot=" + b"a" * 16 + b" mac=12",
            b"1 - 5 boot=" + b"a" * 16 + b" mac=" + mac + b" id=a", b"1 - 5junk", b"1 - 5  id=a",
            b"99999999999999999999 - 5", b"9999999999999999999 - 5", b"\xff\xfe - 1", b"1 - 5 id=\xff",
        ]
        for data in cases:
            with self.assertRaises(PeerProtocolError, msg=repr(data)) as caught:
                decode_beat(data)
            self.assertIs(caught.exception.reason, RejectReason.MALFORMED, repr(data))

    def test_oversized(self):
        """
        Datagrams over C{MAX_DATAGRAM_BYTES} are refused before parsing.
        """
        with self.assertRaises(PeerProtocolError) as caught:
            decode_beat(b"1 - 5" + b" " * MAX_DATAGRAM_BYTES)
        self.assertIs(caught.exception.reason, RejectReason.OVERSIZED)

    def test_encode_refuses_what_cannot_be_carried(self):
        """
        Bad ids, negative sequences, signing without a boot id and short
        keys are the caller's errors.
        """
        self.assertRaises(LocalProtocolError, encode_beat, -1, T0)
        self.assertRaises(LocalProtocolError, encode_beat, 1, float("nan"))
        self.assertRaises(LocalProtocolError, encode_beat, 1, T0, "has space")
        self.assertRaises(LocalProtocolError, encode_beat, 1, T0, "a", None, KEY)
        self.assertRaises(LocalProtocolError, encode_beat, 1, T0, "a", BOOT_A, b"short")
        self.assertRaises(LocalProtocolError, new_boot_id, b"1234")
        self.assertEqual(new_boot_id(bytes(range(8))), "0001020304050607")

    def test_boundaries(self):
        """
        The limits hold at their exact edges: sequence 2**63 - 1 decodes and
        2**63 is malformed; a key of MIN_KEY_BYTES is accepted and one byte
        less refused; a MAC wrong only in its last hex digit does not verify.
        """
        self.assertEqual(decode_beat(b"9223372036854775807 - 5").sequence, 2**63 - 1)
        with self.assertRaises(PeerProtocolError) as caught:
            decode_beat(b"9223372036854775808 - 5")
        self.assertIs(caught.exception.reason, RejectReason.MALFORMED)
        self.assertEqual(check_key(b"k" * MIN_KEY_BYTES), b"k" * MIN_KEY_BYTES)
        self.assertRaises(LocalProtocolError, check_key, b"k" * (MIN_KEY_BYTES - 1))
        data = encode_beat(3, T0, client_id="alpha", boot=BOOT_A, key=KEY)
        last = data[-1:]
        tampered = data[:-1] + (b"0" if last != b"0" else b"1")
        self.assertFalse(verify_beat(decode_beat(tampered), KEY))
