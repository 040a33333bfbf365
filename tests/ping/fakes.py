"""
Test doubles for the ping family: a datagram transport and a reactor
with C{listenUDP} (Twisted's L{MemoryReactorClock} has none).
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.task import Clock
from twisted.internet.testing import FakeDatagramTransport


class FakeUDPPort(FakeDatagramTransport):
    """
    L{FakeDatagramTransport} plus the port methods our protocols call.

    Test-only attributes: C{written} (the C{(packet, addr)} pairs written),
    C{listening} (False once C{stopListening} was called), C{fail_with}
    (an exception every C{write} raises when set).
    """

    def __init__(self, protocol: Any = None) -> None:
        FakeDatagramTransport.__init__(self)
        self.protocol = protocol
        self.listening = True
        self.fail_with: Optional[BaseException] = None

    def write(self, packet: bytes, addr: Any = FakeDatagramTransport.noAddr) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        FakeDatagramTransport.write(self, packet, addr)

    def stopListening(self) -> None:
        if self.listening:
            self.listening = False
            if self.protocol is not None:
                self.protocol.doStop()

    def payloads(self) -> List[bytes]:
        return [packet for packet, _ in self.written]


class FakeUDPReactor(Clock):
    """
    A L{Clock} that also records C{listenUDP} calls (C{udp_ports}) and
    resolves names from C{names}.
    """

    def __init__(self) -> None:
        Clock.__init__(self)
        self.udp_ports: List[Tuple[int, Any, str, FakeUDPPort]] = []
        self.names = {"localhost": "127.0.0.1"}
        self.running = True

    def listenUDP(self, port: int, protocol: Any, interface: str = "", maxPacketSize: int = 8192) -> FakeUDPPort:
        transport = FakeUDPPort(protocol)
        self.udp_ports.append((port, protocol, interface, transport))
        protocol.makeConnection(transport)
        return transport

    def resolve(self, name: str, timeout: Any = None) -> defer.Deferred:
        if name in self.names:
            return defer.succeed(self.names[name])
        return defer.fail(DNSLookupError(name))

    def callFromThread(self, function: Any, *args: Any, **kwargs: Any) -> None:
        function(*args, **kwargs)
