# -*- test-case-name: tests.check.test_ping_client -*-
"""
The pure case model of the checks that run a student's program once
against a netlab instrument (``ping-client``, ``beat-client``,
``beat-monitor``, ``smtp-client``): one session is recorded (what the
instrument knows happened, what the program printed) and every case judges
that same session.  Results are ordinary L{CaseResult}s, so the report
forms, scores and exit codes are those of every ``netlab check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, List, Sequence, Tuple, TypeVar

from twisted_netlab.check._case import Case, CaseResult, Context, Outcome, Profile, Recording, failed, select

S = TypeVar("S")


@dataclass(frozen=True)
class Finding:
    """
    A judge's answer: the outcome and the evidence behind it (a few lines:
    what the program printed next to what the instrument saw), shown as
    the case's transcript.
    """

    outcome: Outcome
    evidence: Tuple[str, ...] = ()


def _not_played(context: Context) -> Tuple[()]:
    return ()


def _judged_on_session(recording: Recording, context: Context) -> Outcome:
    raise TypeError("a session case is judged with judge_session, not on a stream recording")


@dataclass(frozen=True)
class SessionCase(Generic[S]):
    """
    One case of a session check: a stable id, title, reference and a
    judge of the whole session.
    """

    id: str
    title: str
    ref: str
    judge: Callable[[S], Finding]
    profile: Profile = Profile.LAB

    @property
    def case(self) -> Case:
        """
        The case as the report and L{select} know it.
        """
        return Case(self.id, self.title, self.ref, self.profile, _not_played, _judged_on_session)


def choose(cases: Sequence[SessionCase], profile: str = "all", only: Iterable[str] = ()) -> List[SessionCase]:
    """
    L{select} for session cases.

    @raise ValueError: as L{select}.
    """
    wanted = {case.id for case in select([c.case for c in cases], profile, only)}
    return [case for case in cases if case.id in wanted]


def judge_session(cases: Sequence[SessionCase], session: Any) -> List[CaseResult]:
    """
    Every case's judge on the one session; a judge that raises fails its
    own case only.
    """
    results = []
    for case in cases:
        try:
            finding = case.judge(session)
        except Exception as problem:
            finding = Finding(failed(f"internal error judging this case: {problem.__class__.__name__}: {problem}"))
        results.append(CaseResult(case.case, finding.outcome, "\n".join(finding.evidence)))
    return results


__all__ = ["Finding", "SessionCase", "choose", "judge_session"]
