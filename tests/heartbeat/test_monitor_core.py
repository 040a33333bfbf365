"""
Tests for L{twisted_netlab.heartbeat._monitor_core}: per-client tracking
(kinds, loss, lateness, restarts), states and the sweep, rejections and
their reports, signed beats and replays.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.heartbeat._beat import LocalProtocolError, RejectReason, encode_beat
from twisted_netlab.heartbeat._monitor_core import (
    BeatKind,
    BeatReceived,
    ClientForgotten,
    ClientState,
    DatagramRejected,
    HeartbeatMonitor,
    KeyBy,
    MonitorSettings,
    MonitorSummary,
    StateChanged,
    TableFull,
    preview,
)
from twisted_netlab.heartbeat._phi import threshold_y

KEY = b"0123456789abcdef0123456789abcdef"
BOOT_A = "a" * 16
BOOT_B = "b" * 16
T0 = 1_700_000_000.0
SOURCE = ("127.0.0.1", 5000)


def beats(events):
    return [e for e in events if isinstance(e, BeatReceived)]


def changes(events):
    return [(e.previous, e.state) for e in events if isinstance(e, StateChanged)]



def settings(**kwargs):
    """
    Period 1 s, timeout 10 s, tolerance 0.5 s, pause 3 s unless told.
    """
    return MonitorSettings(period=1.0, **kwargs)


class Feeder:
    def __init__(self, monitor, source=SOURCE):
        self.monitor = monitor
        self.source = source

    def send(self, sequence, at, sent_offset=0.0, **kwargs):
        data = encode_beat(sequence, T0 + at - sent_offset, **kwargs)
        return self.monitor.datagram_received(data, self.source, T0 + at)

    def one(self, *args, **kwargs):
        [beat] = beats(self.send(*args, **kwargs))
        return beat


class TrackingTests(SynchronousTestCase):
    def setUp(self):
        self.monitor = HeartbeatMonitor(settings())
        self.feed = Feeder(self.monitor)

    def test_first_beat_creates_client(self):
        """
        The first beat makes an ALIVE client keyed by its address.
        """
        events = self.feed.send(0, 0.0)
        self.assertEqual(beats(events)[0].kind, BeatKind.FIRST)
        self.assertEqual(changes(events), [(None, ClientState.ALIVE)])
        self.assertEqual(self.monitor.state_of("127.0.0.1:5000"), ClientState.ALIVE)

    def test_gap_counts_lost_exactly(self):
        """
        Sequence 1 then 4: exactly 2 lost, counted from the gap, not from
        time (the beat is on time for its sequence).
        """
        self.feed.send(0, 0.0)
        self.feed.send(1, 1.0)
        beat = self.feed.one(4, 4.0)
        self.assertEqual((beat.kind, beat.lost, beat.since_last_seconds), (BeatKind.ON_TIME, 2, 3.0))
        self.assertEqual(self.monitor.status(T0 + 4)[0].lost, 2)

    def test_late(self):
        """
        A beat more than the tolerance after its expected time is LATE, with
        the lateness reported; within the tolerance it is on time.
        """
        self.feed.send(0, 0.0)
        self.assertEqual(self.feed.one(1, 1.4).kind, BeatKind.ON_TIME)
        late = self.feed.one(2, 3.0)
        self.assertEqual(late.kind, BeatKind.LATE)
        self.assertAlmostEqual(late.late_by_seconds, 0.6, places=6)
        self.assertEqual(self.monitor.status(T0 + 3)[0].late, 1)

    def test_duplicate(self):
        """
        A sequence received twice is a DUPLICATE and is no sign of life: it
        does not postpone the stop.
        """
        self.feed.send(0, 0.0)
        self.feed.send(1, 1.0)
        self.assertEqual(self.feed.one(1, 5.0).kind, BeatKind.DUPLICATE)
        self.assertEqual(changes(self.monitor.sweep(T0 + 11.0)), [(ClientState.ALIVE, ClientState.STOPPED)])

    def test_out_of_order_fills_the_gap(self):
        """
        0, 2, 1: the gap counted at 2 is filled when 1 arrives late, so no
        beat is lost in the end.
        """
        self.feed.send(0, 0.0)
        self.assertEqual(self.feed.one(2, 2.0).lost, 1)
        beat = self.feed.one(1, 2.01)
        self.assertEqual((beat.kind, beat.lost), (BeatKind.OUT_OF_ORDER, -1))
        row = self.monitor.status(T0 + 3)[0]
        self.assertEqual((row.lost, row.out_of_order, row.last_sequence), (0, 1, 2))

    def test_huge_jump_is_cheap_and_exact(self):
        """
        A jump to the largest sequence counts every skipped number as lost
        and costs no memory (the duplicate window is not shifted by it).
        """
        self.feed.send(0, 0.0)
        beat = self.feed.one(2**63 - 1, 1.0)
        self.assertEqual(beat.lost, 2**63 - 2)
        self.assertEqual(self.feed.one(2**63 - 1, 1.5).kind, BeatKind.DUPLICATE)
        self.assertEqual(self.feed.one(2**63 - 2, 1.6).kind, BeatKind.OUT_OF_ORDER)

    def test_restart_to_zero(self):
        """
        A sequence back at 0 is a restart, not 2^n lost beats.
        """
        for sequence in range(6):
            self.feed.send(sequence, float(sequence))
        beat = self.feed.one(0, 6.0)
        self.assertEqual((beat.kind, beat.previous_sequence, beat.lost), (BeatKind.RESTART, 5, 0))
        beat = self.feed.one(1, 7.0)
        self.assertEqual((beat.kind, beat.lost), (BeatKind.ON_TIME, 0))
        row = self.monitor.status(T0 + 7)[0]
        self.assertEqual((row.restarts, row.lost, row.last_sequence), (1, 0, 1))

    def test_restart_far_down(self):
        """
        A sequence further down than the reorder window is a restart too.
        """
        self.feed.send(100, 0.0)
        self.assertEqual(self.feed.one(30, 1.0).kind, BeatKind.RESTART)
        self.assertEqual(self.feed.one(29, 1.5).kind, BeatKind.OUT_OF_ORDER)

    def test_restart_by_boot_id(self):
        """
        With boot ids, a new boot id is the restart, whatever the sequence.
        """
        self.feed.send(0, 0.0, client_id="alpha", boot=BOOT_A)
        self.feed.send(1, 1.0, client_id="alpha", boot=BOOT_A)
        self.assertEqual(self.feed.one(5, 2.0, client_id="alpha", boot=BOOT_B).kind, BeatKind.RESTART)

    def test_suspect_then_stopped_then_recovered(self):
        """
        Silence makes a client SUSPECT once phi passes 8, STOPPED after the
        timeout, and a beat after that RECOVERED; after a further timeout of
        health it is ALIVE again.  Each change carries its figures.
        """
        for sequence in range(5):
            self.feed.send(sequence, float(sequence))
        self.assertEqual(self.monitor.sweep(T0 + 5.0), [])
        # mean of [0.75, 1.25, 1, 1, 1, 1] = 1, std floor... suspect before 10 s.
        suspect_at = T0 + 4.0 + 1.0 + 3.0 + threshold_y(8.0) * 0.14433756729740643
        self.assertEqual(self.monitor.sweep(suspect_at - 0.01), [])
        [suspected] = self.monitor.sweep(suspect_at + 0.01)
        self.assertEqual((suspected.previous, suspected.state), (ClientState.ALIVE, ClientState.SUSPECT))
        self.assertGreaterEqual(suspected.phi, 8.0)
        self.assertEqual(self.monitor.sweep(T0 + 13.9), [])
        [stopped] = self.monitor.sweep(T0 + 14.0)
        self.assertEqual((stopped.state, stopped.silence_seconds, stopped.last_sequence, stopped.beats),
                         (ClientState.STOPPED, 10.0, 4, 5))
        self.assertEqual(self.monitor.sweep(T0 + 15.0), [])
        events = self.feed.send(5, 20.0)
        self.assertEqual(beats(events)[0].kind, BeatKind.LATE)
        self.assertEqual(changes(events), [(ClientState.STOPPED, ClientState.RECOVERED)])
        self.assertEqual(events[-1].silence_seconds, 16.0)
        for sequence in range(6, 14):
            self.feed.send(sequence, 15.0 + sequence)
        self.assertEqual(self.monitor.sweep(T0 + 29.9), [])
        self.assertEqual(changes(self.monitor.sweep(T0 + 30.0)), [(ClientState.RECOVERED, ClientState.ALIVE)])

    def test_suspect_comes_back(self):
        """
        A beat from a SUSPECT client makes it ALIVE again.
        """
        self.feed.send(0, 0.0)
        self.assertEqual(changes(self.monitor.sweep(T0 + 9.0)), [(ClientState.ALIVE, ClientState.SUSPECT)])
        self.assertEqual(changes(self.feed.send(1, 9.5)), [(ClientState.SUSPECT, ClientState.ALIVE)])

    def test_offset_and_rfc3550_jitter(self):
        """
        Offset is arrival minus the sender's timestamp; jitter follows RFC
        3550: J += (|D| - J) / 16 with D the change in transit time.
        Transits 0.1, 0.3, 0.2 give J = 0.2/16 = 0.0125, then
        0.0125 + (0.1 - 0.0125)/16 = 0.01796875.
        """
        first = self.feed.one(0, 0.0, sent_offset=0.1)
        self.assertAlmostEqual(first.offset_seconds, 0.1, places=6)
        self.assertEqual(first.jitter_seconds, 0.0)
        second = self.feed.one(1, 1.0, sent_offset=0.3)
        self.assertAlmostEqual(second.jitter_seconds, 0.0125, places=6)
        third = self.feed.one(2, 2.0, sent_offset=0.2)
        self.assertAlmostEqual(third.jitter_seconds, 0.01796875, places=6)
        self.assertAlmostEqual(third.offset_seconds, 0.2, places=6)

    def test_clients_are_separate(self):
        """
        Clients are tracked by id when given, else by address; one client's
        gap is not another's.
        """
        other = Feeder(self.monitor, ("127.0.0.1", 5001))
        self.feed.send(0, 0.0)
        other.send(0, 0.0)
        other.send(5, 1.0)
        self.feed.send(0, 1.0, client_id="alpha")
        rows = {row.client: row for row in self.monitor.status(T0 + 2)}
        self.assertEqual(sorted(rows), ["127.0.0.1:5000", "127.0.0.1:5001", "alpha"])
        self.assertEqual((rows["127.0.0.1:5000"].lost, rows["127.0.0.1:5001"].lost), (0, 4))

    def test_on_time_beats_reported_only_for_whom_it_is_asked(self):
        """
        With C{report_on_time} a container of names, the on-time beats of
        the other clients (alive, nothing else to say) build no event, yet
        are tracked and counted as before; first, late and duplicate beats
        are reported for everyone, and L{None} reports every beat again.
        """
        other = Feeder(self.monitor, ("127.0.0.1", 5001))
        self.monitor.report_on_time = {"127.0.0.1:5000"}
        self.assertEqual(beats(other.send(0, 0.0))[0].kind, BeatKind.FIRST)
        self.feed.send(0, 0.0)
        self.assertEqual(other.send(1, 1.0), [])
        self.assertEqual(self.feed.one(1, 1.0).kind, BeatKind.ON_TIME)
        self.assertEqual(other.one(2, 3.0).kind, BeatKind.LATE)
        self.assertEqual(other.one(2, 3.1).kind, BeatKind.DUPLICATE)
        self.assertEqual(other.send(3, 4.0), [])
        row = {row.client: row for row in self.monitor.status(T0 + 4.0)}["127.0.0.1:5001"]
        self.assertEqual((row.beats, row.last_sequence, row.late, row.duplicates, row.last_beat_at),
                         (5, 3, 1, 1, T0 + 4.0))
        self.monitor.report_on_time = None
        self.assertEqual(other.one(4, 5.0).kind, BeatKind.ON_TIME)

    def test_events_are_the_dataclasses_own(self):
        """
        The beat and state-change events the monitor builds (without the
        dataclass constructor, on the hot path) are equal to, hash like and
        print like the same events built by their constructors, and stay
        frozen.
        """
        import dataclasses

        events = self.feed.send(0, 0.0) + self.feed.send(1, 1.0)
        self.assertEqual([type(event) for event in events], [BeatReceived, StateChanged, BeatReceived])
        for event in events:
            rebuilt = type(event)(**{field.name: getattr(event, field.name) for field in dataclasses.fields(event)})
            self.assertEqual((event, hash(event), repr(event)), (rebuilt, hash(rebuilt), repr(rebuilt)))
            self.assertRaises(dataclasses.FrozenInstanceError, setattr, event, "client", "other")

    def test_key_by_host(self):
        """
        Keyed by host, a lab sender restarted on a new port is the same
        client, and its restart is seen.
        """
        monitor = HeartbeatMonitor(settings(key_by=KeyBy.HOST))
        Feeder(monitor, ("10.0.0.5", 40000)).send(0, 0.0)
        Feeder(monitor, ("10.0.0.5", 40000)).send(1, 1.0)
        [beat] = beats(Feeder(monitor, ("10.0.0.5", 40001)).send(0, 2.0))
        self.assertEqual((beat.client, beat.kind, beat.source), ("10.0.0.5", BeatKind.RESTART, "10.0.0.5:40001"))

    def test_ipv6_source_name(self):
        """
        IPv6 sources are named [host]:port.
        """
        monitor = HeartbeatMonitor(settings())
        Feeder(monitor, ("::1", 7)).send(0, 0.0)
        self.assertEqual(monitor.status(T0)[0].client, "[::1]:7")

    def test_forget_after(self):
        """
        A stopped client is forgotten after forget_after of silence.
        """
        monitor = HeartbeatMonitor(settings(forget_after=100.0, summary_interval=0))
        Feeder(monitor).send(0, 0.0)
        monitor.sweep(T0 + 10.0)
        self.assertEqual(monitor.sweep(T0 + 99.0), [])
        [forgotten] = monitor.sweep(T0 + 100.0)
        self.assertEqual(forgotten, ClientForgotten("127.0.0.1:5000", T0 + 100.0, 100.0))
        self.assertEqual(len(monitor), 0)

    def test_thousands_of_clients_one_sweep(self):
        """
        5,000 clients are all checked by one sweep: none early, all stopped
        at the timeout, none twice.
        """
        for number in range(5000):
            data = encode_beat(0, T0, client_id=f"c{number}")
            self.monitor.datagram_received(data, ("127.0.0.1", 6000), T0 + number * 1e-4)
        self.assertEqual(len(self.monitor), 5000)
        suspected = self.monitor.sweep(T0 + 9.0)
        self.assertEqual(len(suspected), 5000)
        self.assertEqual(self.monitor.sweep(T0 + 9.9), [])
        stopped = self.monitor.sweep(T0 + 10.5)
        self.assertEqual(len(stopped), 5000)
        self.assertEqual({e.state for e in stopped}, {ClientState.STOPPED})
        self.assertEqual(self.monitor.sweep(T0 + 11.0), [])


class RejectionTests(SynchronousTestCase):
    def setUp(self):
        self.monitor = HeartbeatMonitor(settings())

    def test_malformed_counted_reported_once_a_minute_per_source_port(self):
        """
        Bad datagrams never create a client; they are counted, and reported
        at most once per source address (host and port) per minute with the
        number suppressed: another port of the same host (a restarted lab
        sender) is reported at once.
        """
        receive = self.monitor.datagram_received
        [first] = receive(b"garbage", ("10.0.0.1", 1), T0)
        self.assertEqual((first.reason, first.report, first.suppressed), (RejectReason.MALFORMED, True, 0))
        for second in range(1, 60):
            [event] = receive(b"x" * 1000, ("10.0.0.1", 1), T0 + second)
            self.assertFalse(event.report)
        [other_port] = receive(b"x" * 1000, ("10.0.0.1", 2), T0 + 30)
        self.assertEqual((other_port.reason, other_port.report), (RejectReason.OVERSIZED, True))
        [other_host] = receive(b"garbage", ("10.0.0.2", 1), T0 + 30)
        self.assertTrue(other_host.report)
        [again] = receive(b"garbage", ("10.0.0.1", 1), T0 + 60)
        self.assertEqual((again.report, again.suppressed), (True, 59))
        self.assertEqual(len(self.monitor), 0)
        self.assertEqual(self.monitor.counters["malformed"], 3)
        self.assertEqual(self.monitor.counters["oversized"], 60)

    def test_absurd_timestamps(self):
        """
        Timestamps a day or more away from our clock are refused.
        """
        for sent_at in (0.0, T0 + 86400.5, T0 - 86401):
            [event] = self.monitor.datagram_received(encode_beat(0, sent_at), SOURCE, T0)
            self.assertEqual(event.reason, RejectReason.ABSURD_TIMESTAMP)
        self.assertEqual(len(self.monitor), 0)

    def test_too_many_clients(self):
        """
        Beyond max_clients, new clients are refused; known ones still beat.
        """
        monitor = HeartbeatMonitor(settings(max_clients=2))
        for port in (1, 2):
            Feeder(monitor, ("10.0.0.1", port)).send(0, 0.0)
        [event, pressure] = Feeder(monitor, ("10.0.0.1", 3)).send(0, 0.0)
        self.assertEqual(event.reason, RejectReason.TOO_MANY_CLIENTS)
        self.assertEqual(pressure, TableFull(T0, 2, 2, evicted=0, refused=1))
        self.assertEqual(len(Feeder(monitor, ("10.0.0.1", 1)).send(1, 1.0)), 1)

    def test_bad_settings(self):
        """
        Impossible settings are the caller's error.
        """
        for kwargs in ({"period": 0}, {"period": 1, "timeout": 0}, {"period": 1, "timeout": 1}, {"period": 1, "key": b"short"},
                       {"period": 1, "phi_threshold": 0}, {"period": 1, "tolerance": -1}):
            self.assertRaises(LocalProtocolError, MonitorSettings, **kwargs)

    def test_defaults_follow_the_period(self):
        """
        Timeout 10 periods (the lab's), tolerance half a period, min std a
        tenth, acceptable pause 3 periods (Akka's 1 s / 100 ms / 3 s shape)
        but at most a third of the timeout, so phi can act before the stop.
        """
        s = MonitorSettings(period=2.0)
        self.assertEqual((s.timeout, s.tolerance, s.min_std_deviation, s.acceptable_pause, s.max_skew),
                         (20.0, 1.0, 0.2, 6.0, 86400.0))
        self.assertEqual(MonitorSettings(key=KEY).max_skew, 300.0)
        short = MonitorSettings(period=1.0, timeout=3.0)
        self.assertEqual(short.acceptable_pause, 1.0)  # a third of a short timeout


class SignedTests(SynchronousTestCase):
    def setUp(self):
        self.monitor = HeartbeatMonitor(settings(key=KEY))
        self.feed = Feeder(self.monitor)

    def signed(self, sequence, at, boot=BOOT_A, client_id="alpha", source=SOURCE):
        data = encode_beat(sequence, T0 + at, client_id=client_id, boot=boot, key=KEY)
        return self.monitor.datagram_received(data, source, T0 + at)

    def reason(self, events):
        [event] = events
        self.assertIsInstance(event, DatagramRejected)
        return event.reason

    def test_unsigned_and_forged_dropped(self):
        """
        With a key, unsigned beats and beats signed with another key never
        create a client.
        """
        self.assertEqual(self.reason(self.feed.send(0, 0.0)), RejectReason.UNSIGNED)
        self.assertEqual(self.reason(self.feed.send(0, 0.0, client_id="a", boot=BOOT_A)), RejectReason.UNSIGNED)
        forged = encode_beat(0, T0, client_id="alpha", boot=BOOT_A, key=b"another key of 16 bytes")
        self.assertEqual(self.reason(self.monitor.datagram_received(forged, SOURCE, T0)), RejectReason.FORGED)
        absurd_and_forged = encode_beat(0, 0.0, client_id="alpha", boot=BOOT_A, key=b"another key of 16 bytes")
        self.assertEqual(self.reason(self.monitor.datagram_received(absurd_and_forged, SOURCE, T0)), RejectReason.FORGED)
        self.assertEqual(len(self.monitor), 0)
        self.assertEqual((self.monitor.counters["unsigned"], self.monitor.counters["forged"]), (2, 2))

    def test_signed_beats_tracked(self):
        """
        Signed beats are tracked like unsigned ones: gaps and reordering included.
        """
        self.assertEqual(beats(self.signed(0, 0.0))[0].kind, BeatKind.FIRST)
        self.assertEqual(beats(self.signed(1, 1.0))[0].kind, BeatKind.ON_TIME)
        self.assertEqual(beats(self.signed(3, 3.0))[0].lost, 1)
        self.assertEqual(beats(self.signed(2, 3.1))[0].kind, BeatKind.OUT_OF_ORDER)

    def test_replay_dropped(self):
        """
        The same signed datagram twice: the second is a replay, dropped and
        counted, not a duplicate.
        """
        data = encode_beat(0, T0, client_id="alpha", boot=BOOT_A, key=KEY)
        self.monitor.datagram_received(data, SOURCE, T0)
        self.assertEqual(self.reason(self.monitor.datagram_received(data, SOURCE, T0 + 0.5)), RejectReason.REPLAYED)
        self.assertEqual(self.monitor.status(T0 + 1)[0].beats, 1)

    def test_replay_never_revives(self):
        """
        Replaying a stopped client's recorded beats, from any address, does
        not revive it.
        """
        recorded = [encode_beat(n, T0 + n, client_id="alpha", boot=BOOT_A, key=KEY) for n in range(3)]
        for n, data in enumerate(recorded):
            self.monitor.datagram_received(data, SOURCE, T0 + n)
        self.monitor.sweep(T0 + 20)
        for data in recorded:
            for source in (SOURCE, ("10.9.9.9", 1)):
                self.assertEqual(self.reason(self.monitor.datagram_received(data, source, T0 + 30)), RejectReason.REPLAYED)
        self.assertEqual(self.monitor.state_of("alpha"), ClientState.STOPPED)

    def test_restart_accepted_old_run_refused(self):
        """
        A real restart (new boot id, newer timestamp) is accepted; beats of
        the previous run are replays from then on, and so is a new boot id
        whose timestamp is older than the last accepted beat.
        """
        self.signed(0, 0.0)
        self.signed(1, 1.0)
        self.assertEqual(beats(self.signed(0, 2.0, boot=BOOT_B))[0].kind, BeatKind.RESTART)
        self.assertEqual(self.reason(self.signed(2, 2.5, boot=BOOT_A)), RejectReason.REPLAYED)
        self.assertEqual(self.reason(self.signed(0, 1.5, boot="c" * 16)), RejectReason.REPLAYED)

    def test_boot_of_another_client(self):
        """
        A boot id belongs to one client: reusing it under another name (or,
        without an id, another address) is a replay.
        """
        self.signed(0, 0.0, client_id=None)
        events = self.signed(1, 1.0, client_id=None, source=("10.0.0.9", 5000))
        self.assertEqual(self.reason(events), RejectReason.REPLAYED)

    def test_stale_timestamp(self):
        """
        With a key, beats more than 300 s from our clock are refused, which
        bounds how old a recording can be replayed to a restarted monitor.
        """
        data = encode_beat(0, T0 - 301, client_id="alpha", boot=BOOT_A, key=KEY)
        self.assertEqual(self.reason(self.monitor.datagram_received(data, SOURCE, T0)), RejectReason.ABSURD_TIMESTAMP)

    def test_new_boot_needs_a_later_timestamp(self):
        """
        A new boot id whose timestamp equals the last accepted beat's is a
        replay too (not later is not enough).
        """
        self.signed(0, 0.0)
        self.assertEqual(self.reason(self.signed(0, 0.0, boot=BOOT_B)), RejectReason.REPLAYED)
        self.assertEqual(beats(self.signed(0, 0.001, boot=BOOT_B))[0].kind, BeatKind.RESTART)

    def test_replay_below_the_reorder_window(self):
        """
        A signed beat more than the reorder window below the highest
        sequence is a replay, even one never received (its bit is out of
        the duplicate memory): a recording of the run's early beats cannot
        be fed back once the sender has moved on.
        """
        for sequence in range(3):
            self.signed(sequence, float(sequence))
        self.signed(100, 3.0)  # the window (64) now ends at 37
        for sequence in (1, 20, 36):  # received, never received, just outside
            self.assertEqual(self.reason(self.signed(sequence, 3.5)), RejectReason.REPLAYED, sequence)
        self.assertEqual(beats(self.signed(37, 3.6))[0].kind, BeatKind.OUT_OF_ORDER)
        self.assertEqual(self.monitor.counters["replayed"], 3)

    def test_flood_without_the_key_takes_no_place(self):
        """
        With a key, a flood of made-up ids (unsigned or forged) never takes
        a place in a full table; a new signed client takes the place of the
        stopped one.
        """
        monitor = HeartbeatMonitor(settings(key=KEY, max_clients=2))
        for number, name in enumerate(("alpha", "beta")):
            data = encode_beat(0, T0, client_id=name, boot=f"{number:016x}", key=KEY)
            monitor.datagram_received(data, SOURCE, T0)
        monitor.datagram_received(encode_beat(1, T0 + 5, client_id="beta", boot=f"{1:016x}", key=KEY), SOURCE, T0 + 5)
        monitor.sweep(T0 + 10.5)  # alpha stopped, beta alive
        for number in range(1000):
            fake = encode_beat(0, T0 + 11, client_id=f"fake{number}", boot=f"{number + 9:016x}", key=b"not the key, guessed")
            monitor.datagram_received(fake, ("10.6.6.6", 1000 + number), T0 + 11)
            monitor.datagram_received(encode_beat(0, T0 + 11, client_id=f"plain{number}"), ("10.6.6.6", 1), T0 + 11)
        self.assertEqual(sorted(row.client for row in monitor.status(T0 + 11)), ["alpha", "beta"])
        newcomer = encode_beat(0, T0 + 12, client_id="gamma", boot="c" * 16, key=KEY)
        self.assertEqual(beats(monitor.datagram_received(newcomer, SOURCE, T0 + 12))[0].kind, BeatKind.FIRST)
        self.assertEqual(sorted(row.client for row in monitor.status(T0 + 12)), ["beta", "gamma"])


def fill(monitor, names, at, source=SOURCE, sequence=0):
    for name in names:
        monitor.datagram_received(encode_beat(sequence, T0 + at, client_id=name), source, T0 + at)


class TableFullTests(SynchronousTestCase):
    """
    A full table (max_clients) under a flood of made-up ids.
    """

    def test_least_recently_heard_stopped_client_evicted_first(self):
        """
        A new client takes the place of the stopped client heard least
        recently, then of the next; with no stopped client left it is
        refused, and live clients are never pushed out.
        """
        monitor = HeartbeatMonitor(settings(max_clients=3, summary_interval=0))
        fill(monitor, ["old"], 0.0)
        fill(monitor, ["older"], -1.0)
        fill(monitor, ["live"], 0.0)
        for second in range(1, 12):
            fill(monitor, ["live"], float(second), sequence=second)
            monitor.sweep(T0 + second + 0.5)
        self.assertEqual(monitor.state_of("old"), ClientState.STOPPED)
        self.assertEqual(monitor.state_of("older"), ClientState.STOPPED)
        events = monitor.datagram_received(encode_beat(0, T0 + 12, client_id="flood1"), SOURCE, T0 + 12)
        self.assertEqual(events[-1], TableFull(T0 + 12, 3, 3, evicted=1, refused=0))
        self.assertIsNone(monitor.state_of("older"))
        self.assertEqual(monitor.state_of("old"), ClientState.STOPPED)
        fill(monitor, ["flood2"], 12.0)
        self.assertIsNone(monitor.state_of("old"))
        [refused] = monitor.datagram_received(encode_beat(0, T0 + 12, client_id="flood3"), SOURCE, T0 + 12)
        self.assertEqual(refused.reason, RejectReason.TOO_MANY_CLIENTS)
        [refused, pressure] = monitor.datagram_received(encode_beat(0, T0 + 72, client_id="flood4"), SOURCE, T0 + 72)
        self.assertEqual(pressure, TableFull(T0 + 72, 3, 3, evicted=1, refused=2))
        self.assertEqual(sorted(row.client for row in monitor.status(T0 + 72)), ["flood1", "flood2", "live"])
        self.assertEqual(monitor.state_counts()[ClientState.STOPPED], 0)

    def test_real_client_gets_in_after_a_flood_stops_beating(self):
        """
        After a flood filled the table with 1,000 made-up ids and went
        quiet, a real client is admitted as soon as the flood's ids are
        stopped (timeout), not after forget_after (an hour).
        """
        monitor = HeartbeatMonitor(settings(max_clients=1000))
        fill(monitor, [f"fake{number}" for number in range(1000)], 0.0)
        [refused, pressure] = monitor.datagram_received(encode_beat(0, T0 + 1, client_id="real"), SOURCE, T0 + 1)
        self.assertEqual(refused.reason, RejectReason.TOO_MANY_CLIENTS)
        monitor.sweep(T0 + 10.5)
        events = monitor.datagram_received(encode_beat(1, T0 + 11, client_id="real"), SOURCE, T0 + 11)
        self.assertEqual(beats(events)[0].kind, BeatKind.FIRST)
        self.assertEqual(monitor.state_of("real"), ClientState.ALIVE)
        self.assertEqual(len(monitor), 1000)

    def test_pressure_reported_once_per_interval(self):
        """
        However hard the flood, the pressure is one event per
        report_interval, with the counts since the previous one.
        """
        monitor = HeartbeatMonitor(settings(max_clients=1))
        fill(monitor, ["live"], 0.0)
        reports = []
        for number in range(300):
            at = number * 0.5
            events = monitor.datagram_received(encode_beat(0, T0 + at, client_id=f"f{number}"), ("10.0.0.1", 1), T0 + at)
            fill(monitor, ["live"], at, sequence=number)
            reports.extend(event for event in events if isinstance(event, TableFull))
        self.assertEqual([(r.at - T0, r.refused) for r in reports], [(0.0, 1), (60.0, 120), (120.0, 120)])

    def test_stopped_kept_in_order_of_last_arrival(self):
        """
        Clients stopping in one sweep join the stopped list in the order
        they were last heard, so forgetting and eviction take the least
        recently heard first; forgetting stops at the first one not due.
        """
        monitor = HeartbeatMonitor(settings(forget_after=100.0, summary_interval=0))
        fill(monitor, ["c"], 0.3)
        fill(monitor, ["a"], 0.1)
        fill(monitor, ["b"], 0.2)
        monitor.sweep(T0 + 11.0)
        self.assertEqual(list(monitor._stopped), ["a", "b", "c"])
        forgotten = monitor.sweep(T0 + 100.25)
        self.assertEqual([event.client for event in forgotten], ["a", "b"])


class SummaryAndStatusTests(SynchronousTestCase):
    def test_summary_every_interval(self):
        """
        A sweep returns a summary every summary_interval, with the clients
        per state now and the beats and rejections since the last one.
        """
        monitor = HeartbeatMonitor(settings(summary_interval=10.0))
        monitor.sweep(T0)
        fill(monitor, ["a", "b"], 1.0)
        monitor.datagram_received(b"junk", SOURCE, T0 + 1)
        self.assertEqual([e for e in monitor.sweep(T0 + 9.9) if isinstance(e, MonitorSummary)], [])
        [summary] = [e for e in monitor.sweep(T0 + 10.0) if isinstance(e, MonitorSummary)]
        self.assertEqual(summary, MonitorSummary(T0 + 10, 10.0, 2, 0, 2, 0, 0, 2, ((RejectReason.MALFORMED, 1),)))
        fill(monitor, ["a"], 15.0, sequence=1)
        [summary] = [e for e in monitor.sweep(T0 + 20.0) if isinstance(e, MonitorSummary)]
        self.assertEqual((summary.accepted, summary.rejected, summary.tracked, summary.stopped), (1, (), 2, 1))
        self.assertEqual(HeartbeatMonitor(settings(summary_interval=0)).sweep(T0 + 1000), [])

    def test_state_counts_follow_every_change(self):
        """
        The per-state counts (what the status page shows without a scan)
        match the table through suspect, stopped, recovered and forgotten.
        """
        monitor = HeartbeatMonitor(settings(forget_after=30.0, summary_interval=0))

        def check(now):
            actual = {state: 0 for state in ClientState}
            for row in monitor.status(now):
                actual[row.state] += 1
            self.assertEqual(monitor.state_counts(), actual, now)

        fill(monitor, ["a", "b", "c"], 0.0)
        for second in range(1, 45):
            if second % 7:
                fill(monitor, ["a"], float(second), sequence=second)
            if second == 20:
                fill(monitor, ["b"], float(second), sequence=second)
            monitor.sweep(T0 + second + 0.5)
            check(T0 + second + 0.5)

    def test_page_and_overview(self):
        """
        page() returns rows in the order first heard; overview() picks
        problems first and at most the limit.
        """
        monitor = HeartbeatMonitor(settings(summary_interval=0))
        fill(monitor, ["z", "y"], 0.0)
        fill(monitor, [f"x{number}" for number in range(5)], 9.0)
        monitor.sweep(T0 + 10.5)
        self.assertEqual([row.client for row in monitor.page(T0 + 11, 1, 3)], ["y", "x0", "x1"])
        self.assertEqual(monitor.page(T0 + 11, 7, 3), [])
        self.assertEqual([(row.client, row.state) for row in monitor.overview(T0 + 11, 3)],
                         [("y", ClientState.STOPPED), ("z", ClientState.STOPPED), ("x0", ClientState.ALIVE)])


class PreviewTests(SynchronousTestCase):
    CASES = [
        (b"hello", "hello"),
        (b"tab\there\r\n", "tab\\there\\r\\n"),
        (b"\x00\x1b[31m\x7f\xff", "\\x00\\x1b[31m\\x7f\\xff"),
        (b"back\\slash \"quoted\"", "back\\\\slash \"quoted\""),
        (b"a" * 100, "a" * 80 + "... (100 bytes)"),
    ]

    def test_table(self):
        """
        A rejected datagram is shown as one printable line: control and
        non-ASCII bytes escaped, the backslash doubled, cut at 80 bytes.
        """
        for data, expected in self.CASES:
            self.assertEqual(preview(data), expected, data)


class MutationGapTests(SynchronousTestCase):
    """
    Cases a mutation run over this module showed were not pinned down.
    """

    def test_report_budget_per_interval(self):
        """
        At most max_reports sources get a rejection report per interval, so
        junk from thousands of ports stays a few lines; the budget renews
        after the interval.
        """
        monitor = HeartbeatMonitor(settings(max_reports=3))
        reported = [monitor.datagram_received(b"junk", ("10.0.0.1", port), T0)[0].report for port in range(1, 6)]
        self.assertEqual(reported, [True, True, True, False, False])
        [later] = monitor.datagram_received(b"junk", ("10.0.0.1", 5), T0 + 60)
        self.assertTrue(later.report)
        self.assertEqual(monitor.counters["malformed"], 6)

    def test_straggler_beyond_the_window_does_not_refill_a_gap(self):
        """
        With a boot id, a beat from beyond the reorder window is out of
        order but does not reduce the loss count (its gap is no longer
        tracked), and the duplicate memory stays within the window.
        """
        monitor = HeartbeatMonitor(settings())
        feed = Feeder(monitor)
        feed.send(0, 0.0, client_id="a", boot=BOOT_A)
        self.assertEqual(feed.one(100, 1.0, client_id="a", boot=BOOT_A).lost, 99)
        straggler = feed.one(10, 1.1, client_id="a", boot=BOOT_A)
        self.assertEqual((straggler.kind, straggler.lost), (BeatKind.OUT_OF_ORDER, 0))
        self.assertEqual(monitor.status(T0 + 2)[0].lost, 99)
        for sequence in range(101, 400):
            feed.send(sequence, 1.0 + sequence * 0.01, client_id="a", boot=BOOT_A)
        self.assertLessEqual(monitor._clients["a"].received.bit_length(), monitor.settings.reorder_window)

    def test_settled_client_leaves_the_problem_rows(self):
        """
        A client that stopped, recovered and is alive again is not shown
        among the problems: the overview fills with alive clients in the
        order first heard.
        """
        monitor = HeartbeatMonitor(settings(summary_interval=0))
        fill(monitor, ["a"], 0.0)
        for second in range(1, 30):
            fill(monitor, ["b"], float(second), sequence=second)
            if second >= 12:
                fill(monitor, ["a"], float(second), sequence=second)
            monitor.sweep(T0 + second + 0.5)
        self.assertEqual(monitor.state_of("a"), ClientState.ALIVE)
        self.assertEqual([row.client for row in monitor.overview(T0 + 30, 1)], ["b"])
