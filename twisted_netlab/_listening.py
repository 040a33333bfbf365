# -*- test-case-name: tests.test_endpoints -*-
"""
The listening services every netlab server uses (a Twisted adapter layer,
shared by the families' ``tap`` modules): bind a stream endpoint or a UDP
port, announce the bound address in the L{LISTENING_FORMAT} line, and fail
with one clear line.  L{bind_early} binds before twistd daemonizes.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from twisted.application.service import IServiceCollection, Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_netlab._endpoints import LISTENING_FORMAT, announce, default_reactor, graceful_exit

log = Logger()

__all__ = ["LISTENING_FORMAT", "DatagramListeningService", "StreamListeningService", "bind_early"]

#: How to make the key and certificate an ``ssl:`` endpoint reads.
TEST_CERTIFICATE_HINT = (
    "make a test certificate with: openssl req -x509 -newkey rsa:2048 -nodes -days 30 "
    "-subj /CN=localhost -keyout server.pem -out server.pem"
)


def bind_early(service: Any) -> None:
    """
    Bind every listening service under C{service} now, in the launching
    process: twistd daemonizes before it starts services, and a daemon that
    cannot listen can no longer tell the shell why.  A service that has a
    C{bind} method binds (and raises L{SystemExit} with its one line); a
    collection is walked, unless it binds its own children.
    """
    bind = getattr(service, "bind", None)
    if bind is not None:
        bind()
        return
    collection = IServiceCollection(service, None)
    if collection is not None:
        for child in list(collection):
            bind_early(child)


class StreamListeningService(Service):
    """
    Listen on a Twisted endpoint string (``tcp:8080``, ``ssl:8443:...``,
    ``unix:/path``) with a factory, announce the bound address, and stop
    listening on C{stopService}.

    Unlike L{twisted.application.strports.service} it logs the *bound*
    port, so ``tcp:0`` is usable in tests.

    @ivar option: the flag that chose the endpoint, named in the error
        when set (``netlab-all`` sets its own, e.g. ``--http``).
    """

    option: Optional[str] = None

    def __init__(
        self, service_name: str, description: str, factory: Any, reactor: Any = None
    ) -> None:
        self.service_name = service_name
        self.description = description
        self.factory = factory
        self._reactor = reactor
        self.port: Optional[IListeningPort] = None
        self._listening: Optional[Deferred] = None

    def bind(self) -> None:
        """
        Listen now (once).  TCP, SSL and UNIX endpoints answer at once: a
        failure then raises L{SystemExit} with one clear line, which twistd
        prints before exiting 1.  An endpoint that answers later and fails
        stops the reactor.
        """
        if self._listening is not None:
            return
        from twisted_netlab import _endpoints

        reactor = default_reactor(self._reactor)
        try:
            endpoint = _endpoints.serverFromString(reactor, self.description)
        except OSError as error:  # ssl: reads its key and certificate files now
            name = f" {error.filename!r}" if error.filename else ""
            raise SystemExit(
                f"{self.service_name}: error: cannot read{name} for {self.description}: "
                f"{error.strerror or error}; {TEST_CERTIFICATE_HINT}"
            )
        except Exception as error:  # ValueError, KeyError, TypeError, OpenSSL errors
            raise SystemExit(
                f"{self.service_name}: error: bad endpoint {self.description!r}: {error}"
                + endpoint_hint(self.description)
            )
        listening = endpoint.listen(self.factory)
        outcome: list = []

        def record(result: Any) -> Any:
            outcome.append(result)
            return result

        listening.addBoth(record)
        if outcome:
            result = outcome[0]
            if isinstance(result, Failure):
                listening.addErrback(lambda _: None)
                raise SystemExit(self._failure_message(result))
            self._listened(result)
            self._listening = succeed(result)
            return

        def failed(reason: Failure) -> None:
            log.critical("{message}", message=self._failure_message(reason))
            if reactor.running:
                reactor.stop()
            else:
                reactor.callWhenRunning(reactor.stop)

        self._listening = listening
        listening.addCallbacks(self._listened, failed)

    def startService(self) -> None:
        """
        Bind (unless L{bind_early} did), then count as running.
        """
        self.bind()
        Service.startService(self)

    def _listened(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        announce(self.service_name, port)
        return port

    def _failure_message(self, reason: Failure) -> str:
        error = reason.value
        detail = getattr(error, "socketError", None) or error
        hint = f" (choose another with {self.option})" if self.option else ""
        return f"{self.service_name}: error: cannot listen on {self.description}: {detail}{hint}"

    def stopService(self) -> Optional[Deferred]:
        Service.stopService(self)
        graceful_exit(default_reactor(self._reactor))
        self._listening, listening = None, self._listening
        if self.port is not None:
            port, self.port = self.port, None
            return maybeDeferred(port.stopListening)
        if listening is not None:
            listening.cancel()
        return None


def endpoint_hint(description: str) -> str:
    """
    A hint for a common mistake in an endpoint string: an IPv6 address
    whose colons are not escaped (``interface=::1`` must be written
    ``interface=\\:\\:1``, since ``:`` separates the fields).
    """
    match = re.search(r"interface=([0-9A-Fa-f:.%]*?)(?=$|:[A-Za-z]+=)", description)
    if match is None or ":" not in match.group(1):
        return ""
    escaped = match.group(1).replace(":", "\\:")
    return f" (escape the colons of an IPv6 address: interface={escaped})"


class DatagramListeningService(Service):
    """
    Bind a L{DatagramProtocol} on C{interface}:C{port} and announce the bound
    address; stop listening on C{stopService}.

    @ivar port_option: the flag that chose the port, named in the error
        (``netlab-all`` names its own, e.g. ``--echo-port``).
    """

    port_option = "--port"

    def __init__(
        self,
        service_name: str,
        protocol: Any,
        port: int,
        interface: str,
        reactor: Any = None,
        max_packet_size: int = 8192,
    ) -> None:
        self.service_name = service_name
        self.protocol = protocol
        self.port_number = port
        self.interface = interface
        self._reactor = reactor
        self.max_packet_size = max_packet_size
        self.port: Optional[IListeningPort] = None
        self._bound = False

    def bind(self) -> None:
        """
        Bind now (once); a taken port raises L{SystemExit} with one clear
        line (twistd prints it and exits 1) rather than a traceback.
        """
        if self._bound:
            return
        self._bound = True
        try:
            self.port = self.listen(default_reactor(self._reactor))
        except CannotListenError as error:
            self._bound = False
            raise SystemExit(
                f"{self.service_name}: error: cannot listen on udp {self.interface} port "
                f"{self.port_number}: {error.socketError} (choose another with {self.port_option})"
            )
        if self.port is not None:
            announce(self.service_name, self.port)

    def listen(self, reactor: Any) -> Optional[IListeningPort]:
        """
        Open the UDP port (subclasses may pass more to C{listenUDP}).
        """
        return reactor.listenUDP(
            self.port_number, self.protocol, interface=self.interface, maxPacketSize=self.max_packet_size
        )

    def startService(self) -> None:
        self.bind()
        Service.startService(self)

    def stopService(self) -> Optional[Deferred]:
        Service.stopService(self)
        graceful_exit(default_reactor(self._reactor))
        self._bound = False
        if self.port is not None:
            port, self.port = self.port, None
            return maybeDeferred(port.stopListening)
        return None
