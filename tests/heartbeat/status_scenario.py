"""
Renders the status page shown in docs/heartbeat.rst: an hour of three
simulated clients (task.Clock, seeded jitter) through the real monitor,
history and page.  Run: .venv/bin/python -m tests.heartbeat.status_scenario OUT.html
then screenshot OUT.html with headless Chromium (see docs/heartbeat.rst).
"""

import random
import sys

from twisted.internet.task import Clock

from twisted_netlab.heartbeat import HeartbeatMonitor, MonitorSettings, encode_beat
from twisted_netlab.heartbeat._history import HistoryBook
from twisted_netlab.heartbeat.monitor import MonitorProtocol
from twisted_netlab.heartbeat.status import render_html, sample_phi

T0 = 1_700_000_000.0
PERIOD, TIMEOUT, SWEEP = 5.0, 50.0, 2.5


def main(path: str) -> None:
    rng = random.Random(2026)
    clock = Clock()
    clock.advance(T0)
    monitor = HeartbeatMonitor(MonitorSettings(period=PERIOD, timeout=TIMEOUT))
    history = HistoryBook()
    protocol = MonitorProtocol(monitor, SWEEP, [history], reactor=clock)
    # (name, jitter sd in s, silent from, silent until) in seconds after T0
    clients = [("lab-pc-1", 0.05, None, None), ("lab-pc-2", 0.3, 1200.0, 2100.0), ("lab-pc-3", 1.8, None, None),
               ("lab-pc-4", 0.5, 3530.0, 3700.0)]
    due = {name: T0 + rng.random() * PERIOD for name, *_ in clients}
    sequence = {name: 0 for name, *_ in clients}
    while clock.seconds() < T0 + 3600:
        step_end = clock.seconds() + SWEEP
        for name, jitter, silent_from, silent_until in clients:
            while due[name] < step_end:
                at = due[name]
                clock.advance(max(0.0, at - clock.seconds()))
                quiet = silent_from is not None and T0 + silent_from <= at < T0 + silent_until
                if not quiet:
                    protocol.datagramReceived(encode_beat(sequence[name], at, client_id=name), ("192.0.2.7", 40000))
                sequence[name] += 1
                due[name] = at + max(0.2, rng.gauss(PERIOD, jitter))
        clock.advance(step_end - clock.seconds())
        protocol.sweep()
        sample_phi(monitor, history, clock.seconds())
    with open(path, "wb") as file:
        file.write(render_html(monitor, clock.seconds(), 0, history))


if __name__ == "__main__":
    main(sys.argv[1])
