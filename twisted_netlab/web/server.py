# -*- test-case-name: tests.web.test_server -*-
"""
The Twisted adapter of netlab-http: L{StaticFileProtocol} feeds received
bytes to the sans-IO L{RequestParser}, answers one request at a time in
order, and streams file bodies in bounded memory with backpressure.

The pure decisions live in L{_server_core} (parsing), L{_negotiation}
(conditional requests, ranges), L{_listing} and L{_accesslog}; this module
does the I/O: filesystem, transport, timers, the access-log file.
"""

from __future__ import annotations

import html
import mimetypes
import os
import secrets
import stat
from functools import lru_cache
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Dict, List, Optional, Protocol as TypingProtocol, Set, Tuple, Union, cast
from urllib.parse import quote

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IHalfCloseableProtocol, IProtocolNegotiationFactory, IPushProducer
from twisted.internet.protocol import Factory, Protocol
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from twisted_netlab.web._accesslog import combined_line, log_time
from twisted_netlab._endpoints import default_reactor
from twisted_netlab.web._server_core import (
    KNOWN_METHODS,
    NEED_DATA,
    REASONS,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
    UnsafePath,
    http_date,
    target_segments,
)
from twisted_netlab.web._listing import ListingEntry, render_listing
from twisted_netlab.web._negotiation import (
    FullResponse,
    PartialResponse,
    Precondition,
    UnsatisfiableRange,
    content_range,
    evaluate_preconditions,
    if_range_allows,
    make_etag,
    multipart_layout,
    select_ranges,
)

SERVER_NAME = "netlab-http"
#: The one Allow value, used by 405 and OPTIONS alike.
ALLOW = "GET, HEAD, OPTIONS"
#: File bodies are read and written this much at a time.
CHUNK_SIZE = 64 * 1024
#: At most this many chunks per reactor turn, so one fast client cannot
#: starve the others (and a transport that never pauses us cannot make us
#: read a whole file into memory).
CHUNKS_PER_TURN = 16
#: Files up to this size are read whole and sent with their head in one
#: write; with the file cache on, their bytes are cached too.
SMALL_FILE = 32 * 1024
#: Entries in the open-file cache; when full it is emptied.
MAX_CACHE_ENTRIES = 512
#: Pipelined bytes we hold unparsed while a response is streaming; beyond
#: it we stop reading from the client (CVE-2023-46137 family).
MAX_PIPELINED_BYTES = 64 * 1024
#: Entries shown in one directory listing.
MAX_LISTING_ENTRIES = 10000

