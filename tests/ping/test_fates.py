"""
Tests for L{twisted_netlab.ping._fates}: one fate per datagram, and its
``--debug-datagrams`` line.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.ping._echo_core import Delivery, Direction, DropReason, Refusal, Verdict
from twisted_netlab.ping._fates import CopyDropped, DatagramFate, EchoSent, FateRecorder, describe_fate


def fate(**changes) -> DatagramFate:
    return DatagramFate(
        **{"number": 4, "received_at": 10.0, "host": "127.0.0.1", "port": 40000, "size": 24, "sequence": 3, **changes}
    )


class FateRecorderTests(SynchronousTestCase):
    def test_fate_only_when_the_last_copy_is_done(self):
        """
        A duplicated datagram's fate comes once both copies are done, with
        both: one echoed, one dropped later.
        """
        recorder = FateRecorder(4, 10.0, "127.0.0.1", 40000, 24, 3)
        copies = Verdict((Delivery(b"a", 10.0), Delivery(b"a", 10.05)), duplicated=True)
        self.assertIsNone(recorder.stage_passed(Direction.INBOUND, copies, 10.0))
        self.assertIsNone(recorder.sent(10.0, 24, False))
        result = recorder.stage_passed(Direction.OUTBOUND, Verdict((), dropped=DropReason.RANDOM_LOSS), 10.05)
        self.assertEqual(
            result,
            fate(
                echoes=(EchoSent(10.0, 0.0, 24, False),),
                drops=(CopyDropped(10.05, Direction.OUTBOUND, "loss"),),
                duplicated=1,
            ),
        )
        self.assertTrue(recorder.finished)

    def test_reordered_by_a_stage(self):
        """
        A copy a stage let skip the delay makes the fate reordered.
        """
        recorder = FateRecorder(4, 10.0, "127.0.0.1", 40000, 24, 3)
        recorder.stage_passed(Direction.INBOUND, Verdict((Delivery(b"a", 10.0),), reordered=True), 10.0)
        recorder.stage_passed(Direction.ROUND_TRIP, Verdict((Delivery(b"a", 10.0),)), 10.0)
        result = recorder.sent(10.0, 24, False)
        self.assertTrue(result is not None and result.reordered)

    def test_refused(self):
        """
        A refusal is the whole fate at once.
        """
        recorder = FateRecorder(4, 10.0, "127.0.0.1", 40000, 24, 3)
        self.assertEqual(recorder.refused(Refusal.LOOP), fate(refused=Refusal.LOOP))


class DescribeFateTests(SynchronousTestCase):
    def test_lines(self):
        """
        One line per fate: sender, size, sequence when known, then what
        happened, delays in milliseconds.
        """
        head = "datagram 4 from 127.0.0.1 port 40000, 24 bytes, sequence 3: "
        table = [
            (fate(echoes=(EchoSent(10.05, 0.05, 24, False),)), head + "echoed after 50.000 ms"),
            (fate(drops=(CopyDropped(10.0, Direction.ROUND_TRIP, "loss"),)),
             head + "dropped by the round-trip stage (loss)"),
            (fate(refused=Refusal.RATE_LIMITED), head + "refused (rate-limited)"),
            (fate(sequence=None, refused=Refusal.SERVICE_PORT),
             "datagram 4 from 127.0.0.1 port 40000, 24 bytes: refused (service-port)"),
            (fate(echoes=(EchoSent(10.0, 0.0, 24, False), EchoSent(10.0, 0.0, 24, True)), duplicated=1),
             head + "echoed twice after 0.000 ms and 0.000 ms; duplicated; corrupted"),
            (fate(echoes=(EchoSent(10.0, 0.0, 24, False),), drops=(CopyDropped(10.0, None, "server stopped"),),
                  duplicated=1, reordered=True),
             head + "echoed after 0.000 ms; a copy dropped on the way out (server stopped); duplicated; reordered"),
        ]
        for value, expected in table:
            self.assertEqual(describe_fate(value), expected)
