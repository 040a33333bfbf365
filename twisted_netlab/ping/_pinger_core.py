# -*- test-case-name: tests.ping.test_pinger_core -*-
"""
The pure core of ``netlab ping``: reply matching by sequence
(L{PingSession}), iputils' RTT statistics and the report.  Standard library
only; time (``now``, seconds) is always passed in.

How it works: the pinger keeps a L{PingSession}: it records each probe
sent, turns each received datagram into one event (L{ReplyReceived},
L{DuplicateReply}, L{LateReply}, L{CorruptedReply}, L{ForeignReply}) and
each expiry into L{ProbeTimedOut}, and finally builds a L{PingReport}.
"""

from __future__ import annotations

import enum
import math
import struct
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

from twisted_netlab.ping._probe import PayloadFormat, decode_probe, encode_probe

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
    ERROR = "error"  # an ICMP error came back for it (port unreachable, ...)


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


@dataclass(frozen=True)
class ProbeError:
    """
    An ICMP error came back for probe C{sequence} (iputils prints these as
    ``From <source> icmp_seq=<n> <text>`` and counts them as errors): the
    probe is over, unanswered.
    """

    sequence: int
    source: str
    text: str


PingEvent = Union[
    ProbeSent,
    ReplyReceived,
    DuplicateReply,
    LateReply,
    CorruptedReply,
    ForeignReply,
    ProbeTimedOut,
    SendFailed,
    ProbeError,
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

    def error_received(self, payload: bytes, source: str, text: str) -> Optional[ProbeError]:
        """
        An ICMP error quoting C{payload} (the start of the datagram that
        caused it) came from C{source}.  If it is one of our probes still
        waiting, that probe is over and counted as an error (iputils'
        ``+N errors``); errors about anything else are not ours to count.
        """
        identity = decode_probe(payload)
        if identity is None:
            return None
        probe = self._probes.get(identity.sequence)
        if probe is None or probe.fate is not ProbeFate.UNANSWERED or not probe.payload.startswith(payload):
            return None
        probe.fate = ProbeFate.ERROR
        self.errors += 1
        return ProbeError(probe.sequence, source, text)

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

