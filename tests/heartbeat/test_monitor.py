"""
Tests for L{twisted_netlab.heartbeat.monitor}: the datagram protocol and
its single sweep L{LoopingCall}, driven by L{task.Clock} and a fake datagram
transport, with a recording observer and the logging observer.
"""

from twisted.internet.task import Clock
from twisted.internet.testing import FakeDatagramTransport
from twisted.logger import Logger, formatEvent
from twisted.trial.unittest import SynchronousTestCase
from zope.interface import implementer
from zope.interface.verify import verifyObject

from twisted_netlab.heartbeat import (
    BeatKind,
    BeatReceived,
    ClientState,
    DatagramRejected,
    HeartbeatMonitor,
    IHeartbeatObserver,
    LoggingObserver,
    MonitorProtocol,
    MonitorSettings,
    StateChanged,
    encode_beat,
)

T0 = 1_700_000_000.0
LAB = ("127.0.0.1", 40000)


@implementer(IHeartbeatObserver)
class Recorder:
    def __init__(self):
        self.events = []

    def beat_received(self, beat):
        self.events.append(beat)

    def state_changed(self, change):
        self.events.append(change)

    def datagram_rejected(self, rejection):
        self.events.append(rejection)

    def client_forgotten(self, forgotten):
        self.events.append(forgotten)

    def table_full(self, pressure):
        self.events.append(pressure)

    def summary(self, summary):
        self.events.append(summary)

    def kinds(self):
        return [e.kind for e in self.events if isinstance(e, BeatReceived)]

    def states(self):
        return [(e.client, e.state) for e in self.events if isinstance(e, StateChanged)]


class Broken(Recorder):
    def beat_received(self, beat):
        raise RuntimeError("observer bug")


class MonitorProtocolTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0))
        self.recorder = Recorder()
        self.protocol = MonitorProtocol(self.monitor, sweep_interval=0.5, observers=[self.recorder], reactor=self.clock)
        self.protocol.makeConnection(FakeDatagramTransport())

    def beat(self, sequence, addr=LAB, **kwargs):
        self.protocol.datagramReceived(encode_beat(sequence, self.clock.seconds(), **kwargs), addr)

    def test_observer_interface(self):
        """
        The recording observer and the logging observer both provide the
        interface.
        """
        verifyObject(IHeartbeatObserver, self.recorder)
        verifyObject(IHeartbeatObserver, LoggingObserver(5.0, 0.5))

    def test_one_timer_for_all_clients(self):
        """
        However many clients beat, the monitor keeps exactly one pending
        timer: the sweep.
        """
        for port in range(2000):
            self.beat(0, ("127.0.0.1", 10000 + port))
        self.assertEqual(len(self.monitor), 2000)
        self.assertEqual(len(self.clock.getDelayedCalls()), 1)

    def test_lab_session(self):
        """
        A lab session on the clock: gap, late beat, duplicate, reordered
        beat, stop after the timeout (reported within one sweep), restart
        at 0 reported with recovery.
        """
        for sequence in (0, 1):
            self.beat(sequence)
            self.clock.advance(1.0)
        self.clock.advance(1.0)
        self.beat(3)  # 2 lost
        self.clock.advance(1.8)
        self.beat(4)  # 0.8 s late
        self.beat(4)  # duplicate
        self.beat(2)  # the lost one, reordered
        self.assertEqual(
            self.recorder.kinds(),
            [BeatKind.FIRST, BeatKind.ON_TIME, BeatKind.ON_TIME, BeatKind.LATE, BeatKind.DUPLICATE, BeatKind.OUT_OF_ORDER],
        )
        self.assertEqual(self.monitor.status(self.clock.seconds())[0].lost, 0)
        last_beat = self.clock.seconds()
        for _ in range(12):  # 6 s in sweep steps
            self.clock.advance(0.5)
        stopped = [e for e in self.recorder.events if isinstance(e, StateChanged) and e.state is ClientState.STOPPED]
        self.assertEqual(len(stopped), 1)
        self.assertGreaterEqual(stopped[0].at - last_beat, 5.0)
        self.assertLessEqual(stopped[0].at - last_beat, 5.0 + self.protocol.sweep_interval)
        self.beat(0)
        self.assertEqual(self.recorder.kinds()[-1], BeatKind.RESTART)
        self.assertEqual(self.recorder.states()[-1], ("127.0.0.1:40000", ClientState.RECOVERED))

    def test_malformed_never_crash_never_create(self):
        """
        Junk datagrams reach observers as rejections, create no client, and
        the monitor keeps working.
        """
        for junk in (b"", b"\x00" * 2000, b"HEARTBEAT", b"1 - 1e400", b"5 - 99999999999999"):
            self.protocol.datagramReceived(junk, LAB)
        rejected = [e for e in self.recorder.events if isinstance(e, DatagramRejected)]
        self.assertEqual(len(rejected), 5)
        self.assertEqual([e.report for e in rejected], [True, False, False, False, False])
        self.assertEqual(len(self.monitor), 0)
        self.beat(0)
        self.assertEqual(len(self.monitor), 1)

    def test_broken_observer_does_not_stop_others(self):
        """
        An observer that raises is logged; the others still get the event.
        """
        self.protocol.observers.insert(0, Broken())
        self.beat(0)
        self.assertEqual(self.recorder.kinds(), [BeatKind.FIRST])
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    def test_stop_protocol_stops_sweeping(self):
        """
        When the port closes, the sweep timer goes too.
        """
        self.protocol.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_thousands_stop_in_one_sweep(self):
        """
        3,000 clients going silent together are all reported stopped by the
        one sweep after the timeout.
        """
        for number in range(3000):
            self.beat(0, client_id=f"c{number}")
        self.clock.advance(4.9)
        self.recorder.events.clear()
        self.clock.advance(0.5)
        stopped = [e for e in self.recorder.events if isinstance(e, StateChanged) and e.state is ClientState.STOPPED]
        self.assertEqual(len(stopped), 3000)


