# -*- test-case-name: tests.heartbeat.test_monitor_metrics -*-
"""
The heartbeat monitor's Prometheus collector: reads the monitor's counters
and state counts (kept as beats arrive) at scrape time, plus per-client
series for a bounded number of the most recently heard clients.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from twisted_netlab._metrics import counter, gauge
from twisted_netlab.heartbeat._beat import RejectReason
from twisted_netlab.heartbeat._events import ClientState

#: Per-client series for at most this many clients (the most recently
#: heard): a flood of forged client ids cannot grow the scrape.
DEFAULT_CLIENT_SERIES = 100

#: phi grows without bound for a long-silent client; Prometheus stores
#: floats fine, but a cap keeps graphs readable ("far past any threshold").
PHI_CAP = 1000.0


class MonitorCollector:
    """
    ``netlab_heartbeat_*``: clients by state, beats accepted and rejected by
    reason, and per client (bounded) the time of the last beat and phi.
    """

    def __init__(self, monitor: Any, seconds: Callable[[], float], client_series: int = DEFAULT_CLIENT_SERIES) -> None:
        self.monitor = monitor
        self.seconds = seconds
        self.client_series = client_series

    def collect(self) -> Iterator[Any]:
        monitor = self.monitor
        counts = monitor.state_counts()
        yield gauge(
            "netlab_heartbeat_clients", "Clients tracked, by state.", ["state"],
            [((state.value,), counts.get(state, 0)) for state in ClientState],
        )
        counters = monitor.counters
        yield counter("netlab_heartbeat_beats_accepted", "Beats accepted.", [], [((), counters["accepted"])])
        yield counter(
            "netlab_heartbeat_beats_rejected", "Datagrams rejected, by reason.", ["reason"],
            [((reason.value,), counters[reason.value]) for reason in RejectReason],
        )
        rows = monitor.recent(self.seconds(), self.client_series)
        yield gauge(
            "netlab_heartbeat_last_seen_timestamp_seconds",
            f"When the client's last beat arrived (Unix time); the {self.client_series} most recently heard clients.",
            ["client"], [((row.client,), row.last_beat_at) for row in rows],
        )
        yield gauge(
            "netlab_heartbeat_phi",
            f"Suspicion level phi of the accrual detector (capped at {PHI_CAP:g}); the same clients.",
            ["client"], [((row.client,), min(row.phi, PHI_CAP)) for row in rows],
        )
