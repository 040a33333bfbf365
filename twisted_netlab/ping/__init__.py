# -*- test-case-name: tests.ping -*-
"""
netlab-echo (a lossy UDP echo server with network impairments) and
``netlab ping`` (a UDP pinger with iputils-grade statistics).

One face, as h11's: the sans-IO names of the pure modules (the probe format,
the echo's impairment model and its datagram fates, the pinger's session)
and the Twisted adapters (L{ping}, L{PingerProtocol}, L{LossyEchoProtocol}),
each module imported on first use of one of its names, so importing a core
loads no Twisted and ``netlab ping`` loads no echo.
"""

from twisted_netlab._lazy import lazy_exports

_ECHO_CORE = "twisted_netlab.ping._echo_core"
_FATES = "twisted_netlab.ping._fates"
_PINGER_CORE = "twisted_netlab.ping._pinger_core"
_PROBE = "twisted_netlab.ping._probe"

#: Every public name and the module defining it, imported on first use
#: (PEP 562), the pure modules too: ``netlab ping`` loads the pinger's
#: modules only, not the echo's impairment model.
_EXPORTS = {
    # the echo's impairment model
    "AbuseGuard": _ECHO_CORE,
    "AbuseLimits": _ECHO_CORE,
    "DelayDistribution": _ECHO_CORE,
    "Delivery": _ECHO_CORE,
    "Direction": _ECHO_CORE,
    "DropReason": _ECHO_CORE,
    "EchoPath": _ECHO_CORE,
    "GilbertElliott": _ECHO_CORE,
    "ImpairmentConfig": _ECHO_CORE,
    "Impairments": _ECHO_CORE,
    "Refusal": _ECHO_CORE,
    "StagedPath": _ECHO_CORE,
    "Verdict": _ECHO_CORE,
    # the echo's datagram fates
    "CopyDropped": _FATES,
    "DatagramFate": _FATES,
    "EchoSent": _FATES,
    "FateRecorder": _FATES,
    "describe_fate": _FATES,
    # the pinger's session
    "CorruptedReply": _PINGER_CORE,
    "DuplicateReply": _PINGER_CORE,
    "ForeignReply": _PINGER_CORE,
    "LateReply": _PINGER_CORE,
    "PingEvent": _PINGER_CORE,
    "PingReport": _PINGER_CORE,
    "PingSession": _PINGER_CORE,
    "ProbeError": _PINGER_CORE,
    "ProbeFate": _PINGER_CORE,
    "ProbeRecord": _PINGER_CORE,
    "ProbeSent": _PINGER_CORE,
    "ProbeTimedOut": _PINGER_CORE,
    "ReplyReceived": _PINGER_CORE,
    "RttSummary": _PINGER_CORE,
    "SendFailed": _PINGER_CORE,
    "rtt_summary": _PINGER_CORE,
    # the probe format both sides share
    "MAX_UDP_PAYLOAD": _PROBE,
    "PayloadFormat": _PROBE,
    "ProbeIdentity": _PROBE,
    "decode_probe": _PROBE,
    "encode_probe": _PROBE,
    "probe_sequence": _PROBE,
    # Twisted adapters
    "LossyEchoProtocol": "twisted_netlab.ping.echo",
    "PingerProtocol": "twisted_netlab.ping.pinger",
    "ping": "twisted_netlab.ping.pinger",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