# Request headers that take the slow path (conditional requests, ranges).
_NEGOTIATION_HEADERS = frozenset(
    [b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since", b"range", b"if-range"]
)


def default_site() -> str:
    """
    The folder of the small site bundled with the package.
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "site")


#: Formatting a date is slow and files share few distinct mtimes.
_http_date = lru_cache(maxsize=4096)(http_date)


@lru_cache(maxsize=1024)
def content_type_for(path_or_suffix: str) -> str:
    """
    The Content-Type for a file name, with a charset for text (our bundled
    site and students' pages are UTF-8).  Cached: call it with the
    lowercased suffix (or any name) to share entries.
    """
    return _guess_content_type(path_or_suffix)


def content_type_of(path: str) -> str:
    """
    L{content_type_for} keyed by the file's last suffix(es), so the
    cache does not grow with the number of files.
    """
    name = os.path.basename(path).lower()
    dot = name.rfind(".")
    if dot <= 0:
        return content_type_for("x")
    # ".tar.gz" needs two suffixes to be told apart from ".gz".
    second = name.rfind(".", 0, dot)
    return content_type_for("x" + (name[second:] if second > 0 else name[dot:]))


def _guess_content_type(path: str) -> str:
    guessed, encoding = mimetypes.guess_type(path)
    if encoding is not None or guessed is None:
        # A .gz served as-is is opaque bytes, never "text/plain; gzip".
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


class OpenFile:
    """
    A regular file opened for reading with C{O_NONBLOCK}, so that a FIFO
    or device swapped in under a served name can never block the reactor
    (it is refused instead).  Used through C{os.pread} and C{os.read}.
    """

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    @classmethod
    def open(cls, path: str) -> Optional[Tuple["OpenFile", os.stat_result]]:
        """
        The opened file and its fstat, or L{None} if it is missing,
        unreadable or not a regular file.
        """
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except (OSError, ValueError):
            return None
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return cls(fd, path), info

    def fileno(self) -> int:
        return self.fd

    def read_whole(self, limit: int) -> bytes:
        """
        Up to C{limit} bytes from the start (C{limit + 1} tells a file
        that grew past it).
        """
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.pread(self.fd, limit + 1 - total, total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


@dataclass(frozen=True)
class Representation:
    """
    What we know about one regular file at one moment, and the header
    lines of its 200 answer precomputed (without Date, Server,
    Connection).  C{body} holds the bytes of small files.
    """

    real: str
    size: int
    mtime: float
    etag: str
    content_type: str
    fragment: bytes
    body: Optional[bytes]


@dataclass(frozen=True)
class Folder:
    """
    A folder below the root; C{segments} are its decoded path segments.
    """

    real: str
    segments: Tuple[str, ...]


class NotFound(Enum):
    NOT_FOUND = "NOT_FOUND"


Resolution = Union[Representation, Folder, NotFound]


class AccessLog:
    """
    Buffer access-log lines and hand them to C{write} in batches: every
    C{interval} seconds, when C{max_lines} are waiting, and on L{close}.
    One write per batch instead of per request keeps logging cheap.
    """

    def __init__(self, write: Callable[[List[str]], None], clock: Any, interval: float = 1.0, max_lines: int = 512) -> None:
        self._write = write
        self._lines: List[str] = []
        self._max_lines = max_lines
        self._loop = LoopingCall(self.flush)
        self._loop.clock = clock
        self._loop.start(interval, now=False)

    def add(self, line: str) -> None:
        self._lines.append(line)
        if len(self._lines) >= self._max_lines:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            lines, self._lines = self._lines, []
            self._write(lines)

    def close(self) -> None:
        if self._loop.running:
            self._loop.stop()
        self.flush()


def file_access_log(path: str, clock: Any) -> Tuple[AccessLog, Callable[[], None]]:
    """
    An L{AccessLog} appending to the file at C{path} (O_APPEND, so
    several worker processes can share it), and a function closing it.
    """
    handle = open(path, "a", encoding="utf-8", buffering=1 << 16)

    def write(lines: List[str]) -> None:
        handle.write("\n".join(lines) + "\n")
        handle.flush()

    log = AccessLog(write, clock)

    def close() -> None:
        log.close()
        handle.close()

    return log, close


def twisted_access_log(clock: Any) -> AccessLog:
    """
    An L{AccessLog} that emits each batch as one event on the twistd log.
    """
    logger = Logger(namespace="netlab-http.access")

    def write(lines: List[str]) -> None:
        logger.info("{access_log}", access_log="\n".join(lines))

    return AccessLog(write, clock)


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
    ) -> None:
        self.root = os.path.realpath(root)
        self.max_age = max_age
        self.limits = limits
        self.reactor = default_reactor(reactor)
        self.file_cache_seconds = file_cache_seconds
        self.request_timeout = request_timeout
        self.idle_timeout = idle_timeout
        self.send_timeout = send_timeout
        self.access_log = access_log
        self.cache_control = "no-cache" if max_age is None else f"max-age={max_age}"
        self.connections: Set["StaticFileProtocol"] = set()
        self._cache: Dict[str, Tuple[float, Resolution]] = {}
        self._date_second = -1
        self._date_lines = b""
        self._log_stamp = ""
        self._sweeper: Optional[LoopingCall] = None
        self._stopping: Optional[Deferred] = None

    def buildProtocol(self, addr: Any) -> "StaticFileProtocol":
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
        return self._date_lines

    def log_stamp(self) -> str:
        self.date_lines()
        return self._log_stamp

    # -- path resolution ---------------------------------------------------

    def resolve(self, path: str) -> Resolution:
        """
        Resolve a request path, through the open-file cache.

        @raise UnsafePath: for targets that could leave the root.
        """
        if self.file_cache_seconds <= 0:
            return self._resolve(path)
        now = self.reactor.seconds()
        hit = self._cache.get(path)
        if hit is not None and hit[0] > now:
            return hit[1]
        result = self._resolve(path)
        if len(self._cache) >= MAX_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[path] = (now + self.file_cache_seconds, result)
        return result

    def _inside(self, real: str) -> bool:
        return real == self.root or real.startswith(self.root + os.sep)

    def _locate(self, segments: Tuple[str, ...]) -> Optional[Tuple[str, os.stat_result]]:
        """
        The real path and stat of C{segments} below the root, or L{None} if
        it does not exist or resolves outside the root.

        One lstat per segment; only when a segment is a symlink do we pay
        for a full realpath and check that it stays inside the root (a
        symlink leading out is as if it did not exist).
        """
        path = self.root
        info = None
        try:
            for segment in segments:
                path = path + os.sep + segment
                info = os.lstat(path)
                if stat.S_ISLNK(info.st_mode):
                    real = os.path.realpath(os.path.join(self.root, *segments))
                    if not self._inside(real):
                        return None
                    return real, os.stat(real)
            if info is None:
                info = os.stat(path)
        except (OSError, ValueError):
            return None
        return path, info

    def _resolve(self, path: str) -> Resolution:
        segments = target_segments(path)
        located = self._locate(segments)
        if located is None:
            return NotFound.NOT_FOUND
        real, info = located
        if stat.S_ISDIR(info.st_mode):
            if path.endswith("/"):
                # The index is located like any path: a symlinked
                # index.html leading out of the root is not served.
                index = self._locate(segments + ("index.html",))
                if index is not None and stat.S_ISREG(index[1].st_mode):
                    return self.representation(index[0], index[1], small_body=True) or NotFound.NOT_FOUND
            return Folder(real, segments)
        if not stat.S_ISREG(info.st_mode):
            return NotFound.NOT_FOUND
        return self.representation(real, info, small_body=True) or NotFound.NOT_FOUND

    def representation(self, real: str, info: os.stat_result, small_body: bool, body: Optional[bytes] = None) -> Optional[Representation]:
        """
        Build a L{Representation}; small files are read here (their size
        then comes from the bytes read, so head and body always agree).
        L{None} when a small file vanished meanwhile.
        """
        if small_body and body is None and info.st_size <= SMALL_FILE:
            opened = OpenFile.open(real)
            if opened is None:
                return None
            handle, info = opened
            try:
                body = handle.read_whole(SMALL_FILE)
            except OSError:
                return None
            finally:
                handle.close()
        if body is not None and len(body) > SMALL_FILE:
            body = None  # it grew meanwhile: stream it instead
        size = len(body) if body is not None else info.st_size
        mtime = float(int(info.st_mtime))
        etag = make_etag(info.st_ino, size, info.st_mtime_ns)
        content_type = content_type_of(real)
        fragment = (
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\n"
            f"Last-Modified: {_http_date(mtime)}\r\n"
            f"ETag: {etag}\r\n"
            f"Cache-Control: {self.cache_control}\r\n"
            "Accept-Ranges: bytes\r\n"
        ).encode("latin-1")
        return Representation(real, size, mtime, etag, content_type, fragment, body)

    # -- connections, timeouts, graceful stop -------------------------------

    def connection_started(self, protocol: "StaticFileProtocol") -> None:
        self.connections.add(protocol)
        if self._sweeper is None:
            self._sweeper = LoopingCall(self._sweep)
            self._sweeper.clock = self.reactor
            self._sweeper.start(1.0, now=False)

    def connection_ended(self, protocol: "StaticFileProtocol") -> None:
        self.connections.discard(protocol)
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
                protocol._stream.abortConnection()

        timer = self.reactor.callLater(timeout, abort_rest)

        def finished(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        done.addBoth(finished)
        for protocol in list(self.connections):
            protocol.begin_shutdown()
        return done


class _Waiting(Enum):
    """
    What the connection's deadline is for.
    """

    FIRST_REQUEST = "FIRST_REQUEST"
    IDLE = "IDLE"
    REQUEST_HEAD = "REQUEST_HEAD"
    RESPONDING = "RESPONDING"
    SENDING = "SENDING"
    CLOSING = "CLOSING"


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
    """

    log = Logger()

    def __init__(self, factory: StaticFileFactory) -> None:
        self.factory = factory
        self.parser = RequestParser(factory.limits)
        #: Absolute time at which L{deadline_passed} acts, or None.
        self.deadline: Optional[float] = None
        self._waiting = _Waiting.FIRST_REQUEST
        self._request_started = False
        self._write_paused = False
        self._reading_paused = False
        self._closing = False
        self._draining = False
        self._in_process = False
        # The body being streamed: pieces are bytes or (offset, length).
        self._pieces: List[Union[bytes, Tuple[int, int]]] = []
        self._handle: Optional[Any] = None
        self._keep_alive = True
        self._pump_call: Optional[Any] = None
        self._answering = False
        self._peer_done = False
        self._client = "-"

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
        self._stream.registerProducer(self, True)
        self.factory.connection_started(self)
        self.deadline = self.factory.reactor.seconds() + self.factory.request_timeout

    def connectionLost(self, reason: Any = None) -> None:
        self._closing = True
        self._end_body()
        self.deadline = None
        self.factory.connection_ended(self)

    # -- IHalfCloseableProtocol ------------------------------------------

    def readConnectionLost(self) -> None:
        """
        The client closed its sending side (FIN), as some clients do after
        their last request: answer everything it sent, in order, then close.
        """
        if self._closing:
            return
        self._peer_done = True
        self.parser.receive_data(b"")
        self._process()

    def writeConnectionLost(self) -> None:
        pass  # we never half-close our side

    # -- IPushProducer (called by the transport) ---------------------------

    def pauseProducing(self) -> None:
        if not self._write_paused:
            self._write_paused = True
            if self._waiting is not _Waiting.CLOSING:
                self._waiting = _Waiting.SENDING
                self.deadline = self.factory.reactor.seconds() + self.factory.send_timeout
        self._update_reading()

    def resumeProducing(self) -> None:
        if not self._write_paused:
            return
        self._write_paused = False
        if self._closing:
            return
        if self._pieces:
            self._waiting = _Waiting.RESPONDING
            self.deadline = None
            self._pump()
        else:
            self._await_request()
            self._process()
        self._update_reading()

    def stopProducing(self) -> None:
        self._closing = True
        self._end_body()

    # -- receiving ------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        if self._closing:
            return
        self.parser.receive_data(data)
        if self._waiting is _Waiting.IDLE:
            # A new request began: it has request_timeout to arrive whole
            # (more bytes do not extend it: slowloris).
            self._waiting = _Waiting.REQUEST_HEAD
            self.deadline = self.factory.reactor.seconds() + self.factory.request_timeout
        self._request_started = True
        self._process()
        if self._reading_paused or self._write_paused or self._pieces:
            self._update_reading()

    def _update_reading(self) -> None:
        """
        Read from the client only while we can use what it sends.
        """
        if self._closing:
            return
        pause = self._write_paused or (bool(self._pieces) and self.parser.buffered >= MAX_PIPELINED_BYTES)
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
        try:
            while not (self._pieces or self._write_paused or self._closing):
                if not self.parser.buffered and not self._peer_done:
                    # Nothing to parse and no EOF to report: skip asking,
                    # the most common case per read.
                    return
                event = self.parser.next_event()
                if event is NEED_DATA:
                    return
                if isinstance(event, Request):
                    self._answer(event)
                elif isinstance(event, Rejection):
                    self._keep_alive = False
                    self._send_simple(event.status, event.reason, "-", False)
                    self._finish_response()
                else:
                    assert isinstance(event, ConnectionClosed)
                    self._close()
        finally:
            self._in_process = False

    def _answer(self, request: Request) -> None:
        self._waiting = _Waiting.RESPONDING
        self.deadline = None
        self._keep_alive = request.keep_alive and not self._draining
        self._answering = True
        try:
            self._respond(request)
        except Exception:
            self.log.failure("error answering {method} {target}", method=request.method, target=request.target)
            self._end_body()
            self._keep_alive = False
            self._send_simple(500, "internal server error", request, False)
        finally:
            self._answering = False
        if not self._pieces and not self._closing:
            self._finish_response()

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
            return
        now = self.factory.reactor.seconds()
        if self._write_paused:
            # Our answers are not being read: the send timeout applies.
            if self._waiting is not _Waiting.SENDING:
                self._waiting = _Waiting.SENDING
                self.deadline = now + self.factory.send_timeout
            return
        if self.parser.buffered:
            self._waiting = _Waiting.REQUEST_HEAD
            self._request_started = True
            self.deadline = now + self.factory.request_timeout
        else:
            self._waiting = _Waiting.IDLE
            self._request_started = False
            self.deadline = now + self.factory.idle_timeout

    # -- timeouts and shutdown ------------------------------------------

    def deadline_passed(self) -> None:
        """
        Called by the factory's sweeper once C{deadline} is past.
        """
        self.deadline = None
        waiting = self._waiting
        if waiting in (_Waiting.SENDING, _Waiting.CLOSING):
            # The client stopped reading what we sent: nothing more can
            # reach it, so do not wait for buffers to drain.
            self.log.info("netlab-http: send timeout, aborting connection from {client}", client=self._client)
            self._closing = True
            self._stream.abortConnection()
        elif waiting is _Waiting.RESPONDING:
            return
        elif self._request_started and waiting is not _Waiting.IDLE:
            # RFC 9110 15.5.9: 408 when a request began but did not finish.
            self._keep_alive = False
            self._send_simple(408, "the request did not arrive in time", "-", False)
            self._close()
        else:
            self._close()

    def begin_shutdown(self) -> None:
        """
        Close now if idle, else after the response being sent.
        """
        self._draining = True
        if not self._pieces and self._waiting is not _Waiting.RESPONDING:
            self._close()

    def _close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._waiting = _Waiting.CLOSING
        # Bound the final flush too: a client that never reads would keep it.
        self.deadline = self.factory.reactor.seconds() + self.factory.send_timeout
        self._stream.unregisterProducer()
        self._stream.loseConnection()

    # -- answering ------------------------------------------------------

    def _connection_line(self, request: Optional[Request]) -> bytes:
        if not self._keep_alive or self._draining:
            return b"Connection: close\r\n"
        if request is not None and request.version == (1, 0):
            return b"Connection: keep-alive\r\n"
        return b""

    def _log(self, request: Union[Request, str], status: int, size: int) -> None:
        access_log = self.factory.access_log
        if access_log is None:
            return
        if isinstance(request, Request):
            line = f"{request.method} {request.target} HTTP/{request.version[0]}.{request.version[1]}"
            referer, agent = request.header(b"referer"), request.header(b"user-agent")
        else:
            line, referer, agent = request, None, None
        access_log.add(combined_line(self._client, self.factory.log_stamp(), line, status, size, referer, agent))

    def _head(self, status: int, lines: str, request: Optional[Request]) -> bytes:
        return (
            f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n".encode("ascii")
            + self.factory.date_lines()
            + lines.encode("latin-1")
            + self._connection_line(request)
            + b"\r\n"
        )

    def _send_simple(
        self, status: int, message: str, request: Union[Request, str], head_only: bool, extra: str = ""
    ) -> None:
        """
        A small HTML page for errors and redirects (C{extra}: header lines
        ending in CRLF).
        """
        body = (
            f"<!DOCTYPE html>\n<html><head><title>{status} {REASONS.get(status, '')}</title></head>"
            f"<body><h1>{status} {REASONS.get(status, '')}</h1><p>{html.escape(message)}</p></body></html>\n"
        ).encode("utf-8")
        lines = f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n{extra}"
        req = request if isinstance(request, Request) else None
        self._stream.write(self._head(status, lines, req) + (b"" if head_only else body))
        self._log(request, status, 0 if head_only else len(body))

    def _respond(self, request: Request) -> None:
        method = request.method
        head_only = method == "HEAD"
        if method != "GET" and not head_only:
            if method == "OPTIONS":
                # RFC 9110 8.6: no Content-Length in a 204.
                self._stream.write(self._head(204, f"Allow: {ALLOW}\r\n", request))
                self._log(request, 204, 0)
            elif method in KNOWN_METHODS:
                self._send_simple(405, f"{method} is not allowed here", request, False, f"Allow: {ALLOW}\r\n")
            else:
                self._send_simple(501, "method not implemented", request, False)
            return
        try:
            resolved = self.factory.resolve(request.path)
        except UnsafePath:
            resolved = NotFound.NOT_FOUND
        if isinstance(resolved, Representation):
            if resolved.body is not None and _NEGOTIATION_HEADERS.isdisjoint([name for name, _ in request.headers]):
                # The fast path: a small file, head and body in one write.
                self._stream.write(
                    b"".join(
                        (
                            b"HTTP/1.1 200 OK\r\n",
                            self.factory.date_lines(),
                            resolved.fragment,
                            self._connection_line(request),
                            b"\r\n",
                            b"" if head_only else resolved.body,
                        )
                    )
                )
                if self.factory.access_log is not None:
                    self._log(request, 200, 0 if head_only else resolved.size)
                return
            self._send_file(request, resolved, head_only)
        elif isinstance(resolved, Folder):
            self._send_folder(request, resolved, head_only)
        else:
            self._send_simple(404, "not found", request, head_only)

    def _send_folder(self, request: Request, folder: Folder, head_only: bool) -> None:
        if not request.path.endswith("/"):
            # Built from decoded, re-quoted segments: it starts with exactly
            # one "/" followed by a non-empty segment (or is "/"), so it can
            # never be "//host" or "/\host" (CVE-2021-28861 family).
            location = "/" + "".join(quote_segment(s) + "/" for s in folder.segments)
            if request.query:
                location += "?" + request.query
            self._send_simple(301, "moved to " + location, request, head_only, f"Location: {location}\r\n")
            return
        entries: List[ListingEntry] = []
        try:
            with os.scandir(folder.real) as iterator:
                for entry in iterator:
                    if len(entries) >= MAX_LISTING_ENTRIES:
                        break
                    if entry.name.startswith("."):
                        # As nginx's autoindex: dotfiles (.git, .env) are
                        # not advertised, though served when named.
                        continue
                    try:
                        if entry.is_symlink() and not self.factory._inside(os.path.realpath(entry.path)):
                            continue
                        info = entry.stat()
                    except OSError:
                        continue
                    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                        continue  # FIFOs, sockets, devices: never served
                    entries.append(ListingEntry(entry.name, stat.S_ISDIR(info.st_mode), info.st_size, info.st_mtime))
        except OSError:
            self._send_simple(404, "not found", request, head_only)
            return
        url_path = "/" + "".join(s + "/" for s in folder.segments)
        body = render_listing(url_path, entries)
        lines = (
            f"Content-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            "Cache-Control: no-cache\r\n"
        )
        self._stream.write(self._head(200, lines, request) + (b"" if head_only else body))
        self._log(request, 200, 0 if head_only else len(body))

    def _send_file(self, request: Request, rep: Representation, head_only: bool) -> None:
        handle = None
        if rep.body is None:
            # Large file: open it now and describe what we opened, so the
            # length we announce is the length of what we stream.
            opened = OpenFile.open(rep.real)
            if opened is None:
                self._send_simple(404, "not found", request, head_only)
                return
            handle, info = opened
            if info.st_size <= SMALL_FILE:
                # It shrank into a small file: read it whole.
                try:
                    body = handle.read_whole(SMALL_FILE)
                finally:
                    handle.close()
                handle = None
                rep = self.factory.representation(rep.real, info, small_body=True, body=body) or rep
                if rep.body is None:
                    self._send_simple(404, "not found", request, head_only)
                    return
            else:
                rep = self.factory.representation(rep.real, info, small_body=False) or rep
        try:
            self._send_representation(request, rep, head_only, handle)
        except BaseException:
            if handle is not None and self._handle is not handle:
                handle.close()
            raise

    def _send_representation(self, request: Request, rep: Representation, head_only: bool, handle: Optional[Any]) -> None:
        status = 200
        size = rep.size
        ranges: Tuple[Tuple[int, int], ...] = ((0, size - 1),) if size else ()
        fragment = rep.fragment
        multipart: Optional[Tuple[List[Tuple[bytes, int, int]], bytes]] = None
        if any(name in _NEGOTIATION_HEADERS for name, _ in request.headers):
            text = _header_text(request)
            outcome = evaluate_preconditions(
                request.method,
                text(b"if-match"),
                text(b"if-none-match"),
                text(b"if-modified-since"),
                text(b"if-unmodified-since"),
                rep.etag,
                rep.mtime,
            )
            if outcome is Precondition.NOT_MODIFIED:
                # RFC 9110 15.4.5: the validators and Cache-Control, no body.
                lines = (
                    f"ETag: {rep.etag}\r\nLast-Modified: {_http_date(rep.mtime)}\r\n"
                    f"Cache-Control: {self.factory.cache_control}\r\n"
                )
                self._close_handle(handle)
                self._stream.write(self._head(304, lines, request))
                self._log(request, 304, 0)
                return
            if outcome is Precondition.FAILED:
                self._close_handle(handle)
                self._send_simple(412, "precondition failed", request, head_only)
                return
            range_value = text(b"range")
            if_range = text(b"if-range")
            if range_value is not None and (if_range is None or if_range_allows(if_range, rep.etag, rep.mtime)):
                decision = select_ranges(range_value, size)
                if isinstance(decision, UnsatisfiableRange):
                    self._close_handle(handle)
                    self._send_simple(
                        416, "range not satisfiable", request, head_only, f"Content-Range: bytes */{size}\r\n"
                    )
                    return
                if isinstance(decision, PartialResponse):
                    status = 206
                    ranges = decision.ranges
                    common = (
                        f"Last-Modified: {_http_date(rep.mtime)}\r\nETag: {rep.etag}\r\n"
                        f"Cache-Control: {self.factory.cache_control}\r\nAccept-Ranges: bytes\r\n"
                    )
                    if len(ranges) == 1:
                        first, last = ranges[0]
                        fragment = (
                            f"Content-Type: {rep.content_type}\r\nContent-Length: {last - first + 1}\r\n"
                            f"Content-Range: {content_range(first, last, size)}\r\n" + common
                        ).encode("latin-1")
                    else:
                        boundary = secrets.token_hex(12)
                        parts, closing, length = multipart_layout(ranges, size, rep.content_type, boundary)
                        multipart = (parts, closing)
                        fragment = (
                            f"Content-Type: multipart/byteranges; boundary={boundary}\r\n"
                            f"Content-Length: {length}\r\n" + common
                        ).encode("latin-1")
                else:
                    assert isinstance(decision, FullResponse)
        head = (
            f"HTTP/1.1 {status} {REASONS[status]}\r\n".encode("ascii")
            + self.factory.date_lines()
            + fragment
            + self._connection_line(request)
            + b"\r\n"
        )
        pieces: List[Union[bytes, Tuple[int, int]]] = []
        if not head_only:
            if multipart is not None:
                parts, closing = multipart
                for part_head, first, last in parts:
                    pieces.append(part_head)
                    pieces.append((first, last - first + 1))
                pieces.append(closing)
            else:
                for first, last in ranges:
                    pieces.append((first, last - first + 1))
        body_size = sum(len(p) if isinstance(p, bytes) else p[1] for p in pieces)
        self._log(request, status, body_size)
        if rep.body is not None:
            body = rep.body
            data = b"".join(p if isinstance(p, bytes) else body[p[0] : p[0] + p[1]] for p in pieces)
            # Small file: head and body in one write.
            self._stream.write(head + data)
            self._close_handle(handle)
            return
        assert handle is not None
        self._stream.write(head)
        if not pieces:
            self._close_handle(handle)
            return
        self._handle = handle
        self._pieces = pieces
        self._pump()

    @staticmethod
    def _close_handle(handle: Optional[Any]) -> None:
        if handle is not None:
            handle.close()

    # -- streaming -------------------------------------------------------

    def _pump(self) -> None:
        """
        Write body pieces until the transport pauses us, the body ends, or
        this turn's share is used up (then continue next turn).  A failure
        here cannot become a 500 (the head is sent): log it and abort.
        """
        self._pump_call = None
        try:
            self._pump_pieces()
        except Exception:
            self.log.failure("netlab-http: error while sending a body to {client}", client=self._client)
            self._end_body()
            self._closing = True
            self._stream.abortConnection()

    def _pump_pieces(self) -> None:
        chunks = 0
        pieces = self._pieces
        while pieces and not self._write_paused and not self._closing:
            if chunks >= CHUNKS_PER_TURN:
                self._pump_call = self.factory.reactor.callLater(0, self._pump)
                return
            piece = pieces[0]
            if isinstance(piece, bytes):
                pieces.pop(0)
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
                self._end_body()
                self._closing = True
                self._stream.abortConnection()
                return
            chunks += 1
            if len(data) == length:
                pieces.pop(0)
            else:
                pieces[0] = (offset + len(data), length - len(data))
            self._stream.write(data)
        if not pieces and self._handle is not None:
            self._end_body()
            if not self._closing and not self._answering:
                # Streamed over several turns: move on to the next request.
                self._finish_response()
                self._process()
                self._update_reading()

    def _end_body(self) -> None:
        self._pieces = []
        if self._pump_call is not None:
            if self._pump_call.active():
                self._pump_call.cancel()
            self._pump_call = None
        if self._handle is not None:
            handle, self._handle = self._handle, None
            handle.close()


def quote_segment(segment: str) -> str:
    """
    Percent-encode one decoded path segment for a Location or href.
    """
    return quote(segment, safe="!$&'()*+,;=:@-._~")


def _header_text(request: Request) -> Callable[[bytes], Optional[str]]:
    def text(name: bytes) -> Optional[str]:
        value = request.header(name)
        return None if value is None else value.decode("latin-1")

    return text


StaticFileFactory.protocol = StaticFileProtocol  # type: ignore[assignment]