class LoggingObserverTests(SynchronousTestCase):
    def setUp(self):
        self.logged = []
        self.clock = Clock()
        self.clock.advance(T0)
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        self.observer = LoggingObserver(3.0, 0.5, all_beats=False, logger=Logger(observer=self.logged.append))
        self.protocol = MonitorProtocol(monitor, 0.5, [self.observer], reactor=self.clock)
        self.protocol.makeConnection(FakeDatagramTransport())

    def text(self):
        return [formatEvent(event) for event in self.logged]

    def test_state_change_is_one_event_with_figures(self):
        """
        Each state change is one log event whose text and fields carry the
        figures; quiet mode skips on-time beats.
        """
        self.protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        self.clock.advance(1.0)
        self.protocol.datagramReceived(encode_beat(1, T0 + 1, client_id="alpha"), LAB)
        self.assertEqual(len(self.logged), 1)  # alive; beats are not logged in quiet mode
        del self.logged[:]
        for _ in range(8):
            self.clock.advance(0.5)
        [stopped] = [e for e in self.logged if e.get("state") == "stopped"]
        self.assertEqual((stopped["client"], stopped["silence_seconds"], stopped["last_sequence"]), ("alpha", 3.0, 1))
        self.assertIn("alpha stopped (was alive): silent 3.000 s", formatEvent(stopped))
        self.assertIn("timeout 3 s, sweep 0.5 s", formatEvent(stopped))

    def test_restart_and_rejection_lines(self):
        """
        A restart is logged with both sequences; junk is logged once per host.
        """
        self.protocol.datagramReceived(encode_beat(4, T0), LAB)
        self.protocol.datagramReceived(encode_beat(0, T0), LAB)
        self.protocol.datagramReceived(b"nonsense", LAB)
        self.protocol.datagramReceived(b"nonsense", LAB)
        text = self.text()
        self.assertIn("127.0.0.1:40000 restarted: sequence 4 -> 0", " ".join(text))
        self.assertEqual(len([t for t in text if t.startswith("rejected datagram from 127.0.0.1:40000: malformed")]), 1)

    def test_rejection_line_shows_the_datagram_escaped_and_cut(self):
        """
        A reported rejection carries the reason and the datagram's text,
        escaped (a control byte cannot forge a log line) and cut; another
        source port of the same host is reported too.
        """
        self.protocol.datagramReceived(b"PING 7 \x1b[31m\nfake line\\", LAB)
        self.protocol.datagramReceived(b"y" * 600, ("127.0.0.1", 40001))
        text = self.text()
        self.assertIn(
            "rejected datagram from 127.0.0.1:40000: malformed (not '<sequence> - <timestamp>'): "
            '"PING 7 \\x1b[31m\\nfake line\\\\"',
            text[0],
        )
        self.assertTrue(text[1].startswith("rejected datagram from 127.0.0.1:40001: oversized (600 bytes (limit 512)): "), text[1])
        self.assertIn('"' + "y" * 80 + '... (600 bytes)"', text[1])
        self.assertEqual(len(text), 2)
        self.assertNotIn("\n", "".join(text))

    def test_beats_logged_only_when_verbose(self):
        """
        By default an accepted beat writes no line (only state changes and
        restarts do); the verbose observer writes one per beat.
        """
        for sequence in range(5):
            self.protocol.datagramReceived(encode_beat(sequence, self.clock.seconds(), client_id="alpha"), LAB)
            self.clock.advance(1.0)
        self.assertEqual([formatEvent(e).split(":")[0] for e in self.logged], ["alpha alive (was new)"])
        verbose = []
        self.protocol.observers = [LoggingObserver(3.0, 0.5, all_beats=True, logger=Logger(observer=verbose.append))]
        for sequence in range(5, 8):
            self.protocol.datagramReceived(encode_beat(sequence, self.clock.seconds(), client_id="alpha"), LAB)
            self.clock.advance(1.0)
        self.assertEqual([formatEvent(e).split(":")[0] for e in verbose], ["alpha beat 5 on time", "alpha beat 6 on time", "alpha beat 7 on time"])

    def test_phi_beyond_100_is_readable(self):
        """
        A long silence is logged as phi "> 100", not as a seven-digit number.
        """
        self.protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        self.clock.advance(600.0)
        self.protocol.datagramReceived(encode_beat(1, self.clock.seconds(), client_id="alpha"), LAB)
        [recovered] = [formatEvent(e) for e in self.logged if e.get("state") == "recovered"]
        self.assertIn("phi > 100,", recovered)

    def test_summary_and_table_pressure_lines(self):
        """
        The periodic summary and the full-table report are one line each,
        with their figures.
        """
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0, max_clients=1, summary_interval=10.0))
        protocol = MonitorProtocol(monitor, 0.5, [self.observer], reactor=self.clock)
        protocol.makeConnection(FakeDatagramTransport())
        protocol.datagramReceived(encode_beat(0, self.clock.seconds(), client_id="alpha"), LAB)
        protocol.datagramReceived(encode_beat(0, self.clock.seconds(), client_id="beta"), LAB)
        protocol.datagramReceived(b"junk", LAB)
        for _ in range(24):
            self.clock.advance(0.5)
        text = self.text()
        self.assertIn(
            "client table full (1 of 1): 0 stopped clients evicted (least recently heard first) "
            "and 1 new clients refused since the last report",
            text,
        )
        [summary] = [t for t in text if t.startswith("summary:")]
        self.assertEqual(
            summary,
            "summary: 1 clients (0 alive, 0 suspect, 1 stopped, 0 recovered); in the last 10 s 1 beats accepted, "
            "rejected: 1 malformed, 1 too many clients",
        )
        [event] = [e for e in self.logged if formatEvent(e).startswith("summary:")]
        self.assertEqual((event["alive"], event["stopped"], event["rejected"]), (0, 1, {"malformed": 1, "too many clients": 1}))


