"""
The metrics table in docs/metrics.rst is what the collectors expose: every
family of every service, with its type and labels, and nothing else.
"""

from __future__ import annotations

import os
import random

from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import REPO
from tests.mail.test_sink import FactoryMixin
from tests.udp_fakes import FakeUDPPort
from tests.web.test_server import Connection
from twisted_netlab._metrics import _InfoCollector, enable_all
from twisted_netlab.heartbeat._beat import encode_beat
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor, MonitorSettings
from twisted_netlab.heartbeat._monitor_metrics import MonitorCollector
from twisted_netlab.mail._sink_metrics import SinkCollector
from twisted_netlab.ping._echo_metrics import EchoCollector
from twisted_netlab.ping.echo import LossyEchoProtocol
from twisted_netlab.web._server_metrics import ServerCollector


def documented():
    """
    {name: (type, labels)} from the table of docs/metrics.rst.
    """
    with open(os.path.join(REPO, "docs", "metrics.rst"), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    border = next(line for line in lines if line.startswith("=====") and " =====" in line)
    starts = [index for index, char in enumerate(border) if char == "=" and (index == 0 or border[index - 1] == " ")]
    rows = {}
    for line in lines:
        if line.startswith("``netlab_"):
            cells = [line[start:end].strip() for start, end in zip(starts, starts[1:] + [len(line)])]
            name = cells[0].strip("`")
            labels = tuple(sorted(label.strip() for label in cells[2].split(",") if label.strip()))
            rows[name] = (cells[1], labels)
    return rows


class MetricsTableTests(FactoryMixin, SynchronousTestCase):
    def collectors(self):
        connection = Connection(self)
        server = ServerCollector(connection.factory)
        server.enable()
        connection.get(b"/hello.txt")
        connection.send(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        echo = LossyEchoProtocol(Clock(), rng=random.Random(1))
        echo.log = Logger(observer=lambda event: None)
        port = FakeUDPPort(echo)
        echo.makeConnection(port)
        self.addCleanup(port.stopListening)
        monitor = HeartbeatMonitor(MonitorSettings(period=1.0))
        monitor.datagram_received(encode_beat(1, 1e9), ("127.0.0.1", 5000), 1e9)
        return [_InfoCollector(["all"]), server, EchoCollector(echo), MonitorCollector(monitor, lambda: 1e9 + 1),
                SinkCollector(self.make_factory())]

    def test_table_matches_collectors(self):
        """
        Each exposed family appears in the table with its type and labels
        (labels read from its samples where it has any), and every row of
        the table is exposed.
        """
        collectors = self.collectors()
        enable_all(collectors)
        exposed = {}
        for collector in collectors:
            for family in collector.collect():
                name = family.name + ("_total" if family.type == "counter" else "")
                name = "netlab_info" if family.type == "info" else name
                labels = set()
                for sample in family.samples:
                    labels.update(label for label in sample.labels if label != "le")
                exposed[name] = (family.type, tuple(sorted(labels)), bool(family.samples))
        table = documented()
        self.assertEqual(sorted(exposed), sorted(table))
        for name, (kind, labels, sampled) in exposed.items():
            self.assertEqual(table[name][0], kind, name)
            if sampled and name != "netlab_info":
                self.assertEqual(table[name][1], labels, name)
