"""
netlab-echo (a lossy UDP echo server with network impairments) and
``netlab ping`` (a UDP pinger with iputils-grade statistics).

Public API: L{ping} (a Deferred of a L{PingReport}), L{PingerProtocol},
L{LossyEchoProtocol}, and the pure models L{Impairments},
L{ImpairmentConfig}, L{GilbertElliott}, L{AbuseLimits}, L{PingSession}.
"""

from twisted_netlab.ping._core import (
    AbuseLimits,
    DelayDistribution,
    GilbertElliott,
    ImpairmentConfig,
    Impairments,
    PayloadFormat,
    PingReport,
    PingSession,
    ProbeFate,
    decode_probe,
    encode_probe,
    rtt_summary,
)
from twisted_netlab.ping.echo import LossyEchoProtocol
from twisted_netlab.ping.pinger import PingerProtocol, ping

__all__ = [
    "AbuseLimits",
    "DelayDistribution",
    "GilbertElliott",
    "ImpairmentConfig",
    "Impairments",
    "LossyEchoProtocol",
    "PayloadFormat",
    "PingReport",
    "PingSession",
    "PingerProtocol",
    "ProbeFate",
    "decode_probe",
    "encode_probe",
    "ping",
    "rtt_summary",
]
