"""
Tests for L{twisted_netlab.web.client}: the protocol and L{HTTPClient} on
a L{MemoryReactorClock} (connections recorded in C{tcpClients}, bytes on
L{StringTransport}), so timeouts are driven by C{advance()}.
"""

from __future__ import annotations

from typing import Any, List

from twisted.internet import defer, error
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._client_core import parse_url
from twisted_netlab.web.client import (
    GetError,
    HTTPClient,
    ResponseSink,
    TimedOut,
    TooManyRedirects,
    WriteFailed,
    get,
)


def memory_endpoint(reactor, target, tls, timeout):
    return TCP4ClientEndpoint(reactor, target.host, target.port, timeout=timeout)


OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"


class RecordingSink(ResponseSink):
    def __init__(self) -> None:
        self.body = b""
        self.heads: List[Any] = []
        self.requests: List[bytes] = []

    def request_sent(self, target, head):
        self.requests.append(head)

    def head_received(self, head, redirecting):
        self.heads.append((head.status, redirecting))

    def body_received(self, data, redirecting):
        if not redirecting:
            self.body += data.data


class FailingSink(ResponseSink):
    def body_received(self, data, redirecting):
        raise WriteFailed("write error on out: No space left on device")


class Harness:
    """
    A MemoryReactorClock whose connection attempts the test accepts by
    hand, giving each built protocol a StringTransport.
    """

    def __init__(self) -> None:
        self.reactor = MemoryReactorClock()
        self.accepted = 0
        self.protocols: List[Any] = []
        self.transports: List[StringTransport] = []

    def client(self, **kwargs: Any) -> HTTPClient:
        return HTTPClient(self.reactor, endpoint_factory=memory_endpoint, **kwargs)

    def accept(self) -> StringTransport:
        host, port, factory, timeout, bind = self.reactor.tcpClients[self.accepted]
        self.accepted += 1
        protocol = factory.buildProtocol(None)
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.protocols.append(protocol)
        self.transports.append(transport)
        return transport

    def reply(self, index: int, data: bytes) -> None:
        self.protocols[index].dataReceived(data)

    def close(self, index: int, reason: Any = None) -> None:
        self.protocols[index].connectionLost(Failure(reason or error.ConnectionDone()))


def request_lines(transport: StringTransport) -> List[bytes]:
    return [block.split(b"\r\n", 1)[0] for block in transport.value().split(b"\r\n\r\n") if block]


class GetTests(SynchronousTestCase):
    def test_body_collected(self):
        """
        get() sends a well-formed request and fires with status, headers and
        the body.
        """
        harness = Harness()
        result = get(harness.reactor, "http://127.0.0.1:8080/a?b=1", endpoint_factory=memory_endpoint)
        self.assertEqual(harness.reactor.tcpClients[0][:2], ("127.0.0.1", 8080))
        transport = harness.accept()
        self.assertEqual(
            transport.value(),
            b"GET /a?b=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: netlab-get\r\nAccept: */*\r\n\r\n",
        )
        harness.reply(0, b"HTTP/1.1 100 Continue\r\n\r\n" + OK)
        response = self.successResultOf(result)
        self.assertEqual((response.status, response.body, response.header("content-length")), (200, b"hello", "5"))

    def test_connect_timeout(self):
        """
        A connection that never completes fails with exit 28 once the
        connect timeout passes on the injected clock, and not before.
        """
        harness = Harness()
        result = get(harness.reactor, "http://127.0.0.1/", connect_timeout=5, endpoint_factory=memory_endpoint)
        harness.reactor.advance(4.9)
        self.assertNoResult(result)
        harness.reactor.advance(0.2)
        failure = self.failureResultOf(result, GetError)
        self.assertEqual(failure.value.exit_code, 28)

    def test_total_timeout_cancels(self):
        """
        timeout= bounds the whole transfer: a slow body is cut and the
        connection aborted.
        """
        harness = Harness()
        result = get(harness.reactor, "http://127.0.0.1/", timeout=10, endpoint_factory=memory_endpoint)
        transport = harness.accept()
        harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        harness.reactor.advance(9)
        self.assertNoResult(result)
        harness.reactor.advance(2)
        self.failureResultOf(result, TimedOut)
        self.assertTrue(transport.disconnecting)

    def test_cancel(self):
        """
        Cancelling the Deferred closes the connection.
        """
        harness = Harness()
        result = get(harness.reactor, "http://127.0.0.1/", endpoint_factory=memory_endpoint)
        transport = harness.accept()
        result.cancel()
        self.failureResultOf(result, GetError)
        self.assertTrue(transport.disconnecting)

    def test_body_limit(self):
        """
        Without a sink, a body over max_body_bytes fails instead of filling memory.
        """
        harness = Harness()
        result = get(harness.reactor, "http://127.0.0.1/", max_body_bytes=3, endpoint_factory=memory_endpoint)
        harness.accept()
        harness.reply(0, OK)
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 63)


