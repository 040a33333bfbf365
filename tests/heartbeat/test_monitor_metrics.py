"""
Tests for L{twisted_netlab.heartbeat._monitor_metrics}: clients by state,
beats accepted and rejected, and per-client series bounded to the most
recently heard clients.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from tests.metrics_helpers import scrape
from twisted_netlab.heartbeat._beat import encode_beat
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor, MonitorSettings
from twisted_netlab.heartbeat._monitor_metrics import MonitorCollector

T0 = 1_800_000_000.0


class MonitorCollectorTests(SynchronousTestCase):
    def test_states_beats_and_rejections(self):
        """
        Two clients beat, one falls silent past the timeout: the scrape
        shows one alive and one stopped, every beat accepted, and a junk
        datagram rejected under its reason.
        """
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        now = T0
        for second in range(5):
            now = T0 + second
            monitor.datagram_received(encode_beat(second, now), ("127.0.0.1", 5000), now)
            if second < 2:
                monitor.datagram_received(encode_beat(second, now), ("127.0.0.1", 5001), now)
        monitor.datagram_received(b"hello", ("127.0.0.1", 5002), now)
        monitor.sweep(T0 + 5.5)
        samples = scrape(MonitorCollector(monitor, lambda: T0 + 5.5))
        self.assertEqual(samples[("netlab_heartbeat_clients", (("state", "alive"),))], 1)
        self.assertEqual(samples[("netlab_heartbeat_clients", (("state", "stopped"),))], 1)
        self.assertEqual(samples[("netlab_heartbeat_beats_accepted_total", ())], 7)
        rejected = sum(v for (name, _), v in samples.items() if name == "netlab_heartbeat_beats_rejected_total")
        self.assertEqual(rejected, 1)
        seen = {labels: value for (name, labels), value in samples.items() if name == "netlab_heartbeat_last_seen_timestamp_seconds"}
        self.assertEqual(sorted(value for value in seen.values()), [T0 + 1, T0 + 4])
        phi = {labels: value for (name, labels), value in samples.items() if name == "netlab_heartbeat_phi"}
        self.assertEqual(len(phi), 2)
        self.assertTrue(max(phi.values()) > min(phi.values()))

    def test_per_client_series_are_bounded(self):
        """
        150 clients (say, forged ids) give per-client series for only the
        10 most recently heard when the bound is 10.
        """
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        for index in range(150):
            now = T0 + index * 0.01
            monitor.datagram_received(encode_beat(0, now), ("127.0.0.1", 10000 + index), now)
        samples = scrape(MonitorCollector(monitor, lambda: T0 + 2, client_series=10))
        seen = [value for (name, _), value in samples.items() if name == "netlab_heartbeat_last_seen_timestamp_seconds"]
        self.assertEqual(len(seen), 10)
        self.assertAlmostEqual(min(seen), T0 + 140 * 0.01)
        self.assertEqual(samples[("netlab_heartbeat_clients", (("state", "alive"),))], 150)
