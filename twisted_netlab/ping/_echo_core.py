# -*- test-case-name: tests.ping.test_echo_core -*-
"""
The pure core of netlab-echo: the network impairment model (netem's
loss, duplication, corruption, delay, reordering and rate, per direction)
and the server's abuse limits.  Standard library only; time (``now``,
seconds) and randomness (a L{random.Random}) are always passed in.

How it works: the echo adapter hands every datagram to L{AbuseGuard.check},
then to the stages of an L{EchoPath} (each an L{Impairments}), which
return a L{Verdict} saying whether it is dropped and, if not, which copies
to send at which times.
"""

from __future__ import annotations

import enum
import heapq
import math
import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Protocol, Tuple

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


class StagedPath(Protocol):
    """
    What the echo adapter needs of a path: L{EchoPath}, or a scripted
    stand-in (an instrument that decides each datagram's fate itself).
    """

    @property
    def is_transparent(self) -> bool:
        """
        True when every datagram is echoed at once, unchanged (the adapter
        then skips the stages).
        """

    def process(self, direction: Direction, payload: bytes, now: float) -> Verdict:
        """
        Pass C{payload}, reaching C{direction}'s stage at C{now}, through it.
        """


# ---------------------------------------------------------------------------
# Abuse limits of the echo server


class Refusal(enum.Enum):
    """
    Why the echo server refused to answer a datagram (abuse limits).
    """

    OVERSIZE = "oversize"
    RATE_LIMITED = "rate-limited"
    PRIVILEGED_PORT = "privileged-port"
    #: The source port is a known UDP service that answers (or amplifies)
    #: whatever it receives: echoing to it starts a loop or a reflection.
    SERVICE_PORT = "service-port"
    #: Byte for byte an echo this server sent less than a second ago: the
    #: signature of two echo servers bouncing one datagram.
    LOOP = "loop-suspected"
    #: Over the global budget of echoes per second (all sources together).
    OVER_BUDGET = "over-budget"


#: UDP services that answer any datagram, many with more bytes than they
#: got (the usual reflection and amplification list: US-CERT TA14-017A and
#: later advisories).  Echoing to one of them makes two servers bounce a
#: datagram for ever, or reflects traffic at a victim, so these source
#: ports are refused whatever their number, even with low ports allowed.
SERVICE_PORTS: Dict[int, str] = {
    7: "echo",
    13: "daytime",
    17: "qotd",
    19: "chargen",
    37: "time",
    53: "dns",
    69: "tftp",
    111: "portmap",
    123: "ntp",
    137: "netbios-ns",
    161: "snmp",
    389: "cldap",
    520: "rip",
    1900: "ssdp",
    3283: "ard",
    3702: "ws-discovery",
    5353: "mdns",
    5683: "coap",
    10001: "ubiquiti-discovery",
    11211: "memcached",
    27015: "steam",
    27960: "quake3",
}

#: The refused service ports, as a set.
REFLECTOR_PORTS = frozenset(SERVICE_PORTS)


@dataclass(frozen=True)
class AbuseLimits:
    """
    @ivar max_datagram: larger datagrams are not echoed.
    @ivar source_rate: packets per second one source address may get
        echoed (token bucket of C{source_burst}); 0 disables the cap.
    @ivar max_sources: sources tracked by the rate cap (least recently seen
        forgotten first), which bounds its memory.
    @ivar allow_low_ports: echo to source ports below 1024 too (never to
        port 0 nor to a known service port, L{SERVICE_PORTS}).
    @ivar global_rate: echoes per second for all sources together (token
        bucket of one second's worth); 0 leaves only the bound below.
        Whatever it is set to, with a per-source cap the budget is at most
        C{max_sources * source_rate}: forgetting a source hands out a fresh
        bucket, and this bound is what keeps table eviction from ever
        raising the total rate.
    @ivar loop_window_seconds: a datagram byte-identical to an echo sent
        this recently is refused (L{Refusal.LOOP}).
    @ivar max_remembered: echoes remembered for that rule (oldest
        forgotten first), which bounds its memory.
    """

    max_datagram: int = 8192
    source_rate: float = 1000.0
    source_burst: float = 1000.0
    max_sources: int = 4096
    allow_low_ports: bool = False
    global_rate: float = 10000.0
    loop_window_seconds: float = 1.0
    max_remembered: int = 65536

    def __post_init__(self) -> None:
        if not 1 <= self.max_datagram <= 65535:
            raise ValueError("max_datagram must be from 1 to 65535")
        if self.source_rate < 0 or self.source_burst < 1:
            raise ValueError("source_rate must be >= 0 and source_burst >= 1")
        if self.max_sources < 1:
            raise ValueError("max_sources must be >= 1")
        if not self.global_rate >= 0:
            raise ValueError("global_rate must be >= 0")
        if not (self.loop_window_seconds >= 0 and self.max_remembered >= 1):
            raise ValueError("loop_window_seconds must be >= 0 and max_remembered >= 1")

    @property
    def global_budget(self) -> Optional[float]:
        """
        Echoes per second for all sources together (L{None}: no bound):
        C{global_rate}, and never more than C{max_sources * source_rate}.
        """
        bounds = []
        if self.global_rate:
            bounds.append(self.global_rate)
        if self.source_rate:
            bounds.append(self.max_sources * self.source_rate)
        return min(bounds) if bounds else None