class ConnectionTests(SynchronousTestCase):
    def test_keep_alive_reuse(self):
        """
        Two fetches to one origin share one connection; the second request
        is sent only after the first response ended.
        """
        harness = Harness()
        client = harness.client()
        first = client.fetch("http://h/1", RecordingSink())
        second_sink = RecordingSink()
        second = client.fetch("http://h/2", second_sink)
        transport = harness.accept()
        self.assertEqual(request_lines(transport), [b"GET /1 HTTP/1.1"])
        harness.reply(0, OK)
        self.successResultOf(first)
        self.assertEqual(request_lines(transport), [b"GET /1 HTTP/1.1", b"GET /2 HTTP/1.1"])
        harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo")
        response = self.successResultOf(second)
        self.assertTrue(response.timing.reused)
        self.assertEqual(second_sink.body, b"two")
        self.assertEqual(len(harness.reactor.tcpClients), 1)

    def test_pipeline_order(self):
        """
        With pipelining every request is written before any response, and
        responses go to their requests in order even when split oddly.
        """
        harness = Harness()
        client = harness.client(pipeline=True)
        sinks = [RecordingSink() for _ in range(3)]
        results = [client.fetch(f"http://h/{i}", sinks[i]) for i in range(3)]
        transport = harness.accept()
        self.assertEqual(request_lines(transport), [b"GET /0 HTTP/1.1", b"GET /1 HTTP/1.1", b"GET /2 HTTP/1.1"])
        stream = b"".join(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbod%d" % i for i in range(3))
        for index in range(0, len(stream), 13):
            harness.reply(0, stream[index:index + 13])
        for i in range(3):
            self.successResultOf(results[i])
            self.assertEqual(sinks[i].body, b"bod%d" % i)

    def test_pipelined_rest_resent_after_close(self):
        """
        When the server answers one pipelined request and closes, the
        unanswered ones are resent, in order, on a new connection.
        """
        harness = Harness()
        client = harness.client(pipeline=True)
        sinks = [RecordingSink() for _ in range(3)]
        results = [client.fetch(f"http://h/{i}", sinks[i]) for i in range(3)]
        harness.accept()
        harness.reply(0, b"HTTP/1.0 200 OK\r\n\r\nfirst")
        harness.close(0)
        self.successResultOf(results[0])
        second = harness.accept()
        self.assertEqual(request_lines(second), [b"GET /1 HTTP/1.1", b"GET /2 HTTP/1.1"])
        harness.reply(1, OK + OK)
        self.assertEqual([s.body for s in sinks], [b"first", b"hello", b"hello"])

    def test_idle_reused_connection_closed(self):
        """
        A kept-alive connection closed by the server before it answered the
        next request is transparently replaced.
        """
        harness = Harness()
        client = harness.client()
        first = client.fetch("http://h/1", RecordingSink())
        harness.accept()
        harness.reply(0, OK)
        self.successResultOf(first)
        second = client.fetch("http://h/2", RecordingSink())
        harness.close(0)
        harness.accept()
        harness.reply(1, OK)
        self.assertEqual(self.successResultOf(second).status, 200)

    def test_lying_content_length_times_out(self):
        """
        A server that announces more bytes than it sends and keeps the
        connection open fails with exit 28 after the idle timeout, saying
        how much arrived.
        """
        harness = Harness()
        client = harness.client(idle_timeout=30)
        result = client.fetch("http://h/", RecordingSink())
        transport = harness.accept()
        harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        harness.reactor.advance(29)
        harness.reply(0, b"d")
        harness.reactor.advance(29)
        self.assertNoResult(result)
        harness.reactor.advance(2)
        failure = self.failureResultOf(result, TimedOut)
        self.assertIn("4 of 10", str(failure.value))
        self.assertTrue(transport.disconnecting)

    def test_truncated_body(self):
        """
        A close before the announced length is exit 18, not a short success.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", RecordingSink())
        harness.accept()
        harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        harness.close(0)
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 18)

    def test_reset_mid_body(self):
        """
        A reset is never taken as the end of a read-until-close body (exit 56).
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", RecordingSink())
        harness.accept()
        harness.reply(0, b"HTTP/1.0 200 OK\r\n\r\nabc")
        harness.close(0, error.ConnectionLost())
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 56)

    def test_empty_reply(self):
        """
        A close without a byte of response is curl's exit 52.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", RecordingSink())
        harness.accept()
        harness.close(0)
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 52)

    def test_framing_error(self):
        """
        A malformed response is exit 8 and the connection is dropped.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", RecordingSink())
        transport = harness.accept()
        harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 8)
        self.assertTrue(transport.disconnecting)

    def test_write_error_aborts(self):
        """
        A sink that cannot write fails the transfer with exit 23 and drops
        the connection rather than reading on.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", FailingSink())
        transport = harness.accept()
        harness.reply(0, OK)
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 23)
        self.assertTrue(transport.disconnecting)

    def test_connection_refused(self):
        """
        A refused connection is exit 7.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/", RecordingSink())
        connector = harness.reactor.connectors[0]
        harness.reactor.tcpClients[0][2].clientConnectionFailed(connector, Failure(error.ConnectionRefusedError()))
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 7)


