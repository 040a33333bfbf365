# -*- test-case-name: tests.heartbeat -*-
"""
netlab-heartbeat: UDP heartbeats for many clients.  The pure core
(formats, phi accrual detector, tracking), the monitor protocol and its
observer interface, the sender service, and the status page.
"""

from twisted_netlab._lazy import lazy_exports
from twisted_netlab.heartbeat._core import (
    Beat,
    BeatKind,
    BeatReceived,
    ClientForgotten,
    ClientState,
    ClientStatus,
    DatagramRejected,
    HeartbeatMonitor,
    KeyBy,
    LocalProtocolError,
    MonitorSettings,
    PeerProtocolError,
    PhiAccrualDetector,
    RejectReason,
    StateChanged,
    decode_beat,
    encode_beat,
    phi,
    verify_beat,
)

#: Adapters are imported on first use (PEP 562), so importing the pure core
#: (``twisted_netlab.heartbeat._core``) does not load the reactor machinery.

_ADAPTERS = {
    "IHeartbeatObserver": "twisted_netlab.heartbeat.monitor",
    "LoggingObserver": "twisted_netlab.heartbeat.monitor",
    "MonitorProtocol": "twisted_netlab.heartbeat.monitor",
    "HeartbeatSender": "twisted_netlab.heartbeat.sender",
    "status_site": "twisted_netlab.heartbeat.status",
}


__getattr__, __dir__ = lazy_exports(__name__, _ADAPTERS)

__all__ = [
    "Beat",
    "BeatKind",
    "BeatReceived",
    "ClientForgotten",
    "ClientState",
    "ClientStatus",
    "DatagramRejected",
    "HeartbeatMonitor",
    "HeartbeatSender",
    "IHeartbeatObserver",
    "KeyBy",
    "LocalProtocolError",
    "LoggingObserver",
    "MonitorProtocol",
    "MonitorSettings",
    "PeerProtocolError",
    "PhiAccrualDetector",
    "RejectReason",
    "StateChanged",
    "decode_beat",
    "encode_beat",
    "phi",
    "status_site",
    "verify_beat",
]
