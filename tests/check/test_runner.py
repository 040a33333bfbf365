"""
Tests for L{twisted_netlab.check.runner}: L{play} on a memory reactor with
a clock (no sockets), and the ``--run`` child (L{ChildServer},
L{run_cases}) with real processes on loopback.
"""

import os
import sys

from twisted.internet import defer, reactor
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.internet.error import ConnectionDone
from twisted.trial.unittest import SynchronousTestCase, TestCase

from twisted_netlab.check import runner
from twisted_netlab.check._case import (
    Await,
    Case,
    Close,
    Context,
    EntryKind,
    Pause,
    Profile,
    Send,
    StopReading,
    Stream,
    Verdict,
    failed,
    passed,
)


def connect(clock, index=-1):
    """
    Complete the C{index}th connection the memory reactor was asked for;
    return (protocol, transport).
    """
    host, port, factory = clock.tcpClients[index][:3]
    protocol = factory.buildProtocol(None)
    transport = StringTransport()
    protocol.makeConnection(transport)
    return protocol, transport


def some_bytes(received, closed):
    return len(received) >= 4


class PlayTests(SynchronousTestCase):
    def test_send_await_close(self):
        """
        Steps run in order: bytes are written and recorded, the wait ends
        when the predicate holds, and after the last step the stream closes.
        """
        clock = MemoryReactorClock()
        plan = (Stream((Send(b"ping"), Await(some_bytes, 2.0))),)
        d = runner.play(clock, plan, "127.0.0.1", 8080, 5.0)
        self.assertEqual(clock.tcpClients[0][:2], ("127.0.0.1", 8080))
        protocol, transport = connect(clock)
        self.assertEqual(transport.value(), b"ping")
        clock.advance(0.5)
        protocol.dataReceived(b"po")
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"ng")
        self.assertTrue(transport.disconnecting)
        protocol.connectionLost(Failure(ConnectionDone()))
        recording = self.successResultOf(d)
        [record] = recording.streams
        self.assertEqual((record.sent, record.received), (b"ping", b"pong"))
        self.assertEqual([e.at for e in record.entries if e.kind is EntryKind.RECEIVED], [0.5, 0.5])
        self.assertFalse(record.peer_closed)
        self.assertFalse(recording.timed_out)

    def test_wait_expires_and_is_recorded(self):
        """
        A wait that runs out is recorded, and the next step runs.
        """
        clock = MemoryReactorClock()
        plan = (Stream((Await(some_bytes, 1.0), Send(b"late"))),)
        runner.play(clock, plan, "127.0.0.1", 8080, 5.0)
        protocol, transport = connect(clock)
        clock.advance(1.0)
        self.assertEqual(transport.value(), b"late")

    def test_pause_and_stop_reading(self):
        """
        A pause delays the next send; StopReading pauses the transport.
        """
        clock = MemoryReactorClock()
        plan = (Stream((Send(b"a"), Pause(0.3), StopReading(), Send(b"b"), Await(some_bytes, 9))),)
        runner.play(clock, plan, "127.0.0.1", 8080, 5.0)
        protocol, transport = connect(clock)
        self.assertEqual(transport.value(), b"a")
        clock.advance(0.3)
        self.assertEqual(transport.value(), b"ab")
        self.assertEqual(transport.producerState, "paused")

    def test_peer_close_is_recorded(self):
        """
        When the server closes, the stream ends and says so.
        """
        clock = MemoryReactorClock()
        d = runner.play(clock, (Stream((Send(b"x"), Await(some_bytes, 9))),), "127.0.0.1", 8080, 5.0)
        protocol, transport = connect(clock)
        protocol.dataReceived(b"no")
        protocol.connectionLost(Failure(ConnectionDone()))
        [record] = self.successResultOf(d).streams
        self.assertTrue(record.peer_closed)
        self.assertEqual(record.received, b"no")

    def test_case_bound_aborts_everything(self):
        """
        At the case's bound every open stream is aborted and the recording
        says it timed out.
        """
        clock = MemoryReactorClock()
        d = runner.play(clock, (Stream((Await(some_bytes, 60),)),), "127.0.0.1", 8080, 2.0)
        protocol, transport = connect(clock)
        self.assertNoResult(d)
        clock.advance(2.0)
        recording = self.successResultOf(d)
        self.assertTrue(recording.timed_out)
        self.assertEqual(recording.streams[0].entries[-1].kind, EntryKind.ABORTED)

    def test_ends_case(self):
        """
        When a stream marked ends_case is done, the streams still open are
        aborted (recorded as such) and the case ends without waiting out
        their steps.
        """
        clock = MemoryReactorClock()
        silent = Stream((Pause(30),), "silent")
        served = Stream((Send(b"x"), Await(some_bytes, 9)), "served", ends_case=True)
        d = runner.play(clock, (silent, served), "127.0.0.1", 8080, 60.0)
        silent_protocol, silent_transport = connect(clock, 0)
        protocol, transport = connect(clock, 1)
        protocol.dataReceived(b"done")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertTrue(silent_transport.disconnecting)
        silent_protocol.connectionLost(Failure(ConnectionDone()))
        recording = self.successResultOf(d)
        self.assertFalse(recording.timed_out)
        self.assertEqual(recording.streams[0].entries[-1].kind, EntryKind.ABORTED)
        self.assertEqual(recording.streams[1].received, b"done")

    def test_connect_failure(self):
        """
        A refused connection is recorded and ends the stream.
        """
        clock = MemoryReactorClock()
        d = runner.play(clock, (Stream((Send(b"x"),)),), "127.0.0.1", 8080, 2.0)
        factory = clock.tcpClients[0][2]
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError("refused")))
        [record] = self.successResultOf(d).streams
        self.assertTrue(record.connect_failed)

    def test_after_and_computed_send(self):
        """
        A stream with C{after} connects once that stream closed, and a
        computed send sees what every stream received.
        """
        clock = MemoryReactorClock()
        second = Stream((Send(lambda received: b"saw " + received[0]), Close()), after=0)
        runner.play(clock, (Stream((Await(some_bytes, 9),)), second), "127.0.0.1", 8080, 5.0)
        self.assertEqual(len(clock.tcpClients), 1)
        protocol, transport = connect(clock, 0)
        protocol.dataReceived(b"etag")
        protocol.connectionLost(Failure(ConnectionDone()))
        self.assertEqual(len(clock.tcpClients), 2)
        protocol, transport = connect(clock, 1)
        self.assertEqual(transport.value(), b"saw etag")


