# -*- test-case-name: tests.mail.test_sink_faults -*-
"""
Pure fault plan of the mail sink: which stage of the SMTP dialogue answers
which code, always or only the Nth time that stage is reached.  Standard
library only; the counters live here so that every connection of one server
shares them (``DATA=552:3`` is the third message the process receives).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple


class Stage(enum.Enum):
    """
    Points of the dialogue where a fault can be injected.  C{DATA} is the
    reply after the message body (the message is read in full, then
    refused and not stored), where real servers apply size, quota and
    content checks.
    """

    CONNECT = "CONNECT"
    EHLO = "EHLO"
    HELO = "HELO"
    STARTTLS = "STARTTLS"
    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"


class FaultSyntaxError(ValueError):
    """
    A C{--fault} value that cannot be used; the message is meant for users.
    """


@dataclass(frozen=True)
class FaultRule:
    """
    Answer C{code} at C{stage}: every time when C{occurrence} is L{None},
    else only the C{occurrence}th time (counted from 1 over the whole
    server process).
    """

    stage: Stage
    code: int
    occurrence: Optional[int] = None

    def __post_init__(self) -> None:
        if not 400 <= self.code <= 599:
            raise FaultSyntaxError(
                f"fault code must be a failure reply from 400 to 599, not {self.code}"
            )
        if self.occurrence is not None and self.occurrence < 1:
            raise FaultSyntaxError(f"the occurrence after ':' counts from 1, not {self.occurrence}")

    def describe(self) -> str:
        suffix = "" if self.occurrence is None else f":{self.occurrence}"
        return f"{self.stage.value}={self.code}{suffix}"


@dataclass(frozen=True)
class FaultReply:
    """
    What the sink answers instead of the normal reply.  C{closes} is true
    for 421, after which RFC 5321 3.8 has the server close the channel.
    """

    code: int
    enhanced: str
    text: str
    rule: FaultRule
    count: int

    @property
    def closes(self) -> bool:
        return self.code == 421


_SPEC = re.compile(r"^\s*([A-Za-z]+)\s*=\s*(\d{3})\s*(?::\s*(\d+)\s*)?$")


def parse_fault(value: str) -> FaultRule:
    """
    Parse ``STAGE=CODE`` or ``STAGE=CODE:N`` (stage case-insensitive).

    @raise FaultSyntaxError: with a message naming what is wrong.
    """
    match = _SPEC.match(value)
    if match is None:
        raise FaultSyntaxError(
            f"--fault expects STAGE=CODE or STAGE=CODE:N (e.g. RCPT=451 or DATA=552:3), not {value!r}"
        )
    name, code, occurrence = match.groups()
    try:
        stage = Stage[name.upper()]
    except KeyError:
        stages = ", ".join(s.value for s in Stage)
        raise FaultSyntaxError(f"--fault stage {name!r} is not one of {stages}")
    return FaultRule(stage, int(code), None if occurrence is None else int(occurrence))


# (code) -> (enhanced status code, text); RFC 5321 4.2.3 and RFC 3463.
_TEXTS: Dict[int, Tuple[str, str]] = {
    421: ("4.3.2", "Service not available, closing transmission channel"),
    450: ("4.2.1", "Mailbox unavailable, try again later"),
    451: ("4.3.0", "Requested action aborted: local error in processing"),
    452: ("4.3.1", "Insufficient system storage"),
    454: ("4.7.0", "Temporary failure, try again later"),
    500: ("5.5.2", "Syntax error, command unrecognized"),
    501: ("5.5.4", "Syntax error in parameters or arguments"),
    502: ("5.5.1", "Command not implemented"),
    503: ("5.5.1", "Bad sequence of commands"),
    504: ("5.5.4", "Command parameter not implemented"),
    521: ("5.3.2", "Server does not accept mail"),
    530: ("5.7.0", "Authentication required"),
    534: ("5.7.9", "Authentication mechanism is too weak"),
    535: ("5.7.8", "Authentication credentials invalid"),
    538: ("5.7.11", "Encryption required for requested authentication mechanism"),
    550: ("5.1.1", "Requested action not taken: mailbox unavailable"),
    551: ("5.1.6", "User not local"),
    552: ("5.3.4", "Message size exceeds fixed maximum message size"),
    553: ("5.1.3", "Requested action not taken: mailbox name not allowed"),
    554: ("5.0.0", "Transaction failed"),
    555: ("5.5.4", "MAIL FROM/RCPT TO parameters not recognized or not implemented"),
}

# Texts that read better for one stage than the generic one above.
_STAGE_TEXTS: Dict[Tuple[Stage, int], Tuple[str, str]] = {
    (Stage.STARTTLS, 454): ("4.7.0", "TLS not available due to temporary reason"),
    (Stage.AUTH, 454): ("4.7.0", "Temporary authentication failure"),
    (Stage.MAIL, 550): ("5.7.1", "Sender address rejected"),
    (Stage.RCPT, 552): ("5.2.2", "Mailbox full"),
    (Stage.DATA, 550): ("5.7.1", "Message content rejected"),
    (Stage.DATA, 554): ("5.6.0", "Message rejected"),
    (Stage.CONNECT, 554): ("5.3.2", "No SMTP service here"),
}


def fault_text(stage: Stage, code: int) -> Tuple[str, str]:
    """
    The enhanced status code and human text for C{code} at C{stage}.
    """
    found = _STAGE_TEXTS.get((stage, code)) or _TEXTS.get(code)
    if found is not None:
        return found
    return (f"{code // 100}.0.0", "Requested action failed")


class FaultPlan:
    """
    The rules of one server process and the per-stage counters.

    L{check} is called each time a stage is reached (after the command's
    own syntax and sequence checks passed), so counting is deterministic
    for a client that talks to the server alone.
    """

    def __init__(self, rules: Iterable[FaultRule] = ()) -> None:
        self.rules: List[FaultRule] = []
        self._counts: Dict[Stage, int] = {stage: 0 for stage in Stage}
        for rule in rules:
            self.add(rule)

    def add(self, rule: FaultRule) -> None:
        """
        @raise FaultSyntaxError: when C{rule} overlaps an earlier one (two
            answers for the same occurrence would be ambiguous).
        """
        for other in self.rules:
            if other.stage is not rule.stage:
                continue
            if other.occurrence is None or rule.occurrence is None or other.occurrence == rule.occurrence:
                raise FaultSyntaxError(
                    f"--fault {rule.describe()} overlaps --fault {other.describe()}: "
                    "give each occurrence of a stage one answer"
                )
        self.rules.append(rule)

    def count(self, stage: Stage) -> int:
        """
        How many times C{stage} was reached so far.
        """
        return self._counts[stage]

    def check(self, stage: Stage) -> Optional[FaultReply]:
        """
        Count one more occurrence of C{stage} and return the fault to answer
        with, or L{None} when this occurrence proceeds normally.
        """
        self._counts[stage] += 1
        number = self._counts[stage]
        for rule in self.rules:
            if rule.stage is stage and rule.occurrence in (None, number):
                enhanced, text = fault_text(stage, rule.code)
                return FaultReply(
                    rule.code,
                    enhanced,
                    f"{text} (netlab fault {stage.value} #{number})",
                    rule,
                    number,
                )
        return None
