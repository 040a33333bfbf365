# -*- test-case-name: tests.heartbeat.test_sender -*-
"""
The heartbeat sender as a service: L{HeartbeatSender} is
L{twisted_netlab.heartbeat.beats.BeatLoop} (one beat per interval on a
connected UDP socket) started and stopped with the service, for any
Twisted application.
"""

from __future__ import annotations

from typing import Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred

from twisted_netlab.heartbeat.beats import BeatLoop, SenderProtocol

__all__ = ["HeartbeatSender", "SenderProtocol"]


class HeartbeatSender(BeatLoop, Service):
    """
    L{BeatLoop} as a service: it starts beating when the service starts
    and stops when it stops (see L{BeatLoop} for the arguments, C{done},
    C{sent}, C{refused} and C{errors}).
    """

    def startService(self) -> None:
        Service.startService(self)
        self.start()

    def stopService(self) -> Optional[Deferred]:
        Service.stopService(self)
        return self.stop()
