# -*- test-case-name: tests.test_endpoints -*-
"""
Shared glue for the families' ``tap`` and ``cli`` modules: late reactor
defaulting (and, for the ``netlab`` commands, a reactor without TLS until
TLS is needed), option validators for UDP ``--port``/``--interface`` and
durations, and the listening services of L{twisted_netlab._listening}
(re-exported here, imported on first use so that clients stay light).

The announcement line (``LISTENING_FORMAT``) is a contract: integration
tests start ``twistd -n netlab-<service>`` on port 0 and read the real port
from it.
"""

from __future__ import annotations

import ipaddress
import signal
import sys
from typing import TYPE_CHECKING, Any

from twisted.python import usage

from twisted_netlab._lazy import lazy_exports

if TYPE_CHECKING:
    from twisted.internet.interfaces import IListeningPort

    from twisted_netlab._listening import (
        DatagramListeningService,
        StreamListeningService,
        bind_early,
    )

#: Every listening service logs this once it is bound.  Keep it stable.
LISTENING_FORMAT = "{service} listening on {transport} {host} {port}"

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "StreamListeningService": "twisted_netlab._listening",
        "DatagramListeningService": "twisted_netlab._listening",
        "bind_early": "twisted_netlab._listening",
        # Looked up here at each bind, so that tests can patch it.
        "serverFromString": "twisted.internet.endpoints",
    },
)


def defer_tls() -> None:
    """
    Until L{allow_tls}, make C{import OpenSSL} fail, so that importing the
    reactor and L{twisted.internet.endpoints} skips their optional TLS
    support (pyOpenSSL, cryptography and service_identity: about half of
    a client's start-up).  Only the ``netlab`` command calls this, for a
    sub-command that needs no TLS; a library user's process is never
    changed.  No effect once OpenSSL is loaded.
    """
    if "OpenSSL" not in sys.modules:
        sys.modules["OpenSSL"] = None  # type: ignore[assignment]


#: Run when a certificate is first checked, not with the reactor, in a
#: ``netlab`` command that loads TLS from the start (STARTTLS): the
#: reactor's TLS transports need only pyOpenSSL's core; Twisted's TLS
#: settings module (with service_identity) and cryptography's X.509 layer
#: (its name tables and, under them, the email package) cost about half
#: of that command's start-up again.  The console script defers them
#: (L{twisted_netlab._startup.defer_imports}, given to
#: L{twisted_netlab.cli.run}).
TLS_CHECKING_MODULES = ("twisted.internet.ssl", "cryptography.x509")


def allow_tls() -> None:
    """
    Undo L{defer_tls}: the next C{import OpenSSL} loads it.  Code that
    needs TLS calls this first.  (The reactor imported meanwhile has no
    C{connectSSL}/C{startTLS}; TLS is then layered with
    L{twisted.protocols.tls}, as L{twisted.internet.endpoints.wrapClientTLS}
    does.)
    """
    if "OpenSSL" in sys.modules and sys.modules["OpenSSL"] is None:
        del sys.modules["OpenSSL"]


def tls_deferred() -> bool:
    """
    Whether L{defer_tls} is in force.
    """
    return "OpenSSL" in sys.modules and sys.modules["OpenSSL"] is None


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


def announce(service: str, port: "IListeningPort") -> None:
    """
    Log the bound address of C{port} in the L{LISTENING_FORMAT} line.
    """
    from twisted.logger import Logger

    address = port.getHost()
    transport = getattr(address, "type", "UNIX").lower()
    host = getattr(address, "host", None)
    number = getattr(address, "port", None)
    if host is None:  # UNIX sockets
        host, number = getattr(address, "name", b"?"), 0
        if isinstance(host, bytes):
            host = host.decode("utf-8", "replace")
    Logger(namespace="twisted_netlab._endpoints").info(
        LISTENING_FORMAT,
        service=service,
        transport=transport,
        host=host,
        port=number,
    )


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

