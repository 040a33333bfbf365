# -*- test-case-name: tests.heartbeat.test_history -*-
"""
What the status page draws per client, pure: a small ring of recent
inter-arrival gaps and of phi samples, and the state changes of the last
hour, fed with the monitor's own events; and the inline SVG that shows them.
"""

# Memory is bounded whatever the peers do: at most max_clients histories,
# each a ring of `gaps` floats, a ring of `samples` phi values and at most
# `max_changes` state changes.  Who gets one follows what the page shows
# first (problems, then the clients heard first): the first max_clients
# clients heard take the places, and a client that turns suspect, stopped or
# recovered takes the place of the history left alone longest.  A beat of a
# client without a history is one dict look-up (at 10,000 clients the rule
# "most recently heard" replaced a history on every beat: each lived 20 ms,
# cost 4 us per beat, and no row the page showed kept its pictures).  Phi is
# sampled by the adapter every few seconds for the clients the page shows
# (sample()).

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Deque, Dict, Iterable, List, Optional, Tuple

from twisted_netlab._svg import AttributeValue, Scale, element, escape, number, sparkline
from twisted_netlab.heartbeat._events import BeatKind, BeatReceived, ClientForgotten, ClientState, StateChanged

__all__ = ["ClientHistory", "HistoryBook", "gaps_svg", "phi_svg", "timeline_svg"]

#: Phi above this is drawn (and kept) as this: the table shows "> 100" too.
PHI_CAP = 100.0
#: The timeline's span.
TIMELINE_SECONDS = 3600.0

STATE_COLOURS = {
    ClientState.ALIVE: "#43a047",
    ClientState.SUSPECT: "#ffd54f",
    ClientState.STOPPED: "#b00020",
    ClientState.RECOVERED: "#81d4fa",
}


class ClientHistory:
    """
    One client's recent past: C{gaps} (seconds between live beats),
    C{phi} samples, and C{changes} as C{(at, state)}, oldest first, with
    C{state_before} the state in force before the first change kept.
    """

    __slots__ = ("gaps", "phi", "changes", "state_before")

    def __init__(self, gaps: int, samples: int) -> None:
        self.gaps: Deque[float] = deque(maxlen=gaps)
        self.phi: Deque[float] = deque(maxlen=samples)
        self.changes: Deque[Tuple[float, ClientState]] = deque()
        self.state_before: Optional[ClientState] = None


class HistoryBook:
    """
    The histories of at most C{max_clients} clients, kept up to date by
    the monitor's events (it is an observer: L{beat_received},
    L{state_changed}, L{client_forgotten}) and by L{sample} for phi.

    A client gets a history when it is first heard and a place is free, or
    when it becomes suspect, stopped or recovered (then, with the book
    full, it takes the place of the history updated least recently): the
    places go to the rows the status page shows first, and a flood of
    forged ids never grows the book nor pushes out a client in trouble
    seen more recently.
    """

    def __init__(
        self, max_clients: int = 200, gaps: int = 60, samples: int = 60, max_changes: int = 64,
        span_seconds: float = TIMELINE_SECONDS,
    ) -> None:
        if min(max_clients, gaps, samples, max_changes) < 1 or not span_seconds > 0:
            raise ValueError("history sizes must be >= 1 and the span > 0")
        self.max_clients = max_clients
        self.gap_count = gaps
        self.sample_count = samples
        self.max_changes = max_changes
        self.span_seconds = span_seconds
        self._clients: "OrderedDict[str, ClientHistory]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._clients)

    @property
    def on_time_beats_of(self) -> "_Wanted":
        """
        Whose ordinary beats the book needs (see the monitor's observer
        interface): its clients', and anyone's while a place is free.
        """
        return _Wanted(self)

    def get(self, client: str) -> Optional[ClientHistory]:
        return self._clients.get(client)

    def _history(self, client: str, make_room: bool) -> Optional[ClientHistory]:
        """
        C{client}'s history, moved to the most recently updated end; a new
        one if a place is free, or if C{make_room} (then the least recently
        updated history gives up its place); else L{None}.
        """
        clients = self._clients
        history = clients.get(client)
        if history is not None:
            clients.move_to_end(client)
            return history
        if len(clients) >= self.max_clients:
            if not make_room:
                return None
            clients.popitem(last=False)
        history = clients[client] = ClientHistory(self.gap_count, self.sample_count)
        return history

    def beat_received(self, beat: BeatReceived) -> None:
        """
        A live beat (not a duplicate or a straggler) adds the gap since the
        previous one, exactly the monitor's C{since_last_seconds}.  This
        runs for every beat: for a client without a history (the book
        full) it is one look-up.
        """
        kind = beat.kind
        if kind is BeatKind.DUPLICATE or kind is BeatKind.OUT_OF_ORDER:  # not in LIVE_KINDS (no enum hash per beat)
            return
        clients = self._clients
        history = clients.get(beat.client)
        if history is None:
            if len(clients) >= self.max_clients:
                return
            history = clients[beat.client] = ClientHistory(self.gap_count, self.sample_count)
        else:
            clients.move_to_end(beat.client)
        if beat.since_last_seconds is not None:
            history.gaps.append(beat.since_last_seconds)

    def state_changed(self, change: StateChanged) -> None:
        """
        Record the change; a client in trouble (suspect, stopped,
        recovered) gets a history even when the book is full.
        """
        history = self._history(change.client, change.state is not ClientState.ALIVE)
        if history is None:
            return
        history.changes.append((change.at, change.state))
        self._prune(history, change.at)

    def client_forgotten(self, forgotten: ClientForgotten) -> None:
        self._clients.pop(forgotten.client, None)

    def sample(self, rows: Iterable[Tuple[str, float]], now: float) -> None:
        """
        Record each C{(client, phi)} of C{rows} (capped at L{PHI_CAP});
        clients without a history yet are skipped, so sampling never grows
        the book.
        """
        for client, phi in rows:
            history = self._clients.get(client)
            if history is not None:
                history.phi.append(min(phi, PHI_CAP))
                self._prune(history, now)

    def _prune(self, history: ClientHistory, now: float) -> None:
        """
        Keep the changes of the last span, and the one in force when it
        starts (at most C{max_changes} in all); the last one dropped is
        C{state_before}.
        """
        changes = history.changes
        while changes and (len(changes) > self.max_changes or
                           (len(changes) > 1 and changes[1][0] <= now - self.span_seconds)):
            history.state_before = changes.popleft()[1]


