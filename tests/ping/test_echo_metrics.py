"""
Tests for L{twisted_netlab.ping._echo_metrics}: what a scrape of the echo
server shows is what its counters say after real datagrams.
"""

from __future__ import annotations

import random

from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from tests.metrics_helpers import scrape
from tests.udp_fakes import FakeUDPPort
from twisted_netlab.ping._echo_core import ImpairmentConfig
from twisted_netlab.ping._echo_metrics import EchoCollector
from twisted_netlab.ping.echo import LossyEchoProtocol


class EchoCollectorTests(SynchronousTestCase):
    def make(self, **kwargs):
        self.clock = Clock()
        protocol = LossyEchoProtocol(self.clock, rng=random.Random(7), **kwargs)
        protocol.log = Logger(observer=lambda event: None, namespace="test")
        self.transport = FakeUDPPort(protocol)
        protocol.makeConnection(self.transport)
        self.addCleanup(self.transport.stopListening)
        return protocol

    def test_received_echoed_dropped(self):
        """
        Under 50 % loss, received = echoed + dropped, and the scrape's
        per-stage and per-reason drops add up to what the transport saw
        missing; refused datagrams (a privileged source port) are counted
        by reason and never as received-and-echoed.
        """
        protocol = self.make(impairments=ImpairmentConfig(loss=0.5))
        for sequence in range(200):
            protocol.datagramReceived(f"Ping {sequence} 0.0".encode(), ("127.0.0.1", 40000 + sequence))
        protocol.datagramReceived(b"Ping x", ("127.0.0.1", 53))
        samples = scrape(EchoCollector(protocol))
        echoed = len(self.transport.written)
        self.assertEqual(samples[("netlab_echo_datagrams_received_total", ())], 201)
        self.assertEqual(samples[("netlab_echo_datagrams_echoed_total", ())], echoed)
        dropped = samples[("netlab_echo_datagrams_dropped_total", (("stage", "round-trip"),))]
        self.assertEqual(dropped, 200 - echoed)
        self.assertEqual(samples[("netlab_echo_drops_total", (("reason", "loss"),))], dropped)
        self.assertTrue(50 < dropped < 150, dropped)
        refused = sum(v for (name, labels), v in samples.items() if name == "netlab_echo_datagrams_refused_total")
        self.assertEqual(refused, 1)

    def test_queue_depth_counts_delayed_echoes(self):
        """
        Echoes held for a delay show in the queue-depth gauge until they
        leave.
        """
        protocol = self.make(impairments=ImpairmentConfig(delay_seconds=0.5))
        for sequence in range(3):
            protocol.datagramReceived(f"Ping {sequence} 0.0".encode(), ("127.0.0.1", 40000))
        self.assertEqual(scrape(EchoCollector(protocol))[("netlab_echo_queue_depth", ())], 3)
        self.clock.advance(1.0)
        self.assertEqual(scrape(EchoCollector(protocol))[("netlab_echo_queue_depth", ())], 0)
        self.assertEqual(len(self.transport.written), 3)
