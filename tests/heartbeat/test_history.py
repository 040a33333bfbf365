"""
Tests for L{twisted_netlab.heartbeat._history} and the pictures on the
status page: the monitor's own events fill a bounded history per client,
and the page draws its gaps, phi and last hour element by element.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from twisted.internet.task import Clock
from twisted.logger import Logger
from twisted.trial.unittest import SynchronousTestCase

from tests.heartbeat.test_status import get
from twisted_netlab.heartbeat import HeartbeatMonitor, MonitorSettings, encode_beat, status_site
from twisted_netlab.heartbeat._events import LIVE_KINDS, BeatKind, BeatReceived, ClientState, StateChanged
from twisted_netlab.heartbeat._history import PHI_CAP, HistoryBook, timeline_svg
from twisted_netlab.heartbeat.monitor import LoggingObserver, MonitorProtocol
from twisted_netlab.heartbeat.status import sample_phi

T0 = 1_700_000_000.0
SVG = "{http://www.w3.org/2000/svg}"


class Recorder:
    """
    An observer keeping the state changes, to compare with the history's.
    """

    def __init__(self) -> None:
        self.changes: list = []
        self.beats: list = []

    def state_changed(self, change: StateChanged) -> None:
        self.changes.append(change)

    def beat_received(self, beat: BeatReceived) -> None:
        self.beats.append(beat)


class Run:
    """
    A real L{MonitorProtocol} on a clock (period 1 s, timeout 3 s), with a
    L{HistoryBook} among its observers and phi sampled every sweep (0.5 s),
    as netlab-heartbeat wires them.
    """

    def __init__(self, history: HistoryBook) -> None:
        self.clock = Clock()
        self.clock.advance(T0)
        self.monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=3.0))
        self.history = history
        self.recorder = Recorder()
        self.protocol = MonitorProtocol(self.monitor, 0.5, [self.recorder, history], reactor=self.clock)
        self.phi_expected: dict = {}
        self.sequences: dict = {}

    def beat(self, client: str) -> None:
        sequence = self.sequences.get(client, 0)
        self.sequences[client] = sequence + 1
        now = self.clock.seconds()
        self.protocol.datagramReceived(encode_beat(sequence, now, client_id=client), ("127.0.0.1", 40000))

    def until(self, seconds: float, beating: tuple = ()) -> None:
        """
        Sweep and sample every 0.5 s up to T0 + C{seconds}; C{beating}
        clients beat on every whole second.
        """
        while self.clock.seconds() < T0 + seconds - 1e-9:
            self.clock.advance(0.5)
            now = self.clock.seconds()
            if (now - T0) % 1.0 == 0:
                for client in beating:
                    self.beat(client)
            self.protocol.sweep()
            for row in self.monitor.overview(now, self.history.max_clients):
                self.phi_expected.setdefault(row.client, []).append(min(row.phi, PHI_CAP))
            sample_phi(self.monitor, self.history, now)


def scenario(history: HistoryBook) -> Run:
    """
    alpha beats for 4 s, falls silent (suspect, then stopped), beats again
    from 10 s (recovered, then alive after the timeout).
    """
    run = Run(history)
    run.beat("alpha")
    run.until(4.0, beating=("alpha",))
    run.until(9.5)
    run.until(20.0, beating=("alpha",))
    return run


class HistoryTests(SynchronousTestCase):
    def test_gaps_are_the_monitors_own(self):
        """
        The gaps kept are exactly the monitor's C{since_last_seconds} of
        each live beat, oldest first, including the long silence.
        """
        run = scenario(HistoryBook())
        expected = [beat.since_last_seconds for beat in run.recorder.beats if beat.since_last_seconds is not None]
        self.assertEqual(list(run.history.get("alpha").gaps), expected)
        self.assertIn(6.0, expected)  # the silence from 4 s to 10 s

    def test_state_changes_in_order(self):
        """
        The timeline holds every state change the monitor announced, with
        its time, from the first alive through stopped and recovered.
        """
        run = scenario(HistoryBook())
        history = run.history.get("alpha")
        self.assertEqual(list(history.changes), [(change.at, change.state) for change in run.recorder.changes])
        states = [state for _, state in history.changes]
        self.assertEqual(states[0], ClientState.ALIVE)
        self.assertLess(states.index(ClientState.STOPPED), states.index(ClientState.RECOVERED))
        self.assertEqual(states[-1], ClientState.ALIVE)

    def test_phi_sampled_as_the_monitor_reports_it(self):
        """
        Each sample is the phi the monitor's overview gave at that sweep,
        capped at 100, and only the last C{samples} are kept.
        """
        run = scenario(HistoryBook(samples=12))
        self.assertEqual(list(run.history.get("alpha").phi), run.phi_expected["alpha"][-12:])
        self.assertIn(PHI_CAP, run.phi_expected["alpha"])  # silent long enough to be "> 100"

    def test_bounded_clients(self):
        """
        However many clients beat, at most C{max_clients} histories are
        kept, those of the clients heard first (the alive rows the page
        shows first); later clients' beats neither add one nor push one
        out, and sampling never adds a client.
        """
        history = HistoryBook(max_clients=3)
        run = Run(history)
        names = [f"c{index}" for index in range(6)]
        for name in names:
            run.beat(name)
        self.assertEqual([history.get(name) is not None for name in names], [True] * 3 + [False] * 3)
        run.until(3.0, beating=tuple(names))
        self.assertEqual([history.get(name) is not None for name in names], [True] * 3 + [False] * 3)
        self.assertEqual(len(history), 3)

    def test_book_gets_every_gap_it_keeps(self):
        """
        Wired as netlab-heartbeat wires it (the default log and the book),
        the monitor reports ordinary beats only for the book's clients, and
        those clients' gaps are all there.
        """
        history = HistoryBook(max_clients=2)
        run = Run(history)
        run.protocol.observers = [LoggingObserver(3.0, 0.5, logger=Logger(observer=lambda event: None)), history]
        for name in ("a", "b", "c"):
            run.beat(name)
        run.until(5.0, beating=("a", "b", "c"))
        self.assertEqual([list(history.get(name).gaps) for name in ("a", "b")], [[1.0] * 5, [1.0] * 5])
        self.assertIsNone(history.get("c"))
        self.assertEqual([name in run.monitor.report_on_time for name in ("a", "b", "c")], [True, True, False])
        self.assertEqual(run.monitor.status(run.clock.seconds())[2].beats, 6)

    def test_trouble_takes_a_place(self):
        """
        With the book full, a client that turns suspect or stopped takes
        the place of the history updated least recently, and its timeline
        starts with that change; an alive change of a client without a
        history adds none.
        """
        history = HistoryBook(max_clients=2)
        run = Run(history)
        for name in ("a", "b", "c"):
            run.beat(name)
        run.until(6.0, beating=("a", "b"))  # c falls silent: suspect, then stopped
        kept = history.get("c")
        self.assertIsNotNone(kept)
        self.assertEqual(len(history), 2)
        self.assertEqual(
            [state for _, state in kept.changes],
            [change.state for change in run.recorder.changes if change.client == "c"][1:],
        )
        self.assertNotEqual(kept.changes[0][1], ClientState.ALIVE)
        self.assertIsNone(history.get("a"))  # updated least recently when c was suspected
        self.assertIsNotNone(history.get("b"))

    def test_bounded_rings(self):
        """
        A client keeps at most C{gaps} gaps, C{samples} phi values and
        C{max_changes} state changes, the newest.
        """
        run = scenario(HistoryBook(gaps=4, samples=5, max_changes=2))
        kept = run.history.get("alpha")
        expected_gaps = [beat.since_last_seconds for beat in run.recorder.beats if beat.since_last_seconds is not None]
        self.assertEqual(list(kept.gaps), expected_gaps[-4:])
        self.assertEqual(len(kept.phi), 5)
        self.assertEqual(list(kept.changes), [(c.at, c.state) for c in run.recorder.changes][-2:])
        self.assertEqual(kept.state_before, run.recorder.changes[-3].state)

    def test_duplicates_add_no_gap(self):
        """
        A duplicate or straggler proves nothing about the sender now: it
        adds no gap.
        """
        history = HistoryBook()
        for kind in (BeatKind.DUPLICATE, BeatKind.OUT_OF_ORDER):
            history.beat_received(BeatReceived("a", "s", 1, kind, T0, T0, 0.5, 0, 0.0, 0.0, 0.0, 2))
        self.assertIsNone(history.get("a"))
        for kind in BeatKind:  # exactly the monitor's live kinds add a gap
            history = HistoryBook()
            history.beat_received(BeatReceived("a", "s", 1, kind, T0, T0, 0.5, 0, 0.0, 0.0, 0.0, 2))
            self.assertEqual(history.get("a") is not None, kind in LIVE_KINDS, kind)

    def test_old_changes_leave_the_hour(self):
        """
        Changes before the span are dropped, except the one in force when
        the span starts.
        """
        history = HistoryBook(span_seconds=100.0)
        for at, state in ((0.0, ClientState.ALIVE), (10.0, ClientState.SUSPECT), (20.0, ClientState.ALIVE),
                          (150.0, ClientState.STOPPED)):
            history.state_changed(StateChanged("a", None, state, at, 0.0, 0.0, 0, 0, 0, 0))
        kept = history.get("a")
        # 20 s stays: it is the state in force when the span (50 s) starts.
        self.assertEqual(list(kept.changes), [(20.0, ClientState.ALIVE), (150.0, ClientState.STOPPED)])
        self.assertEqual(kept.state_before, ClientState.SUSPECT)


class TimelineTests(SynchronousTestCase):
    def segments(self, markup: str) -> list:
        root = ElementTree.fromstring(markup)
        return [(node.get("data-state"), float(node.get("data-start")), float(node.get("data-end")))
                for node in root.iter(SVG + "rect") if node.get("data-state")]

    def test_segments_cover_the_states_in_force(self):
        """
        One segment per state in force, clipped to the last hour; blank
        before the client was first heard.
        """
        history = HistoryBook()
        for at, state in ((T0 - 600, ClientState.ALIVE), (T0 - 300, ClientState.STOPPED),
                          (T0 - 60, ClientState.RECOVERED)):
            history.state_changed(StateChanged("a", None, state, at, 0.0, 0.0, 0, 0, 0, 0))
        self.assertEqual(self.segments(timeline_svg(history.get("a"), T0)), [
            ("alive", T0 - 600, T0 - 300), ("stopped", T0 - 300, T0 - 60), ("recovered", T0 - 60, T0),
        ])

    def test_state_before_the_hour_fills_its_start(self):
        """
        A client stopped for more than the hour is one stopped segment over
        the whole span.
        """
        history = HistoryBook()
        history.state_changed(StateChanged("a", None, ClientState.STOPPED, T0 - 7200, 0.0, 0.0, 0, 0, 0, 0))
        self.assertEqual(self.segments(timeline_svg(history.get("a"), T0)), [("stopped", T0 - 3600, T0)])


class StatusPagePicturesTests(SynchronousTestCase):
    def test_row_draws_gaps_phi_and_hour(self):
        """
        With a history the page's row carries three inline SVGs whose
        values are the history's: the gaps with the period as reference,
        the phi samples with the threshold, and the hour's segments; the
        page still forbids every script.
        """
        run = scenario(HistoryBook())
        site = status_site(run.monitor, reactor=run.clock, history=run.history)
        request, body = get(site, b"/")
        page = body.decode("utf-8")
        row = re.search(r'<tr class="alive" data-client="alpha">.*?</tr>', page, re.S).group(0)
        pictures = re.findall(r"<svg\b.*?</svg>", row, re.S)
        self.assertEqual(len(pictures), 3)
        gaps, phi, hour = (ElementTree.fromstring(markup) for markup in pictures)
        history = run.history.get("alpha")
        self.assertEqual(gaps.get("data-kind"), "gaps")
        self.assertEqual([float(v) for v in gaps.get("data-values").split(",")], list(history.gaps))
        self.assertEqual(float(gaps.get("data-reference")), 1.0)
        self.assertEqual(phi.get("data-kind"), "phi")
        self.assertEqual([float(v) for v in phi.get("data-values").split(",")],
                         [round(value, 3) for value in history.phi])
        self.assertEqual(float(phi.get("data-reference")), run.monitor.settings.phi_threshold)
        segments = [(node.get("data-state"), float(node.get("data-start")))
                    for node in hour.iter(SVG + "rect") if node.get("data-state")]
        self.assertEqual(segments, [(change.state.value, change.at) for change in run.recorder.changes])
        self.assertIn("<th>last hour</th>", page)
        self.assertNotIn("<script", page)
        policy = request.responseHeaders.getRawHeaders(b"content-security-policy")[0]
        self.assertNotIn(b"script", policy)

    def test_without_history_no_pictures(self):
        """
        Without a history (the embedding API's default) the page is the
        table alone.
        """
        run = scenario(HistoryBook())
        _, body = get(status_site(run.monitor, reactor=run.clock), b"/")
        self.assertNotIn(b"<svg", body)
        self.assertNotIn(b"last hour", body)
