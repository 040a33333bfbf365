# -*- test-case-name: tests.heartbeat.test_monitor_core -*-
"""
The pure core of netlab-heartbeat's monitor (standard library only; time is
passed in as C{now}): L{HeartbeatMonitor} keeps one record per client and
turns datagrams into events (L{BeatReceived}, L{StateChanged},
L{DatagramRejected}) and a sweep at C{now} into state changes.  The adapter
(C{monitor.py}) only logs and forwards.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

from twisted_netlab.heartbeat._beat import (
    Beat,
    LocalProtocolError,
    PeerProtocolError,
    RejectReason,
    check_key,
    decode_beat,
    verify_beat,
)
from twisted_netlab.heartbeat._phi import PhiAccrualDetector

# --------------------------------------------------------------------------
# Events and states

class ClientState(enum.Enum):
    """
    What the monitor believes about a client.  RECOVERED is a stopped client
    that beat again; it becomes ALIVE after a further C{timeout} of health.
    """

    ALIVE = "alive"
    SUSPECT = "suspect"
    STOPPED = "stopped"
    RECOVERED = "recovered"


class BeatKind(enum.Enum):
    FIRST = "first"
    ON_TIME = "on time"
    LATE = "late"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out of order"
    RESTART = "restart"


#: Kinds that prove the sender is alive now; duplicates and stragglers do not.
LIVE_KINDS = frozenset({BeatKind.FIRST, BeatKind.ON_TIME, BeatKind.LATE, BeatKind.RESTART})


@dataclass(frozen=True)
class BeatReceived:
    """
    An accepted beat and the figures the lab server reports for it.

    @ivar since_last_seconds: time since this client's previous beat that
        counted as a sign of life (None for the first).
    @ivar lost: sequence numbers this beat showed to be missing (a gap);
        an out-of-order beat that fills a gap reports -1.
    @ivar late_by_seconds: arrival minus expected arrival (the previous
        in-order arrival plus one period per sequence step); > tolerance
        makes the beat LATE.
    @ivar offset_seconds: monitor clock minus the sender's timestamp (the
        sender's clock offset plus one-way delay).
    @ivar jitter_seconds: RFC 3550 6.4.1 interarrival jitter of the
        sender's timestamps, J += (|D| - J) / 16.
    @ivar previous_sequence: the highest sequence before this beat (for a
        RESTART: where the old run ended).
    """

    client: str
    source: str
    sequence: int
    kind: BeatKind
    received_at: float
    sent_at: float
    since_last_seconds: Optional[float]
    lost: int
    late_by_seconds: float
    offset_seconds: float
    jitter_seconds: float
    previous_sequence: Optional[int]


@dataclass(frozen=True)
class StateChanged:
    """
    A client moved from C{previous} (None: first seen) to C{state}, with the
    figures behind the decision.
    """

    client: str
    previous: Optional[ClientState]
    state: ClientState
    at: float
    silence_seconds: float
    phi: float
    last_sequence: int
    beats: int
    lost: int
    restarts: int


@dataclass(frozen=True)
class ClientForgotten:
    """
    A stopped client silent for C{forget_after} was dropped from the table.
    """

    client: str
    at: float
    silence_seconds: float


@dataclass(frozen=True)
class DatagramRejected:
    """
    A datagram that was not accepted.  C{report} is true at most once per
    source host per C{report_interval}; C{suppressed} counts the rejections
    from that host not reported since its last report.
    """

    source: str
    reason: RejectReason
    detail: str
    report: bool
    suppressed: int


@dataclass(frozen=True)
class ClientStatus:
    """
    One row of the status table.
    """

    client: str
    source: str
    state: ClientState
    last_sequence: int
    beats: int
    lost: int
    late: int
    duplicates: int
    out_of_order: int
    restarts: int
    last_beat_at: float
    silence_seconds: float
    phi: float
    offset_seconds: float
    jitter_seconds: float
    mean_interval_seconds: float


MonitorEvent = Union[BeatReceived, StateChanged, ClientForgotten, DatagramRejected]


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


_RETIRED_BOOTS = 8


class HeartbeatMonitor:
    """
    Tracks every client; see the module docstring.

    Feed it with L{datagram_received} and call L{sweep} periodically (one
    timer for all clients).  Both return lists of events.  L{counters}
    holds totals: accepted beats and one entry per L{RejectReason}.
    """

    def __init__(self, settings: Optional[MonitorSettings] = None) -> None:
        self.settings = settings if settings is not None else MonitorSettings()
        self._clients: Dict[str, _Client] = {}
        self._watched: Dict[str, _Client] = {}  # not STOPPED: what a sweep looks at
        self._stopped: Dict[str, _Client] = {}
        self._boot_owner: Dict[str, str] = {}
        self._reports: Dict[str, Tuple[float, int]] = {}
        self.counters: Dict[str, int] = {"accepted": 0}
        for reason in RejectReason:
            self.counters[reason.value] = 0

    # -- datagrams -------------------------------------------------------

    def datagram_received(self, data: bytes, source: Tuple[str, int], now: float) -> List[MonitorEvent]:
        host, port = source
        address = format_address(host, port)
        try:
            beat = decode_beat(data)
            client = self._admit(beat, host, address, now)
        except PeerProtocolError as error:
            return [self._reject(host, address, error, now)]
        events = self._track(client, beat, address, now)
        self.counters["accepted"] += 1
        return events

    def _reject(self, host: str, address: str, error: PeerProtocolError, now: float) -> DatagramRejected:
        """
        Count the rejection; report it if this host has not been reported
        within C{report_interval} (one line per source per minute, however
        hard it floods).
        """
        self.counters[error.reason.value] += 1
        last = self._reports.get(host)
        if last is None or now - last[0] >= self.settings.report_interval:
            if len(self._reports) >= 10_000:
                self._prune_reports(now)
            self._reports[host] = (now, 0)
            return DatagramRejected(address, error.reason, error.detail, True, last[1] if last else 0)
        self._reports[host] = (last[0], last[1] + 1)
        return DatagramRejected(address, error.reason, error.detail, False, last[1] + 1)

    def _prune_reports(self, now: float) -> None:
        interval = self.settings.report_interval
        for host, (at, _) in list(self._reports.items()):
            if now - at >= interval:
                del self._reports[host]
        while len(self._reports) >= 10_000:  # all recent: drop the oldest
            del self._reports[next(iter(self._reports))]

    def _admit(self, beat: Beat, host: str, address: str, now: float) -> _Client:
        """
        Decide whether C{beat} may touch the table; return its client record
        (created if new).  Everything refused here leaves no trace but a
        counter.
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
                raise PeerProtocolError(RejectReason.TOO_MANY_CLIENTS, f"already tracking {len(self._clients)} clients")
            client = _Client(name, address, settings.new_detector())
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
            if step < settings.reorder_window:
                client.received = ((client.received << step) | 1) & ((1 << settings.reorder_window) - 1)
            else:  # never shift by a peer-chosen amount: 2**62 bits is a lot of memory
                client.received = 1
            client.highest = beat.sequence
            client.highest_arrival = now
            client.lost += lost
        elif kind in (BeatKind.FIRST, BeatKind.RESTART):
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
            client.latest_sent_at = max(client.latest_sent_at, beat.sent_at)
        if kind is BeatKind.LATE:
            client.late += 1
        client.beats += 1
        client.source = address

        events: List[MonitorEvent] = [
            BeatReceived(
                client.name, address, beat.sequence, kind, now, beat.sent_at, since_last, lost,
                late_by, client.offset, client.jitter, previous_sequence,
            )
        ]
        if kind in LIVE_KINDS:
            if new:
                self._clients[client.name] = client
                client.detector.heartbeat(now)
                client.last_arrival = now
                client.changed_at = now
                self._watched[client.name] = client
                events.append(self._changed(client, None, ClientState.ALIVE, now, 0.0, 0.0))
            else:
                silence = now - client.last_arrival
                suspicion = client.detector.phi(now)
                client.detector.heartbeat(now)
                client.last_arrival = now
                if client.state is ClientState.STOPPED:
                    self._watched[client.name] = self._stopped.pop(client.name)
                    events.append(self._change(client, ClientState.RECOVERED, now, silence, suspicion))
                elif client.state is ClientState.SUSPECT:
                    events.append(self._change(client, ClientState.ALIVE, now, silence, suspicion))
        return events

    def _claim_boot(self, boot: str, name: str) -> None:
        owners = self._boot_owner
        if len(owners) >= 4 * self.settings.max_clients:
            del owners[next(iter(owners))]
        owners[boot] = name

    def _changed(
        self, client: _Client, previous: Optional[ClientState], state: ClientState,
        now: float, silence: float, suspicion: float,
    ) -> StateChanged:
        return StateChanged(
            client.name, previous, state, now, silence, suspicion, client.highest,
            client.beats, client.lost, client.restarts,
        )

    def _change(self, client: _Client, state: ClientState, now: float, silence: float, suspicion: float) -> StateChanged:
        previous = client.state
        client.state = state
        client.changed_at = now
        return self._changed(client, previous, state, now, silence, suspicion)

    # -- time ------------------------------------------------------------

    def sweep(self, now: float) -> List[MonitorEvent]:
        """
        Look at every client not yet stopped, once: silence of C{timeout}
        stops it; phi over the threshold makes it SUSPECT; a RECOVERED
        client healthy for C{timeout} is ALIVE again.  Stopped clients
        silent for C{forget_after} are forgotten.  Cost: one comparison per
        watched client.
        """
        timeout = self.settings.timeout
        assert timeout is not None
        events: List[MonitorEvent] = []
        stopped = []
        for name, client in self._watched.items():
            silence = now - client.last_arrival
            state = client.state
            if silence >= timeout:
                stopped.append(name)
                events.append(self._change(client, ClientState.STOPPED, now, silence, client.detector.phi(now)))
            elif now >= client.detector.suspect_at:
                if state is not ClientState.SUSPECT:
                    events.append(self._change(client, ClientState.SUSPECT, now, silence, client.detector.phi(now)))
            elif state is ClientState.RECOVERED and now - client.changed_at >= timeout:
                events.append(self._change(client, ClientState.ALIVE, now, silence, client.detector.phi(now)))
        for name in stopped:
            self._stopped[name] = self._watched.pop(name)
        if self._stopped:
            forget_after = self.settings.forget_after
            for name, client in list(self._stopped.items()):
                if now - client.last_arrival >= forget_after:
                    # The boot claim stays, so its beats remain replays.
                    del self._stopped[name], self._clients[name]
                    events.append(ClientForgotten(name, now, now - client.last_arrival))
        return events

    # -- status ----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._clients)

    def status(self, now: float) -> List[ClientStatus]:
        """
        A snapshot of every client, sorted by name.
        """
        rows = []
        for name in sorted(self._clients):
            client = self._clients[name]
            detector = client.detector
            rows.append(
                ClientStatus(
                    name, client.source, client.state, client.highest, client.beats, client.lost,
                    client.late, client.duplicates, client.out_of_order, client.restarts,
                    client.last_arrival, now - client.last_arrival, detector.phi(now),
                    client.offset, client.jitter, detector.mean,
                )
            )
        return rows

    def state_of(self, name: str) -> Optional[ClientState]:
        client = self._clients.get(name)
        return None if client is None else client.state
