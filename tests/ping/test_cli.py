"""
Tests for L{twisted_netlab.ping.cli}: options as iputils users know them,
the printed lines, exit codes, and a whole run on a fake reactor.
"""

from __future__ import annotations

import io
import json

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPPort, FakeUDPReactor
from twisted_netlab.ping._pinger_core import (
    CorruptedReply,
    DuplicateReply,
    ForeignReply,
    LateReply,
    ProbeError,
    ProbeTimedOut,
    ReplyReceived,
)
from twisted_netlab.ping._probe import PayloadFormat
from twisted_netlab.ping.cli import Options, Printer, main


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        """
        The lab's defaults: 10 probes, 1 s apart, 1 s timeout, port 12000.
        """
        options = parse("127.0.0.1")
        self.assertEqual(
            (options["count"], options["interval"], options["timeout"], options["deadline"], options["port"]),
            (10, 1.0, 1.0, None, 12000),
        )
        self.assertEqual(options["format"], PayloadFormat.LAB)

    def test_iputils_flags(self):
        """
        -c, -i, -W, -w, -s, -q and --format parse as iputils users expect.
        """
        options = parse("-c", "5", "-i", "0.2", "-W", "250ms", "-w", "3", "-s", "100", "-q", "--format", "seq", "h", "9")
        self.assertEqual(
            (options["count"], options["interval"], options["timeout"], options["deadline"], options["size"]),
            (5, 0.2, 0.25, 3.0, 100),
        )
        self.assertTrue(options["quiet"])
        self.assertEqual((options["format"], options["host"], options["port"]), (PayloadFormat.SEQ, "h", 9))

    def test_deadline_without_count_is_unlimited(self):
        """
        With -w and no -c, probing goes on until the deadline (iputils).
        """
        self.assertIsNone(parse("-w", "2", "h")["count"])

    def test_bad_flags(self):
        """
        Bad values and missing hosts are usage errors (exit 2 at the top).
        """
        for argv in [
            [],
            ["-c", "0", "h"],
            ["-c", "x", "h"],
            ["-i", "0", "h"],
            ["-i", "0.0001", "h"],
            ["-W", "0", "h"],
            ["-s", "70000", "h"],
            ["--format", "xml", "h"],
            ["h", "0"],
            ["h", "port"],
            ["h", "1", "extra"],
            ["--frobnicate", "h"],
        ]:
            self.assertRaises(usage.UsageError, parse, *argv)


class PrinterTests(SynchronousTestCase):
    def test_lines(self):
        """
        Per-event lines: time in ms with microsecond resolution, DUP!,
        late, corrupted, foreign, timeouts and ICMP errors (as iputils:
        C{From <host> icmp_seq=<n> <error>}).
        """
        printer = Printer("127.0.0.1:12000", io.StringIO(), quiet=False)
        table = [
            (ReplyReceived(1, 24, 0.000123, False), "24 bytes from 127.0.0.1:12000: seq=1 time=0.123 ms"),
            (ReplyReceived(2, 24, 1.5, True), "24 bytes from 127.0.0.1:12000: seq=2 time=1500.000 ms (reordered)"),
            (DuplicateReply(1, 24, 0.002), "24 bytes from 127.0.0.1:12000: seq=1 time=2.000 ms (DUP!)"),
            (LateReply(3, 24, 1.25), "24 bytes from 127.0.0.1:12000: seq=3 time=1250.000 ms (late)"),
            (CorruptedReply(4, 24), "24 bytes from 127.0.0.1:12000: seq=4 (corrupted: differs from the probe)"),
            (ForeignReply(5, "not a probe"), "5 bytes from 127.0.0.1:12000: not our probe (not a probe)"),
            (ProbeTimedOut(6), "no answer yet for seq=6"),
            (ProbeError(7, "127.0.0.1", "Destination Port Unreachable"),
             "From 127.0.0.1 seq=7 Destination Port Unreachable"),
        ]
        for event, expected in table:
            self.assertEqual(printer.line(event), expected)

    def test_quiet(self):
        """
        -q prints nothing per event.
        """
        out = io.StringIO()
        Printer("h", out, quiet=True)(ProbeTimedOut(1))
        self.assertEqual(out.getvalue(), "")


class ClosedAfter(io.StringIO):
    """
    A stdout whose reader leaves after C{lines} lines (``| head -N``): every
    later write raises L{BrokenPipeError}.
    """

    def __init__(self, lines: int) -> None:
        io.StringIO.__init__(self)
        self.lines = lines
        self.failed_writes = 0

    def write(self, text: str) -> int:
        if self.getvalue().count("\n") >= self.lines:
            self.failed_writes += 1
            raise BrokenPipeError(32, "Broken pipe")
        return io.StringIO.write(self, text)


