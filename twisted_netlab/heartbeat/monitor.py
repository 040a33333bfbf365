# -*- test-case-name: tests.heartbeat.test_monitor -*-
"""
The Twisted adapter of netlab-heartbeat's monitor: L{MonitorProtocol}
feeds datagrams to the pure L{HeartbeatMonitor}, runs one sweep
L{LoopingCall} for all clients, and hands every event to observers
(L{IHeartbeatObserver}); L{LoggingObserver} turns them into log events.
"""

from __future__ import annotations

import socket
from typing import Any, Container, Dict, Iterable, List, Optional, Tuple

from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import Interface, implementer

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.heartbeat._events import (
    BeatKind,
    BeatReceived,
    ClientForgotten,
    ClientState,
    DatagramRejected,
    MonitorEvent,
    MonitorSummary,
    StateChanged,
    TableFull,
)
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor
from twisted_netlab.heartbeat._phi import readable_phi

log = Logger()

#: Socket receive buffer asked for (the kernel caps it at net.core.rmem_max):
#: thousands of beats per second must not be dropped while a sweep or a
#: status page render holds the reactor for a few milliseconds.
RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024

#: After a wake-up has read every queued datagram, the socket is left
#: alone this long before the reactor watches it again (see
#: L{MonitorProtocol}); ``--read-pause`` takes at most MAX_READ_PAUSE.
DEFAULT_READ_PAUSE = 0.005
MAX_READ_PAUSE = 0.05


class IHeartbeatObserver(Interface):
    """
    Receives what the monitor learns.  Called synchronously from the
    reactor thread; an observer that raises is logged and the others still
    run; a method an observer lacks is skipped (observers written before
    L{table_full} and L{summary} existed keep working).

    An observer may also say whose ordinary beats (ON_TIME, the client
    alive or recovered: nearly every beat) it wants, with an attribute
    C{on_time_beats_of}: L{None} for every client's, else a container of
    client names (empty: none).  Without it, it gets them all.  When no
    observer wants a beat, the monitor builds no event for it (see
    L{HeartbeatMonitor}'s C{report_on_time}); it is read again whenever
    the list of observers changes.
    """

    def beat_received(beat: BeatReceived) -> None:
        """
        An accepted beat, with its kind and figures.
        """

    def state_changed(change: StateChanged) -> None:
        """
        A client became alive, suspect, stopped or recovered.
        """

    def datagram_rejected(rejection: DatagramRejected) -> None:
        """
        A datagram was refused (every one, not only those reported).
        """

    def client_forgotten(forgotten: ClientForgotten) -> None:
        """
        A long-stopped client was dropped from the table.
        """

    def table_full(pressure: TableFull) -> None:
        """
        The table was full while new clients came (at most once per
        report interval).
        """

    def summary(summary: MonitorSummary) -> None:
        """
        The periodic summary.
        """


def default_sweep_interval(period: float, timeout: float) -> float:
    """
    How often the sweep runs when not told: half a period, at most one
    second, and at most a tenth of the timeout, so a stop is reported no
    later than C{timeout + sweep}.
    """
    return min(1.0, period / 2, timeout / 10)


