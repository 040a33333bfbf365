# -*- test-case-name: tests.heartbeat.test_sender -*-
"""
The Twisted adapter of the heartbeat sender, without service machinery:
L{BeatLoop} writes one beat per interval from a L{LoopingCall} on a
connected UDP socket.  ``netlab beat`` runs it as it is (the service
module and what it loads cost a tenth of that command's start-up);
L{twisted_netlab.heartbeat.sender.HeartbeatSender} is the same loop as a
service for Twisted applications.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Any, Callable, Optional, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.protocol import DatagramProtocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.heartbeat._beat import BOOT_BYTES, check_key, encode_beat, new_boot_id

log = Logger()


class SenderProtocol(DatagramProtocol):
    """
    Connects its UDP socket to the monitor (so the kernel filters replies
    and reports ICMP port unreachable) and writes what it is given.
    """

    noisy = False

    def __init__(self, address: tuple, on_refused: Callable[[], None]) -> None:
        self.address = address
        self.on_refused = on_refused

    def startProtocol(self) -> None:
        cast(Any, self.transport).connect(*self.address)

    def send(self, datagram: bytes) -> None:
        cast(Any, self.transport).write(datagram)

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        """
        Monitors do not answer; anything arriving is ignored.
        """

    def connectionRefused(self) -> None:
        self.on_refused()


class BeatLoop:
    """
    Send beats to C{host}:C{port} every C{interval} seconds, sequence
    numbers from 0, timestamps from C{reactor.seconds()} (wall-clock time on
    a real reactor).  C{reactor=None} means the global reactor, looked up
    at L{start}.

    With C{client_id} or C{key} the beats use the extended format and carry
    a boot id, random per start, so the monitor tells a restart from a gap
    (and, with C{key}, a restart from a replay).

    If the reactor falls behind (a paused process, a busy machine), missed
    beats are skipped rather than sent in a burst: the monitor then sees a
    late beat, not lost ones, which is what happened.

    @ivar done: fires with the number of beats sent when C{count} beats were
        sent or the service stopped.
    @ivar refused: how many ICMP "port unreachable" answers came back.
    @ivar running: 1 from L{start} until L{stop}, else 0 (as a service says it).
    """

    running: int = 0

    def __init__(
        self,
        host: str,
        port: int,
        interval: float = 5.0,
        client_id: Optional[str] = None,
        key: Optional[bytes] = None,
        count: Optional[int] = None,
        reactor: Any = None,
        random_bytes: Callable[[int], bytes] = os.urandom,
        on_beat: Optional[Callable[[int, float, bytes], None]] = None,
        on_error: Optional[Callable[[int, OSError], None]] = None,
    ) -> None:
        if not interval > 0:
            raise ValueError("interval must be > 0")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        self.host = host
        self.port = port
        self.interval = interval
        self.client_id = client_id
        self.key = check_key(key) if key is not None else None
        self.count = count
        self.boot = new_boot_id(random_bytes(BOOT_BYTES)) if (client_id or key) else None
        self.on_beat = on_beat
        self.on_error = on_error
        self.errors = 0
        self.sent = 0
        self.refused = 0
        self.done: Deferred = Deferred()
        self._reactor = reactor
        self._protocol: Optional[SenderProtocol] = None
        self._udp_port: Any = None
        self._loop: Optional[LoopingCall] = None
        self._address = ""
        # Validate the id now, not at the first beat.
        encode_beat(0, 0.0, client_id, self.boot, self.key)

    def _resolve(self, reactor: Any) -> Deferred:
        try:
            return succeed(str(ipaddress.ip_address(self.host)))
        except ValueError:
            return reactor.resolve(self.host)

    def start(self) -> None:
        """
        Resolve the host and start beating (the first beat at once).
        """
        self.running = 1
        self._reactor = default_reactor(self._reactor)
        self._resolve(self._reactor).addCallbacks(self._start, self._failed)

    def _start(self, address: str) -> None:
        if not self.running:
            return
        self._address = address
        self._open_socket()
        self._loop = LoopingCall(self._beat)
        self._loop.clock = self._reactor
        self._loop.start(self.interval, now=True).addErrback(self._failed)

    def _open_socket(self) -> None:
        interface = "::" if ":" in self._address else "0.0.0.0"
        self._protocol = SenderProtocol((self._address, self.port), self._refused)
        self._udp_port = self._reactor.listenUDP(0, self._protocol, interface=interface)

    def _beat(self) -> None:
        """
        Send one beat.  A connected UDP socket that got ICMP port
        unreachable (no monitor yet) may have been closed by the reactor
        (epoll reports it as an error event): then a new socket is opened,
        so beats keep going until the monitor appears.
        """
        assert self._protocol is not None
        if self._protocol.transport is None:
            self.refused += 1  # the only error that closes it here
            self._open_socket()
        sequence = self.sent
        sent_at = self._reactor.seconds()
        datagram = encode_beat(sequence, sent_at, self.client_id, self.boot, self.key)
        try:
            self._protocol.send(datagram)
        except OSError as error:  # e.g. no route; keep beating, the monitor will see a gap
            self.errors += 1
            if self.on_error is not None:
                self.on_error(sequence, error)
            else:
                log.warn("beat {sequence} not sent: {error}", sequence=sequence, error=error)
        self.sent += 1
        if self.on_beat is not None:
            self.on_beat(sequence, sent_at, datagram)
        if self.count is not None and self.sent >= self.count:
            self._finish()

    def _refused(self) -> None:
        self.refused += 1

    def _failed(self, reason: Any) -> None:
        if not self.done.called:
            self.done.errback(reason)
        self._stop_sending()

    def _stop_sending(self) -> Optional[Deferred]:
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None
        if self._udp_port is not None:
            port, self._udp_port = self._udp_port, None
            return port.stopListening()
        return None

    def _finish(self) -> None:
        self._stop_sending()
        if not self.done.called:
            self.done.callback(self.sent)

    def stop(self) -> Optional[Deferred]:
        """
        Stop beating and close the socket (the returned Deferred, if any,
        fires once it is closed); L{done} fires with the beats sent.
        """
        self.running = 0
        closing = self._stop_sending()
        if not self.done.called:
            self.done.callback(self.sent)
        return closing
