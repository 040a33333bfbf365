"""
Tests for ``netlab beat`` (L{twisted_netlab.heartbeat.cli}): option
parsing and C{main} on a clock.
"""

import io
import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPReactor as UDPClock
from twisted_netlab.heartbeat import decode_beat, verify_beat
from twisted_netlab.heartbeat.cli import Options, main


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


def key_file(testcase, content=b"0123456789abcdef0123\n", mode=0o600):
    path = testcase.mktemp()
    with open(path, "wb") as handle:
        handle.write(content)
    os.chmod(path, mode)
    return path


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        """
        HOST alone: port 13000, 5 s interval, classic format, forever.
        """
        options = parse("127.0.0.1")
        self.assertEqual((options["host"], options["port"], options["interval-seconds"], options["count"], options["id"]),
                         ("127.0.0.1", 13000, 5.0, None, None))

    def test_options_after_arguments(self):
        """
        Options may follow HOST PORT, as with GNU tools.
        """
        options = parse("localhost", "9999", "--interval", "250ms", "-c", "3", "--id=alpha", "-q")
        self.assertEqual((options["port"], options["interval-seconds"], options["count"], options["id"], options["quiet"]),
                         (9999, 0.25, 3, "alpha", True))

    def test_usage_errors(self):
        """
        Bad values are usage errors, reported before anything starts.
        """
        for argv in (
            [], ["h", "0"], ["h", "70000"], ["h", "x"], ["h", "--interval", "0"], ["h", "--interval", "soon"],
            ["h", "--count", "0"], ["h", "--id", "bad id"], ["h", "--id", "a:b"], ["h", "1", "2"],
            ["h", "--key-file", "/nonexistent/key"], ["h", "--bogus"],
        ):
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_key_file_rules(self):
        """
        The key file must be private (mode 600) and hold 16 bytes or more.
        """
        self.assertEqual(parse("h", "--key-file", key_file(self))["key"], b"0123456789abcdef0123")
        self.assertRaises(usage.UsageError, parse, "h", "--key-file", key_file(self, mode=0o644))
        self.assertRaises(usage.UsageError, parse, "h", "--key-file", key_file(self, content=b"short\n"))


class MainTests(SynchronousTestCase):
    def setUp(self):
        self.reactor = UDPClock()
        self.reactor.advance(1_700_000_000.0)
        self.out = io.StringIO()
        self.err = io.StringIO()

    def run_main(self, *argv):
        return main(self.reactor, parse(*argv), out=self.out, err=self.err)

    def test_count(self):
        """
        --count N sends N beats, prints each and a summary, and exits 0.
        """
        result = self.run_main("127.0.0.1", "13001", "--interval", "1", "--count", "2")
        self.reactor.pump([1.0, 1.0])
        self.assertEqual(self.successResultOf(result), 0)
        lines = self.out.getvalue().splitlines()
        self.assertEqual(lines[:2], ["beat 0 to 127.0.0.1:13001: 0 - 1700000000.000000",
                                     "beat 1 to 127.0.0.1:13001: 1 - 1700000001.000000"])
        self.assertEqual(lines[-1], "2 beats sent in 1.0 s (interval 1 s)")

    def test_interrupt_reports_and_exits_zero(self):
        """
        Ctrl+C (the reactor shutting down) stops the beats and reports: exit 0.
        """
        result = self.run_main("127.0.0.1", "-q", "--interval", "0.5", "--id", "alpha", "--key-file", key_file(self))
        self.reactor.pump([0.5] * 4)
        self.assertNoResult(result)
        self.reactor.fire_shutdown()
        self.assertEqual(self.successResultOf(result), 0)
        self.assertIn("5 beats sent in 2.0 s", self.out.getvalue())
        beat = decode_beat(self.reactor.transport.written[0])
        self.assertTrue(verify_beat(beat, b"0123456789abcdef0123"))
        self.assertEqual(self.reactor.getDelayedCalls(), [])

    def test_unresolvable(self):
        """
        An unresolvable host is one line on stderr and exit code 1.
        """
        result = self.run_main("nowhere.invalid")
        self.assertEqual(self.successResultOf(result), 1)
        self.assertEqual(self.err.getvalue(), "netlab beat: cannot resolve 'nowhere.invalid'\n")

    def test_send_errors_reported_once_and_counted(self):
        """
        A socket error loses that beat; it is reported once on stderr and
        counted in the summary, and the beats go on.
        """
        result = self.run_main("127.0.0.1", "--interval", "1", "--count", "3", "-q")
        self.reactor.transport.fail_with = OSError(101, "Network is unreachable")
        self.reactor.pump([1.0, 1.0])
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.err.getvalue(), "netlab beat: beat 1 not sent: Network is unreachable (still trying)\n")
        self.assertIn("1 beats sent in 2.0 s (interval 1 s), 2 not sent (socket errors)", self.out.getvalue())

    def test_port_unreachable_reported_once(self):
        """
        ICMP port unreachable is reported once, however many come back.
        """
        self.run_main("127.0.0.1", "--interval", "1")
        protocol = self.reactor.listened[0][2]
        protocol.connectionRefused()
        self.reactor.pump([1.0])
        protocol.connectionRefused()
        self.reactor.pump([1.0])
        self.assertEqual(self.err.getvalue().count("port unreachable"), 1)
