# -*- test-case-name: tests.heartbeat.test_monitor_core -*-
"""
The pure core of netlab-heartbeat's monitor (standard library only; time is
passed in as C{now}): L{HeartbeatMonitor} turns datagrams and sweeps into
the events of L{_events}; the adapter (C{monitor.py}) only logs and forwards.
"""

# Longer than the 700 lines a module should stay under, by the shortcut for
# the next beat of a healthy client (_track_next): it stays beside the
# general path (_track_any) it must agree with, step for step.

from __future__ import annotations

import enum
import heapq
import itertools
import math
from dataclasses import dataclass
from typing import Container, Dict, List, Optional, Tuple

from twisted_netlab.heartbeat._beat import (
    Beat,
    LocalProtocolError,
    PeerProtocolError,
    RejectReason,
    check_key,
    decode_beat,
    verify_beat,
)
from twisted_netlab.heartbeat._events import (
    LIVE_KINDS,
    BeatKind,
    BeatReceived,
    ClientForgotten,
    ClientState,
    ClientStatus,
    DatagramRejected,
    MonitorEvent,
    MonitorSummary,
    StateChanged,
    TableFull,
)
from twisted_netlab.heartbeat._phi import PhiAccrualDetector

__all__ = [
    "LIVE_KINDS", "BeatKind", "BeatReceived", "ClientForgotten", "ClientState", "ClientStatus", "DatagramRejected",
    "HeartbeatMonitor", "KeyBy", "MonitorEvent", "MonitorSettings", "MonitorSummary", "StateChanged", "TableFull",
    "format_address", "preview",
]

# --------------------------------------------------------------------------
# The monitor

class KeyBy(enum.Enum):
    """
    How beats without an id are grouped into clients: by source address
    (host and port: several senders per host) or by host (a restarted lab
    sender gets a new port but stays the same client).
    """

    ADDRESS = "address"
    HOST = "host"


@dataclass(frozen=True)
class MonitorSettings:
    """
    @ivar period: the interval senders beat at.
    @ivar timeout: silence after which a client is STOPPED (hard stop).
    @ivar tolerance: how much later than expected a beat may come before it
        is LATE.
    @ivar max_skew: beats whose timestamp is further than this from the
        monitor's clock are rejected (absurd, or a replay from long ago).
    @ivar reorder_window: how far below the highest sequence a beat still
        counts as reordered (also the duplicate memory); further down
        without a boot id means the sender restarted.
    @ivar report_interval: rejected datagrams are reported at most once per
        source address per interval (and the table's pressure once).
    @ivar max_reports: at most this many sources get a rejection report per
        C{report_interval} (a flood from many ports stays a few lines).
    @ivar summary_interval: how often L{sweep} returns a L{MonitorSummary}
        (0: never).
    """

    period: float = 5.0
    timeout: Optional[float] = None
    tolerance: Optional[float] = None
    phi_threshold: float = 8.0
    min_std_deviation: Optional[float] = None
    acceptable_pause: Optional[float] = None
    max_sample_size: int = 100
    key: Optional[bytes] = None
    max_skew: Optional[float] = None
    max_clients: int = 100_000
    forget_after: float = 3600.0
    key_by: KeyBy = KeyBy.ADDRESS
    reorder_window: int = 64
    report_interval: float = 60.0
    max_reports: int = 100
    summary_interval: float = 60.0

    def __post_init__(self) -> None:
        def default(name: str, value: float) -> None:
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

        if not (math.isfinite(self.period) and self.period > 0):
            raise LocalProtocolError("period must be > 0")
        default("timeout", 10 * self.period)
        default("tolerance", self.period / 2)
        default("min_std_deviation", self.period / 10)
        # Akka's shape (1 s beats, 3 s pause), but leave phi room to act
        # before the hard stop when the timeout is short.
        default("acceptable_pause", min(3 * self.period, self.timeout / 3))  # type: ignore[operator]
        default("max_skew", 300.0 if self.key is not None else 86400.0)
        assert self.timeout is not None and self.tolerance is not None
        if not self.timeout > self.period:
            raise LocalProtocolError("the timeout must be longer than the period (every client would stop between beats)")
        if self.tolerance < 0:
            raise LocalProtocolError("tolerance must be >= 0")
        if self.key is not None:
            check_key(self.key)
        if self.max_clients < 1 or not 1 <= self.reorder_window <= 1024:
            raise LocalProtocolError("max_clients must be >= 1, reorder_window 1..1024")
        if self.max_reports < 1 or not self.report_interval > 0 or self.summary_interval < 0:
            raise LocalProtocolError("max_reports must be >= 1, report_interval > 0, summary_interval >= 0")
        # Validates threshold, min_std_deviation, acceptable_pause, sample size.
        self.new_detector()

    def new_detector(self) -> PhiAccrualDetector:
        return PhiAccrualDetector(
            threshold=self.phi_threshold,
            max_sample_size=self.max_sample_size,
            min_std_deviation=self.min_std_deviation,  # type: ignore[arg-type]
            acceptable_pause=self.acceptable_pause,  # type: ignore[arg-type]
            first_estimate=self.period,
        )


