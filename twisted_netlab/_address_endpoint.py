# -*- test-case-name: tests.web.test_client -*-
"""
Shared helper for the clients: L{AddressEndpoint}, a client endpoint for
an address literal on C{reactor.connectTCP}, which spares a client the
import of L{twisted.internet.endpoints} and a resolver thread.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory
from twisted.python.failure import Failure


class AddressEndpoint:
    """
    A client endpoint for an IPv4 or IPv6 address literal, straight on
    C{reactor.connectTCP}: no resolver thread and no import of
    L{twisted.internet.endpoints} (about a tenth of ``netlab get``'s
    start-up).  The Deferred fires with the protocol once connected, fails
    with the connection error, and cancelling it stops connecting.
    """

    def __init__(self, reactor: Any, host: str, port: int, timeout: float) -> None:
        self.reactor = reactor
        self.host = host
        self.port = port
        self.timeout = timeout

    def connect(self, factory: Any) -> Deferred:
        connector: List[Any] = []

        def cancel(connecting: Deferred) -> None:
            if connector:
                connector[0].stopConnecting()

        connecting: Deferred = Deferred(cancel)
        connector.append(self.reactor.connectTCP(self.host, self.port, _Notifying(factory, connecting), self.timeout))
        return connecting


class _Notifying(ClientFactory):
    """
    Build the caller's protocol and tell C{connecting} how the attempt went.
    """

    def __init__(self, factory: Any, connecting: Deferred) -> None:
        self.factory = factory
        self.connecting = connecting

    def buildProtocol(self, addr: Any) -> Any:
        protocol = self.factory.buildProtocol(addr)
        if not self.connecting.called:
            self.connecting.callback(protocol)
        return protocol

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        if not self.connecting.called:
            self.connecting.errback(reason)


__all__ = ["AddressEndpoint"]
