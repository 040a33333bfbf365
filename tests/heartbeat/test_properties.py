"""
Property tests (hypothesis) for the heartbeat core: decoding never fails
in an unexpected way, encoding round-trips, and loss accounting stays exact
whatever order beats arrive in.
"""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.heartbeat import (
    Beat,
    BeatKind,
    BeatReceived,
    ClientState,
    HeartbeatMonitor,
    MonitorSettings,
    PeerProtocolError,
    RejectReason,
    decode_beat,
    encode_beat,
    verify_beat,
)
from twisted_netlab.heartbeat._beat import MAX_DATAGRAM_BYTES, _decode_slowly

T0 = 1_700_000_000.0
KEY = b"property-test-key-0123456789"

client_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9._@-]{0,63}", fullmatch=True)
boots = st.binary(min_size=8, max_size=8).map(bytes.hex)
#: Datagrams near the grammar: real beats with their tokens dropped,
#: doubled, reordered, cut or padded, so the fuzzing reaches the decoder's
#: later branches, not only "not a beat".
_tokens = st.sampled_from([
    b"7", b"-", b"1700000000.5", b"18446744073709551616", b"id=alpha", b"id=9bad", b"id=", b"boot=" + b"a" * 16,
    b"boot=" + b"A" * 16, b"mac=" + b"b" * 64, b"mac=" + b"b" * 63, b"x=1", b"", b"\t", b"\n",
])
beat_like = st.lists(_tokens, max_size=7).map(b" ".join) | st.builds(
    lambda sequence, client_id, signed, cut: encode_beat(sequence, T0, client_id, "c" * 16, KEY if signed else None)[:cut],
    st.integers(0, 2**63 - 1), st.one_of(st.none(), client_ids), st.booleans(), st.integers(0, 200),
) | st.builds(
    lambda sequence, tail: b"%d - 1700000000.5" % sequence + tail,
    st.integers(0, 10**19 - 1) | st.integers(2**63 - 2, 2**63 + 2), st.sampled_from([b"", b" id=alpha", b" boot=" + b"c" * 16]),
)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=500, deadline=None)
    @given(st.one_of(st.binary(max_size=600), beat_like))
    def test_decode_any_bytes(self, data):
        """
        Any datagram either decodes to a beat that re-encodes to the same
        fields, or is refused as oversized (exactly when over the limit) or
        malformed; nothing else escapes.
        """
        try:
            beat = decode_beat(data)
        except PeerProtocolError as error:
            expected = RejectReason.OVERSIZED if len(data) > MAX_DATAGRAM_BYTES else RejectReason.MALFORMED
            self.assertIs(error.reason, expected)
            return
        self.assertLessEqual(len(data), MAX_DATAGRAM_BYTES)
        self.assertIsInstance(beat, Beat)
        again = decode_beat(encode_beat(beat.sequence, beat.sent_at, beat.client_id, beat.boot))
        self.assertEqual((again.sequence, again.client_id, again.boot), (beat.sequence, beat.client_id, beat.boot))
        self.assertAlmostEqual(again.sent_at, beat.sent_at, delta=5e-7 + beat.sent_at * 1e-15)
        if beat.mac is not None:
            self.assertTrue(data.strip(b" \t\r\n").startswith(beat.signed_part + b" mac="))

    @settings(max_examples=1000, deadline=None)
    @given(st.one_of(st.binary(max_size=100), beat_like))
    def test_fast_path_agrees_with_field_by_field(self, data):
        """
        The one-match fast path of decode_beat gives exactly what the
        field-by-field decoder gives (the same beat, or the same refusal).
        """
        def outcome(decode):
            try:
                return decode(data)
            except PeerProtocolError as error:
                return (error.reason, error.detail)

        self.assertEqual(outcome(decode_beat), outcome(_decode_slowly))

    @settings(max_examples=200, deadline=None)
    @given(st.integers(0, 2**63 - 1), st.floats(0, 1e12, allow_nan=False), st.one_of(st.none(), client_ids), boots,
           st.booleans())
    def test_round_trip(self, sequence, sent_at, client_id, boot, signed):
        """
        Every encodable beat decodes to the same fields (time to the
        microsecond) and, when signed, verifies.
        """
        data = encode_beat(sequence, sent_at, client_id, boot, KEY if signed else None)
        beat = decode_beat(data)
        self.assertEqual((beat.sequence, beat.client_id, beat.boot), (sequence, client_id, boot))
        self.assertLessEqual(abs(beat.sent_at - sent_at), 5e-7 + sent_at * 1e-15)  # %.6f, float precision
        self.assertEqual(verify_beat(beat, KEY), signed)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.integers(1, 60), max_size=60).map(lambda found: [0] + found))
    def test_lost_is_exact(self, order):
        """
        Whatever subset of sequences 0..60 arrives, in whatever order and
        with whatever duplicates, the lost count is exactly the numbers
        missing below the highest one received.
        """
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0))
        for step, sequence in enumerate(order):
            events = monitor.datagram_received(encode_beat(sequence, T0 + step * 0.01), ("10.0.0.1", 9), T0 + step * 0.01)
            self.assertIsInstance(events[0], BeatReceived)
        row = monitor.status(T0 + 1)[0]
        received = set(order)
        self.assertEqual(row.lost, max(received) + 1 - len(received))
        self.assertEqual(row.last_sequence, max(received))
        self.assertEqual(row.beats, len(order))


