"""
Test doubles for UDP, shared by every family: a datagram port (connected
or not) and a clock-driven reactor with C{listenUDP}, C{resolve} and
system event triggers (Twisted's L{MemoryReactorClock} has no
C{listenUDP}).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.task import Clock
from twisted.internet.testing import FakeDatagramTransport


class FakeUDPPort(FakeDatagramTransport):
    """
    L{FakeDatagramTransport} plus the port methods our protocols call, for
    unconnected and connected sockets alike.

    Test-only attributes: C{written} (what was written: C{(packet, addr)}
    pairs on an unconnected port, bare packets once C{connect} was called,
    since a connected write names no address), C{connected_to} (the
    address given to C{connect}, or L{None}), C{listening} (False once
    C{stopListening} was called; C{stopped} is its negation), C{fail_with}
    (an exception every C{write} raises when set).
    """

    def __init__(self, protocol: Any = None) -> None:
        FakeDatagramTransport.__init__(self)
        self.protocol = protocol
        self.listening = True
        self.connected_to: Optional[Tuple[str, int]] = None
        self.fail_with: Optional[BaseException] = None

    @property
    def stopped(self) -> bool:
        return not self.listening

    def connect(self, host: str, port: int) -> None:
        self.connected_to = (host, port)

    def write(self, packet: bytes, addr: Any = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        if self.connected_to is not None:
            # As Twisted's connected port: no address, or the connected one.
            assert addr in (None, self.connected_to), (addr, self.connected_to)
            self.written.append(packet)
            return
        assert addr is not None, "an unconnected UDP port needs an address"
        FakeDatagramTransport.write(self, packet, addr)

    def stopListening(self) -> defer.Deferred:
        """
        Stop once; the protocol is told (C{doStop}) as a real port's
        C{connectionLost} does, unless it already left this port.
        """
        if self.listening:
            self.listening = False
            if self.protocol is not None and self.protocol.transport is self:
                self.protocol.doStop()
        return defer.succeed(None)

    def payloads(self) -> List[bytes]:
        """
        The packets written, without their addresses.
        """
        return [item if self.connected_to is not None else item[0] for item in self.written]


class FakeUDPReactor(Clock):
    """
    A L{Clock} that also answers C{listenUDP}, C{resolve}, C{callFromThread}
    and C{addSystemEventTrigger} the way the UDP clients and servers use them.

    Test-only attributes: C{listened} (C{(port, interface, protocol,
    transport)} per C{listenUDP} call), C{transport} (the last port
    opened), C{names} (what C{resolve} knows), C{triggers} (the system
    event triggers added; L{fire_shutdown} runs the "before shutdown" ones).
    """

    def __init__(self, names: Optional[Dict[str, str]] = None) -> None:
        Clock.__init__(self)
        self.names = {"localhost": "127.0.0.1"} if names is None else dict(names)
        self.listened: List[Tuple[int, str, Any, FakeUDPPort]] = []
        self.triggers: List[Tuple[str, str, Callable[[], Any]]] = []
        self.running = True

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> FakeUDPPort:
        transport = FakeUDPPort(protocol)
        self.listened.append((port, interface, protocol, transport))
        protocol.makeConnection(transport)
        return transport

    @property
    def transport(self) -> FakeUDPPort:
        return self.listened[-1][3]

    def resolve(self, name: str, timeout: Any = None) -> defer.Deferred:
        if name in self.names:
            return defer.succeed(self.names[name])
        return defer.fail(DNSLookupError(name))

    def callFromThread(self, function: Any, *args: Any, **kwargs: Any) -> None:
        function(*args, **kwargs)

    def addSystemEventTrigger(self, phase: str, event: str, callable: Any, *args: Any, **kwargs: Any) -> None:
        self.triggers.append((phase, event, lambda: callable(*args, **kwargs)))

    def fire_shutdown(self) -> None:
        for phase, event, callable in self.triggers:
            if (phase, event) == ("before", "shutdown"):
                callable()