class MonitorProtocol(DatagramProtocol):
    """
    Receive beats and sweep.  C{reactor} gives the time and runs the sweep
    timer; L{None} means the global reactor, looked up at C{startProtocol}
    (not at import or construction); tests pass a L{task.Clock}.

    Wake-ups are coalesced: the first datagram of a wake-up stops the
    reactor watching the socket for C{read_pause} seconds (the port still
    reads every datagram already queued, until the socket is empty).  With
    thousands of clients the reactor then wakes at most 1 / C{read_pause}
    times a second and reads dozens of beats each time, instead of waking
    for every few beats; a lone beat is read at once, and a beat that comes
    during a pause waits at most C{read_pause} (5 ms, far below any period,
    tolerance or timeout; the kernel buffer holds the beats meanwhile) and
    is timed when read.  0 turns this off, and so does a transport that
    cannot stop reading.
    """

    noisy = False

    def __init__(
        self,
        monitor: HeartbeatMonitor,
        sweep_interval: Optional[float] = None,
        observers: Iterable[IHeartbeatObserver] = (),
        reactor: Any = None,
        read_pause: float = DEFAULT_READ_PAUSE,
    ) -> None:
        if not read_pause >= 0:
            raise ValueError("read_pause must be >= 0")
        settings = monitor.settings
        self.monitor = monitor
        self.sweep_interval = (
            sweep_interval
            if sweep_interval is not None
            else default_sweep_interval(settings.period, settings.timeout)  # type: ignore[arg-type]
        )
        self.observers: List[IHeartbeatObserver] = list(observers)
        self.reactor = reactor
        self._sweeper: Optional[LoopingCall] = None
        self.read_pause = read_pause
        self._pausing = False  # read_pause and a transport that can stop reading
        self._resume: Any = None  # the pending call that resumes reading
        self._deliveries: Dict[type, List[Tuple[IHeartbeatObserver, Any]]] = {}
        self._deliveries_for: Optional[List[IHeartbeatObserver]] = None

    def startProtocol(self) -> None:
        sock = getattr(self.transport, "socket", None)
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER_BYTES)
            except OSError:  # best effort: the default buffer still works
                pass
        self.reactor = default_reactor(self.reactor)
        self._pausing = bool(self.read_pause) and hasattr(self.transport, "stopReading")
        self._sweeper = LoopingCall(self.sweep)
        self._sweeper.clock = self.reactor
        self._sweeper.start(self.sweep_interval, now=False).addErrback(
            lambda reason: log.failure("heartbeat sweep stopped", reason)
        )

    def stopProtocol(self) -> None:
        if self._sweeper is not None and self._sweeper.running:
            self._sweeper.stop()
        self._sweeper = None
        if self._resume is not None:
            if self._resume.active():
                self._resume.cancel()
            self._resume = None

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        if self._pausing and self._resume is None:
            self._pause_reading()
        if self._deliveries_for != self.observers:  # the list was changed or replaced
            self._observers_changed()
        self._dispatch(self.monitor.datagram_received(data, (addr[0], addr[1]), self.reactor.seconds()))

    def _pause_reading(self) -> None:
        """
        Stop watching the socket until C{read_pause} has passed; the read
        under way goes on to empty the socket.
        """
        port: Any = self.transport  # a udp.Port: IUDPTransport does not name stopReading
        port.stopReading()
        self._resume = self.reactor.callLater(self.read_pause, self._resume_reading)

    def _resume_reading(self) -> None:
        self._resume = None
        port: Any = self.transport
        if port is not None:
            port.startReading()

    def sweep(self) -> None:
        if self._deliveries_for != self.observers:
            self._observers_changed()
        self._dispatch(self.monitor.sweep(self.reactor.seconds()))

    def _dispatch(self, events: List[MonitorEvent]) -> None:
        deliveries = self._deliveries
        for event in events:
            for observer, deliver in deliveries[type(event)]:
                try:
                    deliver(event)
                except Exception:
                    log.failure("heartbeat observer {observer!r} failed", observer=observer)


    def _observers_changed(self) -> None:
        """
        Work out, once per change of the observer list (not per beat),
        which methods get each event and whose ordinary beats the monitor
        reports.
        """
        self._deliveries = _deliveries(self.observers)
        self._deliveries_for = list(self.observers)
        self.monitor.report_on_time = _on_time_wanted(self.observers)


class _AnyOf:
    """
    The names in any of C{containers}.
    """

    def __init__(self, containers: List[Container[str]]) -> None:
        self.containers = containers

    def __contains__(self, name: object) -> bool:
        return any(name in container for container in self.containers)


def _on_time_wanted(observers: List[IHeartbeatObserver]) -> Optional[Container[str]]:
    """
    Whose ordinary beats the observers want together: L{None} (every
    client's) if one of them wants all or does not say.
    """
    wanted: List[Container[str]] = []
    for observer in observers:
        names = getattr(observer, "on_time_beats_of", None)
        if names is None:
            return None
        if not (isinstance(names, (tuple, frozenset)) and not names):  # an empty one for good adds no one
            wanted.append(names)
    if not wanted:
        return ()
    return wanted[0] if len(wanted) == 1 else _AnyOf(wanted)


def _deliveries(observers: List[IHeartbeatObserver]) -> Dict[type, List[Tuple[IHeartbeatObserver, Any]]]:
    """
    For each event type, the observers' methods that receive it, in the
    observers' order; an observer written before an event existed lacks its
    method and is left out.  Worked out when the observers change, not per
    beat.
    """
    return {
        event_type: [
            (observer, getattr(observer, method)) for observer in observers if getattr(observer, method, None) is not None
        ]
        for event_type, method in _OBSERVER_METHODS.items()
    }


#: Which observer method each event goes to.
_OBSERVER_METHODS = {
    BeatReceived: "beat_received",
    StateChanged: "state_changed",
    DatagramRejected: "datagram_rejected",
    ClientForgotten: "client_forgotten",
    TableFull: "table_full",
    MonitorSummary: "summary",
}