class _Client:
    """
    Mutable per-client record (internal); L{ClientStatus} is its snapshot.
    """

    __slots__ = (
        "name", "source", "state", "detector", "boot", "retired_boots", "highest", "received",
        "highest_arrival", "last_arrival", "latest_sent_at", "beats", "lost", "late", "duplicates",
        "out_of_order", "restarts", "offset", "jitter", "transit", "changed_at",
    )

    def __init__(self, name: str, source: str, detector: PhiAccrualDetector) -> None:
        self.name = name
        self.source = source
        self.state = ClientState.ALIVE
        self.detector = detector
        self.boot: Optional[str] = None
        self.retired_boots: List[str] = []
        self.highest = 0
        self.received = 0  # bit i set: sequence (highest - i) was received
        self.highest_arrival = 0.0
        self.last_arrival = 0.0
        self.latest_sent_at = 0.0
        self.beats = self.lost = self.late = self.duplicates = 0
        self.out_of_order = self.restarts = 0
        self.offset = self.jitter = 0.0
        self.transit: Optional[float] = None
        self.changed_at = 0.0


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


#: How much of a rejected datagram a report shows.
PREVIEW_BYTES = 80
_ESCAPES = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r", 0x5C: "\\\\"}


def preview(data: bytes, limit: int = PREVIEW_BYTES) -> str:
    """
    C{data} as one line of printable ASCII, safe to log: bytes outside
    0x20-0x7e as C{\\xNN} (tab, CR, LF as C{\\t \\r \\n}, the backslash
    doubled), cut after C{limit} bytes with the full length added.
    """
    shown = "".join(
        _ESCAPES.get(byte) or (chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}") for byte in data[:limit]
    )
    if len(data) > limit:
        shown += f"... ({len(data)} bytes)"
    return shown


_RETIRED_BOOTS = 8
_new = object.__new__
_set = object.__setattr__
#: Sources remembered for rejection reports (the oldest are pruned beyond).
_MAX_REPORTED_SOURCES = 10_000
_STATE_ORDER = {ClientState.STOPPED: 0, ClientState.SUSPECT: 1, ClientState.RECOVERED: 2, ClientState.ALIVE: 3}


