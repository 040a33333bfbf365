# -*- test-case-name: tests.check.test_student_output -*-
"""
Reading what a student's program prints (pure, standard library only):
the per-probe lines and the statistics of a UDP pinger, the events of a
heartbeat monitor.  Free-form output is read with the forms students and
tools commonly use; a line that looks relevant but holds no number we can
trust is kept as I{unparsed}, so a judge says ``skip`` with that line, never
a false ``fail``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class OutputLine:
    """
    One line a program wrote, C{at} seconds after the session began, on
    C{stream} (``"out"`` or ``"err"``).
    """

    at: float
    stream: str
    text: str


# -- the pinger ---------------------------------------------------------------

_NUMBER = r"([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+)"
_UNIT = r"\s*(ms|msec|millisecond|milliseconds|us|usec|µs|microseconds?|s|sec|secs|second|seconds)?\b"
_SEQUENCE = re.compile(
    r"(?:\bicmp_seq\s*[=:]\s*|\bseq(?:uence)?(?:\s*(?:no\.?|number|num|#))?\s*[=:#]?\s*|\bping\s*#?\s*(?=[0-9])|\bprobe\s*#?\s*|\breply\s*#\s*)"
    r"([0-9]{1,9})(?![0-9]*[.:][0-9])\b",
    re.IGNORECASE,
)
#: A bare number opening the line ("3: 0.3 ms", "#3 timed out"): a sequence
#: only on a line that also holds an RTT or a timeout word.
_LEADING_NUMBER = re.compile(r"^\s*#?([0-9]{1,9})(?![0-9]*[.:][0-9])\b")
_RTT = re.compile(
    r"\b(?:rtt|round[- ]?trip(?:\s+time)?|time|took|delay|latency)\b\s*(?:\(\s*\w+\s*\))?\s*(?:is|was|of)?\s*[=:]?\s*" + _NUMBER + _UNIT,
    re.IGNORECASE,
)
_BARE_TIME = re.compile(_NUMBER + r"\s*(ms|msec|milliseconds?|us|usec|µs|microseconds?|s|sec|secs|seconds?)\b", re.IGNORECASE)
_TIMEOUT = re.compile(r"time[sd]?[\s_-]*out|timeout|no (?:answer|reply|response)|\blost\b|\bdropped\b", re.IGNORECASE)
_SUMMARY_WORDS = re.compile(r"statistic|\bsent\b|transmitted|\breceived\b|\bloss\b|\blost\b|min|avg|average|max", re.IGNORECASE)
_PERCENT = re.compile(_NUMBER + r"\s*%")
_COUNT_BEFORE = {
    "sent": re.compile(r"([0-9]+)\s*(?:packets?|probes?|pings?|messages?)?\s*(?:sent|transmitted)\b", re.IGNORECASE),
    "received": re.compile(r"([0-9]+)\s*(?:packets?|probes?|pings?|replies|messages?)?\s*received\b", re.IGNORECASE),
    "lost": re.compile(r"([0-9]+)\s*(?:packets?|probes?|pings?|messages?)?\s*(?:lost|dropped|timed[\s_-]*out)\b(?!\s*[:=])", re.IGNORECASE),
}
_COUNT_AFTER = {
    "sent": re.compile(r"\b(?:sent|transmitted)\s*[=:]\s*([0-9]+)(?![0-9.%])", re.IGNORECASE),
    "received": re.compile(r"\b(?:received|replies)\s*[=:]\s*([0-9]+)(?![0-9.%])", re.IGNORECASE),
    "lost": re.compile(r"\b(?:lost|dropped|timeouts?)\s*[=:]\s*([0-9]+)(?![0-9.%])", re.IGNORECASE),
}
_TRIPLE = re.compile(r"min\s*/\s*avg\s*/\s*max(?:\s*/\s*\w+)?\s*(?:rtt)?\s*[=:]?\s*" + _NUMBER + r"\s*/\s*" + _NUMBER + r"\s*/\s*" + _NUMBER + r"(?:\s*/\s*" + _NUMBER + r")?" + _UNIT, re.IGNORECASE)
_NAMED = {
    name: re.compile(r"\b" + pattern + r"(?:imum)?\b\s*(?:rtt|round[- ]?trip(?:\s+time)?)?\s*(?:\(\s*\w+\s*\))?\s*[=:]?\s*" + _NUMBER + _UNIT, re.IGNORECASE)
    for name, pattern in (("min", "min"), ("avg", "(?:avg|average|mean)"), ("max", "max"))
}


def seconds(value: str, unit: Optional[str]) -> float:
    """
    A time as printed, in seconds; no unit means seconds (what Python's
    ``time.time()`` differences give).
    """
    number = float(value)
    unit = (unit or "s").lower()
    if unit.startswith("m"):
        return number / 1000.0
    if unit.startswith("u") or unit.startswith("µ") or unit.startswith("micro"):
        return number / 1_000_000.0
    return number


@dataclass(frozen=True)
class ProbeReport:
    """
    What the program said about one probe: answered with C{rtt_seconds}
    (L{None}: answered, but no RTT could be read) or timed out.
    """

    sequence: int
    answered: bool
    rtt_seconds: Optional[float]
    line: OutputLine


@dataclass(frozen=True)
class PingSummary:
    """
    The statistics the program printed (each L{None} when not printed).
    """

    sent: Optional[int] = None
    received: Optional[int] = None
    lost: Optional[int] = None
    loss_percent: Optional[float] = None
    rtt_min: Optional[float] = None
    rtt_avg: Optional[float] = None
    rtt_max: Optional[float] = None
    lines: Tuple[OutputLine, ...] = ()

    @property
    def lost_count(self) -> Optional[int]:
        if self.lost is not None:
            return self.lost
        if self.sent is not None and self.received is not None:
            return self.sent - self.received
        return None


@dataclass(frozen=True)
class PingOutput:
    probes: Tuple[ProbeReport, ...]
    summary: PingSummary
    unparsed: Tuple[OutputLine, ...] = field(default_factory=tuple)

    def for_sequence(self, sequence: int) -> List[ProbeReport]:
        return [probe for probe in self.probes if probe.sequence == sequence]


def _summary_line(text: str) -> bool:
    return bool(_SUMMARY_WORDS.search(text)) and (
        bool(_PERCENT.search(text))
        or any(p.search(text) for p in _COUNT_BEFORE.values())
        or any(p.search(text) for p in _COUNT_AFTER.values())
        or bool(_TRIPLE.search(text))
        or any(p.search(text) for p in _NAMED.values())
    )


def parse_ping_output(lines: Sequence[OutputLine]) -> PingOutput:
    """
    The probe lines (a sequence number with an RTT, or with a timeout
    word) and the statistics lines of a pinger's standard output.  An RTT
    line without a sequence number belongs to the probe named just before
    it (``Reply: PING 3 ...`` then ``RTT: 0.0003``).
    """
    probes: List[ProbeReport] = []
    unparsed: List[OutputLine] = []
    summary_lines: List[OutputLine] = []
    values: dict = {}
    pending: Optional[Tuple[int, OutputLine]] = None
    for line in lines:
        if line.stream != "out":
            continue
        text = line.text.strip()
        if not text:
            continue
        if _summary_line(text) and not _per_probe(text):
            summary_lines.append(line)
            _read_summary(text, values)
            continue
        sequence_match = _SEQUENCE.search(text)
        rtt_match = _RTT.search(_without_payload_time(text))
        timed_out = bool(_TIMEOUT.search(text))
        if sequence_match is None:
            leading = _LEADING_NUMBER.search(text)
            if leading is not None and rtt_match is None and not timed_out and text[leading.end():].lstrip()[:1] in (":", ")", "]"):
                # "11: 0.4 ms": a time with its unit after a leading number.
                rtt_match = _BARE_TIME.search(text, leading.end())
            if leading is not None and (rtt_match is not None or timed_out):
                sequence_match = leading
        if sequence_match is None:
            if rtt_match is not None and pending is not None:
                probes.append(ProbeReport(pending[0], True, seconds(rtt_match.group(1), rtt_match.group(2)), line))
                pending = None
            elif rtt_match is not None or timed_out:
                unparsed.append(line)
            continue
        sequence = int(sequence_match.group(1))
        if timed_out and rtt_match is None:
            probes.append(ProbeReport(sequence, False, None, line))
            pending = None
        elif rtt_match is not None:
            probes.append(ProbeReport(sequence, True, seconds(rtt_match.group(1), rtt_match.group(2)), line))
            pending = None
        else:
            if pending is not None:
                probes.append(ProbeReport(pending[0], True, None, pending[1]))
            pending = (sequence, line)
    if pending is not None:
        probes.append(ProbeReport(pending[0], True, None, pending[1]))
    summary = PingSummary(
        values.get("sent"),
        values.get("received"),
        values.get("lost"),
        values.get("percent"),
        values.get("min"),
        values.get("avg"),
        values.get("max"),
        tuple(summary_lines),
    )
    return PingOutput(tuple(probes), summary, tuple(unparsed))


def _per_probe(text: str) -> bool:
    # "Ping 3: RTT = 0.0003 s" is a probe line even though it says RTT.
    sequence = _SEQUENCE.search(text)
    return sequence is not None and not _PERCENT.search(text) and not _TRIPLE.search(text) and not re.search(
        r"\b(?:sent|transmitted|received|statistics|min|avg|average|max)\b", text, re.IGNORECASE
    )


_PAYLOAD_TIME = re.compile(r"\b(?:ping\s+[0-9]+\s+|time\s*=\s*)[0-9]{9,}(?:\.[0-9]+)?", re.IGNORECASE)


def _without_payload_time(text: str) -> str:
    # An echoed "PING 3 1732945612.5" or "time=1732945612.5" is the send
    # time (epoch seconds), not an RTT.
    return _PAYLOAD_TIME.sub(" ", text)


def _read_summary(text: str, values: dict) -> None:
    percent = _PERCENT.search(text)
    if percent and re.search(r"loss|lost|drop", text, re.IGNORECASE):
        values["percent"] = float(percent.group(1))
    for name in ("sent", "received", "lost"):
        for table in (_COUNT_AFTER, _COUNT_BEFORE):
            match = table[name].search(text)
            if match:
                values[name] = int(match.group(1))
                break
    triple = _TRIPLE.search(text)
    if triple:
        unit = triple.group(5)
        for index, name in enumerate(("min", "avg", "max")):
            values[name] = seconds(triple.group(index + 1), unit)
        return
    for name, pattern in _NAMED.items():
        match = pattern.search(text)
        if match:
            values[name] = seconds(match.group(1), match.group(2))


# -- the heartbeat monitor -----------------------------------------------------

_STOPPED = re.compile(r"stop|dead|down|fail|no (?:heart)?beats?|silen|timed[\s_-]*out|not respond|unreachable|offline|gone", re.IGNORECASE)
_ALIVE = re.compile(r"alive|\bup\b|started|online|back|recover|connected|new client|first (?:heart)?beat", re.IGNORECASE)
_LOST = re.compile(r"lost|miss|skipp|gap|drop", re.IGNORECASE)


@dataclass(frozen=True)
class MonitorEvent:
    """
    One line of a monitor's output read as an event: C{kind} is
    ``"alive"``, ``"lost"`` (with the C{numbers} on the line) or
    ``"stopped"``.
    """

    kind: str
    numbers: Tuple[float, ...]
    line: OutputLine


def parse_monitor_output(lines: Sequence[OutputLine]) -> List[MonitorEvent]:
    """
    The monitor's lines that report a client alive, beats lost or a stop,
    in order.  A stop word wins over an alive word ("client stopped: no
    heartbeat" is a stop); "lost 3 heartbeats" is a loss, not a stop.
    """
    events: List[MonitorEvent] = []
    for line in lines:
        text = line.text
        numbers = tuple(float(n) for n in re.findall(r"(?<![0-9.:])[0-9]+(?:\.[0-9]+)?(?![0-9.:])", text))
        if _LOST.search(text) and not re.search(r"\bstop", text, re.IGNORECASE):
            events.append(MonitorEvent("lost", numbers, line))
        elif _STOPPED.search(text):
            events.append(MonitorEvent("stopped", numbers, line))
        elif _ALIVE.search(text):
            events.append(MonitorEvent("alive", numbers, line))
    return events


__all__ = [
    "MonitorEvent",
    "OutputLine",
    "PingOutput",
    "PingSummary",
    "ProbeReport",
    "parse_monitor_output",
    "parse_ping_output",
    "seconds",
]