class _GeneralPathOnly(HeartbeatMonitor):
    """
    The monitor with every accepted beat tracked by the general path (no
    shortcut for the next beat of a healthy client): the reference the
    shortcut must agree with.
    """

    def _track(self, client, beat, address, now):
        return self._track_any(client, beat, address, now)


#: One step of a client's life: how far the sequence moves (negative: a
#: straggler or duplicate; a reset to 0 or a new boot id: a restart), how
#: long after the previous datagram it comes (long gaps: suspect, stopped,
#: recovered), and how far its timestamp is off.
_steps = st.lists(
    st.tuples(
        st.integers(-70, 70) | st.sampled_from([1, 1, 1, 2, 0]),
        st.floats(0.0, 12.0) | st.sampled_from([1.0, 1.0, 0.999, 1.6]),
        st.floats(-0.05, 0.05),
        st.sampled_from(["same", "same", "same", "new boot", "reset"]),
    ),
    max_size=80,
)


class FastPathTests(SynchronousTestCase):
    @settings(max_examples=300, deadline=None)
    @given(_steps, st.booleans(), st.booleans())
    def test_next_beat_shortcut_agrees_with_general_path(self, steps, with_boot, sweeping):
        """
        Whatever a client sends (in order, late, lost, duplicated, out of
        order, restarted, silent long enough to be suspect, stopped and
        recovered), the monitor with the shortcut for the next beat of a
        healthy client returns the same events as the general path, and
        ends with the same row and the same detector figures; a monitor
        told to report no ordinary beats returns the same events but those
        on-time beats of a client alive or recovered, and keeps the same
        figures.
        """
        monitors = [HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0)),
                    _GeneralPathOnly(MonitorSettings(period=1.0, timeout=5.0))]
        quiet = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0))
        quiet.report_on_time = ()
        sequence, now, boot_number = 0, T0, 0
        for move, gap, skew, run in steps:
            now += gap
            if run == "reset":
                sequence = 0
            elif run == "new boot":
                boot_number += 1
            sequence = max(0, sequence + move)
            boot = "%016x" % boot_number if with_boot else None
            data = encode_beat(sequence, now + skew, "alpha" if with_boot else None, boot)
            results = [monitor.datagram_received(data, ("10.0.0.1", 9), now) for monitor in monitors]
            self.assertEqual(results[0], results[1])
            state = monitors[0].state_of("alpha" if with_boot else "10.0.0.1:9")
            unreported = [
                event for event in results[0]
                if isinstance(event, BeatReceived) and event.kind is BeatKind.ON_TIME and event.previous_sequence is not None
                and state in (ClientState.ALIVE, ClientState.RECOVERED) and len(results[0]) == 1
            ]
            self.assertEqual(quiet.datagram_received(data, ("10.0.0.1", 9), now),
                             [event for event in results[0] if event not in unreported])
            if sweeping:
                self.assertEqual(monitors[0].sweep(now + 0.5), monitors[1].sweep(now + 0.5))
                quiet.sweep(now + 0.5)
        rows = [monitor.status(now + 1.0) for monitor in monitors + [quiet]]
        self.assertEqual(rows[0], rows[1])
        self.assertEqual(rows[0], rows[2])
        detectors = [[(c.detector.intervals, c.detector.suspect_at) for c in monitor._clients.values()]
                     for monitor in monitors]
        self.assertEqual(detectors[0], detectors[1])