class HeartbeatMonitor:
    """
    Tracks every client; see the module docstring.

    Feed it with L{datagram_received} and call L{sweep} periodically (one
    timer for all clients).  Both return lists of events.  L{counters}
    holds totals: accepted beats and one entry per L{RejectReason};
    L{sweeps} counts sweeps (a status page caches its rendering per sweep).

    C{report_on_time} says whose ordinary beats come back as
    L{BeatReceived}: those ON_TIME while the client is alive or recovered,
    nearly every beat.  L{None} (the default): every client's; else a
    container of client names (C{name in report_on_time}).  Every other
    beat is always reported, and every beat is tracked and counted the
    same; an adapter whose observers want few of them sets it, so the
    common beat builds no event.

    Clients live in three dicts that keep an order the monitor relies on:
    C{_clients} (all, in the order first heard), C{_watched} (not stopped:
    what a sweep looks at) and C{_stopped}, kept in order of last arrival,
    so the least recently heard stopped client is the first one: it is
    the one forgotten first and the one evicted when the table is full.
    """

    def __init__(self, settings: Optional[MonitorSettings] = None) -> None:
        self.settings = settings if settings is not None else MonitorSettings()
        self._clients: Dict[str, _Client] = {}
        self._watched: Dict[str, _Client] = {}
        self._stopped: Dict[str, _Client] = {}
        self._unsettled: Dict[str, _Client] = {}  # SUSPECT or RECOVERED
        self._state_counts: Dict[ClientState, int] = {state: 0 for state in ClientState}
        self._boot_owner: Dict[str, str] = {}
        self._mask = (1 << self.settings.reorder_window) - 1
        self.counters: Dict[str, int] = {"accepted": 0}
        for reason in RejectReason:
            self.counters[reason.value] = 0
        self.sweeps = 0
        # Rejection reports: per source address, and a budget per interval.
        self._reports: Dict[str, Tuple[float, int]] = {}
        self._report_window = -math.inf
        self._reports_in_window = 0
        # Table pressure since the last TableFull report.
        self._pressure_reported_at = -math.inf
        self._evicted = self._refused = 0
        # The previous summary: when, and the counters then.
        self._summary_at: Optional[float] = None
        self._summary_counters = dict(self.counters)
        self.report_on_time: Optional[Container[str]] = None

    # -- datagrams -------------------------------------------------------

    def datagram_received(self, data: bytes, source: Tuple[str, int], now: float) -> List[MonitorEvent]:
        host, port = source
        address = format_address(host, port)
        try:
            beat = decode_beat(data)
            client = self._admit(beat, host, address, now)
        except PeerProtocolError as error:
            return self._reject(data, address, error, now)
        events = self._track(client, beat, address, now)
        self.counters["accepted"] += 1
        if self._evicted and now - self._pressure_reported_at >= self.settings.report_interval:
            events.append(self._table_full(now))
        return events

    def _reject(self, data: bytes, address: str, error: PeerProtocolError, now: float) -> List[MonitorEvent]:
        """
        Count the rejection; report it (with the datagram's text) if this
        source address was not reported within C{report_interval} and the
        interval's budget of C{max_reports} sources is not spent: a student
        whose sender restarts on a new port sees the new run's mistake at
        once, and a flood from thousands of ports stays a few lines.
        """
        reason = error.reason
        self.counters[reason.value] += 1
        settings = self.settings
        events: List[MonitorEvent] = []
        if reason is RejectReason.TOO_MANY_CLIENTS:
            self._refused += 1
            if now - self._pressure_reported_at >= settings.report_interval:
                events.append(self._table_full(now))
        last = self._reports.get(address)
        due = last is None or now - last[0] >= settings.report_interval
        if due and now - self._report_window >= settings.report_interval:
            self._report_window = now
            self._reports_in_window = 0
        if due and self._reports_in_window < settings.max_reports:
            self._reports_in_window += 1
            if len(self._reports) >= _MAX_REPORTED_SOURCES:
                self._prune_reports(now)
            self._reports[address] = (now, 0)
            events.insert(0, DatagramRejected(address, reason, error.detail, True, last[1] if last else 0, preview(data)))
        else:
            suppressed = 1
            if last is not None:
                suppressed = last[1] + 1
                self._reports[address] = (last[0], suppressed)
            events.insert(0, DatagramRejected(address, reason, error.detail, False, suppressed))
        return events

    def _prune_reports(self, now: float) -> None:
        interval = self.settings.report_interval
        for address, (at, _) in list(self._reports.items()):
            if now - at >= interval:
                del self._reports[address]
        while len(self._reports) >= _MAX_REPORTED_SOURCES:  # all recent: drop the oldest
            del self._reports[next(iter(self._reports))]

    def _table_full(self, now: float) -> TableFull:
        event = TableFull(now, len(self._clients), self.settings.max_clients, self._evicted, self._refused)
        self._pressure_reported_at = now
        self._evicted = self._refused = 0
        return event

    def _admit(self, beat: Beat, host: str, address: str, now: float) -> _Client:
        """
        Decide whether C{beat} may touch the table; return its client record
        (created if new).  Everything refused here leaves no trace but a
        counter.

        When the table is full, a new client takes the place of the least
        recently heard stopped client; with none stopped it is refused (a
        live client is never pushed out).  With a key, only beats whose MAC
        verified get this far, so a flood of made-up ids without the key
        never takes a place at all: the places go to signed clients.
        """
        settings = self.settings
        if settings.key is not None:
            # Authenticity first: an unsigned or forged beat is counted as
            # such, whatever else is wrong with it.
            if beat.mac is None:
                raise PeerProtocolError(RejectReason.UNSIGNED, "beat without mac= (the monitor requires signed beats)")
            if not verify_beat(beat, settings.key):
                raise PeerProtocolError(RejectReason.FORGED, "mac= does not match (wrong key or altered beat)")
        skew = beat.sent_at - now
        if abs(skew) > settings.max_skew:  # type: ignore[operator]
            raise PeerProtocolError(
                RejectReason.ABSURD_TIMESTAMP,
                f"timestamp {beat.sent_at:.3f} is {skew:+.0f} s from the monitor clock (limit {settings.max_skew:g} s)",
            )
        if beat.client_id is not None:
            name = beat.client_id
        elif settings.key_by is KeyBy.HOST:
            name = host
        else:
            name = address
        client = self._clients.get(name)
        if settings.key is not None:
            self._check_signed(beat, name, client)
        if client is None:
            if len(self._clients) >= settings.max_clients:
                if not self._stopped:
                    raise PeerProtocolError(RejectReason.TOO_MANY_CLIENTS, f"already tracking {len(self._clients)} clients")
                self._drop(next(iter(self._stopped)))
                self._evicted += 1
            client = _Client(name, address, settings.new_detector())
        return client

    def _drop(self, name: str) -> _Client:
        """
        Remove a stopped client from the table.  Its boot claim stays, so
        its recorded beats remain replays.
        """
        client = self._stopped.pop(name)
        del self._clients[name]
        self._state_counts[ClientState.STOPPED] -= 1
        return client

    def _check_signed(self, beat: Beat, name: str, client: Optional[_Client]) -> None:
        """
        With a key (the MAC was verified already), the beat must be new.
        "New" is defined by the signed boot id (random per sender start) and
        sequence:

          - a boot id seen under another client, or retired by this client's
            later restart, is a replay;
          - in the current boot, a sequence already received, or below the
            reorder window, is a replay;
          - a new boot must carry a timestamp later than every beat accepted
            from this client, so a recording of an earlier run cannot pose
            as a restart.
        """
        assert beat.boot is not None  # decode_beat requires boot= with mac=
        owner = self._boot_owner.get(beat.boot)
        if owner is not None and owner != name:
            raise PeerProtocolError(RejectReason.REPLAYED, f"boot {beat.boot} belongs to {owner}")
        if client is None:
            return
        if beat.boot in client.retired_boots:
            raise PeerProtocolError(RejectReason.REPLAYED, f"boot {beat.boot} ended with a restart")
        if beat.boot != client.boot:
            if beat.sent_at <= client.latest_sent_at:
                raise PeerProtocolError(RejectReason.REPLAYED, "new boot id with an old timestamp")
            return
        behind = client.highest - beat.sequence
        if behind >= 0 and (behind >= self.settings.reorder_window or client.received >> behind & 1):
            raise PeerProtocolError(RejectReason.REPLAYED, f"sequence {beat.sequence} already seen")

    def _classify(self, client: _Client, beat: Beat, new: bool) -> BeatKind:
        if new:
            return BeatKind.FIRST
        if beat.boot != client.boot:
            return BeatKind.RESTART
        behind = client.highest - beat.sequence
        if behind < 0:
            return BeatKind.ON_TIME  # LATE is decided with the arrival time
        if beat.boot is None and (
            (beat.sequence == 0 and client.highest > 0) or behind >= self.settings.reorder_window
        ):
            # Without a boot id, a sequence back at 0 (or far down) is a new run.
            return BeatKind.RESTART
        if behind < self.settings.reorder_window and client.received >> behind & 1:
            return BeatKind.DUPLICATE
        return BeatKind.OUT_OF_ORDER  # beyond the window (with a boot id): a straggler

    def _track(self, client: _Client, beat: Beat, address: str, now: float) -> List[MonitorEvent]:
        state = client.state
        if (
            beat.sequence > client.highest and beat.boot == client.boot and client.beats
            and (state is ClientState.ALIVE or state is ClientState.RECOVERED)
        ):
            return self._track_next(client, beat, address, now)
        return self._track_any(client, beat, address, now)

    def _track_any(self, client: _Client, beat: Beat, address: str, now: float) -> List[MonitorEvent]:
        settings = self.settings
        new = client.name not in self._clients
        kind = self._classify(client, beat, new)
        previous_sequence = None if new else client.highest
        since_last = None if new else now - client.last_arrival
        lost = 0
        late_by = 0.0
        if kind is BeatKind.ON_TIME:
            step = beat.sequence - client.highest
            lost = step - 1
            late_by = now - (client.highest_arrival + step * settings.period)
            if late_by > settings.tolerance:  # type: ignore[operator]
                kind = BeatKind.LATE
                client.late += 1
            if step < settings.reorder_window:
                client.received = ((client.received << step) | 1) & self._mask
            else:  # never shift by a peer-chosen amount: 2**62 bits is a lot of memory
                client.received = 1
            client.highest = beat.sequence
            client.highest_arrival = now
            client.lost += lost
        elif kind is BeatKind.FIRST or kind is BeatKind.RESTART:
            if kind is BeatKind.RESTART:
                client.restarts += 1
                if client.boot is not None:
                    client.retired_boots = (client.retired_boots + [client.boot])[-_RETIRED_BOOTS:]
            client.boot = beat.boot
            if beat.boot is not None:
                self._claim_boot(beat.boot, client.name)
            client.received = 1
            client.highest = beat.sequence
            client.highest_arrival = now
        elif kind is BeatKind.OUT_OF_ORDER:
            behind = client.highest - beat.sequence
            if behind < settings.reorder_window:  # it fills a gap counted as lost
                client.received |= 1 << behind
                client.lost -= 1
                lost = -1
            client.out_of_order += 1
        else:
            client.duplicates += 1

        if kind is not BeatKind.DUPLICATE:
            # RFC 3550 6.4.1: D = (Rj - Ri) - (Sj - Si) = transit_j - transit_i.
            transit = now - beat.sent_at
            if client.transit is not None:
                client.jitter += (abs(transit - client.transit) - client.jitter) / 16
            client.transit = transit
            client.offset = transit
            if beat.sent_at > client.latest_sent_at:
                client.latest_sent_at = beat.sent_at
        client.beats += 1
        client.source = address

        # BeatReceived(...) without the frozen dataclass's __init__ (one
        # object.__setattr__ per field: 12 of them, per beat); the same
        # fields, so equality, repr and hash are those of the dataclass.
        received = _new(BeatReceived)
        _set(received, "__dict__", {
            "client": client.name, "source": address, "sequence": beat.sequence, "kind": kind, "received_at": now,
            "sent_at": beat.sent_at, "since_last_seconds": since_last, "lost": lost, "late_by_seconds": late_by,
            "offset_seconds": client.offset, "jitter_seconds": client.jitter, "previous_sequence": previous_sequence,
        })
        events: List[MonitorEvent] = [received]
        if kind is not BeatKind.DUPLICATE and kind is not BeatKind.OUT_OF_ORDER:  # LIVE_KINDS, without hashing
            detector = client.detector
            if new:
                self._clients[client.name] = client
                detector.heartbeat(now)
                client.last_arrival = now
                client.changed_at = now
                self._watched[client.name] = client
                self._state_counts[ClientState.ALIVE] += 1
                events.append(self._changed(client, None, ClientState.ALIVE, now, 0.0, 0.0))
            else:
                state = client.state
                if state is ClientState.ALIVE or state is ClientState.RECOVERED:
                    detector.heartbeat(now)  # the common case: no state change, no phi needed
                    client.last_arrival = now
                else:
                    silence = now - client.last_arrival
                    suspicion = detector.phi(now)
                    detector.heartbeat(now)
                    client.last_arrival = now
                    if state is ClientState.STOPPED:
                        self._watched[client.name] = self._stopped.pop(client.name)
                        events.append(self._change(client, ClientState.RECOVERED, now, silence, suspicion))
                    else:
                        events.append(self._change(client, ClientState.ALIVE, now, silence, suspicion))
        return events

    def _track_next(self, client: _Client, beat: Beat, address: str, now: float) -> List[MonitorEvent]:
        """
        L{_track_any} for nearly every beat: the next one of a known client
        in its current run (a higher sequence, the same boot id) while alive
        or recovered, so ON_TIME or LATE and no state change.  The same
        updates in the same order and the same event, without the branches
        for the other kinds (tests.heartbeat.test_properties holds the two
        paths to the same events and figures).
        """
        settings = self.settings
        highest = client.highest
        step = beat.sequence - highest
        late_by = now - (client.highest_arrival + step * settings.period)
        kind = BeatKind.ON_TIME
        if late_by > settings.tolerance:  # type: ignore[operator]
            kind = BeatKind.LATE
            client.late += 1
        if step < settings.reorder_window:
            client.received = ((client.received << step) | 1) & self._mask
        else:  # never shift by a peer-chosen amount
            client.received = 1
        client.highest = beat.sequence
        client.highest_arrival = now
        client.lost += step - 1
        sent_at = beat.sent_at
        transit = now - sent_at  # RFC 3550 6.4.1, as in _track
        if client.transit is not None:
            client.jitter += (abs(transit - client.transit) - client.jitter) / 16
        client.transit = client.offset = transit
        if sent_at > client.latest_sent_at:
            client.latest_sent_at = sent_at
        client.beats += 1
        client.source = address
        report = self.report_on_time
        if kind is BeatKind.ON_TIME and report is not None and client.name not in report:
            client.detector.heartbeat(now)
            client.last_arrival = now
            return []
        received = _new(BeatReceived)
        _set(received, "__dict__", {
            "client": client.name, "source": address, "sequence": beat.sequence, "kind": kind, "received_at": now,
            "sent_at": sent_at, "since_last_seconds": now - client.last_arrival, "lost": step - 1,
            "late_by_seconds": late_by, "offset_seconds": transit, "jitter_seconds": client.jitter,
            "previous_sequence": highest,
        })
        client.detector.heartbeat(now)
        client.last_arrival = now
        return [received]

    def _claim_boot(self, boot: str, name: str) -> None:
        owners = self._boot_owner
        if len(owners) >= 4 * self.settings.max_clients:
            del owners[next(iter(owners))]
        owners[boot] = name

    def _changed(
        self, client: _Client, previous: Optional[ClientState], state: ClientState,
        now: float, silence: float, suspicion: float,
    ) -> StateChanged:
        change = _new(StateChanged)  # StateChanged(...) without the per-field setattr (10,000 new clients at once)
        _set(change, "__dict__", {
            "client": client.name, "previous": previous, "state": state, "at": now, "silence_seconds": silence,
            "phi": suspicion, "last_sequence": client.highest, "beats": client.beats, "lost": client.lost,
            "restarts": client.restarts,
        })
        return change

    def _change(self, client: _Client, state: ClientState, now: float, silence: float, suspicion: float) -> StateChanged:
        previous = client.state
        client.state = state
        client.changed_at = now
        counts = self._state_counts
        counts[previous] -= 1
        counts[state] += 1
        if state is ClientState.SUSPECT or state is ClientState.RECOVERED:
            self._unsettled[client.name] = client
        else:
            self._unsettled.pop(client.name, None)
        return self._changed(client, previous, state, now, silence, suspicion)

    # -- time ------------------------------------------------------------

    def sweep(self, now: float) -> List[MonitorEvent]:
        """
        Look at every client not yet stopped, once: silence of C{timeout}
        stops it; phi over the threshold makes it SUSPECT; a RECOVERED
        client healthy for C{timeout} is ALIVE again.  Stopped clients
        silent for C{forget_after} are forgotten.  Every
        C{summary_interval} a L{MonitorSummary} comes last.  Cost: one
        comparison per watched client, plus one per forgotten client.
        """
        settings = self.settings
        timeout = settings.timeout
        assert timeout is not None
        self.sweeps += 1
        events: List[MonitorEvent] = []
        stopped = []
        for name, client in self._watched.items():
            silence = now - client.last_arrival
            state = client.state
            if silence >= timeout:
                stopped.append(client)
                events.append(self._change(client, ClientState.STOPPED, now, silence, client.detector.phi(now)))
            elif now >= client.detector.suspect_at:
                if state is not ClientState.SUSPECT:
                    events.append(self._change(client, ClientState.SUSPECT, now, silence, client.detector.phi(now)))
            elif state is ClientState.RECOVERED and now - client.changed_at >= timeout:
                events.append(self._change(client, ClientState.ALIVE, now, silence, client.detector.phi(now)))
        # Every client stopped now was heard after every client stopped at
        # an earlier sweep (else it would have stopped then): appending this
        # sweep's in order of last arrival keeps _stopped in that order.
        stopped.sort(key=lambda client: client.last_arrival)
        for client in stopped:
            self._stopped[client.name] = self._watched.pop(client.name)
        forget_after = settings.forget_after
        while self._stopped:
            client = next(iter(self._stopped.values()))
            if now - client.last_arrival < forget_after:
                break
            self._drop(client.name)
            events.append(ClientForgotten(client.name, now, now - client.last_arrival))
        if settings.summary_interval:
            if self._summary_at is None:
                self._summary_at = now
            elif now - self._summary_at >= settings.summary_interval:
                events.append(self._summary(now))
        return events

    def _summary(self, now: float) -> MonitorSummary:
        assert self._summary_at is not None
        counters, before = self.counters, self._summary_counters
        rejected = tuple(
            (reason, counters[reason.value] - before[reason.value])
            for reason in RejectReason
            if counters[reason.value] != before[reason.value]
        )
        counts = self._state_counts
        summary = MonitorSummary(
            now, now - self._summary_at, len(self._clients), counts[ClientState.ALIVE], counts[ClientState.SUSPECT],
            counts[ClientState.STOPPED], counts[ClientState.RECOVERED], counters["accepted"] - before["accepted"], rejected,
        )
        self._summary_at = now
        self._summary_counters = dict(counters)
        return summary

    # -- status ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._clients)

    def state_counts(self) -> Dict[ClientState, int]:
        """
        How many clients are in each state (kept as states change: free).
        """
        return dict(self._state_counts)

    def _row(self, client: _Client, now: float) -> ClientStatus:
        detector = client.detector
        return ClientStatus(
            client.name, client.source, client.state, client.highest, client.beats, client.lost,
            client.late, client.duplicates, client.out_of_order, client.restarts,
            client.last_arrival, now - client.last_arrival, detector.phi(now),
            client.offset, client.jitter, detector.mean,
        )

    def status(self, now: float) -> List[ClientStatus]:
        """
        A snapshot of every client, sorted by name.  Its cost grows with
        the table: a status page uses L{page} or L{overview}.
        """
        return [self._row(self._clients[name], now) for name in sorted(self._clients)]

    def page(self, now: float, offset: int, limit: int) -> List[ClientStatus]:
        """
        Rows C{offset} to C{offset + limit} in the order clients were first
        heard (a client forgotten and heard again comes last).  Cost: the
        rows asked for, plus skipping C{offset} entries of a dict.
        """
        names = itertools.islice(self._clients.values(), offset, offset + limit) if limit > 0 else ()
        return [self._row(client, now) for client in names]

    def overview(self, now: float, limit: int) -> List[ClientStatus]:
        """
        At most C{limit} rows, problems first (stopped, suspect, recovered,
        then alive), each state sorted by name; among stopped clients the
        most recently stopped are chosen.  Cost: the rows shown.
        """
        chosen: List[_Client] = list(itertools.islice(reversed(self._stopped.values()), limit))
        chosen.extend(itertools.islice(self._unsettled.values(), limit - len(chosen)))
        if len(chosen) < limit:
            alive = (client for client in self._watched.values() if client.state is ClientState.ALIVE)
            chosen.extend(itertools.islice(alive, limit - len(chosen)))
        chosen.sort(key=lambda client: (_STATE_ORDER[client.state], client.name))
        return [self._row(client, now) for client in chosen]

    def recent(self, now: float, limit: int) -> List[ClientStatus]:
        """
        The C{limit} most recently heard clients (newest first): what a
        metrics scrape shows per client, so a flood of forged ids can
        never make more than C{limit} series.  Cost: one pass over the
        table (a scrape every few seconds, not per beat).
        """
        if limit <= 0:
            return []
        newest = heapq.nlargest(limit, self._clients.values(), key=lambda client: client.last_arrival)
        return [self._row(client, now) for client in newest]

    def state_of(self, name: str) -> Optional[ClientState]:
        client = self._clients.get(name)
        return None if client is None else client.state