class AbuseGuard:
    """
    Decide whether a datagram from C{(host, port)} may be echoed at all,
    and remember what was echoed (L{echoed}) for the loop rule.

    Checks, cheapest first: size, source port, loop signature, the
    source's token bucket, then the global one (a source over its own cap
    never spends the global budget).  Both buckets refill at their rate and
    hold at most their burst, however long the silence.

    Echoes are remembered by Python's C{hash} of their bytes (SipHash with
    a per-process random key, so a sender cannot craft collisions to get
    other datagrams refused) and the time they left, in two generations
    of at most a window each: the current one takes new echoes, the
    previous one is still looked at, and when the current one is a window
    old (or holds half of C{max_remembered}) the previous is dropped whole.
    That keeps the cost per datagram at two dictionary look-ups, with no
    sweep.
    """

    def __init__(self, limits: AbuseLimits) -> None:
        self.limits = limits
        self._buckets: "OrderedDict[str, Tuple[float, float]]" = OrderedDict()
        budget = limits.global_budget
        self._budget_rate = budget
        self._budget_burst = max(1.0, budget) if budget is not None else 0.0
        self._budget_tokens = self._budget_burst
        self._budget_stamp: Optional[float] = None
        self._current: Dict[int, float] = {}
        self._previous: Dict[int, float] = {}
        self._generation_started = -math.inf
        self._rotate_at = -math.inf  # when the current generation is a window old
        self._generation_cap = max(1, limits.max_remembered // 2)

    @property
    def remembered(self) -> int:
        """
        Echoes held in the loop memory.
        """
        return len(self._current) + len(self._previous)

    def check(self, datagram: bytes, host: str, port: int, now: float) -> Optional[Refusal]:
        limits = self.limits
        if len(datagram) > limits.max_datagram:
            return Refusal.OVERSIZE
        if port < 1024 and (port == 0 or not limits.allow_low_ports):
            return Refusal.PRIVILEGED_PORT
        if port in REFLECTOR_PORTS:
            return Refusal.SERVICE_PORT
        current = self._current
        if current:
            key = hash(datagram)
            sent_at = current.get(key)
            if sent_at is None:
                sent_at = self._previous.get(key)
            if sent_at is not None and now - sent_at < limits.loop_window_seconds:
                return Refusal.LOOP
        if limits.source_rate and not self._take_token(host, now):
            return Refusal.RATE_LIMITED
        if self._budget_rate is not None and not self._take_budget(now):
            return Refusal.OVER_BUDGET
        return None

    def echoed(self, payload: bytes, now: float) -> None:
        """
        C{payload} left as an echo at C{now}: refuse it back for the window.
        """
        current = self._current
        if now >= self._rotate_at or len(current) >= self._generation_cap:
            window = self.limits.loop_window_seconds
            # Past two windows nothing in the current one is recent either.
            self._previous = current if now - self._generation_started < 2 * window else {}
            self._current = current = {}
            self._generation_started = now
            self._rotate_at = now + window
        current[hash(payload)] = now

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

    def _take_budget(self, now: float) -> bool:
        assert self._budget_rate is not None
        if self._budget_stamp is not None:
            refill = max(0.0, now - self._budget_stamp) * self._budget_rate
            self._budget_tokens = min(self._budget_burst, self._budget_tokens + refill)
        self._budget_stamp = now
        if self._budget_tokens >= 1.0:
            self._budget_tokens -= 1.0
            return True
        return False


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