class HelperTests(SynchronousTestCase):
    def test_substitute(self):
        """
        {port} is replaced in every word; words split as a shell would.
        """
        self.assertEqual(runner.substitute("python3 'my server.py' {port} --x={port}", 81),
                         ["python3", "my server.py", "81", "--x=81"])
        self.assertRaises(ValueError, runner.substitute, "  ", 1)
        self.assertRaises(ValueError, runner.substitute, "python3 'open", 1)

    def test_anchor_makes_local_files_absolute(self):
        """
        Words naming a file where netlab was run become absolute (the
        server runs in the fixture folder); options and other words stay.
        """
        here = os.path.abspath(self.mktemp())
        os.makedirs(here)
        open(os.path.join(here, "server.py"), "w").close()
        os.makedirs(os.path.join(here, "www"))
        self.assertEqual(runner.anchor(["python3", "server.py", "8080", "-m", "--root=x", ".", "www"], here),
                         ["python3", os.path.join(here, "server.py"), "8080", "-m", "--root=x", ".", "www"])

    def test_listening_on_reads_the_kernel_table(self):
        """
        A LISTEN row (state 0A) on the port counts; other states do not.
        """
        table = self.mktemp()
        with open(table, "w") as handle:
            handle.write("  sl  local_address rem_address   st\n")
            handle.write("   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000\n")
            handle.write("   1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000\n")
        self.assertTrue(runner.listening_on(8080, (table,)))
        self.assertFalse(runner.listening_on(8081, (table,)))
        self.assertIsNone(runner.listening_on(8080, (table + ".missing",)))

    def test_free_port(self):
        """
        free_port gives a port number a server can then bind.
        """
        self.assertTrue(0 < runner.free_port() < 65536)


