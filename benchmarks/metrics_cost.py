#!/usr/bin/env python3
"""
What ``--metrics`` costs each service per unit of work, measured in one
process and one run (CPU time, time.process_time), so a loaded machine
shifts both sides alike:

- netlab-http: 20,000 keep-alive GETs of a 2 KB file through the real
  protocol on an in-memory transport, with and without the per-response
  totals (``ServerCollector.enable``); interleaved rounds, median.
- netlab-echo, heartbeat, mailsink: their collectors only read counters at
  scrape time, so the cost per datagram/beat/message is zero by
  construction; what is measured is one scrape's CPU time with 100,000
  heartbeat clients (the largest table netlab keeps).

Usage: .venv/bin/python benchmarks/metrics_cost.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from twisted_netlab._metrics import make_registry  # noqa: E402
from twisted_netlab.heartbeat._beat import encode_beat  # noqa: E402
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor, MonitorSettings  # noqa: E402
from twisted_netlab.heartbeat._monitor_metrics import MonitorCollector  # noqa: E402
from twisted_netlab.web._server_metrics import ServerCollector, ServerStats  # noqa: E402
from twisted_netlab.web.server import StaticFileFactory  # noqa: E402

REQUESTS = 20_000
ROUNDS = 15


def http_round(root: str, metrics: bool) -> float:
    clock = Clock()
    clock.advance(1_800_000_000)
    clock.seconds = time.time  # what a real reactor's seconds() is (a builtin)
    factory = StaticFileFactory(root, reactor=clock)
    if metrics:
        ServerCollector(factory).enable()
    protocol = factory.buildProtocol(None)
    transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5555))
    protocol.makeConnection(transport)
    requests = [b"GET /file.bin?%d HTTP/1.1\r\nHost: h\r\nUser-Agent: bench\r\n\r\n" % i for i in range(REQUESTS)]
    start = time.process_time()
    for request in requests:
        protocol.dataReceived(request)
        transport.clear()
    return (time.process_time() - start) / REQUESTS


def main() -> None:
    root = tempfile.mkdtemp()
    with open(os.path.join(root, "file.bin"), "wb") as handle:
        handle.write(os.urandom(2048))
    plain, counted = [], []
    for _ in range(ROUNDS):
        plain.append(http_round(root, False))
        counted.append(http_round(root, True))
    print(f"netlab-http, CPU per request ({ROUNDS} interleaved rounds of {REQUESTS:,} GETs; the least is the")
    print("  least disturbed by other work on the machine, the median is shown too):")
    for label, pick in (("least", min), ("median", statistics.median)):
        off, on = pick(plain), pick(counted)
        print(f"  {label:6}  without metrics {off * 1e6:6.2f} us   with metrics {on * 1e6:6.2f} us   cost {100 * (on - off) / off:+.1f} %")
    stats = ServerStats()
    count = 200_000
    start = time.process_time()
    for _ in range(count):
        stats.observe("GET", 200, 2048, 0.00012)
    print(f"  ServerStats.observe alone: {(time.process_time() - start) / count * 1e6:.2f} us per response")

    monitor = HeartbeatMonitor(MonitorSettings(period=1.0, max_clients=100_000))
    now = 1_800_000_000.0
    for index in range(100_000):
        monitor.datagram_received(encode_beat(0, now), (f"10.{index >> 16}.{(index >> 8) & 255}.{index & 255}", 5000), now)
    registry = make_registry([MonitorCollector(monitor, lambda: now + 1)], ["heartbeat"])
    from prometheus_client.exposition import generate_latest

    times = []
    for _ in range(ROUNDS):
        start = time.process_time()
        generate_latest(registry)
        times.append(time.process_time() - start)
    print(f"netlab-heartbeat, one scrape with {len(monitor):,} clients: {statistics.median(times) * 1e3:.1f} ms CPU (median of {ROUNDS})")
    print("netlab-echo, -mailsink: collectors read existing counters at scrape time: no per-datagram or per-message cost")


if __name__ == "__main__":
    main()