class Partial:
    """
    An observer written before table_full and summary existed.
    """

    def __init__(self):
        self.changes = []

    def beat_received(self, beat):
        pass

    def state_changed(self, change):
        self.changes.append(change.state)

    def datagram_rejected(self, rejection):
        pass

    def client_forgotten(self, forgotten):
        pass


class PartialObserverTests(SynchronousTestCase):
    def test_missing_methods_skipped(self):
        """
        Events an observer has no method for are skipped, not logged as
        failures; its other methods still get theirs.
        """
        clock = Clock()
        clock.advance(T0)
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0, max_clients=1, summary_interval=1.0))
        observer = Partial()
        protocol = MonitorProtocol(monitor, 0.5, [observer], reactor=clock)
        protocol.makeConnection(FakeDatagramTransport())
        protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        protocol.datagramReceived(encode_beat(0, T0, client_id="beta"), LAB)  # table full
        for _ in range(10):
            clock.advance(0.5)
        self.assertEqual((observer.changes[0], observer.changes[-1]), (ClientState.ALIVE, ClientState.STOPPED))
        self.assertEqual(self.flushLoggedErrors(), [])


class PausingPort(FakeDatagramTransport):
    """
    A datagram port that can stop and start reading, as
    L{twisted.internet.udp.Port} can.  Test-only: C{reading} says whether
    the reactor would watch the socket, C{calls} lists the stop/start calls.
    """

    def __init__(self):
        FakeDatagramTransport.__init__(self)
        self.reading = True
        self.calls = []

    def stopReading(self):
        self.reading = False
        self.calls.append("stop")

    def startReading(self):
        self.reading = True
        self.calls.append("start")


