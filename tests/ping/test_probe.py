"""
Tests for L{twisted_netlab.ping._probe}: the probe payloads both sides share.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._probe import (
    MAX_UDP_PAYLOAD,
    PayloadFormat,
    ProbeIdentity,
    decode_probe,
    encode_probe,
    probe_sequence,
)


class PayloadTests(SynchronousTestCase):
    def test_lab_format(self):
        """
        The lab format is C{Ping <seq> <time>} with microsecond time.
        """
        self.assertEqual(encode_probe(PayloadFormat.LAB, 3, 1700000000.25), b"Ping 3 1700000000.250000")

    def test_seq_format(self):
        """
        The seq format is C{sequence=<n>\\ttime=<t>}.
        """
        self.assertEqual(encode_probe(PayloadFormat.SEQ, 7, 1.5), b"sequence=7\ttime=1.500000")

    def test_padding_to_size(self):
        """
        With a size, the probe is padded to exactly that many bytes and
        still decodes; a size below the bare message leaves it whole.
        """
        for payload_format in PayloadFormat:
            padded = encode_probe(payload_format, 12, 5.0, size=200)
            self.assertEqual(len(padded), 200)
            self.assertEqual(decode_probe(padded), ProbeIdentity(payload_format, 12))
            self.assertEqual(encode_probe(payload_format, 12, 5.0, size=3), encode_probe(payload_format, 12, 5.0))

    def test_decode_table(self):
        """
        Both formats decode in any letter case; anything else is L{None}.
        """
        table = [
            (b"Ping 1 17.5", ProbeIdentity(PayloadFormat.LAB, 1)),
            (b"PING 42 17.500000", ProbeIdentity(PayloadFormat.LAB, 42)),
            (b"ping 9 1.0 padding", ProbeIdentity(PayloadFormat.LAB, 9)),
            (b"sequence=5\ttime=2.0", ProbeIdentity(PayloadFormat.SEQ, 5)),
            (b"SEQUENCE=5\tTIME=2.0", ProbeIdentity(PayloadFormat.SEQ, 5)),
            (b"Pong 1 17.5", None),
            (b"Ping one 17.5", None),
            (b"Ping 1 17.5x", None),
            (b"sequence=5 time=2.0", None),
            (b"", None),
            (b"\xff\xfe", None),
        ]
        for data, expected in table:
            self.assertEqual(decode_probe(data), expected, data)

    def test_lenient_sequence_table(self):
        """
        The echo reads the sequence of any client's probe: the lab's
        C{Ping <n>} followed by anything, or a C{seq=}/C{sequence=} field;
        other payloads have none.
        """
        table = [
            (b"Ping 3 Mon Nov 30 05:00:00 2026", 3),
            (b"PING 12 1.5", 12),
            (b"  ping 4", 4),
            (b"sequence=5\ttime=1.0", 5),
            (b"probe seq=9 at 1.0", 9),
            (b"seq: 7", 7),
            (b"Pinged 3", None),
            (b"hello", None),
            (b"Ping 1234567890123456789", None),
            (b"", None),
        ]
        for data, expected in table:
            self.assertEqual(probe_sequence(data), expected, data)

    def test_size_and_sequence_bounds(self):
        """
        A size equal to the bare message leaves it as is; the largest UDP
        payload is allowed and one byte more refused; sequence 0 is a
        sequence, -1 is not.
        """
        bare = encode_probe(PayloadFormat.LAB, 1, 2.0)
        self.assertEqual(encode_probe(PayloadFormat.LAB, 1, 2.0, size=len(bare)), bare)
        self.assertEqual(len(encode_probe(PayloadFormat.LAB, 1, 2.0, size=len(bare) + 1)), len(bare) + 1)
        self.assertEqual(len(encode_probe(PayloadFormat.SEQ, 1, 2.0, size=MAX_UDP_PAYLOAD)), MAX_UDP_PAYLOAD)
        self.assertRaises(ValueError, encode_probe, PayloadFormat.SEQ, 1, 2.0, MAX_UDP_PAYLOAD + 1)
        self.assertEqual(encode_probe(PayloadFormat.LAB, 0, 2.0), b"Ping 0 2.000000")
        self.assertRaises(ValueError, encode_probe, PayloadFormat.LAB, -1, 2.0)
