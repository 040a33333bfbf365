"""
Test doubles for the heartbeat sender: a clock-driven reactor with
C{listenUDP} (which L{MemoryReactorClock} lacks) and a connected datagram
transport.
"""

from twisted.internet.defer import fail, succeed
from twisted.internet.error import DNSLookupError
from twisted.internet.task import Clock


class ConnectedDatagramTransport:
    """
    Like L{FakeDatagramTransport}, for a connected UDP socket.

    Test-only attributes: C{connected_to} (the address given to
    C{connect}), C{written} (datagrams in order), C{stopped}.
    """

    def __init__(self):
        self.connected_to = None
        self.written = []
        self.stopped = False
        self.fail_with = None

    def connect(self, host, port):
        self.connected_to = (host, port)

    def write(self, datagram, addr=None):
        if self.fail_with is not None:
            raise self.fail_with
        assert addr is None and self.connected_to is not None
        self.written.append(datagram)

    def stopListening(self):
        self.stopped = True
        return succeed(None)


class UDPClock(Clock):
    """
    A L{Clock} that also answers C{listenUDP}, C{resolve} and
    C{addSystemEventTrigger} the way the sender and ``netlab beat`` use them.
    """

    def __init__(self, names=None):
        Clock.__init__(self)
        self.names = names or {}
        self.listened = []
        self.triggers = []

    def listenUDP(self, port, protocol, interface="", maxPacketSize=8192):
        transport = ConnectedDatagramTransport()
        self.listened.append((port, interface, protocol, transport))
        protocol.makeConnection(transport)
        return transport

    def resolve(self, name, timeout=None):
        if name in self.names:
            return succeed(self.names[name])
        return fail(DNSLookupError(name))

    def addSystemEventTrigger(self, phase, event, callable, *args, **kwargs):
        self.triggers.append((phase, event, callable))

    def fire_shutdown(self):
        for phase, event, callable in self.triggers:
            if (phase, event) == ("before", "shutdown"):
                callable()

    @property
    def transport(self):
        return self.listened[-1][3]
