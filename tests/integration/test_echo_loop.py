"""
Integration: two real ``twistd -n netlab-echo`` processes on loopback and
one datagram with a spoofed source (the other server's port), the way an
attacker starts an echo loop between two servers.  Needs root for the raw
socket (CI runs as root).
"""

from __future__ import annotations

import os
import re
import socket
import struct

from twisted.trial.unittest import TestCase

from tests.helpers import executable, start_process

#: Bound on every wait below; the loop is cut within milliseconds.
WAIT_SECONDS = 10.0

SUMMARY = re.compile(r"netlab-echo: received (\d+), echoed (\d+), .*; refused: (.*)$")


def spoofed_udp(source_port: int, destination_port: int, payload: bytes) -> bytes:
    """
    An IPv4 + UDP packet from 127.0.0.1:C{source_port} to
    127.0.0.1:C{destination_port} (the kernel fills in the IP checksum and
    identification; a UDP checksum of 0 means none, RFC 768).
    """
    loopback = socket.inet_aton("127.0.0.1")
    udp = struct.pack("!HHHH", source_port, destination_port, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, socket.IPPROTO_UDP, 0, loopback, loopback)
    return ip + udp


def last_summary(output: str) -> "tuple[int, int, str]":
    """
    (received, echoed, refusals) of the last summary line in C{output}.
    """
    found = [SUMMARY.search(line) for line in output.splitlines()]
    [*_, last] = [match for match in found if match]
    return int(last.group(1)), int(last.group(2)), last.group(3)


class EchoLoopTests(TestCase):
    def start_echo(self):
        command = [
            executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-echo",
            "--port", "0", "--summary-interval", "100ms",
        ]
        child = start_process(self, command, expect=0)
        port = int(child.read_until(r"netlab-echo listening on udp \S+ (\d+)", timeout=20).group(1))
        return child, port

    def test_spoofed_datagram_between_two_servers_dies(self):
        """
        One datagram sent to server A as if from server B is echoed by A to
        B and by B back to A, which recognises its own echo (byte-identical,
        less than a second old) and refuses it: two echoes in all, where a
        loop used to run for ever at the per-source rate.
        """
        if os.geteuid() != 0:
            self.skipTest("a spoofed source needs a raw socket (root); CI runs as root")
        first, first_port = self.start_echo()
        second, second_port = self.start_echo()
        raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        self.addCleanup(raw.close)
        raw.sendto(spoofed_udp(second_port, first_port, b"Ping 1 1764480000.000000"), ("127.0.0.1", 0))

        first.read_until(r"refused: .*loop-suspected 1\b", timeout=WAIT_SECONDS)
        second.read_until(r"netlab-echo: received 1, echoed 1,", timeout=WAIT_SECONDS)
        # A stopping server logs its totals once more if they changed: the
        # last line of each is its total for the whole run.
        self.assertEqual(first.stop(timeout=WAIT_SECONDS), 0)
        self.assertEqual(second.stop(timeout=WAIT_SECONDS), 0)
        received, echoed, refusals = last_summary(first.text)
        self.assertEqual((received, echoed), (2, 1), first.text[-2000:])
        self.assertIn("loop-suspected 1", refusals)
        self.assertEqual(last_summary(second.text)[:2], (1, 1), second.text[-2000:])
