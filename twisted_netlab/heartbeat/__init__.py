"""
netlab-heartbeat: UDP heartbeats for many clients.  The pure core
(formats, phi accrual detector, tracking), the monitor protocol and its
observer interface, the sender service, and the status page.
"""

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
from twisted_netlab.heartbeat.monitor import IHeartbeatObserver, LoggingObserver, MonitorProtocol
from twisted_netlab.heartbeat.sender import HeartbeatSender
from twisted_netlab.heartbeat.status import status_site

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
