"""
Tests for reading a student's free-form output (pure): the common forms
of pinger lines and statistics, and monitor events.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.check._student_output import OutputLine, parse_monitor_output, parse_ping_output


def lines(text: str):
    return [OutputLine(index * 0.1, "out", line) for index, line in enumerate(text.splitlines())]


class PingLineTests(SynchronousTestCase):
    #: (line, sequence, answered, rtt in seconds)
    CASES = [
        ("Ping 1: reply from 127.0.0.1, RTT = 0.000312 s", 1, True, 0.000312),
        ("Ping 2: Request timed out", 2, False, None),
        ("Ping 3: RTT = 0.000312 seconds", 3, True, 0.000312),
        ("Ping 4 RTT: 0.5 s", 4, True, 0.5),
        ("seq=5 rtt=0.312 ms", 5, True, 0.000312),
        ("seq=6 timed out", 6, False, None),
        ("24 bytes from 127.0.0.1:12000: seq=7 time=6.030 ms", 7, True, 0.00603),
        ("no answer yet for seq=8", 8, False, None),
        ("Reply from 127.0.0.1: icmp_seq=9 time=120 us", 9, True, 0.00012),
        ("Sequence number 10: round trip time 2.5 ms", 10, True, 0.0025),
        ("11: 0.4 ms", 11, True, 0.0004),
    ]

    def test_table(self):
        """
        Each common per-probe form gives its sequence, answered or not, and
        the RTT in seconds, whatever unit it was printed in.
        """
        for text, sequence, answered, rtt in self.CASES:
            parsed = parse_ping_output(lines(text))
            self.assertEqual(len(parsed.probes), 1, text)
            probe = parsed.probes[0]
            self.assertEqual((probe.sequence, probe.answered), (sequence, answered), text)
            if rtt is None:
                self.assertIsNone(probe.rtt_seconds, text)
            else:
                self.assertAlmostEqual(probe.rtt_seconds, rtt, places=9, msg=text)

    def test_rtt_on_the_next_line_belongs_to_the_probe_before(self):
        """
        The handout's style, the echoed message then "RTT: x" on its own
        line: the RTT is the named probe's, and the epoch time in the echo
        is not taken for an RTT.
        """
        parsed = parse_ping_output(lines("PING 4 1732945612.123456\nRTT: 0.00031"))
        self.assertEqual([(p.sequence, p.rtt_seconds) for p in parsed.probes], [(4, 0.00031)])

    def test_timeout_without_sequence_is_unparsed(self):
        """
        "Request timed out" with no probe number cannot be attributed: it is
        kept as unparsed (for a skip that shows it), not guessed.
        """
        parsed = parse_ping_output(lines("Request timed out"))
        self.assertEqual(parsed.probes, ())
        self.assertEqual([l.text for l in parsed.unparsed], ["Request timed out"])

    def test_banner_and_histogram_are_not_probes(self):
        """
        "PING 127.0.0.1:12000" and histogram rows are not probe lines.
        """
        parsed = parse_ping_output(lines("PING 127.0.0.1:12000 (udp): format lab\n   5 - 10     ms ####   1"))
        self.assertEqual(parsed.probes, ())


class PingSummaryTests(SynchronousTestCase):
    #: (text, sent, received, lost count, percent, (min, avg, max) seconds)
    CASES = [
        ("10 packets sent, 6 received, 40.0% packet loss\nRTT min/avg/max = 0.1/0.2/0.3 s", 10, 6, 4, 40.0, (0.1, 0.2, 0.3)),
        ("Packets sent: 10, received: 8, lost: 2 (20% loss)\nMin RTT: 0.1 s, Avg RTT: 0.2 s, Max RTT: 0.3 s", 10, 8, 2, 20.0, (0.1, 0.2, 0.3)),
        ("Packet loss rate: 66.67%\nMin RTT: 0.1 s  Avg RTT: 0.2 s  Max RTT: 0.3 s", None, None, None, 66.67, (0.1, 0.2, 0.3)),
        ("10 sent, 6 received, 40% loss\nrtt min/avg/max = 100/200/300 ms", 10, 6, 4, 40.0, (0.1, 0.2, 0.3)),
        ("10 packets transmitted, 5 received, 50% packet loss, time 4501ms\nrtt min/avg/max/mdev = 6.0/35.0/71.0/25.0 ms", 10, 5, 5, 50.0, (0.006, 0.035, 0.071)),
        ("Lost packets: 3", None, None, None, None, (None, None, None)),
    ]

    def test_table(self):
        """
        Counts, percentages and min/avg/max are read in each common form.
        """
        for text, sent, received, lost, percent, stats in self.CASES:
            summary = parse_ping_output(lines(text)).summary
            self.assertEqual((summary.sent, summary.received, summary.lost_count, summary.loss_percent), (sent, received, lost, percent), text)
            for got, want in zip((summary.rtt_min, summary.rtt_avg, summary.rtt_max), stats):
                if want is None:
                    self.assertIsNone(got, text)
                else:
                    self.assertAlmostEqual(got, want, places=9, msg=text)


class MonitorTests(SynchronousTestCase):
    def test_events(self):
        """
        Alive, lost (with its numbers) and stopped lines are told apart;
        "stopped: no heartbeat" is a stop, "lost 3 heartbeats" is a loss.
        """
        text = (
            "heartbeat monitor on 127.0.0.1:5000, timeout 3 s\n"
            "client 127.0.0.1:4000 alive (beat 1)\n"
            "client 127.0.0.1:4000 lost 3 heartbeat(s) (sequence 4 to 6)\n"
            "Lost 3 heartbeat(s) before 7\n"
            "client 127.0.0.1:4000 stopped: no heartbeat for 3.0 s\n"
        )
        events = parse_monitor_output(lines(text))
        self.assertEqual([e.kind for e in events], ["alive", "lost", "lost", "stopped"])
        self.assertIn(3.0, events[1].numbers)
