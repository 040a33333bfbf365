# -*- test-case-name: tests.heartbeat.test_core -*-
"""
The pure core of netlab-heartbeat: beat wire formats, the phi accrual
failure detector, and per-client tracking.  Standard library only; time
(C{now}) and randomness (boot ids) are passed in, so everything here is
driven by tests with plain numbers.

How it works:

  - L{encode_beat}/L{decode_beat} turn beats into datagrams and back.  Three
    shapes share one grammar: the lab's classic C{<seq> - <epoch>}, the same
    followed by C{id=NAME boot=HEX} (extended), and that followed by
    C{mac=HEX} (signed: HMAC-SHA256 over everything before C{" mac="}).
  - L{PhiAccrualDetector} is Akka's phi accrual detector (Hayashibara et
    al.): a window of inter-arrival times, phi from a logistic approximation
    of the normal CDF.  Because phi depends only on
    C{y = (elapsed - mean - pause) / std}, the moment phi crosses the
    threshold is computed once per beat (L{PhiAccrualDetector.suspect_at}),
    so a sweep over thousands of clients is one comparison per client.
  - L{HeartbeatMonitor} keeps one record per client and turns datagrams into
    events (L{BeatReceived}, L{StateChanged}, L{DatagramRejected}) and a
    sweep at C{now} into state changes.  The adapter only logs and forwards.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import math
import re
from array import array
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple, Union

# --------------------------------------------------------------------------
# Errors

class LocalProtocolError(ValueError):
    """
    Our caller asked for something impossible (a negative sequence, an id
    the grammar cannot carry, bad settings).
    """


class PeerProtocolError(ValueError):
    """
    A datagram from the network is not a beat.  C{reason} is the
    L{RejectReason} under which it is counted.
    """

    def __init__(self, reason: "RejectReason", detail: str) -> None:
        ValueError.__init__(self, detail)
        self.reason = reason
        self.detail = detail


# --------------------------------------------------------------------------
# Wire format

#: Beats are one short line; anything longer is not one of ours.
MAX_DATAGRAM_BYTES = 512
#: Sequence numbers are non-negative and fit a signed 64-bit integer.
MAX_SEQUENCE = 2**63 - 1
#: Client ids: start with a letter, then letters, digits and ``._@-``; no
#: ``:`` so an id never looks like an address (``127.0.0.1:5000``, ``::1``).
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._@-]{0,63}\Z")
#: Boot ids: 64 random bits, hex.
BOOT_BYTES = 8
#: Domain separation for the HMAC, so a beat's MAC is useless anywhere else.
MAC_LABEL = b"netlab-heartbeat-1 "
MIN_KEY_BYTES = 16

_HEAD = re.compile(rb"(\d{1,19}) +- +(\d{1,15}(?:\.\d{1,9})?)")
_BOOT = re.compile(rb"[0-9a-f]{16}\Z")
_MAC = re.compile(rb"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Beat:
    """
    One decoded beat.  C{signed_part} is the exact byte string the MAC
    covers (everything before C{" mac="}); it is empty for unsigned beats.
    """

    sequence: int
    sent_at: float
    client_id: Optional[str] = None
    boot: Optional[str] = None
    mac: Optional[str] = None
    signed_part: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.sequence <= MAX_SEQUENCE:
            raise LocalProtocolError(f"sequence out of range: {self.sequence}")
        if not math.isfinite(self.sent_at) or self.sent_at < 0:
            raise LocalProtocolError(f"timestamp must be finite and >= 0: {self.sent_at!r}")
        if self.client_id is not None and not CLIENT_ID_PATTERN.match(self.client_id):
            raise LocalProtocolError(f"bad client id {self.client_id!r}")
        if self.boot is not None and not _BOOT.match(self.boot.encode("ascii", "replace")):
            raise LocalProtocolError(f"bad boot id {self.boot!r}")


def new_boot_id(random_bytes: bytes) -> str:
    """
    A boot id from C{BOOT_BYTES} random bytes (the caller supplies them,
    e.g. from C{os.urandom}).  A sender picks one per process start, so a
    restart is recognisable even though its sequence starts at 0 again.
    """
    if len(random_bytes) != BOOT_BYTES:
        raise LocalProtocolError(f"a boot id needs {BOOT_BYTES} random bytes")
    return random_bytes.hex()


def check_key(key: bytes) -> bytes:
    """
    Validate a shared HMAC key (at least C{MIN_KEY_BYTES} bytes).
    """
    if len(key) < MIN_KEY_BYTES:
        raise LocalProtocolError(f"the key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def compute_mac(key: bytes, signed_part: bytes) -> str:
    return hmac.new(key, MAC_LABEL + signed_part, hashlib.sha256).hexdigest()


def encode_beat(
    sequence: int,
    sent_at: float,
    client_id: Optional[str] = None,
    boot: Optional[str] = None,
    key: Optional[bytes] = None,
) -> bytes:
    """
    Encode a beat.  Without C{client_id}, C{boot} and C{key} this is the
    lab's classic C{b"<seq> - <epoch>"}; C{key} requires C{boot}, because
    without it a replayed beat of an earlier run could not be told apart.
    """
    beat = Beat(sequence, sent_at, client_id, boot)
    parts = [b"%d - %.6f" % (beat.sequence, beat.sent_at)]
    if client_id is not None:
        parts.append(b"id=" + client_id.encode("ascii"))
    if boot is not None:
        parts.append(b"boot=" + boot.encode("ascii"))
    line = b" ".join(parts)
    if key is not None:
        if boot is None:
            raise LocalProtocolError("a signed beat needs a boot id")
        line += b" mac=" + compute_mac(check_key(key), line).encode("ascii")
    return line


def decode_beat(data: bytes) -> Beat:
    """
    Decode one datagram.  Surrounding whitespace (a lab client's trailing
    newline) is allowed; anything else outside the grammar is refused.

    @raise PeerProtocolError: with reason L{RejectReason.OVERSIZED} or
        L{RejectReason.MALFORMED}.
    """
    if len(data) > MAX_DATAGRAM_BYTES:
        raise PeerProtocolError(RejectReason.OVERSIZED, f"{len(data)} bytes (limit {MAX_DATAGRAM_BYTES})")
    text = data.strip(b" \t\r\n")
    head = _HEAD.match(text)
    if head is None:
        raise PeerProtocolError(RejectReason.MALFORMED, "not '<sequence> - <timestamp>'")
    sequence = int(head.group(1))
    if sequence > MAX_SEQUENCE:
        raise PeerProtocolError(RejectReason.MALFORMED, "sequence number too large")
    sent_at = float(head.group(2))
    fields: Dict[bytes, bytes] = {}
    rest = text[head.end():]
    signed_part = b""
    if rest:
        if not rest.startswith(b" "):
            raise PeerProtocolError(RejectReason.MALFORMED, "junk after the timestamp")
        for token in rest[1:].split(b" "):
            name, equals, value = token.partition(b"=")
            if not equals or name not in (b"id", b"boot", b"mac") or name in fields:
                raise PeerProtocolError(RejectReason.MALFORMED, f"unexpected field {token[:20]!r}")
            if b"mac" in fields:
                raise PeerProtocolError(RejectReason.MALFORMED, "mac= must be the last field")
            fields[name] = value
    client_id = boot = mac = None
    if b"id" in fields:
        client_id = fields[b"id"].decode("ascii", "replace")
        if not CLIENT_ID_PATTERN.match(client_id):
            raise PeerProtocolError(RejectReason.MALFORMED, "bad client id")
    if b"boot" in fields:
        if not _BOOT.match(fields[b"boot"]):
            raise PeerProtocolError(RejectReason.MALFORMED, "bad boot id")
        boot = fields[b"boot"].decode("ascii")
    if b"mac" in fields:
        if not _MAC.match(fields[b"mac"]) or boot is None:
            raise PeerProtocolError(RejectReason.MALFORMED, "bad mac= (64 hex digits, after boot=)")
        mac = fields[b"mac"].decode("ascii")
        signed_part = text[: text.rindex(b" mac=")]
    return Beat(sequence, sent_at, client_id, boot, mac, signed_part)


def verify_beat(beat: Beat, key: bytes) -> bool:
    """
    Whether C{beat} carries a valid MAC under C{key} (constant-time compare).
    """
    if beat.mac is None:
        return False
    return hmac.compare_digest(compute_mac(key, beat.signed_part), beat.mac)


# --------------------------------------------------------------------------
# Phi accrual failure detector

_LN10 = math.log(10.0)


def phi(elapsed: float, mean: float, std_deviation: float) -> float:
    """
    Akka's phi: C{-log10(1 - F(elapsed))} with F the normal CDF of
    N(mean, std_deviation) approximated by the logistic function
    C{1 / (1 + exp(-y * (1.5976 + 0.070566 * y**2)))},
    C{y = (elapsed - mean) / std_deviation} (error 0.00014 at y = +-3.16).

    Akka writes this as C{-log10(e / (1 + e))} with
    C{e = exp(-y * (1.5976 + 0.070566 * y * y))}; that equals
    C{log10(1 + exp(z))} with C{z = -ln e}, which we evaluate in a form that
    neither overflows nor returns infinity for long silences.
    """
    y = (elapsed - mean) / std_deviation
    z = y * (1.5976 + 0.070566 * y * y)
    if z > 0:
        return (z + math.log1p(math.exp(-z))) / _LN10
    return math.log1p(math.exp(z)) / _LN10


@functools.lru_cache(maxsize=64)
def threshold_y(threshold: float) -> float:
    """
    The C{y} at which L{phi} reaches C{threshold}; phi depends only on y
    and increases with it, so bisection finds it once per threshold.
    """
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2
        if phi(middle, 0.0, 1.0) < threshold:
            low = middle
        else:
            high = middle
    return high


class PhiAccrualDetector:
    """
    The phi accrual failure detector as Akka defines it.

      - The window starts with two made-up intervals, C{first_estimate -+
        first_estimate/4}, so a client that beat once still becomes suspect.
      - The mean used is the window's mean plus C{acceptable_pause}; the
        standard deviation (population) is at least C{min_std_deviation}.
      - An interval is added only if the beat arrived while the client was
        still available (phi below threshold): the first beat after a long
        silence would skew the statistics.

    Per-client state is a ring of floats that grows up to the window size,
    and two running sums, so thousands of detectors are cheap (and a client
    that beat once costs a few bytes).
    """

    __slots__ = (
        "threshold", "min_std_deviation", "acceptable_pause", "_ring", "_capacity", "_next",
        "_sum", "_sum_squares", "last_arrival", "suspect_at",
    )

    def __init__(
        self,
        threshold: float = 8.0,
        max_sample_size: int = 100,
        min_std_deviation: float = 0.1,
        acceptable_pause: float = 0.0,
        first_estimate: float = 1.0,
    ) -> None:
        if not threshold > 0:
            raise LocalProtocolError("threshold must be > 0")
        if max_sample_size < 2:
            raise LocalProtocolError("max_sample_size must be >= 2")
        if not min_std_deviation > 0:
            raise LocalProtocolError("min_std_deviation must be > 0")
        if acceptable_pause < 0:
            raise LocalProtocolError("acceptable_pause must be >= 0")
        if not first_estimate > 0:
            raise LocalProtocolError("first_estimate must be > 0")
        self.threshold = threshold
        self.min_std_deviation = min_std_deviation
        self.acceptable_pause = acceptable_pause
        self._ring = array("d")
        self._capacity = max_sample_size
        self._next = 0
        self._sum = 0.0
        self._sum_squares = 0.0
        self.last_arrival: Optional[float] = None
        #: When phi will reach the threshold if no beat comes (inf before the first beat).
        self.suspect_at = math.inf
        self._add(first_estimate - first_estimate / 4)
        self._add(first_estimate + first_estimate / 4)

    def _add(self, interval: float) -> None:
        ring = self._ring
        if len(ring) < self._capacity:
            ring.append(interval)
        else:
            old = ring[self._next]
            self._sum -= old
            self._sum_squares -= old * old
            ring[self._next] = interval
            self._next = (self._next + 1) % self._capacity
        self._sum += interval
        self._sum_squares += interval * interval

    @property
    def intervals(self) -> List[float]:
        """
        The window, oldest first.
        """
        return list(self._ring[self._next :]) + list(self._ring[: self._next])

    @property
    def mean(self) -> float:
        return self._sum / len(self._ring)

    @property
    def std_deviation(self) -> float:
        """
        Population standard deviation of the window, floored at
        C{min_std_deviation}.
        """
        mean = self.mean
        variance = max(0.0, self._sum_squares / len(self._ring) - mean * mean)
        return max(math.sqrt(variance), self.min_std_deviation)

    def phi(self, now: float) -> float:
        """
        Suspicion at C{now}; 0 before the first beat (nothing monitored yet).
        """
        if self.last_arrival is None:
            return 0.0
        return phi(now - self.last_arrival, self.mean + self.acceptable_pause, self.std_deviation)

    def is_available(self, now: float) -> bool:
        return now < self.suspect_at

    def heartbeat(self, now: float) -> None:
        """
        Record a beat arriving at C{now}.
        """
        if self.last_arrival is not None and self.is_available(now):
            self._add(now - self.last_arrival)
        self.last_arrival = now
        self.suspect_at = now + self.mean + self.acceptable_pause + threshold_y(self.threshold) * self.std_deviation


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


class RejectReason(enum.Enum):
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    ABSURD_TIMESTAMP = "absurd timestamp"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    REPLAYED = "replayed"
    TOO_MANY_CLIENTS = "too many clients"


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