@implementer(IHeartbeatObserver)
class LoggingObserver:
    """
    One log event per state change (alive, suspect, stopped, recovered)
    and per restart, with the figures; one per reported rejection (with
    the datagram's text), per forgotten client, per report of a full
    table; and the periodic summary.  With C{all_beats} (``--verbose``)
    also one per accepted beat: with thousands of clients that is a line
    per beat (a 100k-id flood wrote 55 MB), so it is off by default and
    the per-client counts are on the status page.
    """

    def __init__(self, timeout: float, sweep_interval: float, all_beats: bool = False, logger: Optional[Logger] = None) -> None:
        self.timeout = timeout
        self.sweep_interval = sweep_interval
        self.all_beats = all_beats
        self.log = logger if logger is not None else Logger(namespace="netlab-heartbeat")

    @property
    def on_time_beats_of(self) -> Optional[Container[str]]:
        """
        Every ordinary beat with C{all_beats}, else none: they make no line.
        """
        return None if self.all_beats else ()

    def beat_received(self, beat: BeatReceived) -> None:
        if beat.kind is BeatKind.RESTART:
            self.log.warn(
                LINE,
                line=f"{beat.client} restarted: sequence {beat.previous_sequence} -> {beat.sequence} "
                f"after {beat.since_last_seconds:.3f} s (from {beat.source})",
                **_fields(beat),
            )
            return
        if not self.all_beats:
            return
        since = "first beat" if beat.since_last_seconds is None else f"{beat.since_last_seconds:.3f} s since last"
        extra = ""
        if beat.lost > 0:
            extra += f", {beat.lost} lost"
        if beat.kind is BeatKind.LATE:
            extra += f", {beat.late_by_seconds:.3f} s late"
        self.log.info(
            LINE,
            line=f"{beat.client} beat {beat.sequence} {beat.kind.value}: {since}{extra}, "
            f"offset {beat.offset_seconds:+.3f} s, jitter {beat.jitter_seconds * 1000:.2f} ms",
            **_fields(beat),
        )

    def state_changed(self, change: StateChanged) -> None:
        previous = "new" if change.previous is None else change.previous.value
        level = self.log.warn if change.state in (ClientState.STOPPED, ClientState.SUSPECT) else self.log.info
        level(
            LINE,
            line=f"{change.client} {change.state.value} (was {previous}): silent {change.silence_seconds:.3f} s, "
            f"phi {readable_phi(change.phi)}, timeout {self.timeout:g} s, sweep {self.sweep_interval:g} s, "
            f"last sequence {change.last_sequence}, beats {change.beats}, lost {change.lost}, restarts {change.restarts}",
            **_fields(change),
        )

    def datagram_rejected(self, rejection: DatagramRejected) -> None:
        if not rejection.report:
            return
        earlier = f", {rejection.suppressed} more since the last report" if rejection.suppressed else ""
        self.log.warn(
            LINE,
            line=f"rejected datagram from {rejection.source}: {rejection.reason.value} ({rejection.detail}){earlier}: "
            f'"{rejection.text}"; at most one such line per source address per minute',
            **_fields(rejection),
        )

    def client_forgotten(self, forgotten: ClientForgotten) -> None:
        self.log.info(
            LINE, line=f"{forgotten.client} forgotten after {forgotten.silence_seconds:.0f} s of silence", **_fields(forgotten)
        )

    def table_full(self, pressure: TableFull) -> None:
        self.log.warn(
            LINE,
            line=f"client table full ({pressure.tracked} of {pressure.max_clients}): {pressure.evicted} stopped clients "
            f"evicted (least recently heard first) and {pressure.refused} new clients refused since the last report",
            **_fields(pressure),
        )

    def summary(self, summary: MonitorSummary) -> None:
        fields = _fields(summary)
        fields["rejected"] = {reason.value: count for reason, count in summary.rejected}
        rejected = ", ".join(f"{count} {reason.value}" for reason, count in summary.rejected) or "none"
        self.log.info(
            LINE,
            line=f"summary: {summary.tracked} clients ({summary.alive} alive, {summary.suspect} suspect, "
            f"{summary.stopped} stopped, {summary.recovered} recovered); in the last {summary.interval_seconds:.0f} s "
            f"{summary.accepted} beats accepted, rejected: {rejected}",
            **fields,
        )


#: Every line is formatted here (f-strings) and logged as C{line}: the
#: figures still go along as log keys for JSON observers, but
#: twisted.logger's pure-Python formatter parses one field instead of ten
#: (a state change line cost about 60 us, most of a new client's cost).
LINE = "{line}"


def _fields(event: Any) -> dict:
    """
    The event's fields as log keys (enums by value), so a JSON log observer
    gets the figures, not only the text.
    """
    return {name: getattr(value, "value", value) for name, value in vars(event).items()}