SERVER = (
    "import socket, sys, os\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(os.environ['PORT']))); s.listen(8)\n"
    "print('up on', sys.argv[1], flush=True)\n"
    "while True:\n"
    "    c, _ = s.accept(); data = c.recv(100)\n"
    "    if data.startswith(b'DIE'): sys.exit(3)\n"
    "    c.sendall(b'ok:' + data); c.close()\n"
)


def echo_case(case_id, message):
    def plan(context):
        return (Stream((Send(message), Await(lambda received, closed: closed, 2.0))),)

    def judge(recording, context):
        got = recording.streams[0].received
        return passed(got.decode()) if got.startswith(b"ok:") else failed(f"got {got!r}")

    return Case(case_id, case_id, "lab", Profile.LAB, plan, judge)


class ChildServerTests(TestCase):
    """
    The --run machinery with real processes (bounded, loopback only).
    """

    def child(self, code, **kwargs):
        script = self.mktemp()
        with open(script, "w") as handle:
            handle.write(code)
        server = runner.ChildServer(reactor, f"{sys.executable} {script} {{port}}", os.getcwd(), **kwargs)
        self.addCleanup(server.stop)
        return server

    @defer.inlineCallbacks
    def test_start_substitutes_port_and_stops(self):
        """
        The child gets the port in argv and $PORT, is waited for without a
        probe connection, and SIGTERM stops it.
        """
        server = self.child(SERVER)
        port = yield server.start()
        self.assertEqual(port, server.port)
        self.assertTrue(server.alive)
        self.assertTrue(runner.listening_on(port))
        yield server.stop()
        self.assertFalse(server.alive)
        self.assertIn(f"up on {port}", server.output_text())
        self.assertEqual(server.exit_description, "killed by SIGTERM")

    @defer.inlineCallbacks
    def test_exits_at_once(self):
        """
        A command that exits before listening fails with its output.
        """
        server = self.child("import sys\nprint('no such file: server.conf')\nsys.exit(2)\n")
        failure = yield self.assertFailure(server.start(), runner.ChildFailed)
        self.assertTrue(failure.exited)
        self.assertIn("exited with status 2", str(failure))
        self.assertIn("no such file: server.conf", failure.output)

    @defer.inlineCallbacks
    def test_never_listens(self):
        """
        A command that runs but never listens fails after the bound, and
        is not taken for a crash.
        """
        server = self.child("import time\ntime.sleep(30)\n", start_timeout_seconds=0.5)
        failure = yield self.assertFailure(server.start(), runner.ChildFailed)
        self.assertFalse(failure.exited)
        self.assertIn("did not accept connections", str(failure))

    @defer.inlineCallbacks
    def test_missing_program(self):
        """
        A program that does not exist is a ChildFailed, not a traceback.
        """
        server = runner.ChildServer(reactor, "/nonexistent/netlab-no-such-server {port}", os.getcwd())
        failure = yield self.assertFailure(server.start(), runner.ChildFailed)
        self.assertTrue(failure.exited)

    @defer.inlineCallbacks
    def test_crash_fails_that_case_and_restarts(self):
        """
        The case during which the server died fails with its output; the
        server is started again on a new port and the next case runs.
        """
        server = self.child(SERVER)
        port = yield server.start()
        state = runner.RunState(Context("127.0.0.1", port, timeout_seconds=3.0), [], {})
        cases = [echo_case("one", b"hi"), echo_case("two", b"DIE"), echo_case("three", b"again")]
        results = yield runner.run_cases(reactor, cases, state, runner.stream_driver(reactor), server)
        self.assertEqual([r.verdict for r in results], [Verdict.PASS, Verdict.FAIL, Verdict.PASS])
        self.assertIn("the server died during this case (exited with status 3)", results[1].outcome.detail)
        self.assertIn("up on", results[1].server_output)
        self.assertEqual(server.starts, 2)
        self.assertNotEqual(state.context.port, port)
        self.assertIn("restarted on port", state.notes[0])
