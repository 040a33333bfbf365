"""
Tests for L{twisted_netlab.mail._sink_metrics}: sessions, replies by class,
messages and bytes stored, and refused connections, after real sessions on
StringTransport.
"""

from __future__ import annotations

import os

from twisted.trial.unittest import SynchronousTestCase

from tests.mail.test_sink import FactoryMixin
from tests.metrics_helpers import scrape
from twisted_netlab.mail._sink_metrics import SinkCollector


class SinkCollectorTests(FactoryMixin, SynchronousTestCase):
    def test_one_message_and_a_refusal(self):
        """
        One stored message, one refused recipient (550) and a third
        connection over --max-connections 2 show as counted.
        """
        factory = self.make_factory()
        protocol, transport = self.connect()
        protocol.dataReceived(
            b"EHLO c.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nRCPT TO:<bad address>\r\nDATA\r\n"
            b"Subject: hi\r\n\r\nbody\r\n.\r\n"
        )
        self.connect()
        self.connect()  # the third: over max_connections=2
        [name] = self.stored()
        size = os.path.getsize(os.path.join(self.root, "new", name))
        replies = transport.value().split(b"\r\n")
        classes = {digit: sum(1 for line in replies if line[:1] == bytes([digit]) and line[3:4] == b" ") for digit in b"2345"}
        samples = scrape(SinkCollector(factory))
        self.assertEqual(samples[("netlab_mailsink_connections_total", ())], 3)
        self.assertEqual(samples[("netlab_mailsink_sessions_open", ())], 2)
        self.assertEqual(samples[("netlab_mailsink_connections_refused_total", ())], 1)
        self.assertEqual(samples[("netlab_mailsink_messages_stored_total", ())], 1)
        # The message as the client sent it (dot-unstuffed), without the
        # trace headers the sink adds to the file.
        self.assertEqual(samples[("netlab_mailsink_stored_bytes_total", ())], len(b"Subject: hi\r\n\r\nbody\r\n"))
        self.assertTrue(size > 21)
        # Every reply the first session got is counted under its class
        # (the refused third connection's 421 adds one 4xx).
        self.assertEqual(samples[("netlab_mailsink_replies_total", (("class", "5xx"),))], classes[ord("5")])
        self.assertEqual(samples[("netlab_mailsink_replies_total", (("class", "3xx"),))], classes[ord("3")])
        self.assertEqual(samples[("netlab_mailsink_replies_total", (("class", "4xx"),))], classes[ord("4")] + 1)
        self.assertTrue(samples[("netlab_mailsink_replies_total", (("class", "2xx"),))] >= classes[ord("2")] + 1)
