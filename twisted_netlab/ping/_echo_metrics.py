# -*- test-case-name: tests.ping.test_echo_metrics -*-
"""
The echo server's Prometheus collector: reads the counters
L{LossyEchoProtocol} keeps anyway (L{EchoCounters}) at scrape time, so
metrics cost the echo nothing per datagram.
"""

from __future__ import annotations

from typing import Any, Iterator

from twisted_netlab._metrics import counter, gauge


class EchoCollector:
    """
    ``netlab_echo_*``: datagrams received, echoed, dropped by stage and by
    reason, refused by abuse limit, impairments applied, and the number of
    echoes held (delayed or queued) now.
    """

    def __init__(self, protocol: Any) -> None:
        self.protocol = protocol

    def collect(self) -> Iterator[Any]:
        counters = self.protocol.counters
        yield counter("netlab_echo_datagrams_received", "Datagrams received.", [], [((), counters.received)])
        yield counter("netlab_echo_datagrams_echoed", "Echoes sent (duplicates included).", [], [((), counters.echoed)])
        yield counter(
            "netlab_echo_datagrams_dropped",
            "Datagrams the impairment model dropped, by the stage that dropped them.",
            ["stage"],
            [((direction.value,), count) for direction, count in counters.stage_drops.items()],
        )
        yield counter(
            "netlab_echo_drops",
            "Impairment drops by reason (random loss, burst loss, full queue).",
            ["reason"],
            [((reason.value,), count) for reason, count in counters.drops.items()],
        )
        yield counter(
            "netlab_echo_datagrams_refused",
            "Datagrams refused by an abuse limit (never echoed), by limit.",
            ["reason"],
            [((reason.value,), count) for reason, count in counters.refused.items()],
        )
        yield counter(
            "netlab_echo_impairments",
            "Impairments applied to echoes, by kind.",
            ["kind"],
            [(("duplicated",), counters.duplicated), (("corrupted",), counters.corrupted), (("reordered",), counters.reordered)],
        )
        yield gauge(
            "netlab_echo_queue_depth",
            "Echoes held now (delayed or queued by a rate limit).",
            [],
            [((), len(getattr(self.protocol, "_pending", ())))],
        )
