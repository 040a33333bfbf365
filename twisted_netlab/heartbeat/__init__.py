# -*- test-case-name: tests.heartbeat.test_package -*-
"""
netlab-heartbeat: UDP heartbeats for many clients.  One C{__all__} with the
sans-IO names (_beat, _phi, _events, _monitor_core) and the Twisted adapters
(monitor, sender, status page), each imported on first use (PEP 562).
"""

from twisted_netlab._lazy import lazy_exports

_BEAT = "twisted_netlab.heartbeat._beat"
_PHI = "twisted_netlab.heartbeat._phi"
_EVENTS = "twisted_netlab.heartbeat._events"
_MONITOR_CORE = "twisted_netlab.heartbeat._monitor_core"

#: Public name -> the module that defines it.  Importing a pure module runs
#: this file first, so nothing here may load the reactor machinery.
_EXPORTS = {
    # sans-IO: the beat format both sides share
    "Beat": _BEAT,
    "LocalProtocolError": _BEAT,
    "PeerProtocolError": _BEAT,
    "RejectReason": _BEAT,
    "decode_beat": _BEAT,
    "encode_beat": _BEAT,
    "verify_beat": _BEAT,
    # sans-IO: the detector and the monitor's core
    "PhiAccrualDetector": _PHI,
    "phi": _PHI,
    "BeatKind": _EVENTS,
    "BeatReceived": _EVENTS,
    "ClientForgotten": _EVENTS,
    "ClientState": _EVENTS,
    "ClientStatus": _EVENTS,
    "DatagramRejected": _EVENTS,
    "HeartbeatMonitor": _MONITOR_CORE,
    "KeyBy": _MONITOR_CORE,
    "MonitorSettings": _MONITOR_CORE,
    "MonitorSummary": _EVENTS,
    "StateChanged": _EVENTS,
    "TableFull": _EVENTS,
    # Twisted adapters
    "IHeartbeatObserver": "twisted_netlab.heartbeat.monitor",
    "LoggingObserver": "twisted_netlab.heartbeat.monitor",
    "MonitorProtocol": "twisted_netlab.heartbeat.monitor",
    "BeatLoop": "twisted_netlab.heartbeat.beats",
    "HeartbeatSender": "twisted_netlab.heartbeat.sender",
    "status_site": "twisted_netlab.heartbeat.status",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
