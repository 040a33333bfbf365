# -*- test-case-name: tests.check.test_beat -*-
"""
The pure side of ``netlab check beat-client`` and ``beat-monitor``
(standard library and the heartbeat family's pure beat format only).

beat-client: the instrument listens, then stops listening for a while
(the kernel answers the client's beats with ICMP port unreachable), then
listens again on the same port; L{BeatClientSession} holds every datagram
with its arrival time (session clock and wall clock) and the phase it came
in.  beat-monitor: L{monitor_script} is the stream the checker sends to the
student's monitor (regular beats, a gap of three, a late beat, a duplicate,
then silence) and L{MonitorSession} what the monitor printed meanwhile.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import List, Optional, Tuple

from twisted_netlab.check._case import Profile, escape, failed, passed, skipped, warned
from twisted_netlab.check._session import Finding, SessionCase
from twisted_netlab.check._student_output import OutputLine, parse_monitor_output
from twisted_netlab.heartbeat._beat import PeerProtocolError, decode_beat

# -- beat-client ---------------------------------------------------------------------

#: How far a beat's timestamp may be from the instrument's clock.
CLOCK_TOLERANCE_SECONDS = 1.0


@dataclass(frozen=True)
class Arrival:
    """
    One datagram from the client: seconds into the session, the
    instrument's wall clock then, its bytes, and the phase (1 listening,
    3 listening again; nothing arrives in phase 2).
    """

    at: float
    wall: float
    data: bytes
    phase: int


@dataclass(frozen=True)
class BeatClientSession:
    arrivals: Tuple[Arrival, ...]
    output: Tuple[OutputLine, ...]
    period: float
    silence: Tuple[float, float]
    end: float
    exit_description: Optional[str] = None
    ended_at: Optional[float] = None

    def decoded(self) -> List[Tuple[Arrival, Optional[object]]]:
        out: List[Tuple[Arrival, Optional[object]]] = []
        for arrival in self.arrivals:
            try:
                out.append((arrival, decode_beat(arrival.data)))
            except PeerProtocolError:
                out.append((arrival, None))
        return out


def judge_beat_format(session: BeatClientSession) -> Finding:
    if not session.arrivals:
        return Finding(failed(f"no datagram reached the instrument ({session.exit_description or 'still running'})"), tuple(f"| {l.text}" for l in session.output[-6:]))
    bad = [a for a, beat in session.decoded() if beat is None]
    if bad:
        return Finding(
            failed(f"{len(bad)} of {len(session.arrivals)} datagrams are not '<seq> - <epoch>' (or netlab's id=/boot=/mac= forms)"),
            tuple(f"{a.at:7.3f} < {escape(a.data[:100])}" for a in bad[:3]),
        )
    return Finding(passed(f"{len(session.arrivals)} beats, all '<seq> - <epoch>'"))


def _beats(session: BeatClientSession, phase: Optional[int] = None) -> List[Tuple[Arrival, object]]:
    return [(a, b) for a, b in session.decoded() if b is not None and (phase is None or a.phase == phase)]


def judge_beat_sequence(session: BeatClientSession) -> Finding:
    beats = _beats(session)
    if len(beats) < 2:
        return Finding(skipped("fewer than two beats arrived"))
    problems = []
    for phase in (1, 3):
        numbers = [b.sequence for _, b in _beats(session, phase)]  # type: ignore[attr-defined]
        for before, after in zip(numbers, numbers[1:]):
            if after != before + 1:
                problems.append(f"{before} then {after} while the instrument listened")
    first, third = _beats(session, 1), _beats(session, 3)
    if first and third and third[0][1].sequence <= first[-1][1].sequence:  # type: ignore[attr-defined]
        problems.append(f"the sequence went back from {first[-1][1].sequence} to {third[0][1].sequence} after the silence")  # type: ignore[attr-defined]
    if problems:
        return Finding(failed("sequence numbers are not consecutive: " + problems[0]), tuple(problems[:5]))
    return Finding(passed(f"consecutive ({beats[0][1].sequence} to {beats[-1][1].sequence}, the silence skipped as expected)"))  # type: ignore[attr-defined]


def judge_beat_interval(session: BeatClientSession) -> Finding:
    beats = [(a.at, b.sequence) for a, b in _beats(session)]  # type: ignore[attr-defined]
    steps = [(t2 - t1, s2 - s1) for (t1, s1), (t2, s2) in zip(beats, beats[1:]) if s2 > s1]
    if not steps:
        return Finding(skipped("fewer than two beats with increasing sequence numbers arrived"))
    # The period over every beat the sequence says was sent, the silence
    # included; the jitter over beats that came one after the other.
    mean = sum(t for t, _ in steps) / sum(n for _, n in steps)
    singles = [t for t, n in steps if n == 1]
    jitter = statistics.pstdev(singles) if len(singles) > 1 else 0.0
    told = session.period
    shown = f"mean period {mean:.3f} s, jitter {jitter * 1000:.1f} ms over {sum(n for _, n in steps)} intervals (told {told:g} s)"
    if abs(mean - told) > 0.1 * told + 0.02:
        return Finding(failed(shown))
    if jitter > 0.25 * told:
        return Finding(warned(shown + ": the interval varies by more than a quarter period"))
    return Finding(passed(shown))


def judge_beat_clock(session: BeatClientSession) -> Finding:
    beats = _beats(session)
    if not beats:
        return Finding(skipped("no beat arrived"))
    offsets = [(a, b.sent_at - a.wall) for a, b in beats]  # type: ignore[attr-defined]
    worst = max(offsets, key=lambda pair: abs(pair[1]))
    if abs(worst[1]) > CLOCK_TOLERANCE_SECONDS:
        return Finding(failed(f"a beat's timestamp is {worst[1]:+.3f} s from the instrument's clock (allowed ±{CLOCK_TOLERANCE_SECONDS:g} s)"), (f"< {escape(worst[0].data[:80])}",))
    return Finding(passed(f"timestamps within {max(abs(o) for _, o in offsets) * 1000:.0f} ms of the instrument's clock"))


def judge_survives(session: BeatClientSession) -> Finding:
    if not _beats(session, 1):
        return Finding(skipped("no beat arrived before the silence"))
    start, end = session.silence
    if session.ended_at is not None and session.ended_at < session.end:
        when = "during" if session.ended_at < end else "after"
        tail = tuple(f"{l.at:7.3f} {'!' if l.stream == 'err' else '|'} {l.text}" for l in session.output[-6:])
        return Finding(failed(f"the client {session.exit_description} {when} the {end - start:.1f} s nobody listened (at {session.ended_at:.2f} s)"), tail)
    if not _beats(session, 3):
        return Finding(failed(f"no beat arrived after the listener came back at {end:.1f} s"))
    return Finding(passed(f"kept beating through {end - start:.1f} s with nothing listening (ICMP port unreachable) and after"))


def beat_client_cases() -> List[SessionCase]:
    lab = Profile.LAB
    return [
        SessionCase("beat.format", "beats are '<seq> - <epoch>'", "lab", judge_beat_format, lab),
        SessionCase("beat.sequence", "sequence numbers are consecutive", "lab", judge_beat_sequence, lab),
        SessionCase("beat.interval", "beats come every --period", "lab", judge_beat_interval, lab),
        SessionCase("beat.clock", "timestamps within 1 s of the real clock", "lab", judge_beat_clock, lab),
        SessionCase("beat.survives-no-listener", "keeps beating while nothing listens", "lab", judge_survives, lab),
    ]


# -- beat-monitor --------------------------------------------------------------------


@dataclass(frozen=True)
class ScriptedBeat:
    """
    Send beat C{sequence} C{at} seconds into the script; C{note} says why.
    """

    at: float
    sequence: int
    note: str = ""


def monitor_script(period: float) -> List[ScriptedBeat]:
    """
    Beats 1-4 every period; 5-7 withheld (a gap of three: 4 periods of
    silence); 8-10; 12 then 11 half a period later (late); 13 twice
    (duplicate); 14, 15; then silence.
    """
    p = period
    script = [ScriptedBeat(i * p, i + 1) for i in range(4)]
    script += [ScriptedBeat(7 * p, 8, "after a gap: 5-7 withheld"), ScriptedBeat(8 * p, 9), ScriptedBeat(9 * p, 10)]
    script += [ScriptedBeat(10 * p, 12), ScriptedBeat(10.5 * p, 11, "late (after 12)"), ScriptedBeat(11 * p, 13), ScriptedBeat(11.5 * p, 13, "duplicate")]
    script += [ScriptedBeat(12 * p, 14), ScriptedBeat(13 * p, 15, "last: silence follows")]
    return script


@dataclass(frozen=True)
class MonitorSession:
    """
    What was sent (when, which sequence) and what the monitor printed;
    C{timeout}/C{period} are the student's settings as told.
    """

    sent: Tuple[ScriptedBeat, ...]
    output: Tuple[OutputLine, ...]
    period: float
    timeout: float
    end: float
    exit_description: Optional[str] = None

    @property
    def last_beat(self) -> float:
        return max(beat.at for beat in self.sent)

    def gap_end(self) -> float:
        return next(beat.at for beat in self.sent if beat.note.startswith("after a gap"))


def _events(session: MonitorSession, kind: str) -> list:
    first = min(beat.at for beat in session.sent)
    return [e for e in parse_monitor_output(session.output) if e.kind == kind and e.line.at >= first - 0.05]


def _died(session: MonitorSession) -> Optional[Finding]:
    if session.exit_description is not None:
        tail = tuple(f"{l.at:7.3f} {'!' if l.stream == 'err' else '|'} {l.text}" for l in session.output[-6:])
        return Finding(failed(f"the monitor {session.exit_description} during the script"), tail)
    return None


def judge_monitor_alive(session: MonitorSession) -> Finding:
    alive = _events(session, "alive")
    if alive:
        return Finding(passed(f"at {alive[0].line.at:.2f} s: {alive[0].line.text.strip()[:120]}"))
    died = _died(session)
    if died is not None:
        return died
    return Finding(failed("no line reported the client alive after its first beat"), tuple(f"| {l.text}" for l in session.output[:6]))


def judge_monitor_lost(session: MonitorSession) -> Finding:
    after = session.gap_end() - 0.05
    lost = [e for e in _events(session, "lost") if e.line.at >= after]
    if any(3.0 in e.numbers for e in lost):
        hit = next(e for e in lost if 3.0 in e.numbers)
        return Finding(passed(f"at {hit.line.at:.2f} s: {hit.line.text.strip()[:120]}"))
    if lost:
        return Finding(failed(f"three beats (5-7) were withheld, the monitor says: {lost[0].line.text.strip()[:120]}"))
    died = _died(session)
    if died is not None:
        return died
    return Finding(failed("three beats (5-7) were withheld; no line reported beats lost"), tuple(f"| {l.text}" for l in session.output[-6:]))


def judge_monitor_stopped(session: MonitorSession) -> Finding:
    deadline = session.last_beat + session.timeout + 2 * session.period
    after = session.last_beat + session.timeout * 0.9 - 0.1
    stops = [e for e in _events(session, "stopped") if e.line.at >= after]
    if stops and stops[0].line.at <= deadline:
        return Finding(passed(f"stop reported {stops[0].line.at - session.last_beat:.2f} s after the last beat: {stops[0].line.text.strip()[:100]}"))
    if stops:
        return Finding(failed(f"the stop came {stops[0].line.at - session.last_beat:.2f} s after the last beat (allowed: timeout {session.timeout:g} s + 2 periods)"))
    died = _died(session)
    if died is not None:
        return died
    return Finding(failed(f"no stop reported within {deadline - session.last_beat:.1f} s of the last beat (timeout {session.timeout:g} s + 2 periods)"))


def judge_monitor_no_false_stop(session: MonitorSession) -> Finding:
    times = sorted(beat.at for beat in session.sent)
    false = []
    for event in _events(session, "stopped"):
        before = [t for t in times if t <= event.line.at]
        if before and event.line.at - before[-1] < session.timeout * 0.9 - 0.1:
            false.append(f"{event.line.at:7.3f} | {event.line.text.strip()[:100]}  ({event.line.at - before[-1]:.2f} s after a beat)")
    if false:
        return Finding(failed(f"reported a stop while beats flowed (silence shorter than the timeout {session.timeout:g} s)"), tuple(false[:4]))
    return Finding(passed("nothing reported stopped while beats flowed (a 4-period gap included)"))


def monitor_cases() -> List[SessionCase]:
    lab = Profile.LAB
    return [
        SessionCase("monitor.alive", "the client is reported alive", "lab", judge_monitor_alive, lab),
        SessionCase("monitor.lost-reported", "a gap of 3 beats is reported as 3 lost", "lab", judge_monitor_lost, lab),
        SessionCase("monitor.stopped-reported", "silence is reported within timeout + 2 periods", "lab", judge_monitor_stopped, lab),
        SessionCase("monitor.no-false-stop", "no stop is reported while beats flow", "lab", judge_monitor_no_false_stop, lab),
    ]


def monitor_timeline(session: MonitorSession) -> List[str]:
    events = [(b.at, 0, f"{b.at:7.3f}  netlab  > beat {b.sequence}{'  (' + b.note + ')' if b.note else ''}") for b in session.sent]
    events += [(l.at, 1, f"{l.at:7.3f}  program {'!' if l.stream == 'err' else '|'} {l.text[:160]}") for l in session.output]
    return [text for _, _, text in sorted(events)]


def client_timeline(session: BeatClientSession) -> List[str]:
    start, end = session.silence
    events = [(a.at, 0, f"{a.at:7.3f}  netlab  < {escape(a.data[:80])}") for a in session.arrivals]
    events += [(start, 1, f"{start:7.3f}  netlab  -- stops listening (ICMP port unreachable) --"), (end, 1, f"{end:7.3f}  netlab  -- listens again --")]
    events += [(l.at, 2, f"{l.at:7.3f}  program {'!' if l.stream == 'err' else '|'} {l.text[:160]}") for l in session.output]
    if session.ended_at is not None:
        events.append((session.ended_at, 3, f"{session.ended_at:7.3f}  program {session.exit_description}"))
    return [text for _, _, text in sorted(events)]


__all__ = [
    "Arrival",
    "BeatClientSession",
    "MonitorSession",
    "ScriptedBeat",
    "beat_client_cases",
    "client_timeline",
    "monitor_cases",
    "monitor_script",
    "monitor_timeline",
]