class RedirectTests(SynchronousTestCase):
    CREDENTIALS = (("Authorization", "Bearer secret"), ("Cookie", "session=1"), ("Proxy-Authorization", "Basic p"), ("X-Trace", "t"))

    def follow(self, location: bytes, status: int = 302):
        harness = Harness()
        sink = RecordingSink()
        result = harness.client().fetch("http://h/start", sink, headers=self.CREDENTIALS, follow_redirects=True)
        harness.accept()
        harness.reply(0, b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 3\r\n\r\nxyz" % (status, location))
        return harness, sink, result

    def test_same_origin_keeps_credentials(self):
        """
        A same-origin redirect reuses the connection and keeps every header.
        """
        harness, sink, result = self.follow(b"/next")
        self.assertIn(b"Authorization: Bearer secret", sink.requests[1])
        self.assertIn(b"Cookie: session=1", sink.requests[1])
        harness.reply(0, OK)
        response = self.successResultOf(result)
        self.assertEqual((response.url, response.redirects), ("http://h/next", ("http://h/start",)))
        self.assertEqual(sink.body, b"hello")
        self.assertEqual(sink.heads, [(302, True), (200, False)])

    def test_cross_origin_drops_credentials(self):
        """
        A redirect to another host, port or scheme drops Authorization,
        Cookie and Proxy-Authorization but keeps other headers
        (CVE-2018-1000007, CVE-2022-21712).
        """
        for location in (b"http://evil.example/", b"http://h:8080/", b"https://h/"):
            harness, sink, result = self.follow(location)
            self.assertEqual(len(harness.reactor.tcpClients), 2)
            harness.accept()
            second = sink.requests[1]
            for name in (b"Authorization", b"Cookie", b"Proxy-Authorization"):
                self.assertNotIn(name, second)
            self.assertIn(b"X-Trace: t", second)
            result.addErrback(lambda _: None)

    def test_credentials_stay_dropped(self):
        """
        Once dropped, credentials are not restored by a redirect back.
        """
        harness, sink, result = self.follow(b"http://other/")
        harness.accept()
        harness.reply(1, b"HTTP/1.1 301 Back\r\nLocation: http://h/again\r\nContent-Length: 0\r\n\r\n")
        self.assertNotIn(b"Authorization", sink.requests[2])

    def test_303_becomes_get_and_limit(self):
        """
        Redirect loops stop after max_redirects with exit 47.
        """
        harness = Harness()
        result = harness.client().fetch("http://h/0", RecordingSink(), follow_redirects=True, max_redirects=3)
        harness.accept()
        for i in range(4):
            harness.reply(0, b"HTTP/1.1 303 See\r\nLocation: /%d\r\nContent-Length: 0\r\n\r\n" % (i + 1))
        self.failureResultOf(result, TooManyRedirects)
        self.assertEqual(TooManyRedirects.exit_code, 47)

    def test_redirect_to_file_scheme_refused(self):
        """
        A Location with a non-http scheme is refused, not followed.
        """
        harness, sink, result = self.follow(b"file:///etc/passwd")
        self.assertEqual(self.failureResultOf(result, GetError).value.exit_code, 1)

    def test_not_followed_without_flag(self):
        """
        Without follow_redirects the 3xx is the result and its body delivered.
        """
        harness = Harness()
        sink = RecordingSink()
        result = harness.client().fetch("http://h/", sink)
        harness.accept()
        harness.reply(0, b"HTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 3\r\n\r\nxyz")
        self.assertEqual(self.successResultOf(result).status, 301)
        self.assertEqual(sink.body, b"xyz")


class TargetTests(SynchronousTestCase):
    def test_ipv6_host_header(self):
        """
        IPv6 literals are bracketed in Host and bare for connecting.
        """
        harness = Harness()
        client = harness.client()
        client.fetch(parse_url("http://[::1]:8080/"), RecordingSink())
        self.assertEqual(harness.reactor.tcpClients[0][:2], ("::1", 8080))
        transport = harness.accept()
        self.assertIn(b"Host: [::1]:8080\r\n", transport.value())


class ClassifyTests(SynchronousTestCase):
    def test_exit_codes(self):
        """
        Each failure kind maps to curl's exit code.
        """
        from OpenSSL import SSL

        from twisted_netlab.web._client_core import EmptyResponse, MalformedURL, PeerProtocolError, TruncatedResponse, UnsupportedScheme
        from twisted_netlab.web.client import classify

        cases = [
            (error.DNSLookupError("nowhere"), 6),
            (error.ConnectionRefusedError(), 7),
            (PeerProtocolError("x"), 8),
            (TruncatedResponse("x"), 18),
            (EmptyResponse("x"), 52),
            (MalformedURL("x"), 3),
            (UnsupportedScheme("x"), 1),
            (error.ConnectionLost(), 56),
            (SSL.Error([("SSL routines", "", "certificate verify failed")]), 60),
            (SSL.Error([("SSL routines", "", "wrong version number")]), 35),
        ]
        for value, code in cases:
            self.assertEqual(classify(Failure(value)).exit_code, code, value)


class CloseTests(SynchronousTestCase):
    def test_close_while_connecting_cancels_attempt(self):
        """
        Closing the client while a connection is still being made fails the
        fetch and stops the attempt, so no socket outlives the client.
        """
        harness = Harness()
        client = harness.client()
        result = client.fetch("http://h/", RecordingSink())
        connector = harness.reactor.connectors[0]
        client.close(TimedOut("operation timed out after 1 s"))
        self.failureResultOf(result, TimedOut)
        self.assertTrue(connector.stoppedConnecting)


class AddressEndpointTests(SynchronousTestCase):
    def test_connects_without_resolving(self):
        """
        An address literal is connected to with connectTCP directly (no
        resolver thread); the Deferred fires with the built protocol.
        """
        from twisted.internet.protocol import Factory, Protocol

        from twisted_netlab.web.client import AddressEndpoint, default_endpoint
        from twisted_netlab.web._client_core import parse_url

        reactor = MemoryReactorClock()
        endpoint = default_endpoint(reactor, parse_url("http://[::1]:8080/"), None, 5.0)
        self.assertIsInstance(endpoint, AddressEndpoint)
        connecting = endpoint.connect(Factory.forProtocol(Protocol))
        [(host, port, factory, timeout, _)] = reactor.tcpClients
        self.assertEqual((host, port, timeout), ("::1", 8080, 5.0))
        self.assertNoResult(connecting)
        protocol = factory.buildProtocol(None)
        self.assertIs(self.successResultOf(connecting), protocol)

    def test_failure_and_cancel(self):
        """
        A failed attempt fails the Deferred with its reason; cancelling
        stops connecting.
        """
        from twisted.internet.protocol import Factory, Protocol

        from twisted_netlab.web.client import AddressEndpoint

        reactor = MemoryReactorClock()
        connecting = AddressEndpoint(reactor, "127.0.0.1", 9, 1.0).connect(Factory.forProtocol(Protocol))
        factory = reactor.tcpClients[0][2]
        factory.clientConnectionFailed(reactor.connectors[0], Failure(error.ConnectionRefusedError()))
        self.failureResultOf(connecting, error.ConnectionRefusedError)
        connecting = AddressEndpoint(reactor, "127.0.0.1", 9, 1.0).connect(Factory.forProtocol(Protocol))
        connecting.cancel()
        self.failureResultOf(connecting, defer.CancelledError)
        self.assertEqual(reactor.connectors[1].stoppedConnecting, True)


class LateTLSTests(SynchronousTestCase):
    """
    https:// with the default trust makes its TLS creator (and imports
    TLS) only once the TCP connection is up.
    """

    def endpoint(self, reactor, make_creator):
        from twisted_netlab.web.client import AddressEndpoint, TLSEndpoint

        return TLSEndpoint.on_connect(make_creator, AddressEndpoint(reactor, "127.0.0.1", 443, 1.0))

    def test_default_trust_waits_for_the_connection(self):
        """
        default_endpoint for https:// without a CA file makes no creator
        while connecting, and none when the attempt is refused.
        """
        from twisted.internet.protocol import Factory, Protocol

        from twisted_netlab.web.client import TLSEndpoint, TLSPolicy, default_endpoint

        made = []

        class Policy(TLSPolicy):
            def creator(self, hostname):
                made.append(hostname)
                return TLSPolicy.creator(self, hostname)

        reactor = MemoryReactorClock()
        endpoint = default_endpoint(reactor, parse_url("https://127.0.0.1:8443/"), Policy(), 5.0)
        self.assertIsInstance(endpoint, TLSEndpoint)
        connecting = endpoint.connect(Factory.forProtocol(Protocol))
        factory = reactor.tcpClients[0][2]
        self.assertEqual(made, [])
        factory.clientConnectionFailed(reactor.connectors[0], Failure(error.ConnectionRefusedError()))
        self.failureResultOf(connecting, error.ConnectionRefusedError)
        self.assertEqual(made, [])

    def test_tls_is_made_once_connected(self):
        """
        Once connected, the creator is made and the caller's protocol
        runs under TLS: the Deferred fires with that protocol, and what it
        writes leaves as a TLS record (a ClientHello), not in clear.
        """
        from twisted.internet.protocol import Factory, Protocol

        from twisted_netlab.web.client import TLSPolicy

        made = []

        def make():
            made.append(True)
            return TLSPolicy().creator("example.com")

        class Hello(Protocol):
            def connectionMade(self):
                self.transport.write(b"GET / HTTP/1.1\r\n\r\n")

        reactor = MemoryReactorClock()
        connecting = self.endpoint(reactor, make).connect(Factory.forProtocol(Hello))
        protocol = reactor.tcpClients[0][2].buildProtocol(None)
        self.assertEqual(made, [True])
        transport = StringTransport()
        protocol.makeConnection(transport)
        self.assertIsInstance(self.successResultOf(connecting), Hello)
        sent = transport.value()
        self.assertEqual(sent[:1], b"\x16")  # a TLS handshake record
        self.assertNotIn(b"GET /", sent)

    def test_a_failing_creator_fails_the_attempt(self):
        """
        If the creator cannot be made once connected, the connection is
        refused a protocol and the attempt fails with that error.
        """
        from twisted.internet.protocol import Factory, Protocol

        def make():
            raise ValueError("no trust store")

        reactor = MemoryReactorClock()
        connecting = self.endpoint(reactor, make).connect(Factory.forProtocol(Protocol))
        self.assertIsNone(reactor.tcpClients[0][2].buildProtocol(None))
        self.assertEqual(str(self.failureResultOf(connecting, ValueError).value), "no trust store")
