# -*- test-case-name: tests.ping.test_core -*-
"""
The pure core of netlab-echo and ``netlab ping``: probe payload formats,
the network impairment model, the server's abuse limits, reply matching
and RTT statistics.  Standard library only; time (``now``, seconds) and
randomness (a L{random.Random}) are always passed in.

How it works: the echo server hands every datagram to
L{Impairments.process}, which returns a L{Verdict} saying whether it is
dropped and, if not, which copies to send at which times.  The pinger keeps
a L{PingSession}: it records each probe sent, turns each received datagram
into one event (L{ReplyReceived}, L{DuplicateReply}, L{LateReply},
L{CorruptedReply}, L{ForeignReply}) and each expiry into L{ProbeTimedOut},
and finally builds a L{PingReport}.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
import re
import struct
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

# ---------------------------------------------------------------------------
# Probe payloads


class PayloadFormat(enum.Enum):
    """
    The two classic wire formats of the UDP pinger lab.
    """

    #: ``Ping <sequence> <time>`` (the lab's; its server upper-cases it).
    LAB = "lab"
    #: ``sequence=<n>\ttime=<t>``.
    SEQ = "seq"


#: Filler for ``-s``: printable, so an upper-casing echo keeps it readable.
_FILLER = b"abcdefghijklmnopqrstuvwxyz0123456789"
#: The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
MAX_UDP_PAYLOAD = 65507

_PROBE_PATTERNS = {
    PayloadFormat.LAB: re.compile(rb"\APing ([0-9]{1,18}) ([0-9.]{1,32})(?:[ \t]|\Z)", re.IGNORECASE),
    PayloadFormat.SEQ: re.compile(rb"\Asequence=([0-9]{1,18})\ttime=([0-9.]{1,32})(?:[ \t]|\Z)", re.IGNORECASE),
}


def encode_probe(payload_format: PayloadFormat, sequence: int, timestamp: float, size: Optional[int] = None) -> bytes:
    """
    The payload of probe C{sequence} sent at C{timestamp} (seconds; the
    lab puts the sender's wall clock there, we only show it, never use it).

    With C{size}, the message is padded with a separator and filler to
    exactly C{size} bytes; a C{size} smaller than the bare message leaves it
    unpadded (the sequence and time are never cut).
    """
    if sequence < 0:
        raise ValueError("sequence must be >= 0")
    if payload_format is PayloadFormat.LAB:
        message = b"Ping %d %.6f" % (sequence, timestamp)
        separator = b" "
    else:
        message = b"sequence=%d\ttime=%.6f" % (sequence, timestamp)
        separator = b"\t"
    if size is None or size <= len(message):
        return message
    if size > MAX_UDP_PAYLOAD:
        raise ValueError(f"size must be <= {MAX_UDP_PAYLOAD}")
    padding = size - len(message) - 1
    filler = (_FILLER * (padding // len(_FILLER) + 1))[:padding]
    return message + separator + filler


@dataclass(frozen=True)
class ProbeIdentity:
    """
    What a datagram says about itself: the format and sequence it claims.
    """

    payload_format: PayloadFormat
    sequence: int


def decode_probe(data: bytes) -> Optional[ProbeIdentity]:
    """
    Recognise a probe of either format, in any letter case (the lab's
    reference server upper-cases), or return L{None}.
    """
    for payload_format, pattern in _PROBE_PATTERNS.items():
        match = pattern.match(data)
        if match:
            return ProbeIdentity(payload_format, int(match.group(1)))
    return None


# ---------------------------------------------------------------------------
# The impairment model


class DelayDistribution(enum.Enum):
    """
    Shape of the jitter around the mean delay (netem's ``distribution``).
    """

    UNIFORM = "uniform"
    NORMAL = "normal"
    PARETO = "pareto"


class DropReason(enum.Enum):
    """
    Why the impairment model (not an abuse limit) dropped a datagram.
    """

    RANDOM_LOSS = "loss"
    BURST_LOSS = "burst-loss"
    QUEUE_FULL = "queue-full"


#: Pareto shape used for the ``pareto`` delay distribution; 3 is the
#: smallest integer shape with a finite variance, so the jitter value can be
#: a standard deviation as it is for ``normal``.
PARETO_SHAPE = 3.0
_PARETO_MEAN = PARETO_SHAPE / (PARETO_SHAPE - 1.0)
_PARETO_SD = math.sqrt(PARETO_SHAPE / ((PARETO_SHAPE - 1.0) ** 2 * (PARETO_SHAPE - 2.0)))


@dataclass(frozen=True)
class GilbertElliott:
    """
    netem's ``loss gemodel p [r [1-h [1-k]]]`` parameters, as probabilities.

    @ivar p: probability of going from the good to the bad state.
    @ivar r: probability of going from the bad to the good state
        (netem's default: C{1 - p}).
    @ivar bad_loss: loss probability in the bad state (netem's C{1-h},
        default 1).
    @ivar good_loss: loss probability in the good state (netem's C{1-k},
        default 0).

    With the defaults the stationary loss rate is C{p / (p + r)} and a loss
    burst lasts C{1 / r} packets on average.
    """

    p: float
    r: Optional[float] = None
    bad_loss: float = 1.0
    good_loss: float = 0.0

    def __post_init__(self) -> None:
        if self.r is None:
            object.__setattr__(self, "r", 1.0 - self.p)
        for name in ("p", "r", "bad_loss", "good_loss"):
            _check_probability(name, getattr(self, name))

    @property
    def expected_loss(self) -> float:
        assert self.r is not None
        if self.p + self.r == 0:
            return self.good_loss
        bad = self.p / (self.p + self.r)
        return bad * self.bad_loss + (1 - bad) * self.good_loss


def _check_probability(name: str, value: float) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a probability from 0 to 1, not {value!r}")


@dataclass(frozen=True)
class ImpairmentConfig:
    """
    Every impairment, each independent; all default to "off".

    Applied in netem's order: loss (random, or Gilbert-Elliott when
    C{burst} is set), duplication, corruption, delay with jitter,
    reordering, rate.

    @ivar loss: probability of dropping a datagram.
    @ivar burst: bursty loss instead of C{loss} (both may not be set).
    @ivar delay_seconds: mean added delay.
    @ivar jitter_seconds: spread of the delay: half-width for uniform,
        standard deviation for normal and pareto.  Delays are clamped at 0.
    @ivar duplicate: probability of sending a second copy.
    @ivar reorder: probability that a datagram skips the delay and so
        overtakes the ones held before it (netem's semantics: needs a delay).
    @ivar corrupt: probability of flipping one random bit of a copy.
    @ivar rate_bytes_per_second: link rate (L{None}: unlimited); datagrams
        leave one after another at this rate.
    @ivar limit: the most datagrams held (delayed or queued) at once;
        more are dropped as C{QUEUE_FULL} (netem's ``limit``, default 1000).
    """

    loss: float = 0.0
    burst: Optional[GilbertElliott] = None
    delay_seconds: float = 0.0
    jitter_seconds: float = 0.0
    distribution: DelayDistribution = DelayDistribution.UNIFORM
    duplicate: float = 0.0
    reorder: float = 0.0
    corrupt: float = 0.0
    rate_bytes_per_second: Optional[float] = None
    limit: int = 1000

    def __post_init__(self) -> None:
        for name in ("loss", "duplicate", "reorder", "corrupt"):
            _check_probability(name, getattr(self, name))
        if self.burst is not None and self.loss:
            raise ValueError("choose random loss or bursty loss, not both")
        for name in ("delay_seconds", "jitter_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value < math.inf):
                raise ValueError(f"{name} must be a finite number >= 0, not {value!r}")
        if self.rate_bytes_per_second is not None and not (0 < self.rate_bytes_per_second < math.inf):
            raise ValueError("rate must be > 0 bytes per second")
        if not (isinstance(self.limit, int) and self.limit >= 1):
            raise ValueError("limit must be an integer >= 1")

    @property
    def is_transparent(self) -> bool:
        """
        True when every datagram is echoed at once, unchanged.
        """
        return (
            not self.loss
            and self.burst is None
            and not self.delay_seconds
            and not self.jitter_seconds
            and not self.duplicate
            and not self.reorder
            and not self.corrupt
            and self.rate_bytes_per_second is None
        )


@dataclass(frozen=True)
class Delivery:
    """
    Send C{payload} at time C{at} (never before the C{now} it was decided).
    """

    payload: bytes
    at: float


@dataclass(frozen=True)
class Verdict:
    """
    What happens to one datagram.  When C{dropped} is set, C{deliveries}
    is empty.
    """

    deliveries: Tuple[Delivery, ...]
    dropped: Optional[DropReason] = None
    duplicated: bool = False
    corrupted: int = 0
    reordered: bool = False


class Impairments:
    """
    The impairment model: one object per direction of one link.

    Each impairment draws from its own generator, derived in a fixed order
    from C{rng}, so enabling one impairment never changes the draws of
    another and a seed reproduces a whole run.
    """

    def __init__(self, config: ImpairmentConfig, rng: random.Random) -> None:
        self.config = config
        self._loss_rng = random.Random(rng.getrandbits(64))
        self._duplicate_rng = random.Random(rng.getrandbits(64))
        self._corrupt_rng = random.Random(rng.getrandbits(64))
        self._delay_rng = random.Random(rng.getrandbits(64))
        self._reorder_rng = random.Random(rng.getrandbits(64))
        self._bad_state = False
        self._link_free_at = -math.inf
        self._held: List[float] = []  # heap of departure times

    @property
    def held(self) -> int:
        """
        Datagrams decided but not yet due, as of the last L{process}.
        """
        return len(self._held)

    def process(self, payload: bytes, now: float) -> Verdict:
        config = self.config
        while self._held and self._held[0] <= now:
            heapq.heappop(self._held)

        lost = self._lost()
        if lost is not None:
            return Verdict((), dropped=lost)

        copies = [payload]
        duplicated = bool(config.duplicate) and self._duplicate_rng.random() < config.duplicate
        if duplicated:
            copies.append(payload)

        corrupted = 0
        if config.corrupt:
            for index, copy in enumerate(copies):
                if self._corrupt_rng.random() < config.corrupt and copy:
                    copies[index] = self._flip_bit(copy)
                    corrupted += 1

        reordered = bool(config.reorder) and self._reorder_rng.random() < config.reorder
        deliveries: List[Delivery] = []
        for copy in copies:
            if len(self._held) >= config.limit:
                if not deliveries:
                    return Verdict((), dropped=DropReason.QUEUE_FULL)
                break  # the duplicate does not fit: send the original only
            ready = now if reordered else now + self._delay()
            if config.rate_bytes_per_second is not None:
                start = max(ready, self._link_free_at)
                ready = start + len(copy) / config.rate_bytes_per_second
                self._link_free_at = ready
            if ready > now:
                heapq.heappush(self._held, ready)
            deliveries.append(Delivery(copy, ready))
        return Verdict(
            tuple(deliveries),
            duplicated=len(deliveries) > 1,
            corrupted=corrupted,
            reordered=reordered,
        )

    def _lost(self) -> Optional[DropReason]:
        config = self.config
        if config.burst is not None:
            model = config.burst
            # netem's Gilbert-Elliott: the loss draw uses the state the
            # packet arrives in; the transition draw moves the chain on.
            rng = self._loss_rng
            if self._bad_state:
                lost = rng.random() < model.bad_loss
                if rng.random() < model.r:  # type: ignore[operator]
                    self._bad_state = False
            else:
                lost = rng.random() < model.good_loss
                if rng.random() < model.p:
                    self._bad_state = True
            return DropReason.BURST_LOSS if lost else None
        if config.loss and self._loss_rng.random() < config.loss:
            return DropReason.RANDOM_LOSS
        return None

    def _delay(self) -> float:
        config = self.config
        if not config.jitter_seconds:
            return config.delay_seconds
        rng = self._delay_rng
        if config.distribution is DelayDistribution.UNIFORM:
            offset = rng.uniform(-config.jitter_seconds, config.jitter_seconds)
        elif config.distribution is DelayDistribution.NORMAL:
            offset = rng.gauss(0.0, config.jitter_seconds)
        else:
            standard = (rng.paretovariate(PARETO_SHAPE) - _PARETO_MEAN) / _PARETO_SD
            offset = standard * config.jitter_seconds
        return max(0.0, config.delay_seconds + offset)

    def _flip_bit(self, payload: bytes) -> bytes:
        # netem corrupts by flipping one random bit of one random byte.
        data = bytearray(payload)
        index = self._corrupt_rng.randrange(len(data))
        data[index] ^= 1 << self._corrupt_rng.randrange(8)
        return bytes(data)


class Direction(enum.Enum):
    """
    Where on the echo path an impairment stage sits.

    C{INBOUND} is client to server: it acts on the request as it arrives,
    before the server decides what to echo.  C{ROUND_TRIP} is the historical
    single stage (``--loss``, ``--delay``, ...): applied once per echo, as
    the echo is decided.  C{OUTBOUND} is server to client: it acts on each
    echo as it leaves.
    """

    INBOUND = "in"
    ROUND_TRIP = "round-trip"
    OUTBOUND = "out"


class EchoPath:
    """
    The impairments of a whole echo: an inbound, a round-trip and an
    outbound L{Impairments} stage, in that order.

    Each stage has its own random stream.  The round-trip stage takes its
    streams from C{rng} first, exactly as a lone L{Impairments} does, so a
    seed gives the same round-trip results whether or not the per-direction
    stages are configured; the inbound and then the outbound stage each get
    a generator seeded from C{rng} after it.

    The path is pure: a caller feeds a datagram to a stage with the time it
    reaches that stage, and feeds each resulting L{Delivery} to the next
    stage at its C{at} time (L{next_direction}).  Stages never look ahead in
    time, so rate limits and queue caps hold per direction.
    """

    ORDER = (Direction.INBOUND, Direction.ROUND_TRIP, Direction.OUTBOUND)

    def __init__(
        self,
        round_trip: ImpairmentConfig,
        rng: random.Random,
        inbound: ImpairmentConfig = ImpairmentConfig(),
        outbound: ImpairmentConfig = ImpairmentConfig(),
    ) -> None:
        round_trip_stage = Impairments(round_trip, rng)
        inbound_stage = Impairments(inbound, random.Random(rng.getrandbits(64)))
        outbound_stage = Impairments(outbound, random.Random(rng.getrandbits(64)))
        self.stages: Dict[Direction, Impairments] = {
            Direction.INBOUND: inbound_stage,
            Direction.ROUND_TRIP: round_trip_stage,
            Direction.OUTBOUND: outbound_stage,
        }

    @property
    def is_transparent(self) -> bool:
        """
        True when every stage echoes at once, unchanged.
        """
        return all(stage.config.is_transparent for stage in self.stages.values())

    def process(self, direction: Direction, payload: bytes, now: float) -> Verdict:
        """
        Pass C{payload}, reaching C{direction}'s stage at C{now}, through it.
        A transparent stage delivers at once, unchanged, drawing nothing.
        """
        stage = self.stages[direction]
        if stage.config.is_transparent:
            return Verdict((Delivery(payload, now),))
        return stage.process(payload, now)

    @classmethod
    def next_direction(cls, direction: Direction) -> Optional[Direction]:
        """
        The stage after C{direction}, or L{None} after the outbound one (the
        datagram is on the wire to the client).
        """
        index = cls.ORDER.index(direction) + 1
        return cls.ORDER[index] if index < len(cls.ORDER) else None


# ---------------------------------------------------------------------------
# Abuse limits of the echo server


class Refusal(enum.Enum):
    """
    Why the echo server refused to answer a datagram (abuse limits).
    """

    OVERSIZE = "oversize"
    RATE_LIMITED = "rate-limited"
    PRIVILEGED_PORT = "privileged-port"


#: Echo (7) and chargen (19) answer anything: echoing to them makes two
#: servers bounce a datagram forever.  Every port below 1024 is refused by
#: default for the same reason (other reflectors live there).
REFLECTOR_PORTS = frozenset({7, 19})


@dataclass(frozen=True)
class AbuseLimits:
    """
    @ivar max_datagram: larger datagrams are not echoed.
    @ivar source_rate: packets per second one source address may get
        echoed (token bucket of C{source_burst}); 0 disables the cap.
    @ivar max_sources: sources tracked by the rate cap (least recently seen
        forgotten first), which bounds its memory.
    @ivar allow_low_ports: echo to source ports below 1024 too (never to
        port 0).
    """

    max_datagram: int = 8192
    source_rate: float = 1000.0
    source_burst: float = 1000.0
    max_sources: int = 4096
    allow_low_ports: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.max_datagram <= 65535:
            raise ValueError("max_datagram must be from 1 to 65535")
        if self.source_rate < 0 or self.source_burst < 1:
            raise ValueError("source_rate must be >= 0 and source_burst >= 1")
        if self.max_sources < 1:
            raise ValueError("max_sources must be >= 1")


class AbuseGuard:
    """
    Decide whether a datagram from C{(host, port)} may be echoed at all.
    """

    def __init__(self, limits: AbuseLimits) -> None:
        self.limits = limits
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()

    def check(self, size: int, host: str, port: int, now: float) -> Optional[Refusal]:
        limits = self.limits
        if size > limits.max_datagram:
            return Refusal.OVERSIZE
        if port == 0 or port in REFLECTOR_PORTS or (port < 1024 and not limits.allow_low_ports):
            return Refusal.PRIVILEGED_PORT
        if limits.source_rate and not self._take_token(host, now):
            return Refusal.RATE_LIMITED
        return None

    def _take_token(self, host: str, now: float) -> bool:
        limits = self.limits
        tokens, stamp = self._buckets.pop(host, (limits.source_burst, now))
        tokens = min(limits.source_burst, tokens + max(0.0, now - stamp) * limits.source_rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[host] = (tokens, now)
        while len(self._buckets) > limits.max_sources:
            self._buckets.popitem(last=False)
        return allowed


@dataclass
class EchoCounters:
    """
    The echo server's running totals (for the periodic summary).
    """

    received: int = 0
    echoed: int = 0
    dropped: int = 0
    duplicated: int = 0
    corrupted: int = 0
    reordered: int = 0
    refused: Dict[Refusal, int] = field(default_factory=lambda: {reason: 0 for reason in Refusal})
    drops: Dict[DropReason, int] = field(default_factory=lambda: {reason: 0 for reason in DropReason})
    #: Impairment drops by the stage that dropped (write errors are not here).
    stage_drops: Dict[Direction, int] = field(default_factory=lambda: {direction: 0 for direction in Direction})

    def snapshot(self) -> Tuple[int, ...]:
        return (
            self.received,
            self.echoed,
            self.dropped,
            self.duplicated,
            self.corrupted,
            self.reordered,
            *self.refused.values(),
        )


# ---------------------------------------------------------------------------
# RTT statistics


def iputils_sqrt(value: int) -> int:
    """
    iputils' ``llsqrt``: Newton's iteration on integers, returning the last
    iterate (which can exceed the floor square root by one, e.g. 3 -> 2).
    """
    previous = None
    x = value
    if x > 0:
        while previous is None or x < previous:
            previous = x
            x = (x + value // x) // 2
    return x


@dataclass(frozen=True)
class RttSummary:
    """
    iputils' min/avg/max/mdev, in integer microseconds as iputils keeps them.
    """

    min_us: int
    avg_us: int
    max_us: int
    mdev_us: int

    def iputils_line(self) -> str:
        return "rtt min/avg/max/mdev = %s/%s/%s/%s ms" % tuple(
            format_us(value) for value in (self.min_us, self.avg_us, self.max_us, self.mdev_us)
        )


def format_us(value: int) -> str:
    """
    Microseconds as ``ms.uuu``, iputils' ``%ld.%03ld``.
    """
    return "%d.%03d" % (value // 1000, value % 1000)


def rtt_summary(rtts_us: Sequence[int]) -> Optional[RttSummary]:
    """
    min/avg/max/mdev exactly as iputils' ``ping_common.c`` computes them:
    integer microseconds, duplicates included, avg truncated, and the
    variance as C{(sum2 - sum*sum/n) / n} in integer arithmetic while the
    sum is below C{INT_MAX} (C{sum2/n - avg*avg} above), then ``llsqrt``.
    """
    if not rtts_us:
        return None
    total = len(rtts_us)
    tsum = sum(rtts_us)
    tsum2 = sum(value * value for value in rtts_us)
    average = tsum // total
    if tsum < 2**31 - 1:
        variance = (tsum2 - (tsum * tsum) // total) // total
    else:
        variance = tsum2 // total - average * average
    return RttSummary(min(rtts_us), average, max(rtts_us), iputils_sqrt(variance))


def seconds_to_us(seconds: float) -> int:
    """
    A duration in whole microseconds (rounded, never negative).
    """
    return max(0, int(round(seconds * 1_000_000)))


def interarrival_jitter(transits: Sequence[Tuple[float, float]]) -> float:
    """
    RFC 3550 6.4.1 interarrival jitter, in seconds, of C{(sent, received)}
    pairs in arrival order: C{J += (|D| - J) / 16} with C{D} the change in
    transit time between consecutive packets.
    """
    jitter = 0.0
    previous: Optional[float] = None
    for sent, received in transits:
        transit = received - sent
        if previous is not None:
            jitter += (abs(transit - previous) - jitter) / 16.0
        previous = transit
    return jitter


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """
    Nearest-rank percentile (the smallest value with at least C{fraction}
    of the values at or below it); L{None} for no values.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError("fraction must be in (0, 1]")
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


#: Upper edges (ms) of the histogram buckets: 1-2-5 steps.
HISTOGRAM_EDGES_MS: Tuple[float, ...] = tuple(
    mantissa * 10.0**exponent for exponent in range(-2, 6) for mantissa in (1, 2, 5)
)


def histogram(rtts_ms: Sequence[float]) -> List[Tuple[float, float, int]]:
    """
    C{(low_ms, high_ms, count)} buckets on a 1-2-5 scale from the first to
    the last non-empty one (a bucket holds C{low <= rtt < high}); a run of
    empty buckets is merged into one.
    """
    if not rtts_ms:
        return []
    edges = (0.0,) + HISTOGRAM_EDGES_MS + (math.inf,)
    counts = [0] * (len(edges) - 1)
    for value in rtts_ms:
        for index in range(len(counts)):
            if value < edges[index + 1]:
                counts[index] += 1
                break
    used = [index for index, count in enumerate(counts) if count]
    buckets: List[Tuple[float, float, int]] = []
    for index in range(used[0], used[-1] + 1):
        low, high, count = edges[index], edges[index + 1], counts[index]
        if not count and buckets and not buckets[-1][2]:
            buckets[-1] = (buckets[-1][0], high, 0)  # one line for a run of empty buckets
        else:
            buckets.append((low, high, count))
    return buckets


def format_histogram(rtts_ms: Sequence[float], width: int = 40) -> List[str]:
    """
    The compact text histogram: one line per bucket, a bar of ``#``
    scaled so the fullest bucket is C{width} long.
    """
    buckets = histogram(rtts_ms)
    if not buckets:
        return []
    peak = max(count for _, _, count in buckets)
    lines = []
    for low, high, count in buckets:
        bar = "#" * (math.ceil(count * width / peak) if count else 0)
        upper = "inf" if high == math.inf else "%g" % high
        lines.append("%9s - %-6s ms %-*s %d" % ("%g" % low, upper, width, bar, count))
    return lines


def loss_percent_text(transmitted: int, received: int) -> str:
    """
    iputils' ``%g%%``: the loss computed in double, printed as a C float.
    """
    if not transmitted:
        return "0%"
    loss = ((transmitted - received) * 100.0) / transmitted
    single = struct.unpack("f", struct.pack("f", loss))[0]
    return "%g%%" % single


# ---------------------------------------------------------------------------
# The pinger's reply matching


class ProbeFate(enum.Enum):
    """
    What became of one probe, as reported per probe.
    """

    REPLIED = "replied"
    LATE = "late"  # the reply came after the probe's timeout
    LOST = "lost"  # no reply within the timeout (and none later)
    UNANSWERED = "unanswered"  # still waiting when the run stopped


@dataclass(frozen=True)
class ProbeSent:
    sequence: int
    size: int


@dataclass(frozen=True)
class ReplyReceived:
    sequence: int
    size: int
    rtt_seconds: float
    reordered: bool


@dataclass(frozen=True)
class DuplicateReply:
    sequence: int
    size: int
    rtt_seconds: float


@dataclass(frozen=True)
class LateReply:
    """
    A reply to a probe whose timeout had already passed: reported for its
    own sequence, never credited to another probe, not counted as received.
    """

    sequence: int
    size: int
    rtt_seconds: float


@dataclass(frozen=True)
class CorruptedReply:
    """
    A reply that names one of our sequences but differs from the probe.
    """

    sequence: int
    size: int


@dataclass(frozen=True)
class ForeignReply:
    """
    A datagram that is not a reply to any probe we sent.
    """

    size: int
    reason: str


@dataclass(frozen=True)
class ProbeTimedOut:
    sequence: int


@dataclass(frozen=True)
class SendFailed:
    sequence: Optional[int]
    reason: str


PingEvent = Union[
    ProbeSent, ReplyReceived, DuplicateReply, LateReply, CorruptedReply, ForeignReply, ProbeTimedOut, SendFailed
]


@dataclass
class _Probe:
    sequence: int
    payload: bytes
    sent_at: float
    deadline: float
    fate: ProbeFate = ProbeFate.UNANSWERED
    rtt_seconds: Optional[float] = None
    duplicates: int = 0
    reordered: bool = False


@dataclass(frozen=True)
class ProbeRecord:
    """
    One probe's fate in the report (C{rtt_ms} of its first reply, late
    or not).
    """

    sequence: int
    fate: ProbeFate
    rtt_ms: Optional[float]
    duplicates: int
    reordered: bool


@dataclass(frozen=True)
class PingReport:
    """
    The result of a ping run.  C{loss_percent} counts every transmitted
    probe without an in-time reply (late ones included), as iputils does
    for probes it never matched.  C{elapsed_seconds} runs from the first to
    the last probe sent, as iputils' ``time``.
    """

    host: str
    port: int
    transmitted: int
    received: int
    duplicates: int
    corrupted: int
    errors: int
    late: int
    reordered: int
    foreign: int
    elapsed_seconds: float
    rtt: Optional[RttSummary]
    jitter_ms: Optional[float]
    percentiles_ms: Dict[str, Optional[float]]
    rtts_ms: Tuple[float, ...]
    probes: Tuple[ProbeRecord, ...]

    @property
    def loss_percent(self) -> float:
        if not self.transmitted:
            return 0.0
        return (self.transmitted - self.received) * 100.0 / self.transmitted

    def summary_lines(self, name: str) -> List[str]:
        """
        iputils' closing lines, word for word, then our additions.
        """
        counts = f"{self.transmitted} packets transmitted, {self.received} received"
        if self.duplicates:
            counts += f", +{self.duplicates} duplicates"
        if self.corrupted:
            counts += f", +{self.corrupted} corrupted"
        if self.errors:
            counts += f", +{self.errors} errors"
        if self.transmitted:
            counts += ", %s packet loss" % loss_percent_text(self.transmitted, self.received)
            counts += ", time %dms" % int(math.floor(self.elapsed_seconds * 1000 + 0.5))
        lines = [f"--- {name} ping statistics ---", counts]
        if self.rtt is not None and self.received:
            lines.append(self.rtt.iputils_line())
        extra = f"{self.reordered} reordered, {self.late} late, {self.foreign} foreign"
        if self.jitter_ms is not None:
            extra = "jitter %.3f ms, %s" % (self.jitter_ms, extra)
        lines.append(extra)
        histogram_lines = format_histogram(self.rtts_ms)
        if histogram_lines:
            lines.append("rtt histogram:")
            lines.extend(histogram_lines)
        return lines

    def as_json(self) -> dict:
        rtt = None
        if self.rtt is not None:
            rtt = {
                "min_ms": self.rtt.min_us / 1000.0,
                "avg_ms": self.rtt.avg_us / 1000.0,
                "max_ms": self.rtt.max_us / 1000.0,
                "mdev_ms": self.rtt.mdev_us / 1000.0,
            }
        return {
            "host": self.host,
            "port": self.port,
            "transmitted": self.transmitted,
            "received": self.received,
            "duplicates": self.duplicates,
            "corrupted": self.corrupted,
            "errors": self.errors,
            "late": self.late,
            "reordered": self.reordered,
            "foreign": self.foreign,
            "loss_percent": self.loss_percent,
            "time_ms": round(self.elapsed_seconds * 1000.0, 3),
            "rtt": rtt,
            "jitter_ms": None if self.jitter_ms is None else round(self.jitter_ms, 3),
            "percentiles_ms": {
                name: None if value is None else round(value, 3) for name, value in self.percentiles_ms.items()
            },
            "histogram": [
                {"low_ms": low, "high_ms": None if high == math.inf else high, "count": count}
                for low, high, count in histogram(self.rtts_ms)
            ],
            "probes": [
                {
                    "sequence": probe.sequence,
                    "fate": probe.fate.value,
                    "rtt_ms": probe.rtt_ms,
                    "duplicates": probe.duplicates,
                    "reordered": probe.reordered,
                }
                for probe in self.probes
            ],
        }


class PingSession:
    """
    Reply matching for one ping run, by sequence number.

    A reply matches probe I{n} only if it is byte for byte the payload of
    probe I{n}, or that payload upper-cased (the lab's reference server).
    A reply naming a sequence we sent but otherwise different is
    I{corrupted}; anything else is I{foreign}.  A reply is I{reordered}
    when a higher sequence was already answered (RFC 4737's notion).
    """

    def __init__(
        self,
        payload_format: PayloadFormat = PayloadFormat.LAB,
        timeout_seconds: float = 1.0,
        size: Optional[int] = None,
        first_sequence: int = 1,
    ) -> None:
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be > 0")
        self.payload_format = payload_format
        self.timeout_seconds = timeout_seconds
        self.size = size
        self._next_sequence = first_sequence
        self._probes: "OrderedDict[int, _Probe]" = OrderedDict()
        self._highest_answered: Optional[int] = None
        self._rtts_us: List[int] = []  # iputils' population: in-time replies and duplicates
        self._transits: List[Tuple[float, float]] = []  # (sent, received), arrival order, first replies
        self.started_at: Optional[float] = None
        self.last_sent_at: Optional[float] = None
        self.last_activity: Optional[float] = None
        self.received = 0
        self.duplicates = 0
        self.corrupted = 0
        self.errors = 0
        self.late = 0
        self.reordered = 0
        self.foreign = 0

    @property
    def transmitted(self) -> int:
        return len(self._probes)

    @property
    def outstanding(self) -> int:
        """
        Probes still inside their timeout without a reply.
        """
        return sum(1 for probe in self._probes.values() if probe.fate is ProbeFate.UNANSWERED)

    def next_probe(self, now: float, wall_time: float) -> Tuple[int, bytes]:
        """
        Allocate and record the next probe sent at monotonic C{now};
        C{wall_time} only goes into the payload, as the lab does.
        """
        sequence = self._next_sequence
        self._next_sequence += 1
        payload = encode_probe(self.payload_format, sequence, wall_time, self.size)
        self._probes[sequence] = _Probe(sequence, payload, now, now + self.timeout_seconds)
        if self.started_at is None:
            self.started_at = now
        self.last_sent_at = now
        self.last_activity = now
        return sequence, payload

    def send_failed(self, sequence: int, reason: str) -> SendFailed:
        """
        The probe could not be sent (iputils counts it as transmitted and
        as an error).
        """
        probe = self._probes.get(sequence)
        if probe is not None:
            probe.fate = ProbeFate.LOST
        self.errors += 1
        return SendFailed(sequence, reason)

    def foreign_received(self, size: int, reason: str) -> ForeignReply:
        """
        A datagram the adapter knows is not ours (e.g. from another address).
        """
        self.foreign += 1
        return ForeignReply(size, reason)

    def reply_received(self, data: bytes, now: float) -> PingEvent:
        self.last_activity = now
        identity = decode_probe(data)
        if identity is None:
            self.foreign += 1
            return ForeignReply(len(data), "not a probe")
        probe = self._probes.get(identity.sequence)
        if probe is None:
            self.foreign += 1
            return ForeignReply(len(data), f"sequence {identity.sequence} was never sent")
        if data != probe.payload and data != probe.payload.upper():
            self.corrupted += 1
            return CorruptedReply(probe.sequence, len(data))
        rtt = max(0.0, now - probe.sent_at)
        if probe.fate is ProbeFate.REPLIED:
            probe.duplicates += 1
            self.duplicates += 1
            self._rtts_us.append(seconds_to_us(rtt))
            return DuplicateReply(probe.sequence, len(data), rtt)
        if probe.fate is ProbeFate.LATE:
            probe.duplicates += 1
            return LateReply(probe.sequence, len(data), rtt)
        if probe.fate is ProbeFate.LOST or now > probe.deadline:
            probe.fate = ProbeFate.LATE
            probe.rtt_seconds = rtt
            self.late += 1
            return LateReply(probe.sequence, len(data), rtt)
        probe.fate = ProbeFate.REPLIED
        probe.rtt_seconds = rtt
        self.received += 1
        self._rtts_us.append(seconds_to_us(rtt))
        self._transits.append((probe.sent_at, now))
        reordered = self._highest_answered is not None and probe.sequence < self._highest_answered
        if reordered:
            probe.reordered = True
            self.reordered += 1
        else:
            self._highest_answered = probe.sequence
        return ReplyReceived(probe.sequence, len(data), rtt, reordered)

    def expire(self, now: float) -> List[ProbeTimedOut]:
        """
        Mark every unanswered probe whose timeout has passed as lost.
        """
        events = []
        for probe in self._probes.values():
            if probe.fate is ProbeFate.UNANSWERED and probe.deadline <= now:
                probe.fate = ProbeFate.LOST
                events.append(ProbeTimedOut(probe.sequence))
        return events

    def time_out(self, sequence: int) -> Optional[ProbeTimedOut]:
        """
        Probe C{sequence}'s timer fired: it is lost unless answered.  (The
        adapter's timer, not a comparison of clocks, decides, so a timer
        that fires a hair early by the monotonic clock cannot strand a run.)
        """
        probe = self._probes.get(sequence)
        if probe is None or probe.fate is not ProbeFate.UNANSWERED:
            return None
        probe.fate = ProbeFate.LOST
        return ProbeTimedOut(sequence)

    def report(self, host: str, port: int) -> PingReport:
        """
        The report so far; its time is iputils' (first to last probe sent).
        """
        elapsed = 0.0
        if self.started_at is not None and self.last_sent_at is not None:
            elapsed = self.last_sent_at - self.started_at
        rtts_ms = tuple(value / 1000.0 for value in self._rtts_us)
        first_rtts_ms = [probe.rtt_seconds * 1000.0 for probe in self._probes.values()
                         if probe.fate is ProbeFate.REPLIED and probe.rtt_seconds is not None]
        percentiles = {
            name: percentile(first_rtts_ms, fraction)
            for name, fraction in (("p50", 0.50), ("p90", 0.90), ("p99", 0.99))
        }
        return PingReport(
            host=host,
            port=port,
            transmitted=self.transmitted,
            received=self.received,
            duplicates=self.duplicates,
            corrupted=self.corrupted,
            errors=self.errors,
            late=self.late,
            reordered=self.reordered,
            foreign=self.foreign,
            elapsed_seconds=elapsed,
            rtt=rtt_summary(self._rtts_us),
            jitter_ms=interarrival_jitter(self._transits) * 1000.0 if self._transits else None,
            percentiles_ms=percentiles,
            rtts_ms=rtts_ms,
            probes=tuple(
                ProbeRecord(
                    probe.sequence,
                    probe.fate,
                    None if probe.rtt_seconds is None else round(probe.rtt_seconds * 1000.0, 3),
                    probe.duplicates,
                    probe.reordered,
                )
                for probe in self._probes.values()
            ),
        )
