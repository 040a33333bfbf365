# -*- test-case-name: tests.test_endpoints -*-
"""
Shared glue for the families' ``tap`` and ``cli`` modules: listening
services that announce their bound address in one fixed log line, option
validators for UDP ``--port``/``--interface``, and late reactor defaulting.

The announcement line (``LISTENING_FORMAT``) is a contract: integration
tests start ``twistd -n netlab-<service>`` on port 0 and read the real port
from it.
"""

from __future__ import annotations

import ipaddress
import signal
from typing import Any, Optional

from twisted.application.service import Service
from twisted.internet.defer import Deferred, maybeDeferred, succeed
from twisted.internet.error import CannotListenError
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

log = Logger()

#: Every listening service logs this once it is bound.  Keep it stable.
LISTENING_FORMAT = "{service} listening on {transport} {host} {port}"


def default_reactor(reactor: Any = None) -> Any:
    """
    Return C{reactor}, or the global reactor when it is L{None}.  Only
    ``tap``/``cli`` modules call this: everything else takes a reactor.
    """
    if reactor is None:
        from twisted.internet import reactor as global_reactor

        return global_reactor
    return reactor


def graceful_exit(reactor: Any) -> None:
    """
    A netlab server stopped by SIGTERM or SIGINT stops gracefully, so its
    exit status is 0.  twistd would otherwise re-raise the signal after the
    reactor stops and the process would end "killed by SIGTERM" (status
    -15); forget it (a private attribute of Twisted's reactors).
    """
    if getattr(reactor, "_exitSignal", None) in (signal.SIGTERM, signal.SIGINT):
        reactor._exitSignal = None


def announce(service: str, port: IListeningPort) -> None:
    """
    Log the bound address of C{port} in the L{LISTENING_FORMAT} line.
    """
    address = port.getHost()
    transport = getattr(address, "type", "UNIX").lower()
    host = getattr(address, "host", None)
    number = getattr(address, "port", None)
    if host is None:  # UNIX sockets
        host, number = getattr(address, "name", b"?"), 0
        if isinstance(host, bytes):
            host = host.decode("utf-8", "replace")
    log.info(
        LISTENING_FORMAT,
        service=service,
        transport=transport,
        host=host,
        port=number,
    )


class StreamListeningService(Service):
    """
    Listen on a Twisted endpoint string (``tcp:8080``, ``ssl:8443:...``,
    ``unix:/path``) with a factory, announce the bound address, and stop
    listening on C{stopService}.

    Unlike L{twisted.application.strports.service} it logs the *bound*
    port, so ``tcp:0`` is usable in tests.
    """

    def __init__(
        self, service_name: str, description: str, factory: Any, reactor: Any = None
    ) -> None:
        self.service_name = service_name
        self.description = description
        self.factory = factory
        self._reactor = reactor
        self.port: Optional[IListeningPort] = None
        self._listening: Optional[Deferred] = None

    def startService(self) -> None:
        """
        Listen now.  TCP, SSL and UNIX endpoints answer at once: a failure
        then raises L{SystemExit} with one clear line, which twistd prints
        before exiting 1 (it starts services before running the reactor).
        An endpoint that answers later and fails stops the reactor.
        """
        Service.startService(self)
        reactor = default_reactor(self._reactor)
        try:
            endpoint = serverFromString(reactor, self.description)
        except (ValueError, KeyError, TypeError) as error:
            raise SystemExit(f"{self.service_name}: error: bad endpoint {self.description!r}: {error}")
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

    def _listened(self, port: IListeningPort) -> IListeningPort:
        self.port = port
        announce(self.service_name, port)
        return port

    def _failure_message(self, reason: Failure) -> str:
        error = reason.value
        detail = getattr(error, "socketError", None) or error
        return f"{self.service_name}: error: cannot listen on {self.description}: {detail}"

    def stopService(self) -> Optional[Deferred]:
        Service.stopService(self)
        graceful_exit(default_reactor(self._reactor))
        if self.port is not None:
            port, self.port = self.port, None
            return maybeDeferred(port.stopListening)
        if self._listening is not None:
            self._listening.cancel()
        return None


class DatagramListeningService(Service):
    """
    Bind a L{DatagramProtocol} on C{interface}:C{port} and announce the bound
    address; stop listening on C{stopService}.
    """

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

    def startService(self) -> None:
        """
        Bind now; a taken port raises L{SystemExit} with one clear line
        (twistd prints it and exits 1) rather than a traceback.
        """
        Service.startService(self)
        try:
            self.port = default_reactor(self._reactor).listenUDP(
                self.port_number, self.protocol, interface=self.interface, maxPacketSize=self.max_packet_size
            )
        except CannotListenError as error:
            raise SystemExit(
                f"{self.service_name}: error: cannot listen on udp {self.interface} port "
                f"{self.port_number}: {error.socketError} (choose another with --port)"
            )
        announce(self.service_name, self.port)

    def stopService(self) -> Optional[Deferred]:
        Service.stopService(self)
        graceful_exit(default_reactor(self._reactor))
        if self.port is not None:
            port, self.port = self.port, None
            return maybeDeferred(port.stopListening)
        return None


def parse_udp_port(value: str) -> int:
    """
    Validate a UDP port option value (0 means "any free port").
    """
    try:
        port = int(value)
    except ValueError:
        raise usage.UsageError(f"port must be a number from 0 to 65535, not {value!r}")
    if not 0 <= port <= 65535:
        raise usage.UsageError(f"port must be a number from 0 to 65535, not {value!r}")
    return port


def parse_interface(value: str) -> str:
    """
    Validate a listening interface: a literal IPv4 or IPv6 address
    (``0.0.0.0``/``::`` listen widely, which must be asked for explicitly).
    """
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise usage.UsageError(
            f"interface must be an IPv4 or IPv6 address such as 127.0.0.1 or ::1, not {value!r}"
        )


def parse_duration(value: str) -> float:
    """
    Parse a duration such as ``1.5``, ``250ms``, ``2s``, ``1m`` into seconds.
    """
    text = value.strip().lower()
    units: list[tuple[str, float]] = [("ms", 0.001), ("us", 1e-6), ("s", 1.0), ("m", 60.0), ("h", 3600.0)]
    scale = 1.0
    for suffix, factor in units:
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        seconds = float(text) * scale
    except ValueError:
        raise usage.UsageError(f"not a duration: {value!r} (try 1.5, 250ms, 2s)")
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise usage.UsageError(f"not a duration: {value!r} (must be finite and >= 0)")
    return seconds