class ReadPauseTests(SynchronousTestCase):
    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0))
        self.recorder = Recorder()
        self.port = PausingPort()

    def connect(self, **kwargs):
        protocol = MonitorProtocol(self.monitor, 0.5, [self.recorder], reactor=self.clock, **kwargs)
        protocol.makeConnection(self.port)
        return protocol

    def test_first_datagram_pauses_reading(self):
        """
        The first datagram of a wake-up stops the reactor watching the
        socket (the read under way still empties it: every datagram then
        is tracked at once), and reading resumes C{read_pause} later; the
        next wake-up pauses again.
        """
        protocol = self.connect(read_pause=0.005)
        for index in range(30):
            protocol.datagramReceived(encode_beat(0, T0, client_id=f"c{index}"), LAB)
        self.assertEqual((self.port.calls, self.port.reading), (["stop"], False))
        self.assertEqual(len(self.monitor), 30)
        self.clock.advance(0.0049)
        self.assertFalse(self.port.reading)
        self.clock.advance(0.0002)
        self.assertEqual((self.port.calls, self.port.reading), (["stop", "start"], True))
        protocol.datagramReceived(encode_beat(1, T0, client_id="c0"), LAB)
        self.assertEqual(self.port.calls, ["stop", "start", "stop"])
        self.assertEqual(self.recorder.kinds()[-1], BeatKind.ON_TIME)

    def test_no_pause(self):
        """
        With C{read_pause} 0, or a transport that cannot stop reading,
        every datagram is read as it comes and no timer is added.
        """
        protocol = self.connect(read_pause=0)
        protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        self.assertEqual((self.port.calls, len(self.clock.getDelayedCalls())), ([], 1))
        other = MonitorProtocol(HeartbeatMonitor(), 0.5, [], reactor=self.clock)
        other.makeConnection(FakeDatagramTransport())
        other.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)  # the two sweeps only

    def test_stop_cancels_the_resume(self):
        """
        When the port closes during a pause, the pending resume is
        cancelled: nothing is left on the clock and nothing touches the
        closed port.
        """
        protocol = self.connect()
        protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        self.assertEqual(len(self.clock.getDelayedCalls()), 2)  # the sweep and the resume
        protocol.doStop()
        self.assertEqual(self.clock.getDelayedCalls(), [])
        self.assertEqual(self.port.calls, ["stop"])

    def test_default_and_bad_pause(self):
        """
        The pause is 5 ms unless told; a negative one is refused.
        """
        self.assertEqual(self.connect().read_pause, 0.005)
        self.assertRaises(ValueError, MonitorProtocol, self.monitor, 0.5, [], self.clock, -0.001)


class OnTimeWishesTests(SynchronousTestCase):
    """
    The protocol tells the monitor whose ordinary beats its observers want
    (C{on_time_beats_of}), so a beat nobody wants builds no event.
    """

    def setUp(self):
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0))

    def wanted(self, observers):
        protocol = MonitorProtocol(self.monitor, 0.5, observers, reactor=self.clock)
        protocol.makeConnection(FakeDatagramTransport())
        protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        return self.monitor.report_on_time

    def test_default_log_wants_none(self):
        """
        The default logging observer writes no line per beat, so with it
        alone no ordinary beat is reported; the beats still count.
        """
        protocol = MonitorProtocol(self.monitor, 0.5, [LoggingObserver(5.0, 0.5)], reactor=self.clock)
        protocol.makeConnection(FakeDatagramTransport())
        for sequence in range(4):
            protocol.datagramReceived(encode_beat(sequence, self.clock.seconds(), client_id="alpha"), LAB)
            self.clock.advance(1.0)
        self.assertEqual(self.monitor.report_on_time, ())
        self.assertEqual(self.monitor.status(self.clock.seconds())[0].beats, 4)

    def test_wishes_combine(self):
        """
        An observer that does not say (written before the attribute), or
        the verbose log, wants every beat; empty wishes add no one; one
        container is used as it is, several as their union.
        """
        from twisted_netlab.heartbeat._history import HistoryBook

        self.assertIsNone(self.wanted([LoggingObserver(5.0, 0.5), Recorder()]))
        self.assertIsNone(self.wanted([LoggingObserver(5.0, 0.5, all_beats=True)]))
        self.assertEqual(self.wanted([]), ())
        book = HistoryBook(max_clients=1)
        book.beat_received(BeatReceived("alpha", "s", 0, BeatKind.FIRST, T0, T0, None, 0, 0.0, 0.0, 0.0, None))
        alone = self.wanted([LoggingObserver(5.0, 0.5), book])
        self.assertIs(alone.book, book)
        self.assertEqual(("alpha" in alone, "beta" in alone), (True, False))  # booked; the book is full
        union = self.wanted([book, HistoryBook(max_clients=5)])
        self.assertEqual(("alpha" in union, "beta" in union), (True, True))  # the second book has room

    def test_list_change_applies_to_the_next_beat(self):
        """
        Observers added to the list get the very next beat.
        """
        protocol = MonitorProtocol(self.monitor, 0.5, [LoggingObserver(5.0, 0.5)], reactor=self.clock)
        protocol.makeConnection(FakeDatagramTransport())
        protocol.datagramReceived(encode_beat(0, T0, client_id="alpha"), LAB)
        recorder = Recorder()
        protocol.observers.append(recorder)
        self.clock.advance(1.0)
        protocol.datagramReceived(encode_beat(1, self.clock.seconds(), client_id="alpha"), LAB)
        self.assertEqual(recorder.kinds(), [BeatKind.ON_TIME])
