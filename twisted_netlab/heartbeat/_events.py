# -*- test-case-name: tests.heartbeat.test_monitor_core -*-
"""
What netlab-heartbeat's monitor reports (pure, standard library only): the
client states and beat kinds, and the frozen events L{HeartbeatMonitor}
returns (beats, state changes, rejections, pressure, summaries, rows).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Optional, Tuple, Union

from twisted_netlab.heartbeat._beat import RejectReason

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
    source address (host and port) per C{report_interval}, and for at most
    C{max_reports} sources per interval in all; C{suppressed} counts the
    rejections from that source not reported since its last report.
    C{text} is the datagram, escaped and cut (L{preview}), when reported.
    """

    source: str
    reason: RejectReason
    detail: str
    report: bool
    suppressed: int
    text: str = ""


@dataclass(frozen=True)
class TableFull:
    """
    New clients kept coming while the table held C{max_clients}: reported
    at most once per C{report_interval}.  Since the last report,
    C{evicted} stopped clients (least recently heard first) made room for
    new ones, and C{refused} new clients were turned away because no
    client was stopped (live clients are never evicted).
    """

    at: float
    tracked: int
    max_clients: int
    evicted: int
    refused: int


@dataclass(frozen=True)
class MonitorSummary:
    """
    The periodic summary (every C{summary_interval}): clients per state
    now, and what came in since the previous summary.
    """

    at: float
    interval_seconds: float
    tracked: int
    alive: int
    suspect: int
    stopped: int
    recovered: int
    accepted: int
    rejected: Tuple[Tuple[RejectReason, int], ...]


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


MonitorEvent = Union[BeatReceived, StateChanged, ClientForgotten, DatagramRejected, TableFull, MonitorSummary]
