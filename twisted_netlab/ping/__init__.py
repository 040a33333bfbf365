# -*- test-case-name: tests.ping -*-
"""
netlab-echo (a lossy UDP echo server with network impairments) and
``netlab ping`` (a UDP pinger with iputils-grade statistics).

One face, as h11's: the sans-IO names of the pure modules (the probe format,
the echo's impairment model and its datagram fates, the pinger's session)
are imported here; the Twisted adapters (L{ping}, L{PingerProtocol},
L{LossyEchoProtocol}) only on first use, so importing a core loads no
Twisted.
"""

from twisted_netlab._lazy import lazy_exports
from twisted_netlab.ping._echo_core import (
    AbuseGuard,
    AbuseLimits,
    DelayDistribution,
    Delivery,
    Direction,
    DropReason,
    EchoPath,
    GilbertElliott,
    ImpairmentConfig,
    Impairments,
    Refusal,
    StagedPath,
    Verdict,
)
from twisted_netlab.ping._fates import CopyDropped, DatagramFate, EchoSent, FateRecorder, describe_fate
from twisted_netlab.ping._pinger_core import (
    CorruptedReply,
    DuplicateReply,
    ForeignReply,
    LateReply,
    PingEvent,
    PingReport,
    PingSession,
    ProbeError,
    ProbeFate,
    ProbeRecord,
    ProbeSent,
    ProbeTimedOut,
    ReplyReceived,
    RttSummary,
    SendFailed,
    rtt_summary,
)
from twisted_netlab.ping._probe import (
    MAX_UDP_PAYLOAD,
    PayloadFormat,
    ProbeIdentity,
    decode_probe,
    encode_probe,
    probe_sequence,
)

_ADAPTERS = {
    "LossyEchoProtocol": "twisted_netlab.ping.echo",
    "PingerProtocol": "twisted_netlab.ping.pinger",
    "ping": "twisted_netlab.ping.pinger",
}

__getattr__, __dir__ = lazy_exports(__name__, _ADAPTERS)

__all__ = [
    "MAX_UDP_PAYLOAD",
    "AbuseGuard",
    "AbuseLimits",
    "CopyDropped",
    "CorruptedReply",
    "DatagramFate",
    "DelayDistribution",
    "Delivery",
    "Direction",
    "DropReason",
    "DuplicateReply",
    "EchoPath",
    "EchoSent",
    "FateRecorder",
    "ForeignReply",
    "GilbertElliott",
    "ImpairmentConfig",
    "Impairments",
    "LateReply",
    "LossyEchoProtocol",
    "PayloadFormat",
    "PingEvent",
    "PingReport",
    "PingSession",
    "PingerProtocol",
    "ProbeError",
    "ProbeFate",
    "ProbeIdentity",
    "ProbeRecord",
    "ProbeSent",
    "ProbeTimedOut",
    "Refusal",
    "ReplyReceived",
    "RttSummary",
    "SendFailed",
    "StagedPath",
    "Verdict",
    "decode_probe",
    "describe_fate",
    "encode_probe",
    "ping",
    "probe_sequence",
    "rtt_summary",
]
