"""
Tests for L{twisted_netlab.ping._pinger_core}: iputils' statistics and
reply matching.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._pinger_core import (
    CorruptedReply,
    DuplicateReply,
    ForeignReply,
    LateReply,
    PingSession,
    ProbeError,
    ProbeFate,
    ProbeTimedOut,
    ReplyReceived,
    RttSummary,
    format_histogram,
    histogram,
    interarrival_jitter,
    iputils_sqrt,
    loss_percent_text,
    percentile,
    rtt_summary,
)
from twisted_netlab.ping._probe import PayloadFormat


class StatisticsTests(SynchronousTestCase):
    def test_iputils_sqrt(self):
        """
        iputils' integer Newton square root, including its habit of
        answering one too many for some inputs (3 -> 2, 8 -> 3).
        """
        table = [(0, 0), (1, 1), (3, 2), (4, 2), (8, 3), (9, 3), (1250000, 1118)]
        for value, expected in table:
            self.assertEqual(iputils_sqrt(value), expected, value)

    def test_mdev_hand_computed(self):
        """
        For 1, 2, 3, 4 ms: avg 2.5 ms, variance (30e6 - 1e8/4)/4 = 1.25e6 us^2,
        mdev = llsqrt(1250000) = 1118 us.
        """
        summary = rtt_summary([1000, 2000, 3000, 4000])
        self.assertEqual(summary, RttSummary(1000, 2500, 4000, 1118))
        self.assertEqual(summary.iputils_line(), "rtt min/avg/max/mdev = 1.000/2.500/4.000/1.118 ms")

    def test_mdev_integer_truncation(self):
        """
        Averages truncate as in C: 1, 2, 2 us average 1 us (5/3), with the
        variance (9 - 25/3)/3 = (9 - 8)/3 = 0.
        """
        self.assertEqual(rtt_summary([1, 2, 2]), RttSummary(1, 1, 2, 0))
        self.assertIsNone(rtt_summary([]))

    def test_mdev_large_sums_use_the_other_order(self):
        """
        Above INT_MAX microseconds in total, iputils computes sum2/n - avg^2.
        """
        rtts = [2_000_000_000, 1_000_000_000]
        tsum, total = sum(rtts), 2
        average = tsum // total
        variance = sum(v * v for v in rtts) // total - average * average
        self.assertEqual(rtt_summary(rtts).mdev_us, iputils_sqrt(variance))
        self.assertEqual(rtt_summary(rtts).mdev_us, 500_000_000)

    def test_rfc3550_jitter(self):
        """
        Transits 10, 12, 9 ms: J = 2/16 = 0.125 ms, then
        J += (3 - 0.125)/16, i.e. 0.3046875 ms.
        """
        jitter = interarrival_jitter([(0.0, 0.010), (1.0, 1.012), (2.0, 2.009)])
        self.assertAlmostEqual(jitter, 0.0003046875, places=12)
        self.assertEqual(interarrival_jitter([(0.0, 1.0)]), 0.0)

    def test_percentiles_nearest_rank(self):
        """
        Nearest rank over 1..10: p50 = 5, p90 = 9, p99 = 10.
        """
        values = list(range(10, 0, -1))
        self.assertEqual([percentile(values, f) for f in (0.5, 0.9, 0.99)], [5, 9, 10])
        self.assertIsNone(percentile([], 0.5))

    def test_loss_text_as_iputils(self):
        """
        iputils prints the loss with C{%g} of a float.
        """
        self.assertEqual(loss_percent_text(3, 2), "33.3333%")
        self.assertEqual(loss_percent_text(10, 7), "30%")
        self.assertEqual(loss_percent_text(10, 10), "0%")
        self.assertEqual(loss_percent_text(7, 0), "100%")

    def test_histogram(self):
        """
        Buckets run on a 1-2-5 scale from the first to the last used one,
        empty ones in between shown, a run of them as one line.
        """
        self.assertEqual(histogram([0.3, 0.4, 1.5]), [(0.2, 0.5, 2), (0.5, 1.0, 0), (1.0, 2.0, 1)])
        self.assertEqual(histogram([0.3, 45.0]), [(0.2, 0.5, 1), (0.5, 20.0, 0), (20.0, 50.0, 1)])
        lines = format_histogram([0.3, 0.4, 1.5], width=4)
        self.assertEqual(lines[0].split(), ["0.2", "-", "0.5", "ms", "####", "2"])
        self.assertEqual(lines[1].split(), ["0.5", "-", "1", "ms", "0"])
        self.assertEqual(lines[2].split(), ["1", "-", "2", "ms", "##", "1"])


class PingSessionTests(SynchronousTestCase):
    def setUp(self):
        self.session = PingSession(PayloadFormat.LAB, timeout_seconds=1.0)

    def send(self, now):
        return self.session.next_probe(now, wall_time=1000.0 + now)

    def test_reply_and_rtt(self):
        """
        A reply is matched by sequence and timed from its own probe; a reply
        after 1.5 s (within a 2 s timeout) is 1500 ms, not 500.
        """
        session = PingSession(timeout_seconds=2.0)
        _, first = session.next_probe(0.0, 0.0)
        _, second = session.next_probe(1.0, 1.0)
        self.assertEqual(session.reply_received(first, 1.5), ReplyReceived(1, len(first), 1.5, False))
        report = session.report("h", 1)
        self.assertEqual(report.rtt.min_us, 1_500_000)
        self.assertEqual(report.rtt.iputils_line(), "rtt min/avg/max/mdev = 1500.000/1500.000/1500.000/0.000 ms")

    def test_upper_cased_echo_accepted(self):
        """
        The lab's reference server upper-cases; that is a valid reply.
        """
        _, payload = self.send(0.0)
        event = self.session.reply_received(payload.upper(), 0.01)
        self.assertIsInstance(event, ReplyReceived)

    def test_duplicate(self):
        """
        A second reply to the same probe is a duplicate (iputils' DUP!),
        counted apart and included in the RTT statistics as iputils does.
        """
        _, payload = self.send(0.0)
        self.session.reply_received(payload, 0.010)
        self.assertEqual(self.session.reply_received(payload, 0.030), DuplicateReply(1, len(payload), 0.030))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.duplicates), (1, 1))
        self.assertEqual(report.rtt, RttSummary(10_000, 20_000, 30_000, 10_000))
        self.assertIn("1 packets transmitted, 1 received, +1 duplicates, 0% packet loss", report.summary_lines("h")[1])

    def test_late_reply_reported_for_its_own_probe(self):
        """
        A reply after the timeout is late for its own sequence: not received,
        not credited to the probe in flight now.
        """
        _, first = self.send(0.0)
        self.assertEqual(self.session.expire(1.0), [ProbeTimedOut(1)])
        self.send(1.0)
        event = self.session.reply_received(first, 1.2)
        self.assertEqual(event, LateReply(1, len(first), 1.2))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.late), (0, 1))
        self.assertEqual([p.fate for p in report.probes], [ProbeFate.LATE, ProbeFate.UNANSWERED])
        self.assertEqual(report.probes[0].rtt_ms, 1200.0)

    def test_late_without_expiry_call(self):
        """
        A reply past the deadline is late even if the timer has not fired yet.
        """
        _, payload = self.send(0.0)
        self.assertIsInstance(self.session.reply_received(payload, 1.0001), LateReply)

    def test_reordered(self):
        """
        A reply whose sequence is below one already answered is reordered,
        and still received.
        """
        _, first = self.send(0.0)
        _, second = self.send(0.1)
        self.session.reply_received(second, 0.15)
        event = self.session.reply_received(first, 0.2)
        self.assertEqual(event, ReplyReceived(1, len(first), 0.2, True))
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.reordered), (2, 1))

    def test_corrupted_and_foreign(self):
        """
        A reply naming a sent sequence but differing from the probe is
        corrupted; an unparseable datagram or unknown sequence is foreign.
        Neither counts as received.
        """
        _, payload = self.send(0.0)
        damaged = payload[:-1] + b"9" if not payload.endswith(b"9") else payload[:-1] + b"8"
        self.assertEqual(self.session.reply_received(damaged, 0.1), CorruptedReply(1, len(damaged)))
        self.assertIsInstance(self.session.reply_received(b"hello", 0.1), ForeignReply)
        self.assertEqual(self.session.reply_received(b"Ping 99 1.0", 0.1).reason, "sequence 99 was never sent")
        report = self.session.report("h", 1)
        self.assertEqual((report.received, report.corrupted, report.foreign), (0, 1, 2))
        self.assertIn("+1 corrupted", report.summary_lines("h")[1])

    def test_summary_words(self):
        """
        The closing lines follow iputils word for word, then jitter,
        reordered/late/foreign counts and the histogram.  RTTs 1, 2, 4 ms:
        avg 7000/3 = 2333 us, variance (21e6 - 49e6/3)/3 = 1555555 us^2,
        mdev 1247 us; jitter 1/16 = 0.0625, then + (2 - 0.0625)/16 = 0.184 ms.
        """
        for index in range(4):
            _, payload = self.send(float(index))
            if index != 2:
                self.session.reply_received(payload, index + 0.001 * (index + 1))
        self.session.expire(10.0)
        lines = self.session.report("127.0.0.1:12000", 12000).summary_lines("127.0.0.1:12000")
        self.assertEqual(lines[0], "--- 127.0.0.1:12000 ping statistics ---")
        self.assertEqual(lines[1], "4 packets transmitted, 3 received, 25% packet loss, time 3000ms")
        self.assertEqual(lines[2], "rtt min/avg/max/mdev = 1.000/2.333/4.000/1.247 ms")
        self.assertEqual(lines[3], "jitter 0.184 ms, 0 reordered, 0 late, 0 foreign")
        self.assertEqual(lines[4], "rtt histogram:")

    def test_icmp_error_ends_its_probe(self):
        """
        An ICMP error quoting one of our waiting probes ends that probe as
        an error, counted in iputils' words (C{+N errors}) and as loss;
        errors about a probe already answered, or about bytes that are not
        ours, are not counted.
        """
        _, first = self.send(0.0)
        _, second = self.send(1.0)
        self.session.reply_received(second, 1.001)
        self.assertEqual(
            self.session.error_received(first, "127.0.0.1", "Destination Port Unreachable"),
            ProbeError(1, "127.0.0.1", "Destination Port Unreachable"),
        )
        self.assertIsNone(self.session.error_received(first, "127.0.0.1", "Destination Port Unreachable"))
        self.assertIsNone(self.session.error_received(second, "127.0.0.1", "Destination Port Unreachable"))
        self.assertIsNone(self.session.error_received(b"Ping 1 9.0", "127.0.0.1", "Destination Port Unreachable"))
        self.assertEqual(self.session.outstanding, 0)
        report = self.session.report("127.0.0.1:9", 9)
        self.assertEqual(report.summary_lines("127.0.0.1:9")[1],
                         "2 packets transmitted, 1 received, +1 errors, 50% packet loss, time 1000ms")
        self.assertEqual([probe.fate for probe in report.probes], [ProbeFate.ERROR, ProbeFate.REPLIED])
        self.assertEqual(report.as_json()["errors"], 1)

    def test_json(self):
        """
        The JSON report has percentiles and every probe's fate.
        """
        _, payload = self.send(0.0)
        self.send(1.0)
        self.session.reply_received(payload, 0.002)
        self.session.expire(5.0)
        data = self.session.report("h", 7).as_json()
        self.assertEqual(data["percentiles_ms"], {"p50": 2.0, "p90": 2.0, "p99": 2.0})
        self.assertEqual([(p["sequence"], p["fate"]) for p in data["probes"]], [(1, "replied"), (2, "lost")])
        self.assertEqual(data["loss_percent"], 50.0)
