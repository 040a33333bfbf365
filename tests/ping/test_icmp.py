"""
Tests for L{twisted_netlab.ping._icmp}: the error-queue record and the
words each ICMP error is reported with.
"""

from __future__ import annotations

import socket
import struct

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._icmp import (
    ORIGIN_ICMP,
    ORIGIN_ICMP6,
    ORIGIN_LOCAL,
    ExtendedError,
    decode_extended_error,
    icmp_error_text,
)


def record(errno_value: int, origin: int, icmp_type: int, code: int, info: int = 0, offender: bytes = b"") -> bytes:
    return struct.pack("=IBBBBII", errno_value, origin, icmp_type, code, 0, info, 0) + offender


def sockaddr_in(host: str) -> bytes:
    return struct.pack("=H", socket.AF_INET) + b"\0\0" + socket.inet_pton(socket.AF_INET, host) + b"\0" * 8


def sockaddr_in6(host: str) -> bytes:
    return struct.pack("=H", socket.AF_INET6) + b"\0" * 6 + socket.inet_pton(socket.AF_INET6, host) + b"\0" * 4


class DecodeTests(SynchronousTestCase):
    def test_records(self):
        """
        The kernel's record decodes to its fields and the offender's
        address, IPv4 or IPv6; a short record is L{None}.
        """
        table = [
            (record(111, ORIGIN_ICMP, 3, 3, offender=sockaddr_in("127.0.0.1")),
             ExtendedError(111, ORIGIN_ICMP, 3, 3, 0, "127.0.0.1")),
            (record(111, ORIGIN_ICMP6, 1, 4, offender=sockaddr_in6("::1")),
             ExtendedError(111, ORIGIN_ICMP6, 1, 4, 0, "::1")),
            (record(90, ORIGIN_LOCAL, 0, 0, info=1500), ExtendedError(90, ORIGIN_LOCAL, 0, 0, 1500, None)),
            (record(111, ORIGIN_ICMP6, 1, 4, offender=sockaddr_in6("::1")[:20]),
             ExtendedError(111, ORIGIN_ICMP6, 1, 4, 0, None)),
            (b"\0" * 15, None),
        ]
        for data, expected in table:
            self.assertEqual(decode_extended_error(data), expected)


class TextTests(SynchronousTestCase):
    def test_words(self):
        """
        Each error is named as ping users know it.
        """
        table = [
            (ORIGIN_ICMP, 3, 3, 0, "Destination Port Unreachable"),
            (ORIGIN_ICMP, 3, 1, 0, "Destination Host Unreachable"),
            (ORIGIN_ICMP, 3, 13, 0, "Packet filtered"),
            (ORIGIN_ICMP, 3, 4, 1400, "Frag needed and DF set (mtu = 1400)"),
            (ORIGIN_ICMP, 3, 14, 0, "Destination Unreachable, code 14"),
            (ORIGIN_ICMP, 11, 0, 0, "Time to live exceeded"),
            (ORIGIN_ICMP6, 1, 4, 0, "Destination unreachable: Port unreachable"),
            (ORIGIN_ICMP6, 1, 1, 0, "Destination unreachable: Administratively prohibited"),
            (ORIGIN_ICMP6, 2, 0, 1280, "Packet too big: mtu=1280"),
            (ORIGIN_ICMP6, 3, 0, 0, "Time exceeded: Hop limit"),
        ]
        for origin, icmp_type, code, info, expected in table:
            self.assertEqual(icmp_error_text(ExtendedError(111, origin, icmp_type, code, info, None)), expected)
        self.assertTrue(icmp_error_text(ExtendedError(90, ORIGIN_LOCAL, 0, 0, 0, None)).startswith("local error: "))
