# -*- test-case-name: tests.web.test_server -*-
"""
The Twisted adapter of netlab-http: L{StaticFileProtocol} feeds received
bytes to the sans-IO L{RequestParser}, asks the filesystem side
(L{_files}) what is at the target, lets the pure planner (L{_plan})
decide the whole response, and carries that out: one write path with
flow control, one log path, the timers of one phase enum.  (Over 700
lines, about 510 of them code: the factory's shared state, per-second
caches and graceful stop sit with the protocol they serve.)
"""

from __future__ import annotations

import os
import secrets
from enum import Enum
from typing import Any, Dict, List, Optional, Protocol as TypingProtocol, Set, Tuple, Union, cast

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IHalfCloseableProtocol, IProtocolNegotiationFactory, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from twisted_netlab._endpoints import default_reactor
from twisted_netlab._write_now import write_now
from twisted_netlab.web._accesslog import AccessLog, combined_line, file_access_log, log_time
from twisted_netlab.web._files import FileTree, OpenFile
from twisted_netlab.web._plan import (
    HeadContext,
    NotFound,
    Piece,
    Plan,
    Representation,
    Resolution,
    Unavailable,
    error_page,
    plan_method,
    plan_target,
    wants_listing,
)
from twisted_netlab.web._server_core import (
    NEED_DATA,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
    UnsafePath,
    http_date,
)

SERVER_NAME = "netlab-http"
#: File bodies are read and written this much at a time.
CHUNK_SIZE = 16 * 1024
#: The transport's write buffer pauses us past this many bytes (Twisted's
#: default is 64 KiB): with one chunk more, a client that never reads
#: holds at most about 32 KiB of our memory, not 128 KiB.
TRANSPORT_BUFFER = 16 * 1024
#: At most this many chunks per reactor turn, so one fast client cannot
#: starve the others (and a transport that never pauses us cannot make us
#: read a whole file into memory).
CHUNKS_PER_TURN = 16
#: Pipelined bytes we hold unparsed while a response is streaming; beyond
#: it we stop reading from the client (CVE-2023-46137 family).
MAX_PIPELINED_BYTES = 64 * 1024
#: Default of --max-connections (per process).
MAX_CONNECTIONS = 4096
#: Seconds between two "--max-connections reached" log lines.
FULL_LOG_INTERVAL = 10.0


