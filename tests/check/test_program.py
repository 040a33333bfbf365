"""
Tests for L{twisted_netlab.check.program}: running a student's program
with {host}/{port} and $NETLAB_HOST/$NETLAB_PORT, keeping its timed output,
bounding and stopping it; and telling a bound UDP port from /proc.
"""

from __future__ import annotations

import os
import socket
import sys

from twisted.internet import defer, reactor
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_netlab.check.program import StudentProgram, command_words, udp_bound


class CommandWordsTests(SynchronousTestCase):
    def test_substitution_and_anchoring(self):
        """
        {host} and {port} are replaced in every word; a word naming an
        existing file relative to the folder netlab runs in becomes absolute;
        quotes group words as a shell does.
        """
        here = os.path.dirname(os.path.abspath(__file__))
        words = command_words("python3 test_program.py '{host} x' --port={port}", "127.0.0.1", 4242, here)
        self.assertEqual(words, ["python3", os.path.join(here, "test_program.py"), "127.0.0.1 x", "--port=4242"])

    def test_empty_command(self):
        """
        An empty command is refused.
        """
        self.assertRaises(ValueError, command_words, "  ", "127.0.0.1", 1)


class StudentProgramTests(TestCase):
    timeout = 30

    @defer.inlineCallbacks
    def test_output_environment_and_exit(self):
        """
        Lines of stdout and stderr are kept in order with their stream, the
        last line without a newline too; $NETLAB_HOST/$NETLAB_PORT are set;
        the exit status is reported.
        """
        code = (
            "import os, sys; print(os.environ['NETLAB_HOST'], os.environ['NETLAB_PORT'], sys.argv[1]); "
            "sys.stdout.flush(); sys.stderr.write('oops\\n'); sys.stderr.flush(); sys.stdout.write('tail'); sys.exit(3)"
        )
        program = StudentProgram(reactor, f"{sys.executable} -c \"{code}\" {{port}}", "127.0.0.1", 5555, reactor.seconds())
        program.start()
        ended = yield program.wait(20)
        self.assertEqual(ended, "exited with status 3")
        self.assertEqual(program.exit_code, 3)
        self.assertIn(("out", "127.0.0.1 5555 5555"), [(l.stream, l.text) for l in program.lines])
        self.assertIn(("err", "oops"), [(l.stream, l.text) for l in program.lines])
        self.assertEqual(program.lines[-1].text, "tail")

    @defer.inlineCallbacks
    def test_bounded_and_stopped(self):
        """
        wait() gives up after its bound without stopping the program; stop()
        ends it with SIGTERM and says the checker stopped it.
        """
        program = StudentProgram(reactor, f"{sys.executable} -c \"import time; time.sleep(60)\"", "127.0.0.1", 1, reactor.seconds())
        program.start()
        ended = yield program.wait(0.2)
        self.assertIsNone(ended)
        self.assertTrue(program.running)
        yield program.stop()
        self.assertFalse(program.running)
        self.assertTrue(program.stopped_by_checker)
        self.assertEqual(program.exit_description, "killed by SIGTERM")


class UdpBoundTests(SynchronousTestCase):
    def test_bound_then_free(self):
        """
        A bound UDP port is seen in the kernel's table, and not once closed.
        """
        probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        self.assertTrue(udp_bound(port))
        probe.close()
        self.assertFalse(udp_bound(port))
