# -*- test-case-name: tests.heartbeat.test_package -*-
"""
netlab-heartbeat: UDP heartbeats for many clients.  The sans-IO layer (the
beat format in L{_beat}, the phi detector in L{_phi}, the monitor's core in
L{_monitor_core}), the monitor protocol, the sender service and the status
page.  One C{__all__}; every name is imported on first use (PEP 562).
"""

from twisted_netlab._lazy import lazy_exports

_BEAT = "twisted_netlab.heartbeat._beat"
_PHI = "twisted_netlab.heartbeat._phi"
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
    "BeatKind": _MONITOR_CORE,
    "BeatReceived": _MONITOR_CORE,
    "ClientForgotten": _MONITOR_CORE,
    "ClientState": _MONITOR_CORE,
    "ClientStatus": _MONITOR_CORE,
    "DatagramRejected": _MONITOR_CORE,
    "HeartbeatMonitor": _MONITOR_CORE,
    "KeyBy": _MONITOR_CORE,
    "MonitorSettings": _MONITOR_CORE,
    "StateChanged": _MONITOR_CORE,
    # Twisted adapters
    "IHeartbeatObserver": "twisted_netlab.heartbeat.monitor",
    "LoggingObserver": "twisted_netlab.heartbeat.monitor",
    "MonitorProtocol": "twisted_netlab.heartbeat.monitor",
    "HeartbeatSender": "twisted_netlab.heartbeat.sender",
    "status_site": "twisted_netlab.heartbeat.status",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