def default_site() -> str:
    """
    The folder of the small site bundled with the package.
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "site")


def twisted_access_log(clock: Any) -> AccessLog:
    """
    An L{AccessLog} that emits each batch as one event on the twistd log.
    """
    logger = Logger(namespace="netlab-http.access")

    def write(lines: List[str]) -> None:
        logger.info("{access_log}", access_log="\n".join(lines))

    return AccessLog(write, clock)


def _boundary() -> str:
    return secrets.token_hex(12)


#: After at least this many connections were open at once, and once half
#: of them are gone, free memory is handed back to the system.
TRIM_AFTER_CONNECTIONS = 256
_libc: Any = None


def release_memory() -> None:
    """
    Give the heap's free pages back to the system (glibc's C{malloc_trim};
    nothing elsewhere).  Buffers of many connections are freed by Python
    but stay in the process's heap: 1,000 stalled readers left RSS at 68
    MiB after they closed, 50 MiB with this.
    """
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


@implementer(IProtocolNegotiationFactory)
class StaticFileFactory(Factory):
    """
    Serve the files below C{root}.

    @param root: the folder to serve; nothing outside it is ever read
        (targets with C{..} and symlinks leading out of it answer 404).
    @param max_age: L{None} for C{Cache-Control: no-cache}, else seconds.
    @param file_cache_seconds: how long a path's resolution (realpath,
        stat, headers, and the bytes of small files) is reused; 0 turns
        the cache off.  A file changed on disk is served stale for at most
        this long, as with nginx's open_file_cache.
    @param request_timeout: seconds a client has to send a whole request
        head (slowloris clients are answered 408 and closed).
    @param idle_timeout: seconds an idle keep-alive connection is kept.
    @param send_timeout: seconds a client may leave our writes unread.
    @param access_log: an L{AccessLog}, or L{None} for no access log.
    @param max_connections: connections served at once (keep-alive and
        streaming alike); a connection over it is accepted and closed at
        once (as a full accept queue would, but without stalling the
        others), with a log line at most every L{FULL_LOG_INTERVAL} s.
    @param reactor: the reactor whose clock dates responses and runs the
        timeouts; default late.
    """

    protocol = None  # set below
    noisy = False

    def __init__(
        self,
        root: str,
        max_age: Optional[int] = None,
        limits: Limits = Limits(),
        reactor: Any = None,
        file_cache_seconds: float = 1.0,
        request_timeout: float = 20.0,
        idle_timeout: float = 60.0,
        send_timeout: float = 60.0,
        access_log: Optional[AccessLog] = None,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self.max_age = max_age
        self.limits = limits
        self.reactor = default_reactor(reactor)
        self.file_cache_seconds = file_cache_seconds
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.access_log = access_log
        self.max_connections = max_connections
        self.refused_connections = 0
        #: L{ServerStats} when --metrics is on (updated once per response).
        self.stats: Optional[Any] = None
        self._full_logged_at: Optional[float] = None
        self.cache_control = "no-cache" if max_age is None else f"max-age={max_age}"
        self.files = FileTree(root, file_cache_seconds, self.cache_control)
        self.root = self.files.root
        #: Each phase's timeout in seconds (None: no deadline), from _DEADLINES.
        self.phase_timeouts: Dict[Phase, Optional[float]] = {
            phase: None if rule is None else getattr(self, rule[0]) for phase, rule in _DEADLINES.items()
        }
        self.connections: Set["StaticFileProtocol"] = set()
        self._peak_connections = 0
        self._date_second = -1
        self._date_lines = b""
        self._log_stamp = ""
        self._framings: Dict[bytes, HeadContext] = {}
        self._sweeper: Optional[LoopingCall] = None
        self._stopping: Optional[Deferred] = None

    def buildProtocol(self, addr: Any) -> Optional["StaticFileProtocol"]:
        """
        A protocol for a new connection, or L{None} (Twisted then closes
        it at once) when C{max_connections} are open.
        """
        if len(self.connections) >= self.max_connections:
            self.refused_connections += 1
            now = self.reactor.seconds()
            if self._full_logged_at is None or now - self._full_logged_at >= FULL_LOG_INTERVAL:
                self._full_logged_at = now
                StaticFileProtocol.log.warn(
                    "netlab-http: {count} connections open (--max-connections): closing new ones "
                    "({refused} so far)",
                    count=len(self.connections),
                    refused=self.refused_connections,
                )
            return None
        return StaticFileProtocol(self)

    def acceptableProtocols(self) -> List[bytes]:
        """
        ALPN for ssl: endpoints: we speak HTTP/1.1 only (the installed
        Twisted fails the handshake of an ALPN-offering client such as curl
        when the factory names no protocol).
        """
        return [b"http/1.1"]

    # -- per-second caches -------------------------------------------------

    def date_lines(self) -> bytes:
        """
        C{Date} and C{Server} header lines, formatted once per second.
        """
        second = int(self.reactor.seconds())
        if second != self._date_second:
            self._date_second = second
            self._date_lines = f"Date: {http_date(second)}\r\nServer: {SERVER_NAME}\r\n".encode("ascii")
            self._log_stamp = log_time(second)
            self._framings = {}
        return self._date_lines

    def framing(self, connection_line: bytes) -> HeadContext:
        """
        What every head of a response shares this second (one value per
        distinct Connection line, reused until the date changes).
        """
        if int(self.reactor.seconds()) != self._date_second:
            self.date_lines()
        framing = self._framings.get(connection_line)
        if framing is None:
            framing = self._framings[connection_line] = HeadContext(self._date_lines, connection_line, self.cache_control)
        return framing

    def log_stamp(self) -> str:
        self.date_lines()
        return self._log_stamp

    # -- path resolution ---------------------------------------------------

    def resolve(self, path: str) -> Resolution:
        """
        Resolve a request path, through the open-file cache.

        @raise UnsafePath: for targets that could leave the root.
        """
        return self.files.resolve(path, self.reactor.seconds())

    def _resolve(self, path: str) -> Resolution:
        return self.files.resolve_uncached(path)

    # -- connections, timeouts, graceful stop -------------------------------

    def connection_started(self, protocol: "StaticFileProtocol") -> None:
        self.connections.add(protocol)
        self._peak_connections = max(self._peak_connections, len(self.connections))
        if self._sweeper is None:
            self._sweeper = LoopingCall(self._sweep)
            self._sweeper.clock = self.reactor
            self._sweeper.start(1.0, now=False)

    def connection_ended(self, protocol: "StaticFileProtocol") -> None:
        self.connections.discard(protocol)
        if self._peak_connections >= TRIM_AFTER_CONNECTIONS and len(self.connections) <= self._peak_connections // 2:
            # Many connections came and half of them went: return their
            # freed buffers (once per halving, not once per close).
            self._peak_connections = len(self.connections)
            release_memory()
        if not self.connections:
            if self._sweeper is not None:
                if self._sweeper.running:
                    self._sweeper.stop()
                self._sweeper = None
            if self._stopping is not None:
                stopping, self._stopping = self._stopping, None
                stopping.callback(None)

    def _sweep(self) -> None:
        """
        Enforce every connection's deadline once a second: one timer for
        all connections instead of re-arming one per request.
        """
        now = self.reactor.seconds()
        for protocol in list(self.connections):
            if protocol.deadline is not None and protocol.deadline <= now:
                protocol.deadline_passed()

    def shutdown(self, timeout: float) -> Deferred:
        """
        Graceful stop (call after the listening ports closed): idle
        connections close now, busy ones after their current response; any
        still open after C{timeout} seconds are aborted.  Fires when all
        are gone.
        """
        if not self.connections:
            return succeed(None)
        self._stopping = Deferred()
        done = self._stopping

        def abort_rest() -> None:
            for protocol in list(self.connections):
                protocol.abort()

        timer = self.reactor.callLater(timeout, abort_rest)

        def finished(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        done.addBoth(finished)
        for protocol in list(self.connections):
            protocol.begin_shutdown()
        return done


class Phase(Enum):
    """
    What a connection is waiting for; each phase has its deadline in
    L{_DEADLINES}.
    """

    AWAITING_FIRST_REQUEST = "AWAITING_FIRST_REQUEST"
    AWAITING_REQUEST_HEAD = "AWAITING_REQUEST_HEAD"
    IDLE = "IDLE"
    RESPONDING = "RESPONDING"  # answering, or streaming a body the client reads
    SENDING = "SENDING"  # the transport paused us: the client is not reading
    CLOSING = "CLOSING"  # loseConnection called; the final flush is bounded
    CLOSED = "CLOSED"  # aborted or lost

    # Members are singletons: hash them by identity, in C (Enum's own
    # __hash__ is Python code, and phases are looked up several times a
    # request).
    __hash__ = object.__hash__


class _Expiry(Enum):
    CLOSE = "CLOSE"  # nothing was asked: close quietly
    ANSWER_408 = "ANSWER_408"  # RFC 9110 15.5.9: a request began but did not finish
    ABORT = "ABORT"  # the client stopped reading: nothing more can reach it


#: Each phase's deadline: the factory setting that sets it, and what
#: happens when it passes (None: no deadline).  Bytes arriving while
#: awaiting a head do not extend it (slowloris).
_DEADLINES: Dict[Phase, Optional[Tuple[str, _Expiry]]] = {
    Phase.AWAITING_FIRST_REQUEST: ("request_timeout", _Expiry.CLOSE),
    Phase.AWAITING_REQUEST_HEAD: ("request_timeout", _Expiry.ANSWER_408),
    Phase.IDLE: ("idle_timeout", _Expiry.CLOSE),
    Phase.RESPONDING: None,
    Phase.SENDING: ("send_timeout", _Expiry.ABORT),
    Phase.CLOSING: ("send_timeout", _Expiry.ABORT),
    Phase.CLOSED: None,
}

#: Phases in which nothing more is read, answered or written.
_FINISHED = frozenset([Phase.CLOSING, Phase.CLOSED])
#: Phases in which the next parsed request may be answered.
_MAY_ANSWER = frozenset([Phase.AWAITING_FIRST_REQUEST, Phase.AWAITING_REQUEST_HEAD, Phase.IDLE, Phase.RESPONDING])


class _StreamTransport(TypingProtocol):
    """
    What L{StaticFileProtocol} uses of its transport: Twisted's TCP, UNIX
    and TLS transports are all of these at once (ITCPTransport, IConsumer
    and IPushProducer), but no single Twisted interface says so.
    """

    def write(self, data: bytes) -> None: ...

    def loseConnection(self) -> None: ...

    def abortConnection(self) -> None: ...

    def getPeer(self) -> IAddress: ...

    def registerProducer(self, producer: Any, streaming: bool) -> None: ...

    def unregisterProducer(self) -> None: ...

    def pauseProducing(self) -> None: ...

    def resumeProducing(self) -> None: ...


@implementer(IPushProducer, IHalfCloseableProtocol)
class StaticFileProtocol(Protocol):
    """
    One HTTP/1.x connection.  Requests are parsed by the core and answered
    strictly in order, one at a time, so pipelined responses can never
    interleave or overtake each other.

    The protocol is the transport's streaming producer for the whole
    connection: when the transport's write buffer fills it calls
    L{pauseProducing}, and we stop both writing and reading (the client's
    unread requests stay in the kernel, not in our memory).

    Besides the phase, four facts are independent of it: whether we paused
    the transport's reading, whether a graceful stop asked us to finish
    (draining), whether the client sent FIN, and whether the response
    being sent keeps the connection.
    """

    log = Logger()

    def __init__(self, factory: StaticFileFactory) -> None:
        self.factory = factory
        self.parser = RequestParser(factory.limits)
        #: Absolute time at which L{deadline_passed} acts, or None.
        self.deadline: Optional[float] = None
        self.phase = Phase.AWAITING_FIRST_REQUEST
        self._reading_paused = False
        self._draining = False
        self._peer_done = False
        self._keep_alive = True
        self._in_process = False
        # The body being streamed: pieces are bytes or (offset, length).
        self._pieces: List[Piece] = []
        self._handle: Optional[OpenFile] = None
        self._pump_call: Optional[Any] = None
        # The log line of the body being streamed waits for its end, so it
        # counts the bytes actually handed on, not the bytes announced.
        self._pending_log: Optional[Tuple[Optional[Request], int, Optional[str]]] = None
        self._body_sent = 0
        self._client = "-"
        # When the response being written began (for --metrics only).
        self._answer_started = 0.0

    def _enter(self, phase: Phase) -> None:
        """
        Move to C{phase} and arm its deadline.
        """
        self.phase = phase
        timeout = self.factory.phase_timeouts[phase]
        self.deadline = None if timeout is None else self.factory.reactor.seconds() + timeout

    # -- connection -----------------------------------------------------

    @property
    def _stream(self) -> _StreamTransport:
        """
        The transport, typed as what we use of it; set by C{makeConnection}
        before C{connectionMade} and never cleared, so never None here.
        """
        assert self.transport is not None
        return cast(_StreamTransport, self.transport)

    def connectionMade(self) -> None:
        peer = self._stream.getPeer()
        self._client = getattr(peer, "host", None) or "-"
        # As nginx's tcp_nodelay: the last partial segment of a response
        # must not wait for the client's delayed ACK on keep-alive.
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            try:
                set_no_delay(True)
            except OSError:
                pass  # not a TCP socket (unix: endpoints)
        if getattr(self.transport, "bufferSize", None) is not None:
            # Twisted's TCP and UNIX transports: pause us sooner, so a client
            # that stops reading a large file holds little of our memory.
            self.transport.bufferSize = TRANSPORT_BUFFER  # type: ignore[union-attr]
        self._stream.registerProducer(self, True)
        self.factory.connection_started(self)
        self._enter(Phase.AWAITING_FIRST_REQUEST)

    def connectionLost(self, reason: Any = None) -> None:
        self.phase = Phase.CLOSED
        self._end_body(lost=True)
        self.deadline = None
        self.factory.connection_ended(self)

    def abort(self) -> None:
        """
        Drop the connection now (a send timeout, a failed body, the end of
        a bounded graceful stop).
        """
        self.phase = Phase.CLOSED
        self._end_body(lost=True)
        self._stream.abortConnection()

    # -- IHalfCloseableProtocol ------------------------------------------

    def readConnectionLost(self) -> None:
        """
        The client closed its sending side (FIN), as some clients do after
        their last request: answer everything it sent, in order, then close.
        """
        if self.phase in _FINISHED:
            return
        self._peer_done = True
        self.parser.receive_data(b"")
        self._process()

    def writeConnectionLost(self) -> None:
        pass  # we never half-close our side

    # -- IPushProducer (called by the transport) ---------------------------

    def pauseProducing(self) -> None:
        if self.phase is Phase.SENDING or self.phase in _FINISHED:
            return
        self._enter(Phase.SENDING)
        self._update_reading()

    def resumeProducing(self) -> None:
        if self.phase is not Phase.SENDING:
            return
        self._enter(Phase.RESPONDING)
        if self._pieces:
            self._pump()
        else:
            self._await_request()
            self._process()
        self._update_reading()

    def stopProducing(self) -> None:
        self.phase = Phase.CLOSED
        self._end_body(lost=True)

    # -- receiving ------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self.phase in _FINISHED:
            return
        self.parser.receive_data(data)
        if self.phase is Phase.IDLE:
            # A new request began: it has request_timeout to arrive whole.
            self._enter(Phase.AWAITING_REQUEST_HEAD)
        elif self.phase is Phase.AWAITING_FIRST_REQUEST:
            # Same, but the deadline armed at connect keeps running.
            self.phase = Phase.AWAITING_REQUEST_HEAD
        self._process()
        if self._reading_paused or self.phase is Phase.SENDING or self._pieces:
            self._update_reading()

    def _update_reading(self) -> None:
        """
        Read from the client only while we can use what it sends.
        """
        if self.phase in _FINISHED:
            return
        pause = self.phase is Phase.SENDING or (bool(self._pieces) and self.parser.buffered >= MAX_PIPELINED_BYTES)
        if pause != self._reading_paused:
            self._reading_paused = pause
            if pause:
                self._stream.pauseProducing()
            else:
                self._stream.resumeProducing()

    def _process(self) -> None:
        """
        Answer parsed requests while we are free to: not streaming a body,
        not paused by the transport, not closing.
        """
        if self._in_process:
            return  # re-entered from a write that resumed us
        self._in_process = True
        parser = self.parser
        try:
            while not self._pieces and self.phase in _MAY_ANSWER:
                event = parser.next_event()
                if event is NEED_DATA:
                    return
                if event.__class__ is Request:
                    self._answer(event)  # type: ignore[arg-type]
                elif isinstance(event, Rejection):
                    self._keep_alive = False
                    if self.factory.stats is not None:
                        self.factory.stats.reject(event.reason)
                        self._answer_started = self.factory.reactor.seconds()
                    plan = error_page(event.status, event.reason, self._framing(None), event.head_only, note=event.reason)
                    self._carry_out(plan, None)
                    self._finish_response()
                else:
                    assert isinstance(event, ConnectionClosed)
                    self._close()
        finally:
            self._in_process = False

    def _answer(self, request: Request) -> None:
        if self.factory.stats is not None:
            self._answer_started = self.factory.reactor.seconds()
        # _enter(Phase.RESPONDING), which has no deadline (_DEADLINES).
        self.phase = Phase.RESPONDING
        self.deadline = None
        self._keep_alive = request.keep_alive and not self._draining
        try:
            self._respond(request)
        except Exception:
            self.log.failure("error answering {method} {target}", method=request.method, target=request.target)
            self._end_body()
            self._keep_alive = False
            self._carry_out(error_page(500, "internal server error", self._framing(request), note="internal error"), request)
        if not self._pieces and self.phase not in _FINISHED:
            # _finish_response(), inlined: this runs once per request.
            if not self._keep_alive or self._draining:
                self._close()
            elif self.phase is not Phase.SENDING:
                self._enter(Phase.AWAITING_REQUEST_HEAD if self.parser.buffered else Phase.IDLE)

    def _finish_response(self) -> None:
        """
        The current response is fully handed to the transport.
        """
        if not self._keep_alive or self._draining:
            self._close()
        else:
            self._await_request()

    def _await_request(self) -> None:
        if self._draining:
            self._close()
        elif self.phase is not Phase.SENDING:
            # (While SENDING our answers are not being read: its deadline,
            # the send timeout, keeps running.)
            self._enter(Phase.AWAITING_REQUEST_HEAD if self.parser.buffered else Phase.IDLE)

    # -- timeouts and shutdown ------------------------------------------

    def deadline_passed(self) -> None:
        """
        Called by the factory's sweeper once C{deadline} is past.
        """
        self.deadline = None
        rule = _DEADLINES[self.phase]
        if rule is None:
            return
        expiry = rule[1]
        if expiry is _Expiry.ABORT:
            self.log.info("netlab-http: send timeout, aborting connection from {client}", client=self._client)
            self.abort()
        elif expiry is _Expiry.ANSWER_408:
            self._keep_alive = False
            timeout = error_page(408, "the request did not arrive in time", self._framing(None), note="request timeout")
            self._carry_out(timeout, None)
            self._close()
        else:
            self._close()

    def begin_shutdown(self) -> None:
        """
        Close now if idle, else after the response being sent.
        """
        self._draining = True
        if not self._pieces and self.phase is not Phase.RESPONDING:
            self._close()

    def _close(self) -> None:
        if self.phase in _FINISHED:
            return
        # Bound the final flush too: a client that never reads would keep it.
        self._enter(Phase.CLOSING)
        self._stream.unregisterProducer()
        self._stream.loseConnection()

    # -- answering ------------------------------------------------------

    def _framing(self, request: Optional[Request]) -> HeadContext:
        if not self._keep_alive or self._draining:
            return self.factory.framing(b"Connection: close\r\n")
        if request is not None and request.version == (1, 0):
            return self.factory.framing(b"Connection: keep-alive\r\n")
        return self.factory.framing(b"")

    def _respond(self, request: Request) -> None:
        """
        Ask the filesystem what is at the target (opening a large file now,
        so the head describes what is streamed), then let the planner
        decide.
        """
        framing = self._framing(request)
        if request.method != "GET" and request.method != "HEAD":
            self._carry_out(cast(Plan, plan_method(request, framing)), request)
            return
        try:
            target: Any = self.factory.resolve(request.path)
        except UnsafePath:
            target = NotFound.NOT_FOUND
        if target.__class__ is Representation:
            if target.body is not None:
                # The common case (a small file): nothing to open or list.
                self._carry_out(plan_target(request, target, framing, _boundary), request)
                return
            opened = self.factory.files.open_for_streaming(target)
            if isinstance(opened, tuple):
                handle, target = opened
                try:
                    self._carry_out(plan_target(request, target, framing, _boundary), request, handle)
                finally:
                    if self._handle is not handle:
                        handle.close()
                return
            target = opened
        elif wants_listing(request, target):
            target = self.factory.files.list_folder(target)
        if isinstance(target, Unavailable):
            # Not "not found": a shortage a cache or crawler must not keep.
            self.log.warn(
                "netlab-http: cannot serve {target} ({reason}): answered 503",
                target=request.target,
                reason=target.reason,
            )
        self._carry_out(plan_target(request, target, framing, _boundary), request)

    def _carry_out(self, plan: Plan, request: Optional[Request], handle: Optional[OpenFile] = None) -> None:
        """
        The one write path: the head and the bytes of the body in one
        write, or the head and then file pieces streamed from C{handle}.
        """
        if not plan.streams:
            body = plan.body
            if not body:
                data = plan.head
            elif len(body) == 1:
                data = plan.head + body[0]  # type: ignore[operator]
            else:
                data = plan.head + b"".join(body)  # type: ignore[arg-type]
            if self.parser.buffered:
                # Pipelined requests wait: queue, so that their answers
                # leave together in one send on the reactor's next turn.
                self._stream.write(data)
            else:
                # The client waits for this answer and nothing else is
                # pending: hand it to the kernel now.
                write_now(self.transport, data)
            if self.factory.access_log is not None or self.factory.stats is not None:
                self._log(request, plan.status, plan.size, plan.note)
            return
        assert handle is not None
        self._stream.write(plan.head)
        self._handle = handle
        self._pieces = list(plan.body)
        self._pending_log = (request, plan.status, plan.note)
        self._body_sent = 0
        self._send_pieces()

    def _log(self, request: Optional[Request], status: int, size: int, note: Optional[str] = None) -> None:
        """
        The one log path: a Combined Log Format line per response, with
        the body bytes sent and, after the user agent, why (C{note}) when
        the planner gave a reason.
        """
        stats = self.factory.stats
        if stats is not None:
            duration = self.factory.reactor.seconds() - self._answer_started
            stats.observe(request.method if request is not None else "other", status, size, duration)
        access_log = self.factory.access_log
        if access_log is None:
            return
        if request is not None:
            line = f"{request.method} {request.target} HTTP/{request.version[0]}.{request.version[1]}"
            referer, agent = request.header(b"referer"), request.header(b"user-agent")
        else:
            line, referer, agent = "-", None, None
        access_log.add(combined_line(self._client, self.factory.log_stamp(), line, status, size, referer, agent, note))

    # -- streaming -------------------------------------------------------

    def _pump(self) -> None:
        """
        Continue a body on a later turn (or after the transport resumed
        us); once it is sent, go on with the next request.
        """
        self._pump_call = None
        if self._send_pieces() and self.phase not in _FINISHED:
            self._finish_response()
            self._process()
            self._update_reading()

    def _send_pieces(self) -> bool:
        """
        Write body pieces until the transport pauses us, the body ends, or
        this turn's share is used up (then continue next turn); True once
        the body is all written.  A failure here cannot become a 500 (the
        head is sent): log it and abort.
        """
        try:
            return self._write_pieces()
        except Exception:
            self.log.failure("netlab-http: error while sending a body to {client}", client=self._client)
            self.abort()
            return False

    def _write_pieces(self) -> bool:
        chunks = 0
        pieces = self._pieces
        while pieces and self.phase is Phase.RESPONDING:
            if chunks >= CHUNKS_PER_TURN:
                self._pump_call = self.factory.reactor.callLater(0, self._pump)
                return False
            piece = pieces[0]
            if isinstance(piece, bytes):
                pieces.pop(0)
                self._body_sent += len(piece)
                self._stream.write(piece)
                continue
            offset, length = piece
            assert self._handle is not None
            try:
                data = os.pread(self._handle.fileno(), min(length, CHUNK_SIZE), offset)
            except OSError:
                data = b""
            if not data:
                # Truncated under us: the announced length cannot be met,
                # so the only honest signal left is to abort.
                self.log.warn("netlab-http: {path} shrank while being sent", path=self._handle.name)
                self.abort()
                return False
            chunks += 1
            if len(data) == length:
                pieces.pop(0)
            else:
                pieces[0] = (offset + len(data), length - len(data))
            self._body_sent += len(data)
            self._stream.write(data)
        if not pieces and self._handle is not None:
            self._end_body()
            return True
        return False

    def _end_body(self, lost: bool = False) -> None:
        """
        The streamed body ended (sent, or C{lost} with the connection):
        close the file and write its log line with the bytes sent.
        """
        self._pieces = []
        if self._pump_call is not None:
            if self._pump_call.active():
                self._pump_call.cancel()
            self._pump_call = None
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()
        if self._pending_log is not None:
            request, status, note = self._pending_log
            self._pending_log = None
            sent = self._body_sent - (self._unsent() if lost else 0)
            self._log(request, status, max(sent, 0), note)

    def _unsent(self) -> int:
        """
        Bytes still in Twisted's write buffer (a TCP or UNIX transport's
        C{dataBuffer}, C{offset}, C{_tempDataLen}); they never reach the
        client once the connection is lost.  0 where a transport keeps
        no such buffer.
        """
        buffered = getattr(self.transport, "dataBuffer", None)
        if not isinstance(buffered, (bytes, bytearray, memoryview)):
            return 0
        offset = getattr(self.transport, "offset", 0)
        pending = getattr(self.transport, "_tempDataLen", 0)
        return len(buffered) - (offset if isinstance(offset, int) else 0) + (pending if isinstance(pending, int) else 0)


StaticFileFactory.protocol = StaticFileProtocol  # type: ignore[assignment]

__all__ = [
    "AccessLog",
    "Phase",
    "StaticFileFactory",
    "StaticFileProtocol",
    "default_site",
    "file_access_log",
    "twisted_access_log",
]