class _Wanted:
    """
    The clients whose beats a L{HistoryBook} needs, as a container: a
    live view (a client booked later is in it at once).
    """

    __slots__ = ("book",)

    def __init__(self, book: HistoryBook) -> None:
        self.book = book

    def __contains__(self, client: object) -> bool:
        clients = self.book._clients
        return client in clients or len(clients) < self.book.max_clients


def timeline_svg(
    history: ClientHistory, now: float, span_seconds: float = TIMELINE_SECONDS, width: int = 180, height: int = 16
) -> str:
    """
    The last C{span_seconds} up to C{now} as a bar: one segment per state
    in force (``data-state``, ``data-start``, ``data-end`` in the clock's
    seconds), blank where the client was not known yet.
    """
    start = now - span_seconds
    x = Scale((start, now), (0.0, float(width)))
    segments: List[Tuple[float, float, ClientState]] = []
    current, since = history.state_before, start
    for at, state in history.changes:
        if at > since and current is not None:
            segments.append((max(since, start), min(at, now), current))
        current, since = state, max(at, start)
    if current is not None and since < now:
        segments.append((since, now, current))
    parts = [element("rect", {"width": width, "height": height, "fill": "#eeeeee"})]
    for begin, end, state in segments:
        if end <= start:
            continue
        values: Dict[str, AttributeValue] = {
            "class": "segment " + state.value, "data-state": state.value,
            "data-start": number(begin), "data-end": number(end),
            "x": x(begin), "width": max(0.5, x(end) - x(begin)), "height": height, "fill": STATE_COLOURS[state],
        }
        title = f"{state.value} from {number(now - begin, 0)} s ago" + (
            f" to {number(now - end, 0)} s ago" if end < now else " until now")
        parts.append(element("rect", values, element("title", {}, escape(title))))
    return element(
        "svg",
        {"xmlns": "http://www.w3.org/2000/svg", "width": width, "height": height,
         "viewBox": f"0 0 {width} {height}", "class": "timeline", "data-start": number(start),
         "data-end": number(now)},
        "".join(parts),
    )


def gaps_svg(history: ClientHistory, period: float) -> str:
    """
    The recent gaps (seconds) with the configured period as reference.
    """
    return sparkline(list(history.gaps), reference=period, top=max(list(history.gaps) + [2 * period]),
                     data_kind="gaps")


def phi_svg(history: ClientHistory, threshold: float) -> str:
    """
    The phi samples with the suspicion threshold as reference, up to
    twice the threshold (higher values are drawn at the top).
    """
    return sparkline(list(history.phi), reference=threshold, top=2 * threshold,
                     colour="#7b3294", data_kind="phi")
