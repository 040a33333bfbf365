# -*- test-case-name: tests.check.test_case -*-
"""
The pure case model shared by every ``netlab check <kind>``: what a case
is, what the runner records while it runs, the verdict it gets, and the
score of a run.  Standard library only: no reactor, no clock, no sockets.

How a check kind is built (``_cases_http`` is the first one):

  - A L{Case} is data: a stable C{id} (graders rely on it), a C{title},
    a C{ref} (C{"lab"} or C{"RFC 9112 §3.2"}), a L{Profile}, the fixture
    names it C{needs}, a C{plan} and a C{judge}.
  - C{plan(context)} says what to do, as a tuple of L{Stream}s that the
    runner plays at the same time, each a list of steps (L{Send},
    L{Pause}, L{Await}, L{StopReading}, L{Close}).  A kind whose checker
    plays the *server* (``ping-client``, ``smtp-client``) defines its own
    plan type and its own runner driver; L{Recording}, L{Outcome},
    L{CaseResult} and the report stay the same.
  - The runner records every byte each way with its time (L{Entry}) and
    hands the L{Recording} to C{judge(recording, context)}, a pure
    function returning an L{Outcome}: a L{Verdict} and one line of detail
    saying what was expected and what came.  Judges are unit-tested on
    recordings written by hand.
  - L{Context} carries what plans and judges may know about the target
    (host, port, where the fixtures are, the time bound); C{extra} holds
    a kind's own facts (the HTTP fixtures' bytes, for instance).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple, Union


class Verdict(enum.Enum):
    """
    The answer for one case.  C{WARN} is legal but worse than it could be
    (a SHOULD ignored, a limit missing); it is not a failure.
    """

    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"


class Profile(enum.Enum):
    """
    Which rubric a case belongs to; C{--profile all} runs every one.
    """

    LAB = "lab"
    RFC = "rfc"
    HARDENING = "hardening"


#: The order profiles are reported in, and what C{--profile} accepts.
PROFILE_CHOICES: Tuple[str, ...] = ("lab", "rfc", "hardening", "all")


def profiles_for(choice: str) -> FrozenSet[Profile]:
    """
    The profiles that C{--profile choice} selects.

    @raise ValueError: for an unknown choice.
    """
    if choice == "all":
        return frozenset(Profile)
    try:
        return frozenset([Profile(choice)])
    except ValueError:
        raise ValueError(f"unknown profile {choice!r} (choose {', '.join(PROFILE_CHOICES)})") from None


@dataclass(frozen=True)
class Outcome:
    """
    What a judge says: the verdict and one line for a person.
    """

    verdict: Verdict
    detail: str

    def __post_init__(self) -> None:
        if "\n" in self.detail:
            raise ValueError("an outcome's detail is one line")


def passed(detail: str) -> Outcome:
    return Outcome(Verdict.PASS, detail)


def failed(detail: str) -> Outcome:
    return Outcome(Verdict.FAIL, detail)


def warned(detail: str) -> Outcome:
    return Outcome(Verdict.WARN, detail)


def skipped(detail: str) -> Outcome:
    return Outcome(Verdict.SKIP, detail)


# -- what a plan asks the runner to do (stream drivers) -----------------


@dataclass(frozen=True)
class Send:
    """
    Write these bytes (the runner records them when written).  C{data}
    may be a pure function of the bytes received so far on every stream
    of the case (a tuple, in plan order): a conditional request that
    quotes the ETag an earlier response gave.
    """

    data: Union[bytes, Callable[[Tuple[bytes, ...]], bytes]]


@dataclass(frozen=True)
class Pause:
    """
    Do nothing for this long (a fragmented head, a slow client).
    """

    seconds: float


@dataclass(frozen=True)
class Await:
    """
    Wait until C{until(received, closed)} is true for the bytes received on
    this stream so far (C{closed}: the peer closed), or for at most
    C{seconds}; the runner records an L{EntryKind.WAIT_EXPIRED} entry when
    the bound ran out.  The predicate is pure (a kind's own response
    reader), so the runner needs to know nothing of the protocol.
    """

    until: Callable[[bytes, bool], bool]
    seconds: float


@dataclass(frozen=True)
class StopReading:
    """
    Stop reading from the socket (a client that never reads).
    """


@dataclass(frozen=True)
class Close:
    """
    Close our side now; steps after this one are not played.
    """


@dataclass(frozen=True)
class StartTLS:
    """
    Start TLS as the client on this connection now (a protocol's STARTTLS,
    after its go-ahead).  The runner does not verify the peer's
    certificate (lab servers make their own); what comes after is recorded
    decrypted, after an L{EntryKind.TLS_STARTED} entry.
    """


Step = Union[Send, Pause, Await, StopReading, Close, StartTLS]


@dataclass(frozen=True)
class Stream:
    """
    One connection to the target and the steps played on it, in order.
    After the last step the runner closes it.  C{after}: the index of an
    earlier stream of the plan that must be closed before this one
    connects (L{None}: connect at once).  C{ends_case}: when this stream
    is done, the case is: the runner closes the streams still open (a
    silent client held only until the other one was served).
    """

    steps: Tuple[Step, ...]
    label: str = ""
    after: Optional[int] = None
    ends_case: bool = False


Plan = Tuple[Stream, ...]


# -- what the runner records ------------------------------------------


class EntryKind(enum.Enum):
    SENT = ">"
    RECEIVED = "<"
    PEER_CLOSED = "closed by peer"
    CONNECT_FAILED = "connect failed"
    WAIT_EXPIRED = "wait expired"
    ABORTED = "aborted by checker"
    TLS_STARTED = "tls started"


@dataclass(frozen=True)
class Entry:
    """
    One thing that happened on a stream, C{at} seconds after the case began.
    C{data} holds bytes for SENT/RECEIVED and a reason (ASCII) otherwise.
    """

    at: float
    kind: EntryKind
    data: bytes = b""


@dataclass(frozen=True)
class StreamRecord:
    """
    Everything that happened on one stream, in order.
    """

    entries: Tuple[Entry, ...]
    label: str = ""

    @property
    def sent(self) -> bytes:
        return b"".join(e.data for e in self.entries if e.kind is EntryKind.SENT)

    @property
    def received(self) -> bytes:
        return b"".join(e.data for e in self.entries if e.kind is EntryKind.RECEIVED)

    def first(self, kind: EntryKind) -> Optional[Entry]:
        for entry in self.entries:
            if entry.kind is kind:
                return entry
        return None

    @property
    def peer_closed(self) -> bool:
        return self.first(EntryKind.PEER_CLOSED) is not None

    @property
    def connect_failed(self) -> bool:
        return self.first(EntryKind.CONNECT_FAILED) is not None

    @property
    def waits_expired(self) -> int:
        return sum(1 for e in self.entries if e.kind is EntryKind.WAIT_EXPIRED)

    def first_failure(self) -> Optional[str]:
        """
        Why the stream never carried a request (connect failed), or None.
        """
        entry = self.first(EntryKind.CONNECT_FAILED)
        if entry is None:
            return None
        return "could not connect: " + entry.data.decode("ascii", "replace")

    def first_closed_at(self) -> Optional[float]:
        entry = self.first(EntryKind.PEER_CLOSED)
        return None if entry is None else entry.at

    def last_received_at(self) -> Optional[float]:
        times = [e.at for e in self.entries if e.kind is EntryKind.RECEIVED]
        return times[-1] if times else None

    def received_before(self, seconds: float) -> bytes:
        return b"".join(e.data for e in self.entries if e.kind is EntryKind.RECEIVED and e.at < seconds)


@dataclass(frozen=True)
class Recording:
    """
    The streams of one case run, in plan order.  C{timed_out}: the case's
    own bound ran out and the runner aborted what was still open.
    """

    streams: Tuple[StreamRecord, ...]
    timed_out: bool = False
    elapsed: float = 0.0


@dataclass(frozen=True)
class Context:
    """
    What plans and judges know about the target.

    @ivar host: the target host as given (used for C{Host}).
    @ivar base_path: the URL path of the target (``/`` or ``/sub/``).
    @ivar fixture_path: the URL path of the fixture folder (ends in ``/``),
        or L{None} when no fixtures were written.
    @ivar available: names of fixtures that exist.
    @ivar timeout_seconds: the per-case bound.
    @ivar extra: a kind's own facts (fixture bytes, marker names).
    """

    host: str
    port: int
    base_path: str = "/"
    fixture_path: Optional[str] = None
    available: FrozenSet[str] = frozenset()
    timeout_seconds: float = 5.0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


@dataclass(frozen=True)
class Case:
    """
    One check.  C{timeout_seconds} overrides the run's per-case bound
    (hardening cases that must wait longer); C{needs} names fixtures the
    case cannot run without (it is skipped, with the reason, otherwise).
    """

    id: str
    title: str
    ref: str
    profile: Profile
    plan: Callable[[Context], Any]
    judge: Callable[[Recording, Context], Outcome]
    needs: FrozenSet[str] = frozenset()
    timeout_seconds: Optional[float] = None

    def missing(self, context: Context) -> FrozenSet[str]:
        return self.needs - context.available


def select(cases: Sequence[Case], profile: str = "all", only: Iterable[str] = ()) -> List[Case]:
    """
    The cases of C{profile}, narrowed to the ids in C{only} (an id, or a
    prefix ending in ``.`` such as ``get.``) when given.

    @raise ValueError: an unknown profile, or an C{only} entry matching
        nothing (a typo must not quietly run zero cases).
    """
    wanted = profiles_for(profile)
    chosen = [case for case in cases if case.profile in wanted]
    only = [name for name in only if name]
    if not only:
        return chosen
    picked: List[Case] = []
    for name in only:
        matches = [c for c in cases if c.id == name or (name.endswith(".") and c.id.startswith(name))]
        if not matches:
            raise ValueError(f"no case called {name!r}")
        picked.extend(m for m in matches if m not in picked)
    return [case for case in cases if case in picked]


# -- results and scores -------------------------------------------------


@dataclass(frozen=True)
class CaseResult:
    """
    A case with its outcome and the transcript (escaped, cut) of what
    went each way; C{server_output} is the ``--run`` child's output when
    it matters (the server died during this case).
    """

    case: Case
    outcome: Outcome
    transcript: str = ""
    server_output: str = ""

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict


@dataclass(frozen=True)
class Score:
    """
    Per profile: a pass or a warn earns the point; skipped cases are left
    out of C{max_score} (their result is unknown, not zero).
    """

    profile: Profile
    score: int
    max_score: int


def tally(results: Sequence[CaseResult]) -> Dict[Verdict, int]:
    counts = {verdict: 0 for verdict in Verdict}
    for result in results:
        counts[result.verdict] += 1
    return counts


def scores(results: Sequence[CaseResult]) -> List[Score]:
    out = []
    for profile in Profile:
        mine = [r for r in results if r.case.profile is profile]
        if not mine:
            continue
        counted = [r for r in mine if r.verdict is not Verdict.SKIP]
        earned = sum(1 for r in counted if r.verdict in (Verdict.PASS, Verdict.WARN))
        out.append(Score(profile, earned, len(counted)))
    return out


# -- transcripts ---------------------------------------------------------

#: How many bytes of each direction of a stream a transcript shows.
TRANSCRIPT_BYTES = 400
#: How many streams of a case a transcript shows (a burst has 50).
TRANSCRIPT_STREAMS = 3


def escape(data: bytes) -> str:
    """
    Bytes as one readable line: printable ASCII as is, CR and LF as
    ``\\r`` and ``\\n``, everything else as ``\\xNN``.
    """
    out = []
    for byte in data:
        if byte == 0x0D:
            out.append("\\r")
        elif byte == 0x0A:
            out.append("\\n")
        elif byte == 0x5C:
            out.append("\\\\")
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "".join(out)


def cut(data: bytes, limit: int = TRANSCRIPT_BYTES) -> str:
    """
    L{escape}d, at most C{limit} bytes of it, saying how many were left out.
    """
    if len(data) <= limit:
        return escape(data)
    return f"{escape(data[:limit])}... ({len(data) - limit} more bytes)"


def transcript(recording: Recording, limit: int = TRANSCRIPT_BYTES, streams: int = TRANSCRIPT_STREAMS) -> str:
    """
    The wire transcript of a case: per stream, the bytes sent (``>``) and
    received (``<``), each direction's consecutive pieces joined, escaped
    and cut at C{limit} bytes, and how the stream ended.  Multi-line.
    """
    lines: List[str] = []
    shown = recording.streams[:streams]
    for index, stream in enumerate(shown):
        name = stream.label or f"connection {index + 1}"
        if len(recording.streams) > 1:
            lines.append(f"[{name}]")
        for kind, data, at in _runs(stream.entries):
            if kind in (EntryKind.SENT, EntryKind.RECEIVED):
                lines.append(f"{kind.value} {cut(data, limit)}")
            else:
                reason = f": {data.decode('ascii', 'replace')}" if data else ""
                lines.append(f"* {kind.value} at {at:.2f}s{reason}")
    if len(recording.streams) > streams:
        lines.append(f"({len(recording.streams) - streams} more connections not shown)")
    if recording.timed_out:
        lines.append(f"* case time bound reached after {recording.elapsed:.2f}s")
    return "\n".join(lines)


def _runs(entries: Sequence[Entry]) -> List[Tuple[EntryKind, bytes, float]]:
    runs: List[Tuple[EntryKind, bytearray, float]] = []
    for entry in entries:
        if runs and entry.kind in (EntryKind.SENT, EntryKind.RECEIVED) and runs[-1][0] is entry.kind:
            runs[-1][1].extend(entry.data)
        else:
            runs.append((entry.kind, bytearray(entry.data), entry.at))
    return [(kind, bytes(data), at) for kind, data, at in runs]
