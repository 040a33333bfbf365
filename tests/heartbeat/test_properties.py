"""
Property tests (hypothesis) for the heartbeat core: decoding never fails
in an unexpected way, encoding round-trips, and loss accounting stays exact
whatever order beats arrive in.
"""

from hypothesis import given, settings, strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.heartbeat import (
    BeatReceived,
    HeartbeatMonitor,
    MonitorSettings,
    PeerProtocolError,
    decode_beat,
    encode_beat,
    verify_beat,
)

T0 = 1_700_000_000.0
KEY = b"property-test-key-0123456789"

client_ids = st.from_regex(r"[A-Za-z][A-Za-z0-9._@-]{0,63}", fullmatch=True)
boots = st.binary(min_size=8, max_size=8).map(bytes.hex)


class PropertyTests(SynchronousTestCase):
    @settings(max_examples=500, deadline=None)
    @given(st.binary(max_size=600))
    def test_decode_any_bytes(self, data):
        """
        Any datagram either decodes or is refused with PeerProtocolError.
        """
        try:
            decode_beat(data)
        except PeerProtocolError:
            pass

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