class ClosedPipeTests(SynchronousTestCase):
    def test_printer_reports_a_closed_pipe_once(self):
        """
        The first write to a closed pipe calls C{on_closed}; after that the
        printer is quiet and writes nothing more.
        """
        out = ClosedAfter(0)
        calls = []
        printer = Printer("h", out, quiet=False, on_closed=lambda: calls.append(True))
        printer(ProbeTimedOut(1))
        printer(ProbeTimedOut(2))
        self.assertEqual((calls, out.failed_writes), ([True], 1))

    def test_head_ends_the_run_quietly(self):
        """
        ``netlab ping -c 1000 HOST | head -2``: once stdout is closed the run
        ends at the next line instead of probing on for 1000 intervals, and
        the exit is quiet (nothing on stderr, the iputils exit code).
        """
        reactor = FakeUDPReactor()
        out, err = ClosedAfter(2), io.StringIO()
        result = main(
            reactor, parse("-c", "1000", "127.0.0.1"), out=out, err=err,
            monotonic=reactor.seconds, install_signal=False,
        )
        protocol, transport = reactor.listened[0][2], reactor.listened[0][3]
        for _ in range(10):
            for packet, addr in transport.written:
                protocol.datagramReceived(packet, addr)
            del transport.written[:]
            reactor.advance(1.0)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(len(out.getvalue().splitlines()), 2)
        self.assertEqual(err.getvalue(), "")
        self.assertLessEqual(protocol.session.transmitted, 3)
        self.assertFalse(transport.listening)

    def test_closed_before_the_header(self):
        """
        Even the header line hitting a closed pipe ends the run quietly.
        """
        reactor = FakeUDPReactor()
        result = main(
            reactor, parse("-c", "1000", "127.0.0.1"), out=ClosedAfter(0), err=io.StringIO(),
            monotonic=reactor.seconds, install_signal=False,
        )
        reactor.advance(1.0)
        self.assertEqual(self.successResultOf(result), 1)

    def test_interval_bounds_the_rate(self):
        """
        -i 0 and anything under 1 ms are refused with one message naming the
        bound (at most 1000 probes per second); 1 ms is allowed.
        """
        for value in ["0", "0.0009", "0.0005"]:
            with self.assertRaises(usage.UsageError) as raised:
                parse("-i", value, "h")
            self.assertIn("at most 1000 probes per second", str(raised.exception))
        self.assertEqual(parse("-i", "0.001", "h")["interval"], 0.001)


class MainTests(SynchronousTestCase):
    def run_ping(self, *argv, answer=(), upper=False):
        reactor = FakeUDPReactor()
        out, err = io.StringIO(), io.StringIO()
        result = main(reactor, parse(*argv), out=out, err=err, monotonic=reactor.seconds, install_signal=False)
        done = []
        result.addBoth(lambda value: done.append(True) or value)
        if reactor.listened:
            protocol, transport = reactor.listened[0][2], reactor.listened[0][3]
            for _ in range(100):
                for index, (packet, addr) in enumerate(list(transport.written)):
                    if index in answer and transport.listening:
                        answer = [i for i in answer if i != index]
                        reactor.advance(0.001)
                        protocol.datagramReceived(packet.upper() if upper else packet, addr)
                if done:
                    break
                reactor.advance(0.5)
        return self.successResultOf(result), out.getvalue(), err.getvalue()

    def test_run_with_some_replies(self):
        """
        A run with some replies prints the header, reply lines, iputils'
        summary and exits 0.
        """
        code, out, err = self.run_ping("-c", "3", "127.0.0.1", answer=[0, 2], upper=True)
        self.assertEqual(code, 0)
        lines = out.splitlines()
        self.assertEqual(lines[0], "PING 127.0.0.1:12000 (udp): format lab, probes unpadded")
        self.assertIn("--- 127.0.0.1:12000 ping statistics ---", lines)
        self.assertIn("3 packets transmitted, 2 received, 33.3333% packet loss, time 2001ms", lines)
        self.assertIn("no answer yet for seq=2", lines)
        self.assertEqual(err, "")

    def test_no_reply_exits_1(self):
        """
        Without any reply the exit code is 1.
        """
        code, out, _ = self.run_ping("-c", "2", "127.0.0.1")
        self.assertEqual(code, 1)
        self.assertIn("2 packets transmitted, 0 received, 100% packet loss", out)

    def test_count_and_deadline_short_exits_1(self):
        """
        With -c and -w, fewer than -c replies by the deadline exits 1.
        """
        code, out, _ = self.run_ping("-c", "3", "-w", "2", "127.0.0.1", answer=[0])
        self.assertEqual(code, 1)

    def test_bad_host_exits_2(self):
        """
        A host that does not resolve is a clear error on stderr, exit 2.
        """
        code, out, err = self.run_ping("nosuch.invalid")
        self.assertEqual(code, 2)
        self.assertEqual(out, "")
        self.assertTrue(err.startswith("netlab ping: error: cannot resolve 'nosuch.invalid'"))

    def test_header_comes_before_the_first_send_error(self):
        """
        The first probe leaves as the socket opens; if sending it fails, its
        error line still comes after the PING header.
        """
        reactor = FakeUDPReactor()
        out = io.StringIO()

        def unreachable_listen(port, protocol, interface="", maxPacketSize=8192):
            transport = FakeUDPPort(protocol)
            transport.fail_with = OSError(101, "Network is unreachable")
            reactor.listened.append((port, interface, protocol, transport))
            protocol.makeConnection(transport)
            return transport

        reactor.listenUDP = unreachable_listen
        main(reactor, parse("-c", "1", "127.0.0.1"), out=out, err=io.StringIO(),
             monotonic=reactor.seconds, install_signal=False)
        lines = out.getvalue().splitlines()
        self.assertTrue(lines[0].startswith("PING 127.0.0.1:12000"), lines)
        self.assertIn("error", lines[1])

    def test_json(self):
        """
        --json prints one JSON document with percentiles and every probe's
        fate, and no per-probe lines.
        """
        code, out, _ = self.run_ping("--json", "-c", "2", "127.0.0.1", answer=[1])
        report = json.loads(out)
        self.assertEqual(code, 0)
        self.assertEqual([p["fate"] for p in report["probes"]], ["lost", "replied"])
        self.assertEqual(set(report["percentiles_ms"]), {"p50", "p90", "p99"})
        self.assertEqual(report["received"], 1)
