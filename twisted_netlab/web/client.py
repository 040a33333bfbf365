# -*- test-case-name: tests.web.test_client -*-
# About 780 lines, over the ~700 guide: the protocol, the connection pool with
# pipelining and the redirect loop share their state; errors and connecting
# already moved to _client_errors and _client_connect.
"""
The Twisted adapter of ``netlab get``: L{HTTPClientProtocol} feeds received
bytes to the sans-IO L{ResponseParser} and hands events to a L{ResponseSink};
L{HTTPClient} owns connections (one kept-alive connection per origin,
optional pipelining), redirects and timeouts; L{get} is the one-call API.
Errors (with curl's exit codes) are in L{twisted_netlab.web._client_errors},
connecting and TLS in L{twisted_netlab.web._client_connect}; both are
re-exported here.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple, cast

from twisted.internet import defer, error as internet_error
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHandshakeListener, ITCPTransport
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_netlab.web._client_core import (
    CREDENTIAL_HEADERS,
    NEED_DATA,
    REDIRECT_STATUSES,
    BodyData,
    ConnectionClosed,
    EmptyResponse,
    Headers,
    InformationalResponse,
    Limits,
    LocalProtocolError,
    MalformedURL,
    PeerProtocolError,
    ResponseEnd,
    ResponseHead,
    ResponseParser,
    Target,
    UnsupportedScheme,
    check_header,
    merge_headers,
    parse_url,
    redirect_headers,
    redirect_target,
    request_bytes,
    UNANNOUNCED_CLOSE,
)
from twisted_netlab.web._client_connect import (
    AddressEndpoint,
    TLSEndpoint,
    TLSPolicy,
    default_endpoint,
    load_certificates,
)
from twisted_netlab.web._client_errors import (
    BodyTooLarge,
    CertificateRejected,
    ClosedPipe,
    ConnectFailed,
    GetError,
    ReceiveFailed,
    ResolveFailed,
    TimedOut,
    TLSFailed,
    TooManyRedirects,
    WriteFailed,
    _ConnectionReuseFailed,
    classify,
)

USER_AGENT = "netlab-get"


#: Why a request is sent again on a new connection (``-v`` says it).
KEPT_ALIVE_CLOSED = UNANNOUNCED_CLOSE
ANNOUNCED_CLOSE = "the previous response ended the connection (Connection: close or HTTP/1.0)"
# -- sinks ---------------------------------------------------------------


class ResponseSink:
    """
    Receives what happens to one fetched URL, in order.  The default
    methods do nothing.  C{redirecting} is True for a response that is
    followed (its body is drained, not delivered as the result).

    A method may raise (e.g. a failed write): the transfer then fails with
    that error (L{OSError} becomes exit code 23) and the connection is
    aborted.  Writes are synchronous, which is the backpressure: while a
    write blocks, the reactor reads nothing more from the socket, and TCP's
    window slows the server down, so memory stays bounded.
    """

    def request_sent(self, target: Target, head: bytes) -> None:
        pass

    def connected(self, description: str) -> None:
        pass

    def informational(self, response: InformationalResponse) -> None:
        pass

    def head_received(self, head: ResponseHead, redirecting: bool) -> None:
        pass

    def body_received(self, data: BodyData, redirecting: bool) -> None:
        pass

    def response_ended(self, end: ResponseEnd, redirecting: bool) -> None:
        pass

    def bytes_received(self, data: bytes) -> None:
        """
        Every byte read from the connection while this sink's request is
        the oldest outstanding one, and after its response until the next
        request goes out: what ``-v``/``--raw`` show when a head never
        completes, and what the response checks read.  Must not raise.
        """

    def reconnecting(self, reason: str) -> None:
        """
        The request is sent again on a new connection, because C{reason}.
        """


class MemorySink(ResponseSink):
    """
    Collect the final body in memory, refusing more than C{max_body_bytes}.
    """

    def __init__(self, max_body_bytes: int) -> None:
        self.max_body_bytes = max_body_bytes
        self.chunks: List[bytes] = []
        self.size = 0

    def body_received(self, data: BodyData, redirecting: bool) -> None:
        if redirecting:
            return
        self.size += len(data.data)
        if self.size > self.max_body_bytes:
            raise BodyTooLarge(f"body larger than {self.max_body_bytes} bytes (pass a sink to stream it)")
        self.chunks.append(data.data)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)


# -- results -----------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    """
    Seconds from the start of the fetch (curl's -w time_* values).  For a
    reused connection, connect and tls are 0.
    """

    connect: float
    tls: Optional[float]
    first_byte: float
    total: float
    body_bytes: int
    reused: bool

    @property
    def bytes_per_second(self) -> float:
        return self.body_bytes / self.total if self.total > 0 else 0.0


@dataclass(frozen=True)
class Response:
    """
    The final response of a fetch (after redirects).

    @ivar body: the body when collected in memory (L{get} without a sink),
        else L{None}.
    @ivar redirects: the URLs that redirected, in order.
    """

    url: str
    status: int
    reason: str
    headers: Headers
    body: Optional[bytes]
    timing: Timing
    redirects: Tuple[str, ...] = ()

    def header(self, name: str) -> Optional[str]:
        lowered = name.lower()
        found = None
        for key, value in self.headers:
            if key.lower() == lowered:
                found = value
        return found


# -- the protocol ----------------------------------------------------------


@dataclass
class _Exchange:
    method: str
    target: Target
    head_bytes: bytes
    sink: ResponseSink
    done: Deferred
    redirect_check: Callable[[ResponseHead], bool]
    sent_at: Optional[float] = None
    first_byte_at: Optional[float] = None
    ended_at: Optional[float] = None
    body_bytes: int = 0
    head: Optional[ResponseHead] = None
    redirecting: bool = False
    started: bool = field(default=False)


@implementer(IHandshakeListener)
class HTTPClientProtocol(Protocol):
    """
    One HTTP/1.1 connection.  Requests given to L{request} are sent one at
    a time (the next after the previous response ended), or all at once
    when C{pipeline} is set; responses are matched to them in order.

    L{request} returns a Deferred firing with the L{_Exchange} when its
    response ended, or failing with the transfer's error.  The connection
    is closed after a response that does not allow keep-alive; requests
    still queued then fail with L{_ConnectionReuseFailed} so the owner
    can resend them.

    @param clock: gives C{seconds()} and C{callLater} (idle timeout).
    @param idle_timeout: seconds without a byte from the server while a
        response is awaited before the transfer fails (exit 28); this is
        what turns a server that promised more bytes than it sends (and
        keeps the socket open) into an error instead of a hang.
    @param meter: called with the size of every piece of bytes received
        (what C{--speed-limit} counts).
    """

    def __init__(
        self,
        clock: Any,
        limits: Limits = Limits(),
        pipeline: bool = False,
        idle_timeout: Optional[float] = 120.0,
        meter: Optional[Callable[[int], None]] = None,
    ) -> None:
        self.clock = clock
        self.meter = meter
        self.parser = ResponseParser(limits)
        self.pipeline = pipeline
        self.idle_timeout = idle_timeout
        self._unsent: Deque[_Exchange] = deque()
        self._sent: Deque[_Exchange] = deque()
        self._idle_call: Any = None
        self.created_at = clock.seconds()
        self.connected_at: Optional[float] = None
        self.tls_at: Optional[float] = None
        self.completed = 0
        self.closing = False
        self.lost = False
        self.ready: Deferred = Deferred()
        self.tls = False
        self.peer_description = ""
        self.attempt: Optional[Deferred] = None
        self._last_sink: Optional[ResponseSink] = None

    # -- owner's API -------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """
        Whether another request may still be queued on this connection.
        """
        return not (self.closing or self.lost)

    def request(
        self,
        method: str,
        target: Target,
        headers: Headers,
        sink: ResponseSink,
        redirect_check: Callable[[ResponseHead], bool] = lambda head: False,
    ) -> Deferred:
        head_bytes = request_bytes(method, target, headers)
        exchange = _Exchange(method.upper(), target, head_bytes, sink, Deferred(), redirect_check)
        self._unsent.append(exchange)
        self._send_more()
        return exchange.done

    def abort(self, reason: BaseException) -> None:
        """
        Fail everything outstanding with C{reason} and drop the connection.
        """
        self.closing = True
        self._fail_all(reason)
        if self.transport is not None and not self.lost:
            # TCP, or TLS over TCP (ITLSTransport extends ITCPTransport).
            cast(ITCPTransport, self.transport).abortConnection()

    def connection_failed(self, reason: Any) -> None:
        """
        The connection attempt failed: fail every queued request.
        """
        self.lost = True
        self._fail_all(reason)
        if not self.ready.called:
            self.ready.errback(reason)
            self.ready.addErrback(lambda _: None)

    # -- Twisted callbacks -----------------------------------------------------

    def connectionMade(self) -> None:
        self.connected_at = self.clock.seconds()
        no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if no_delay is not None:
            # As curl does: request heads are small writes that should
            # never wait for an ACK of the previous one (Nagle's algorithm).
            no_delay(True)
        assert self.transport is not None  # set by makeConnection
        peer = self.transport.getPeer()
        self.peer_description = f"{getattr(peer, 'host', '?')} port {getattr(peer, 'port', '?')}"
        if not self.tls and not self.ready.called:
            self.ready.callback(self)
        self._send_more()

    def handshakeCompleted(self) -> None:
        self.tls_at = self.clock.seconds()
        if not self.ready.called:
            self.ready.callback(self)

    def dataReceived(self, data: bytes) -> None:
        if self.meter is not None:
            self.meter(len(data))
        now = self.clock.seconds()
        if self._sent and self._sent[0].first_byte_at is None:
            self._sent[0].first_byte_at = now
        listener = self._sent[0].sink if self._sent else self._last_sink
        if listener is not None:
            listener.bytes_received(data)
        self.parser.receive_data(data)
        self._process()

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.lost = True
        self._cancel_idle()
        clean = reason is None or reason.check(internet_error.ConnectionDone) is not None
        if clean and self.completed and self._sent and not self._sent[0].started and not self.parser.in_response:
            # RFC 9112 9.3.1: a kept-alive connection may be closed at any
            # idle moment; nothing of this response came, so resend it.
            self._fail_all(_ConnectionReuseFailed(KEPT_ALIVE_CLOSED))
        elif clean:
            # Only an orderly close ends a read-until-close body; the parser
            # turns an early one into TruncatedResponse.  A reset is never
            # taken as the end of anything.
            try:
                self.parser.receive_data(b"")
            except LocalProtocolError:
                pass
            self._process()
        if self._sent or self._unsent:
            if not clean:
                self._fail_all(reason)
            elif self.completed and not (self._sent and self._sent[0].started):
                self._fail_all(_ConnectionReuseFailed(KEPT_ALIVE_CLOSED))
            else:
                self._fail_all(EmptyResponse("server closed the connection without sending a response"))
        if not self.ready.called:
            failure = reason if reason is not None else Failure(internet_error.ConnectionDone())
            self.ready.errback(failure)
            self.ready.addErrback(lambda _: None)

    # -- internals ------------------------------------------------------------

    def _send_more(self) -> None:
        if self.transport is None or self.lost or self.closing:
            return
        while self._unsent and (self.pipeline or not self._sent):
            exchange = self._unsent.popleft()
            exchange.sent_at = self.clock.seconds()
            self.parser.expect_response(exchange.method)
            self._sent.append(exchange)
            try:
                exchange.sink.request_sent(exchange.target, exchange.head_bytes)
            except Exception:
                self._fail_exchange_and_abort(Failure())
                return
            self.transport.write(exchange.head_bytes)
        self._arm_idle()

    def _arm_idle(self) -> None:
        self._cancel_idle()
        if self.idle_timeout is not None and self._sent and not self.lost:
            self._idle_call = self.clock.callLater(self.idle_timeout, self._idle_expired)

    def _cancel_idle(self) -> None:
        if self._idle_call is not None and self._idle_call.active():
            self._idle_call.cancel()
        self._idle_call = None

    def _idle_expired(self) -> None:
        self._idle_call = None
        exchange = self._sent[0] if self._sent else None
        detail = ""
        if exchange is not None and exchange.head is not None and exchange.head.content_length is not None:
            detail = f" ({exchange.body_bytes} of {exchange.head.content_length} body bytes received)"
        self.abort(TimedOut(f"no data from the server for {self.idle_timeout:g} s{detail}"))

    def _process(self) -> None:
        while self._sent or self.parser.outstanding == 0:
            try:
                event = self.parser.next_event()
            except PeerProtocolError as error:
                self.abort(error)
                return
            if event is NEED_DATA or isinstance(event, ConnectionClosed):
                break
            try:
                self._dispatch(event)
            except Exception:
                self._fail_exchange_and_abort(Failure())
                return
        if not self.lost:
            self._arm_idle()

    def _dispatch(self, event: Any) -> None:
        exchange = self._sent[0]
        exchange.started = True
        if isinstance(event, InformationalResponse):
            exchange.sink.informational(event)
        elif isinstance(event, ResponseHead):
            exchange.head = event
            exchange.redirecting = exchange.redirect_check(event)
            exchange.sink.head_received(event, exchange.redirecting)
        elif isinstance(event, BodyData):
            exchange.body_bytes += len(event.data)
            exchange.sink.body_received(event, exchange.redirecting)
        elif isinstance(event, ResponseEnd):
            exchange.ended_at = self.clock.seconds()
            self._last_sink = exchange.sink
            exchange.sink.response_ended(event, exchange.redirecting)
            self._sent.popleft()
            self.completed += 1
            if not event.keep_alive:
                self.closing = True
                self._cancel_idle()
                exchange.done.callback(exchange)
                self._fail_all(_ConnectionReuseFailed(ANNOUNCED_CLOSE))
                if self.transport is not None and not self.lost:
                    self.transport.loseConnection()
                return
            exchange.done.callback(exchange)
            self._send_more()

    def _fail_exchange_and_abort(self, failure: Failure) -> None:
        self.abort(failure.value)

    def _fail_all(self, reason: Any) -> None:
        pending = list(self._sent) + list(self._unsent)
        self._sent.clear()
        self._unsent.clear()
        for exchange in pending:
            if not exchange.done.called:
                if isinstance(reason, Failure):
                    exchange.done.errback(reason)
                else:
                    exchange.done.errback(Failure(reason))


class _OneProtocolFactory(Factory):
    """
    Hand out one pre-built protocol: requests can be queued on it before
    the connection exists.
    """

    def __init__(self, protocol: HTTPClientProtocol) -> None:
        self._protocol = protocol

    def buildProtocol(self, addr: Any) -> HTTPClientProtocol:
        return self._protocol


# -- the client ---------------------------------------------------------------


class HTTPClient:
    """
    Fetch URLs, reusing one kept-alive connection per origin.

    @param reactor: provides C{seconds}/C{callLater} and, through
        C{endpoint_factory}, connections.
    @param endpoint_factory: C{(reactor, target, tls, timeout) -> endpoint};
        tests pass one that connects to a MemoryReactor.
    @param connect_timeout: seconds for TCP connect plus TLS handshake
        (enforced by cancelling, with C{reactor}'s clock).
    @param meter: called with the size of every piece of bytes received
        on any connection.
    """

    def __init__(
        self,
        reactor: Any,
        tls: TLSPolicy = TLSPolicy(),
        limits: Limits = Limits(),
        pipeline: bool = False,
        connect_timeout: float = 300.0,
        idle_timeout: Optional[float] = 120.0,
        endpoint_factory: Callable[..., Any] = default_endpoint,
        user_agent: str = USER_AGENT,
        meter: Optional[Callable[[int], None]] = None,
    ) -> None:
        self.reactor = reactor
        self.meter = meter
        self.tls = tls
        self.limits = limits
        self.pipeline = pipeline
        self.connect_timeout = connect_timeout
        self.idle_timeout = idle_timeout
        self.endpoint_factory = endpoint_factory
        self.user_agent = user_agent
        self._connections: Dict[Tuple[str, str, int], HTTPClientProtocol] = {}
        self._closed: Optional[BaseException] = None

    def _connection(self, target: Target, sink: ResponseSink) -> Tuple[HTTPClientProtocol, bool]:
        existing = self._connections.get(target.origin)
        if existing is not None and existing.reusable:
            return existing, True
        protocol = HTTPClientProtocol(self.reactor, self.limits, self.pipeline, self.idle_timeout, self.meter)
        protocol.tls = target.scheme == "https"
        self._connections[target.origin] = protocol
        endpoint = self.endpoint_factory(self.reactor, target, self.tls, self.connect_timeout)
        attempt = endpoint.connect(_OneProtocolFactory(protocol))
        protocol.attempt = attempt
        timer = self.reactor.callLater(self.connect_timeout, self._connect_timed_out, protocol, attempt)

        def settled(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        protocol.ready.addBoth(settled)

        def connect_failed(reason: Failure) -> None:
            if timer.active():
                timer.cancel()
            if not protocol.lost:
                protocol.connection_failed(reason)

        attempt.addErrback(connect_failed)
        return protocol, False

    def _connect_timed_out(self, protocol: HTTPClientProtocol, attempt: Deferred) -> None:
        reason = TimedOut(f"connection timed out after {self.connect_timeout:g} s")
        if not attempt.called:
            attempt.addErrback(lambda _: None)
            protocol.connection_failed(reason)
            attempt.cancel()
        else:
            protocol.abort(reason)

    def close(self, reason: Optional[BaseException] = None) -> None:
        """
        Close every connection; outstanding fetches fail with C{reason}.
        """
        self._closed = reason or GetError("client closed")
        for protocol in list(self._connections.values()):
            if protocol.transport is not None and not protocol.lost:
                if protocol._sent or protocol._unsent:
                    protocol.abort(self._closed)
                else:
                    protocol.closing = True
                    protocol.transport.loseConnection()
            elif not protocol.lost:
                protocol.connection_failed(Failure(self._closed))
                if protocol.attempt is not None and not protocol.attempt.called:
                    # Still connecting: stop, so no socket outlives the client.
                    protocol.attempt.addErrback(lambda _: None)
                    protocol.attempt.cancel()
        self._connections.clear()

    @defer.inlineCallbacks
    def fetch(
        self,
        url: Any,
        sink: ResponseSink,
        method: str = "GET",
        headers: Headers = (),
        follow_redirects: bool = False,
        max_redirects: int = 50,
    ) -> Any:
        """
        Fetch C{url} (a string or L{Target}) into C{sink}; the Deferred
        fires with a L{Response} (C{body} None) or fails with a
        L{GetError}.  C{headers} are the caller's extra headers, merged over
        Host/User-Agent/Accept; with C{follow_redirects}, credential headers
        are dropped once the origin changes.
        """
        target = url if isinstance(url, Target) else parse_url(url)
        started = self.reactor.seconds()
        redirects: List[str] = []
        user_headers = tuple(headers)
        current_method = method.upper()
        while True:
            if self._closed is not None:
                raise self._closed

            def should_follow(head: ResponseHead) -> bool:
                return follow_redirects and head.status in REDIRECT_STATUSES and head.get("Location") is not None

            request_headers = merge_headers(
                (("Host", target.host_header), ("User-Agent", self.user_agent), ("Accept", "*/*")),
                user_headers,
            )
            exchange, protocol, reused = yield self._send(current_method, target, request_headers, sink, should_follow)
            head = exchange.head
            assert head is not None
            if not exchange.redirecting:
                timing = _timing(started, protocol, exchange, reused)
                return Response(target.url, head.status, head.reason, head.headers, None, timing, tuple(redirects))
            if len(redirects) >= max_redirects:
                raise TooManyRedirects(f"maximum ({max_redirects}) redirects followed")
            location = head.get("Location") or ""
            try:
                destination = redirect_target(target, location)
            except (MalformedURL, UnsupportedScheme) as error:
                raise GetError(f"cannot follow redirect: {error}", 1 if isinstance(error, UnsupportedScheme) else 3)
            redirects.append(target.url)
            # RFC 9110 15.4.4: after 303 the method becomes GET (HEAD stays HEAD).
            if head.status == 303 and current_method != "HEAD":
                current_method = "GET"
            user_headers = redirect_headers(user_headers, target, destination)
            target = destination

    @defer.inlineCallbacks
    def _send(self, method: str, target: Target, headers: Headers, sink: ResponseSink, follow: Callable) -> Any:
        """
        Send one request, resending it on a new connection when a kept-alive
        one was closed under it (bounded: that only happens after the
        connection answered at least one request).
        """
        while True:
            protocol, reused = self._connection(target, sink)
            if not reused:
                protocol.ready.addCallback(_announce, sink)
            try:
                exchange = yield protocol.request(method, target, headers, sink, follow)
            except _ConnectionReuseFailed as why:
                sink.reconnecting(str(why))
                continue
            except Exception as error:
                raise classify(error)
            return (exchange, protocol, reused)


def _announce(protocol: Any, sink: ResponseSink) -> Any:
    if isinstance(protocol, HTTPClientProtocol):
        try:
            sink.connected(protocol.peer_description + (" (TLS verified)" if protocol.tls else ""))
        except Exception:
            pass
    return protocol


def _timing(started: float, protocol: HTTPClientProtocol, exchange: _Exchange, reused: bool) -> Timing:
    def since(moment: Optional[float]) -> float:
        return max(0.0, (moment if moment is not None else started) - started)

    connect = 0.0 if reused else since(protocol.connected_at)
    tls = None if not protocol.tls else (0.0 if reused else since(protocol.tls_at))
    return Timing(
        connect=connect,
        tls=tls,
        first_byte=since(exchange.first_byte_at),
        total=since(exchange.ended_at),
        body_bytes=exchange.body_bytes,
        reused=reused,
    )


def get(
    reactor: Any,
    url: str,
    headers: Sequence[Tuple[str, str]] = (),
    *,
    method: str = "GET",
    sink: Optional[ResponseSink] = None,
    follow_redirects: bool = False,
    max_redirects: int = 20,
    timeout: Optional[float] = None,
    connect_timeout: float = 30.0,
    tls: TLSPolicy = TLSPolicy(),
    max_body_bytes: int = 16 * 1024 * 1024,
    limits: Limits = Limits(),
    endpoint_factory: Callable[..., Any] = default_endpoint,
) -> Deferred:
    """
    Fetch one URL; the Deferred fires with a L{Response} whose C{body}
    holds the body (at most C{max_body_bytes}) when no C{sink} is given,
    or fails with a L{GetError} (its C{exit_code} is curl's).

    C{timeout} bounds the whole fetch: when it expires the Deferred is
    cancelled, which closes the connection and fails with L{TimedOut}.
    Cancelling the Deferred yourself does the same.
    """
    for name, value in headers:
        check_header(name, value)
    client = HTTPClient(
        reactor, tls=tls, limits=limits, connect_timeout=connect_timeout, endpoint_factory=endpoint_factory
    )
    collector = MemorySink(max_body_bytes) if sink is None else sink
    result: Deferred = Deferred(lambda d: client.close(TimedOut("operation cancelled")))
    inner = client.fetch(
        url, collector, method=method, headers=tuple(headers),
        follow_redirects=follow_redirects, max_redirects=max_redirects,
    )

    def finished(response: Response) -> Response:
        client.close()
        if sink is None:
            return Response(
                response.url, response.status, response.reason, response.headers,
                collector.body, response.timing, response.redirects,  # type: ignore[attr-defined]
            )
        return response

    def failed(reason: Failure) -> Failure:
        client.close()
        return Failure(classify(reason))

    inner.addCallbacks(finished, failed)

    def deliver(outcome: Any) -> None:
        if not result.called:
            if isinstance(outcome, Failure):
                result.errback(outcome)
            else:
                result.callback(outcome)

    inner.addBoth(deliver)
    if timeout is not None:
        timer = reactor.callLater(timeout, _expire, result, client, timeout)
        result.addBoth(lambda outcome: (timer.cancel() if timer.active() else None, outcome)[1])
    return result


def _expire(result: Deferred, client: HTTPClient, timeout: float) -> None:
    if not result.called:
        reason = TimedOut(f"operation timed out after {timeout:g} s")
        client.close(reason)
        if not result.called:
            result.errback(Failure(reason))


__all__ = [
    "AddressEndpoint",
    "BodyTooLarge",
    "CREDENTIAL_HEADERS",
    "CertificateRejected",
    "ClosedPipe",
    "ConnectFailed",
    "GetError",
    "HTTPClient",
    "HTTPClientProtocol",
    "MemorySink",
    "Response",
    "ResponseSink",
    "ReceiveFailed",
    "ResolveFailed",
    "TLSEndpoint",
    "TLSFailed",
    "TLSPolicy",
    "TimedOut",
    "Timing",
    "TooManyRedirects",
    "WriteFailed",
    "classify",
    "default_endpoint",
    "get",
    "load_certificates",
]
