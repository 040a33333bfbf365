# -*- test-case-name: tests.check.test_ping_client -*-
"""
The pure side of ``netlab check ping-client``: the scripted scenario the
echo instrument plays (which probes it drops, which echo it holds past the
client's timeout), the L{PingSession} it records, and the judges that
compare what the student's pinger printed with what really happened.
Standard library and the ping family's pure modules only.

The scenario is keyed by arrival order (the I{n}th datagram), so it works
whatever the client writes in its probes: by default 30 % of the probes
are dropped, and one echo is held until the client has given up on it and
sent the next probe, which is itself dropped, so the late echo is the only
thing that arrives while the client waits (the classic late-reply bug
shows as a reply to the wrong probe).  The hold is the client's own
timeout as measured on an earlier dropped probe, plus a margin.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Dict, FrozenSet, List, Optional, Sequence, Tuple

from twisted_netlab.check._case import Profile, failed, passed, skipped, warned
from twisted_netlab.check._case import escape
from twisted_netlab.check._session import Finding, SessionCase
from twisted_netlab.check._student_output import OutputLine, PingOutput, ProbeReport, parse_ping_output
from twisted_netlab.ping._echo_core import Delivery, Direction, DropReason, Verdict
from twisted_netlab.ping._probe import decode_probe, probe_sequence

#: The lab's timeout, and the window the ``ping.timeout`` case accepts.
TIMEOUT_LOW, TIMEOUT_HIGH = 0.9, 1.5
#: How far past the client's measured timeout the late echo is sent.
LATE_MARGIN_SECONDS = 0.3
#: What the instrument's clock cannot see of a client's RTT: the client
#: stamps a probe before its ``sendto`` (a first send binds the socket) and
#: the instrument when its reactor reads it; 50 ms also covers a loaded
#: machine.  Only gross errors (a wrong unit, a clock read at the wrong
#: moment) fall outside.
RTT_SLACK_SECONDS = 0.05
#: The same above an RTT's upper bound, the client's wait until its next
#: probe as the instrument saw it: a reactor that reads one probe late
#: and the next one on time shortens that wait by its lateness, which on
#: a loaded machine (or with several checks in one process) was seen to
#: pass 50 ms.  A quarter second still catches the gross errors, which are
#: off by a whole interval or a factor of a thousand.
RTT_LATE_READ_SECONDS = 0.25
#: The hold when no earlier timeout could be measured.
DEFAULT_LATE_SECONDS = 1.3


@dataclass(frozen=True)
class PingScenario:
    """
    Which arrivals (1-based) are dropped, and which one's echo is held late.
    """

    count: int
    dropped: FrozenSet[int]
    late: Optional[int] = None


def plan_scenario(count: int, loss: float, rng: random.Random) -> PingScenario:
    """
    Drop C{round(loss * count)} probes (never the first) and, with five
    probes or more, hold one echo late: probe I{k}'s, where an earlier probe
    is dropped (to measure the client's timeout) and probe I{k+1} is
    dropped (so the late echo arrives alone).
    """
    wanted = max(0, min(count - 1, round(loss * count)))
    if count < 5 or wanted < 2:
        return PingScenario(count, frozenset(rng.sample(range(2, count + 1), wanted)) if count > 1 else frozenset())
    late = rng.randint(3, count - 1)
    dropped = {late + 1, rng.randint(2, late - 1)}
    others = [n for n in range(2, count + 1) if n not in dropped and n != late]
    dropped.update(rng.sample(others, max(0, min(len(others), wanted - 2))))
    return PingScenario(count, frozenset(dropped), late)


class ScriptedPath:
    """
    Stands in for netlab-echo's L{EchoPath}: the round-trip stage carries
    out the L{PingScenario} (every other stage passes datagrams at once).
    """

    is_transparent = False

    def __init__(self, scenario: PingScenario, margin_seconds: float = LATE_MARGIN_SECONDS) -> None:
        self.scenario = scenario
        self.margin_seconds = margin_seconds
        self.arrivals: List[float] = []
        self.late_delay: Optional[float] = None

    def process(self, direction: Direction, payload: bytes, now: float) -> Verdict:
        if direction is not Direction.ROUND_TRIP:
            return Verdict((Delivery(payload, now),))
        self.arrivals.append(now)
        number = len(self.arrivals)
        if number in self.scenario.dropped:
            return Verdict((), dropped=DropReason.RANDOM_LOSS)
        if number == self.scenario.late:
            self.late_delay = self.hold(number)
            return Verdict((Delivery(payload, now + self.late_delay),))
        return Verdict((Delivery(payload, now),))

    def hold(self, number: int) -> float:
        """
        The client's timeout as seen on the latest dropped probe before
        C{number} (the time until its next probe), plus the margin.
        """
        for earlier in range(number - 1, 0, -1):
            if earlier in self.scenario.dropped and earlier < len(self.arrivals):
                wait = self.arrivals[earlier] - self.arrivals[earlier - 1]
                return min(max(wait, 0.0) + self.margin_seconds, 5.0)
        return DEFAULT_LATE_SECONDS


@dataclass(frozen=True)
class Probe:
    """
    The truth about one datagram the client sent: when it arrived (seconds
    into the session), its bytes, the sequence it names, and when its echo
    left (L{None}: dropped).
    """

    number: int
    at: float
    payload: bytes
    echoed_at: Optional[float]

    @property
    def sequence(self) -> Optional[int]:
        return probe_sequence(self.payload)


@dataclass(frozen=True)
class PingSession:
    """
    One run of the student's pinger against the instrument.
    """

    probes: Tuple[Probe, ...]
    output: Tuple[OutputLine, ...]
    count: int
    late: Optional[int] = None
    exit_code: Optional[int] = None
    exit_description: str = ""
    ended_at: Optional[float] = None
    stopped_by_checker: bool = False

    def parsed(self) -> PingOutput:
        return parse_ping_output(self.output)

    def waited(self, probe: Probe) -> Optional[float]:
        """
        How long the client stayed on C{probe}: until its next probe.
        """
        if probe.number < len(self.probes):
            return self.probes[probe.number].at - probe.at
        return None

    def answered_in_time(self, probe: Probe) -> bool:
        """
        Its echo left before the client sent its next probe (the last one:
        within the lab's 1 s).
        """
        if probe.echoed_at is None:
            return False
        following = self.waited(probe)
        if following is None:
            return probe.echoed_at - probe.at <= 1.0
        return probe.echoed_at <= probe.at + following

    def stray_during(self, probe: Probe) -> bool:
        """
        Some other probe's echo left while the client waited on C{probe}.
        """
        end = probe.at + (self.waited(probe) or 0.0)
        return any(o.echoed_at is not None and o is not probe and probe.at <= o.echoed_at <= end for o in self.probes)

    def by_sequence(self) -> Dict[int, Probe]:
        """
        The probes by the sequence number their payloads name, or by
        arrival order (from 1) when payloads name none.
        """
        named = {p.sequence: p for p in self.probes if p.sequence is not None}
        if len(named) == len(self.probes):
            return named  # type: ignore[return-value]
        return {p.number: p for p in self.probes}


def fate_text(session: PingSession, probe: Probe) -> str:
    label = f"probe {probe.sequence if probe.sequence is not None else '#' + str(probe.number)}"
    if probe.echoed_at is None:
        return f"{label}: dropped by the instrument"
    delay = probe.echoed_at - probe.at
    if session.answered_in_time(probe):
        return f"{label}: echoed after {delay * 1000:.1f} ms"
    return f"{label}: echo held {delay:.3f} s (after the client moved on)"


def timeline(session: PingSession) -> List[str]:
    """
    What the instrument saw next to what the program printed, in time order.
    """
    events: List[Tuple[float, int, str]] = []
    for probe in session.probes:
        events.append((probe.at, 0, f"{probe.at:7.3f}  netlab   < {escape(probe.payload[:60])}   ({fate_text(session, probe)})"))
        if probe.echoed_at is not None:
            events.append((probe.echoed_at, 1, f"{probe.echoed_at:7.3f}  netlab   > echo of {escape(probe.payload[:40])}"))
    for line in session.output:
        events.append((line.at, 2, f"{line.at:7.3f}  program {'!' if line.stream == 'err' else '|'} {line.text[:160]}"))
    if session.ended_at is not None:
        events.append((session.ended_at, 3, f"{session.ended_at:7.3f}  program {session.exit_description}"))
    return [text for _, _, text in sorted(events)]


# -- judges ------------------------------------------------------------------------


def judge_count(session: PingSession) -> Finding:
    sent = len(session.probes)
    if sent == session.count:
        return Finding(passed(f"{sent} probes sent"))
    if sent == 0:
        return Finding(failed("no probe reached the instrument"), tuple(f"| {l.text}" for l in session.output[-8:]))
    return Finding(failed(f"{sent} probes sent, expected {session.count}"))


def judge_format(session: PingSession) -> Finding:
    if not session.probes:
        return Finding(skipped("no probe reached the instrument"))
    bad = [p for p in session.probes if decode_probe(p.payload) is None]
    if not bad:
        kinds = sorted({decode_probe(p.payload).payload_format.value for p in session.probes})  # type: ignore[union-attr]
        shown = {"lab": "Ping <seq> <time>", "seq": "sequence=<n>\\t<time>"}
        return Finding(passed("every probe is " + " or ".join(shown[k] for k in kinds)))
    evidence = tuple(f"probe #{p.number}: {escape(p.payload[:120])}" for p in bad[:3])
    return Finding(failed(f"{len(bad)} of {len(session.probes)} probes are neither 'Ping <seq> <time>' nor 'sequence=<n>\\ttime=<t>'"), evidence)


def judge_timeout(session: PingSession) -> Finding:
    measured = []
    for probe in session.probes:
        waited = session.waited(probe)
        if waited is None or session.answered_in_time(probe) or session.stray_during(probe):
            continue
        measured.append((probe, waited))
    if not measured:
        return Finding(skipped("no unanswered probe was followed by another one: the timeout could not be measured"))
    wrong = [(p, w) for p, w in measured if not TIMEOUT_LOW <= w <= TIMEOUT_HIGH]
    waits = ", ".join(f"{w:.2f}" for _, w in measured)
    if wrong:
        evidence = tuple(f"{fate_text(session, p)}; next probe {w:.3f} s later" for p, w in wrong)
        return Finding(failed(f"waited {waits} s on unanswered probes (expected {TIMEOUT_LOW}-{TIMEOUT_HIGH} s)"), evidence)
    return Finding(passed(f"waited {waits} s on unanswered probes"))


def _reports(output: PingOutput, sequence: int) -> List[ProbeReport]:
    return output.for_sequence(sequence)


def _sequence_of(session: PingSession, probe: Probe) -> int:
    return probe.sequence if probe.sequence is not None and len(session.by_sequence()) == len(session.probes) and session.by_sequence().get(probe.sequence) is probe else probe.number


def judge_late_reply(session: PingSession) -> Finding:
    if session.late is None or session.late >= len(session.probes):
        return Finding(skipped("the scenario held no echo late (too few probes arrived)"))
    late = session.probes[session.late - 1]
    victim = session.probes[session.late]
    if late.echoed_at is None:
        return Finding(skipped("the late echo never left (the session ended first)"))
    output = session.parsed()
    sequence = _sequence_of(session, victim)
    reports = _reports(output, sequence)
    evidence = [fate_text(session, late) + f", sent {late.echoed_at - victim.at:.3f} s after probe {sequence}", fate_text(session, victim)]
    if not reports:
        evidence += [f"unparsed: {line.text}" for line in output.unparsed[:3]]
        return Finding(skipped(f"no line of the output reports probe {sequence}"), tuple(evidence))
    answered = [r for r in reports if r.answered]
    evidence += [f"| {r.line.text}" for r in reports]
    if answered and victim.echoed_at is None:
        rtt = answered[0].rtt_seconds
        shown = f" (RTT {rtt:.6f} s)" if rtt is not None else ""
        return Finding(
            failed(f"probe {sequence} was dropped, but the late echo of probe {_sequence_of(session, late)} was reported as its reply{shown}"),
            tuple(evidence),
        )
    return Finding(passed(f"the late echo of probe {_sequence_of(session, late)} was not taken for probe {sequence}'s reply"), tuple(evidence))


def judge_loss(session: PingSession) -> Finding:
    if not session.probes:
        return Finding(skipped("no probe reached the instrument"))
    sent = len(session.probes)
    lost = [p for p in session.probes if not session.answered_in_time(p)]
    dropped = sum(1 for p in lost if p.echoed_at is None)
    truth = f"{len(lost)} of {sent} unanswered in time ({dropped} dropped, {len(lost) - dropped} echoed after the client moved on)"
    summary = session.parsed().summary
    evidence = tuple(f"| {line.text}" for line in summary.lines)
    count = summary.lost_count
    if count is not None:
        if count == len(lost):
            return Finding(passed(f"prints {count} lost; the instrument: {truth}"), evidence)
        return Finding(failed(f"prints {count} lost; the instrument: {truth}"), evidence)
    if summary.loss_percent is not None:
        expected = 100.0 * len(lost) / sent
        if abs(summary.loss_percent - expected) <= 0.51:
            return Finding(passed(f"prints {summary.loss_percent:g}% loss; the instrument: {truth}"), evidence)
        return Finding(failed(f"prints {summary.loss_percent:g}% loss, expected {expected:g}%; the instrument: {truth}"), evidence)
    candidates = [line for line in session.output if "los" in line.text.lower() or "%" in line.text]
    return Finding(
        skipped("no loss count or percentage could be read from the output"),
        tuple(f"unparsed: {line.text}" for line in candidates[:3]),
    )


def _fits(rtt: float, low: float, high: float, line: str) -> bool:
    """
    Whether C{rtt} (seconds) lies in [low, high], less
    L{RTT_SLACK_SECONDS} below and more L{RTT_LATE_READ_SECONDS} above; a
    number printed without a unit may be
    milliseconds as well (never a false fail on a unit).
    """
    if low - RTT_SLACK_SECONDS <= rtt <= high + RTT_LATE_READ_SECONDS:
        return True
    unitless = not any(unit in line.lower() for unit in ("ms", " s", "sec", "µs", "us"))
    return unitless and low - RTT_SLACK_SECONDS <= rtt / 1000.0 <= high + RTT_LATE_READ_SECONDS


_LATE_MARK = re.compile(r"\b(?:late|dup|duplicate|stale|old)\b", re.IGNORECASE)


def judge_rtt(session: PingSession) -> Finding:
    output = session.parsed()
    probes = session.by_sequence()
    checked, wrong = 0, []
    printed: List[float] = []
    for report in output.probes:
        if not report.answered or report.rtt_seconds is None:
            continue
        if not _LATE_MARK.search(report.line.text):
            # A reply the program itself marks late or duplicate is left
            # out of its statistics, as ping(8) does.
            printed.append(report.rtt_seconds)
        probe = probes.get(report.sequence)
        if probe is None or not session.answered_in_time(probe) or probe.echoed_at is None:
            continue  # a reply that was not one: judged by ping.late-reply and ping.loss-reported
        low = probe.echoed_at - probe.at
        high = min(session.waited(probe) or TIMEOUT_HIGH, TIMEOUT_HIGH)
        checked += 1
        if not _fits(report.rtt_seconds, low, high, report.line.text):
            wrong.append(f"| {report.line.text}   (instrument: echo after {low * 1000:.2f} ms, next probe after {high * 1000:.1f} ms)")
    if wrong:
        return Finding(failed(f"{len(wrong)} of {checked} reported RTTs do not fit the instrument's timing"), tuple(wrong[:4]))
    summary = output.summary
    stats = (summary.rtt_min, summary.rtt_avg, summary.rtt_max)
    if printed and all(value is not None for value in stats):
        expected = (min(printed), sum(printed) / len(printed), max(printed))
        off = [
            f"{name} printed {got:.6f} s, per-probe lines give {want:.6f} s"
            for name, got, want in zip(("min", "avg", "max"), stats, expected)
            if got is not None and abs(got - want) > max(2e-6, 0.011 * want)
        ]
        if off:
            return Finding(failed("min/avg/max disagree with the per-probe RTTs: " + "; ".join(off)), tuple(f"| {l.text}" for l in summary.lines))
    if checked == 0:
        return Finding(skipped("no RTT of a really answered probe could be read from the output"), tuple(f"unparsed: {l.text}" for l in output.unparsed[:3]))
    if not all(value is not None for value in stats):
        return Finding(warned(f"{checked} reported RTTs fit the instrument's timing; no min/avg/max line was found"))
    return Finding(passed(f"{checked} reported RTTs fit the instrument's timing, and min/avg/max agree with them"))


def all_cases() -> List[SessionCase]:
    lab = Profile.LAB
    return [
        SessionCase("ping.count", "the number of probes sent", "lab", judge_count, lab),
        SessionCase("ping.format", "probes are 'Ping <seq> <time>' or 'sequence=<n>\\ttime=<t>'", "lab", judge_format, lab),
        SessionCase("ping.timeout", "an unanswered probe is given up after 0.9-1.5 s", "lab", judge_timeout, lab),
        SessionCase("ping.late-reply", "a late echo is not taken for the next probe's reply", "lab", judge_late_reply, lab),
        SessionCase("ping.loss-reported", "the printed loss equals the true loss", "lab", judge_loss, lab),
        SessionCase("ping.rtt-reported", "printed RTTs and min/avg/max fit the instrument's timing", "lab", judge_rtt, lab),
    ]


def session_from(
    arrivals: Sequence[Tuple[float, bytes]],
    echoes: Dict[int, float],
    output: Sequence[OutputLine],
    scenario: PingScenario,
    exit_code: Optional[int] = None,
    exit_description: str = "",
    ended_at: Optional[float] = None,
    stopped_by_checker: bool = False,
) -> PingSession:
    """
    The session from what the instrument recorded: the datagrams in arrival
    order (time, bytes) and the time each numbered one's first echo left.
    """
    probes = tuple(Probe(n, at, payload, echoes.get(n)) for n, (at, payload) in enumerate(arrivals, start=1))
    return PingSession(probes, tuple(output), scenario.count, scenario.late, exit_code, exit_description, ended_at, stopped_by_checker)


__all__ = ["PingScenario", "PingSession", "Probe", "ScriptedPath", "all_cases", "plan_scenario", "session_from", "timeline"]
