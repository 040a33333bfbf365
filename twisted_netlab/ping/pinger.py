# -*- test-case-name: tests.ping.test_pinger -*-
"""
The Twisted adapter of ``netlab ping``: L{PingerProtocol} sends sequenced
probes on a connected UDP socket, feeds replies and timeouts to the pure
L{PingSession}, and fires C{finished} with a L{PingReport}; L{ping} is the
Deferred-returning library entry point.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import time
from typing import Any, Callable, List, Optional

from twisted.internet import defer, udp
from twisted.internet.error import DNSLookupError, MessageLengthError
from twisted.internet.interfaces import IDelayedCall, IHalfCloseableDescriptor, IReactorFDSet
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from zope.interface import implementer

from twisted_netlab._endpoints import default_reactor

from twisted_netlab.ping._icmp import ExtendedError, decode_extended_error, icmp_error_text
from twisted_netlab.ping._pinger_core import PingEvent, PingReport, PingSession, ProbeSent
from twisted_netlab.ping._probe import PayloadFormat

#: Hard cap on probes per run, which bounds the session's memory even with
#: ``-w`` and no ``-c``.
MAX_PROBES = 1_000_000


class PingerProtocol(DatagramProtocol):
    """
    One ping run against C{host}:C{port} (an IP address).

    @param reactor: schedules probes and timeouts (a L{task.Clock} in
        tests; the global reactor when L{None}).
    @param monotonic: the clock RTTs are measured with; C{time.monotonic}
        for real runs, C{reactor.seconds} in tests.
    @param count: probes to send; L{None} for no limit (then C{deadline}
        must be set).
    @param deadline_seconds: stop after this long whatever happened;
        with it, probes keep going until C{count} replies arrived (iputils
        ``-w``).
    @param observer: called with every L{PingEvent} as it happens.

    @ivar finished: fires with the L{PingReport} once the run is over.
    """

    def __init__(
        self,
        host: str,
        port: int,
        count: Optional[int] = 10,
        interval_seconds: float = 1.0,
        timeout_seconds: float = 1.0,
        deadline_seconds: Optional[float] = None,
        size: Optional[int] = None,
        payload_format: PayloadFormat = PayloadFormat.LAB,
        observer: Optional[Callable[[PingEvent], None]] = None,
        monotonic: Callable[[], float] = time.monotonic,
        reactor: Any = None,
    ) -> None:
        if count is None and deadline_seconds is None:
            raise ValueError("without a count, a deadline is required")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        if interval_seconds <= 0:
            raise ValueError("interval must be > 0")
        self.reactor = default_reactor(reactor)
        self.host = host
        self.port = port
        self.count = count
        self.interval_seconds = interval_seconds
        self.deadline_seconds = deadline_seconds
        self.observer = observer
        self.monotonic = monotonic
        self.session = PingSession(payload_format, timeout_seconds, size)
        self.finished: defer.Deferred[PingReport] = defer.Deferred()
        self._sender: Optional[LoopingCall] = None
        self._timers: List[IDelayedCall] = []
        self._done = False
        self._peer = (host, port)

    # -- DatagramProtocol -------------------------------------------------

    def startProtocol(self) -> None:
        # Not connect()ed: with epoll, Twisted closes a connected UDP port
        # when an ICMP port-unreachable arrives, which would end the run
        # without a word.  Replies are filtered by source address instead,
        # and ICMP errors come from the error queue (ErrorQueuePort).
        if self.deadline_seconds is not None:
            self._timers.append(self.reactor.callLater(self.deadline_seconds, self.stop))
        self._sender = LoopingCall(self._send_probe)
        self._sender.clock = self.reactor
        self._sender.start(self.interval_seconds, now=True)

    def stopProtocol(self) -> None:
        self.stop()

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        if self._done:
            return
        if (addr[0], addr[1]) != self._peer:
            self._emit(self.session.foreign_received(len(datagram), f"from {addr[0]} port {addr[1]}"))
            return
        self._emit(self.session.reply_received(datagram, self.monotonic()))
        self._maybe_finish()

    def icmp_error_received(self, quoted: bytes, destination: Any, error: ExtendedError) -> None:
        """
        An ICMP error came back for a datagram we sent to C{destination};
        C{quoted} is the start of that datagram.  One of our probes to our
        peer: it is over (``From 127.0.0.1 seq=1 Destination Port
        Unreachable``) and counted in the summary's ``+N errors``.
        """
        if self._done or destination is None or (destination[0], destination[1]) != self._peer:
            return
        source = error.offender or self.host
        event = self.session.error_received(quoted, source, icmp_error_text(error))
        if event is not None:
            self._emit(event)
            self._maybe_finish()

    # -- the run ------------------------------------------------------------

    def stop(self) -> None:
        """
        End the run now (Ctrl+C, deadline): probes still waiting count as
        unanswered, and C{finished} fires with the report.
        """
        if self._done:
            return
        self._done = True
        if self._sender is not None and self._sender.running:
            self._sender.stop()
        for timer in self._timers:
            if timer.active():
                timer.cancel()
        self._timers = []
        report = self.session.report(self.host, self.port)
        if self.transport is not None:
            self.transport.stopListening()
        self.finished.callback(report)

    def _enough_sent(self) -> bool:
        session = self.session
        if session.transmitted >= MAX_PROBES:
            return True
        if self.count is None:
            return False
        if self.deadline_seconds is not None:
            # iputils -w: keep probing until count replies (or the deadline).
            return session.received >= self.count
        return session.transmitted >= self.count

    def _send_probe(self) -> None:
        if self._done:
            return
        if self._enough_sent():
            self._sender.stop()  # type: ignore[union-attr]
            self._maybe_finish()
            return
        sequence, payload = self.session.next_probe(self.monotonic(), self.reactor.seconds())
        assert self.transport is not None
        try:
            self.transport.write(payload, self._peer)
        except (OSError, MessageLengthError) as error:  # unreachable network, too long, ...
            self._emit(self.session.send_failed(sequence, str(error) or error.__class__.__name__))
        else:
            self._emit(ProbeSent(sequence, len(payload)))
        self._timers.append(self.reactor.callLater(self.session.timeout_seconds, self._expire, sequence))
        if self._enough_sent() and self._sender is not None and self._sender.running:
            self._sender.stop()

    def _expire(self, sequence: int) -> None:
        if self._done:
            return
        self._timers = [timer for timer in self._timers if timer.active()]
        event = self.session.time_out(sequence)
        if event is not None:
            self._emit(event)
        self._maybe_finish()

    def _maybe_finish(self) -> None:
        if self._done:
            return
        if self.count is not None and self.deadline_seconds is not None and self.session.received >= self.count:
            self.stop()
            return
        sending = self._sender is not None and self._sender.running
        if not sending and self.session.outstanding == 0:
            self.stop()

    def _emit(self, event: PingEvent) -> None:
        if self.observer is not None:
            self.observer(event)


def resolve_host(reactor: Any, host: str) -> defer.Deferred:
    """
    The address to ping: an IP literal as is, else the first IPv4 address
    of the name (fails with L{socket.gaierror}-like errors for bad names).
    """
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return reactor.resolve(host)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        # ipaddress takes any text as a zone; the C library knows whether
        # the interface exists (and refuses zones on addresses that are not
        # link-local).  AI_NUMERICHOST: no DNS query is made.  Found here,
        # a bad zone is one error line and exit 2, not a send error per probe.
        try:
            socket.getaddrinfo(host, None, socket.AF_INET6, socket.SOCK_DGRAM, 0, socket.AI_NUMERICHOST)
        except OSError as error:
            return defer.fail(
                DNSLookupError(f"bad zone {address.scope_id!r} (no such interface, or not link-local): {error.strerror}")
            )
    return defer.succeed(str(address))


#: Linux's socket options and flag for ICMP errors on unconnected UDP
#: sockets (linux/in.h, linux/in6.h, linux/socket.h; Python 3.11 lacks
#: some of the names).
IP_RECVERR = getattr(socket, "IP_RECVERR", 11)
IPV6_RECVERR = getattr(socket, "IPV6_RECVERR", 25)
MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)
#: Errors read per wake-up at most, so a flood of ICMP cannot hold the reactor.
MAX_ERRORS_PER_READ = 64


@implementer(IHalfCloseableDescriptor)
class ErrorQueuePort(udp.Port):
    """
    A UDP port that reports ICMP errors about the datagrams it sent, as
    iputils does, instead of losing them.

    With C{IP_RECVERR} (C{IPV6_RECVERR}) Linux queues every ICMP error
    about this unconnected socket's datagrams, with the start of the
    datagram, in the socket's error queue, and signals it as C{EPOLLERR}.
    Twisted's poll-like reactors read C{EPOLLERR} without data as the end
    of the connection; a descriptor that is half-closeable is told
    C{readConnectionLost} instead, so this port reads the queue then, and
    watches the socket again.  It also reads the queue before each read and
    each write: a pending error would otherwise make the next C{sendto}
    fail, and Twisted drops an unconnected datagram refused that way
    without a word.  (It sets the option in C{_bindSocket}, a Twisted
    internal, so that it is on before the protocol sends its first probe;
    tests/integration/test_echo_loopback.py would notice a change.)
    """

    def _bindSocket(self) -> None:
        udp.Port._bindSocket(self)  # type: ignore[attr-defined]
        if self.addressFamily == socket.AF_INET6:
            self.socket.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVERR, 1)
        else:
            self.socket.setsockopt(socket.IPPROTO_IP, IP_RECVERR, 1)

    def doRead(self) -> None:
        self.read_errors()
        return udp.Port.doRead(self)

    def write(self, datagram: bytes, addr: Any = None) -> Any:
        self.read_errors()
        return udp.Port.write(self, datagram, addr)

    def readConnectionLost(self, reason: Any) -> None:
        self.read_errors()
        # Clear any error that came without a queue entry, so the
        # descriptor does not wake the reactor again for it.
        self.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if self.connected:
            self.startReading()

    def writeConnectionLost(self, reason: Any) -> None:
        """
        Never called for a port that only reads; required by the interface.
        """

    def read_errors(self) -> None:
        """
        Hand every queued ICMP error to the protocol's
        C{icmp_error_received(quoted, destination, error)}.
        """
        for _ in range(MAX_ERRORS_PER_READ):
            try:
                quoted, ancillary, _, destination = self.socket.recvmsg(self.maxPacketSize, 512, MSG_ERRQUEUE)
            except OSError:  # BlockingIOError: the queue is empty
                return
            for level, kind, value in ancillary:
                if (level, kind) in ((socket.IPPROTO_IP, IP_RECVERR), (socket.IPPROTO_IPV6, IPV6_RECVERR)):
                    error = decode_extended_error(value)
                    if error is not None:
                        self.protocol.icmp_error_received(quoted, destination, error)


def start_pinger(reactor: Any, address: str, protocol: PingerProtocol) -> Any:
    """
    Bind an ephemeral UDP port of the address's family for C{protocol}: on
    Linux with a reactor that watches descriptors, an L{ErrorQueuePort}, so
    ICMP errors are reported; elsewhere (and on test doubles) the reactor's
    own C{listenUDP}.
    """
    family = ipaddress.ip_address(address).version
    interface = "::" if family == 6 else "0.0.0.0"
    # Read whole datagrams up to the UDP maximum: a reply cut at Twisted's
    # default 8192 bytes would look corrupted.
    if sys.platform.startswith("linux") and IReactorFDSet.providedBy(reactor):
        port = ErrorQueuePort(0, protocol, interface=interface, maxPacketSize=65535, reactor=reactor)
        port.startListening()
        return port
    return reactor.listenUDP(0, protocol, interface=interface, maxPacketSize=65535)


def ping(
    reactor: Any,
    host: str,
    port: int = 12000,
    count: Optional[int] = 10,
    interval_seconds: float = 1.0,
    timeout_seconds: float = 1.0,
    deadline_seconds: Optional[float] = None,
    size: Optional[int] = None,
    payload_format: PayloadFormat = PayloadFormat.LAB,
    observer: Optional[Callable[[PingEvent], None]] = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> "defer.Deferred[PingReport]":
    """
    Ping C{host}:C{port} and fire with the L{PingReport}.

    Fails if the name cannot be resolved or no socket can be bound.
    Cancelling the Deferred stops the run (the report is then lost: use
    L{PingerProtocol.stop} to stop early and keep it).
    """
    protocols: List[PingerProtocol] = []
    cancelled = []

    def cancel(deferred: defer.Deferred) -> None:
        cancelled.append(True)
        for protocol in protocols:
            protocol.stop()

    result: defer.Deferred[PingReport] = defer.Deferred(cancel)

    def resolved(address: str) -> Optional[defer.Deferred]:
        if cancelled:
            return None
        protocol = PingerProtocol(
            address, port, count, interval_seconds, timeout_seconds,
            deadline_seconds, size, payload_format, observer, monotonic, reactor=reactor,
        )
        protocols.append(protocol)
        start_pinger(reactor, address, protocol)
        return protocol.finished

    def deliver(value: Any) -> None:
        if not cancelled:
            result.callback(value)

    def fail(failure: Any) -> None:
        if not cancelled:
            result.errback(failure)

    resolve_host(reactor, host).addCallback(resolved).addCallbacks(deliver, fail)
    return result
