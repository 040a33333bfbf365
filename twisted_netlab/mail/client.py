# -*- test-case-name: tests.mail.test_client -*-
"""
The Twisted adapter of the ``netlab mail`` client: L{SMTPClientProtocol}
feeds reply lines to the sans-IO L{ClientDialogue}, carries out the events it
returns (writes, STARTTLS, closing), and runs a timeout for every reply.
L{sendmail} and L{send_messages} are the Deferred-returning library API.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Union

from twisted.internet import defer
from twisted.internet.interfaces import IHandshakeListener, IOpenSSLClientConnectionCreator
from twisted.internet.protocol import Factory, Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_netlab._address_endpoint import AddressEndpoint
from twisted_netlab._endpoints import default_reactor
from twisted_netlab._write_now import write_now
from twisted_netlab.mail._client_core import (
    ClientConfig,
    ClientDialogue,
    CloseConnection,
    Credentials,
    DialogueFailed,
    DialogueFinished,
    Envelope,
    MessageFinished,
    MessageResult,
    ReplyReceived,
    SendData,
    SendLine,
    StartTLS,
    TLSMode,
)
from twisted_netlab.mail._replies import MAX_REPLY_LINE_LENGTH, ConnectionLost, Step

if TYPE_CHECKING:
    import email.message

#: Called with each transcript line, e.g. ``"<- 250 OK"``.
Transcript = Callable[[str], None]

DEFAULT_TIMEOUT_SECONDS = 30.0
#: After the data is handed to the transport, the reply to the final dot may
#: take as long as the upload: the timeout grows by one second for every
#: this many bytes (a slow link must not look like a dead server).
SLOWEST_UPLOAD_BYTES_PER_SECOND = 64 * 1024
#: How many lines of a message the transcript shows before summarising.
TRANSCRIPT_DATA_LINES = 40


def local_ehlo_name(transport: Any) -> str:
    """
    RFC 5321 4.1.4: without a known FQDN, greet with the address literal of
    our end of the connection (it is what the server sees anyway, and does
    not leak a host name).
    """
    host = getattr(transport.getHost(), "host", "127.0.0.1")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return "[127.0.0.1]"
    if address.version == 6:
        return f"[IPv6:{address.compressed}]"
    return f"[{address}]"


@implementer(IHandshakeListener)
class SMTPClientProtocol(Protocol):
    """
    One SMTP client connection.  Replies are cut into lines at CRLF here
    (every line of a chunk in one pass: with PIPELINING one chunk carries
    several replies), at most C{MAX_LENGTH} bytes each.

    @param reactor: provides C{callLater} for the reply timeouts; L{None}
        means the global reactor, looked up at the first timer.
    @ivar finished: fires with the list of L{MessageResult} once QUIT was
        answered, or fails with the L{SMTPClientError} that ended the
        dialogue (its C{results} attribute lists messages already done).
    """

    MAX_LENGTH = MAX_REPLY_LINE_LENGTH
    transport: Any

    def __init__(
        self,
        config: ClientConfig,
        messages: Sequence[Envelope],
        tls_options: Any = None,
        reactor: Any = None,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        transcript: Optional[Transcript] = None,
        derive_ehlo_name: bool = False,
    ) -> None:
        self.config = config
        self.messages = list(messages)
        self.tls_options = tls_options
        self._reactor = reactor
        self.timeout_seconds = timeout_seconds
        self.transcript = transcript
        self.derive_ehlo_name = derive_ehlo_name
        self.dialogue: Optional[ClientDialogue] = None
        self.finished: defer.Deferred = defer.Deferred(self._cancel)
        # One DelayedCall watches the reply deadline; a reply only moves
        # the deadline, the call re-arms itself when it fires early.
        self._timer: Any = None
        self._timer_due = 0.0
        self._deadline = 0.0
        self._timer_seconds = timeout_seconds
        self._close_timer: Any = None
        self._closed = False
        self._outcome: Any = None
        # Line splitting: the partial line kept, the lines of the chunk
        # being read (emptied by clearLineBuffer) and the next one's index.
        self._unparsed = b""
        self._lines: List[bytes] = []
        self._line_index = 0
        self._receiving = False
        self._tls_settings_error: Optional[str] = None

    @property
    def reactor(self) -> Any:
        """
        The reactor given (a C{task.Clock} in tests), else the global one,
        looked up only when a timer is first needed.
        """
        if self._reactor is None:
            self._reactor = default_reactor(None)
        return self._reactor

    # -- Twisted callbacks

    def connectionMade(self) -> None:
        if hasattr(self.transport, "setTcpNoDelay"):
            # Each command waits for its reply: never let Nagle hold one back.
            self.transport.setTcpNoDelay(True)
        config = self.config
        if self.derive_ehlo_name:
            config = dataclasses.replace(config, ehlo_name=local_ehlo_name(self.transport))
        self.dialogue = ClientDialogue(config, self.messages)
        self._show(f"=== connected to {_describe(self.transport.getPeer())}")
        self._arm_timer()

    def dataReceived(self, data: bytes) -> None:
        if self._receiving:
            # Called again while a line is handled: these bytes come after
            # the partial line kept, and are read once the chunk is done.
            self._unparsed += data
            return
        self._receiving = True
        try:
            if self._unparsed:
                data = self._unparsed + data
            dialogue = self.dialogue
            assert dialogue is not None
            while True:
                lines = self._lines = data.split(b"\r\n")
                self._unparsed = lines.pop()
                index = 0
                # clearLineBuffer() (STARTTLS) empties self._lines: stop there.
                while index < len(self._lines):
                    line = lines[index]
                    index = self._line_index = index + 1
                    if len(line) > MAX_REPLY_LINE_LENGTH:
                        self._lines, self._unparsed = [], b""
                        self.lineLengthExceeded(line)
                        return
                    if self.transcript is not None:
                        self._show("<- " + printable(line))
                    self._carry_out(dialogue.receive_line(line))
                    if self.transport.disconnecting:
                        return
                self._lines = []
                if b"\r\n" not in self._unparsed:
                    break
                data, self._unparsed = self._unparsed, b""
            if len(self._unparsed) > MAX_REPLY_LINE_LENGTH + 1:
                line, self._unparsed = self._unparsed, b""
                self.lineLengthExceeded(line)
        finally:
            self._receiving = False

    def clearLineBuffer(self) -> bytes:
        """
        Forget and return whatever was received and not yet handled.
        """
        rest = self._lines[self._line_index :] + [self._unparsed]
        self._lines, self._unparsed = [], b""
        return b"\r\n".join(rest)

    def lineReceived(self, line: bytes) -> None:
        dialogue = self.dialogue
        assert dialogue is not None
        if self.transcript is not None:
            self._show("<- " + printable(line))
        self._carry_out(dialogue.receive_line(line))

    def lineLengthExceeded(self, line: bytes) -> None:
        assert self.dialogue is not None
        # The parser names the step and refuses the line as too long.
        self._carry_out(self.dialogue.receive_line(line[: MAX_REPLY_LINE_LENGTH + 1]))

    def handshakeCompleted(self) -> None:
        self._show("=== TLS established: " + _tls_summary(self.transport))

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self._cancel_timer()
        self._closed = True
        if self.dialogue is not None:
            detail = self._tls_settings_error or _failure_text(reason)
            self._carry_out(self.dialogue.connection_lost(detail))
        self._fire()

    def _finish_when_closed(self) -> None:
        """
        Report only once the connection is really closed, so a caller never
        inherits a half-open connection; a peer that does not close after
        our close gets one more timeout, then an abort.
        """
        if self._closed:
            self._fire()
            return
        self._close_timer = self.reactor.callLater(self.timeout_seconds, self._close_timed_out)

    def _close_timed_out(self) -> None:
        self._close_timer = None
        self.transport.abortConnection()
        self._fire()

    def _fire(self) -> None:
        if self._outcome is None or self.finished.called:
            return
        outcome, self._outcome = self._outcome, None
        self._cancel_timer()
        if isinstance(outcome, Failure):
            self.finished.errback(outcome)
        else:
            self.finished.callback(outcome)

    # -- events

    def _carry_out(self, events: List[Any]) -> None:
        dialogue = self.dialogue
        assert dialogue is not None
        progressed = False
        upload_seconds = 0.0
        # Lines of one flight (PIPELINING) leave in one write.
        outgoing: List[bytes] = []
        for event in events:
            # The most frequent events first: this loop runs for every reply.
            kind = type(event)
            if kind is ReplyReceived:
                progressed = True
            elif kind is SendLine:
                if self.transcript is not None:
                    self._show("-> " + event.display)
                outgoing.append(event.line + b"\r\n")
                progressed = True
            elif kind is SendData:
                self._show_data(event.data)
                outgoing.append(event.data)
                upload_seconds = len(event.data) / SLOWEST_UPLOAD_BYTES_PER_SECOND
                progressed = True
            elif kind is StartTLS:
                self._write(outgoing)
                self._start_tls()
                return
            elif kind is CloseConnection:
                self._write(outgoing)
                outgoing = []
                self._cancel_timer()
                if event.abort:
                    self.transport.abortConnection()
                else:
                    self.transport.loseConnection()
            elif kind is MessageFinished:
                pass
            elif kind is DialogueFinished:
                self._cancel_timer()
                self._outcome = list(dialogue.results)
                self._finish_when_closed()
            elif kind is DialogueFailed:
                self._cancel_timer()
                error = event.error
                error.results = list(dialogue.results)  # type: ignore[attr-defined]
                self._show(f"*** {error}")
                self._outcome = Failure(error)
                self._finish_when_closed()
        if outgoing:
            write_now(self.transport, outgoing[0] if len(outgoing) == 1 else b"".join(outgoing))
        # After the write: this bookkeeping overlaps the server's work.
        if progressed and dialogue.awaiting_reply:
            self._arm_timer(self.timeout_seconds + upload_seconds)
            if outgoing:
                dialogue.prepare_next()

    def _write(self, chunks: List[bytes]) -> None:
        if chunks:
            write_now(self.transport, chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _start_tls(self) -> None:
        assert self.dialogue is not None
        # RFC 3207 5: whatever the server sent after "220" arrived in
        # plaintext and cannot be trusted; the core decides what it means.
        unread = self.clearLineBuffer()
        if unread:
            self._carry_out(self.dialogue.tls_started(unread))
            return
        self._show("=== starting TLS")
        if isinstance(self.tls_options, SystemTrust):
            # Made now (see SystemTrust); a host name they cannot check
            # (send_messages with its own endpoint) ends the session here.
            try:
                self.tls_options.options()
            except Exception as error:
                self._tls_settings_error = f"no TLS settings for {self.tls_options.host!r}: {error}"
                self.transport.abortConnection()
                return
        self.transport.startTLS(self.tls_options)
        self._carry_out(self.dialogue.tls_started(b""))

    # -- timeouts (every reply has one; the reactor is injected)

    def _arm_timer(self, seconds: Optional[float] = None) -> None:
        """
        The next reply is due within C{seconds} from now.  This runs for
        every reply, so it only moves the deadline; the DelayedCall is
        rescheduled only when the deadline comes before it.
        """
        self._timer_seconds = seconds = self.timeout_seconds if seconds is None else seconds
        reactor = self._reactor or self.reactor
        self._deadline = deadline = reactor.seconds() + seconds
        timer = self._timer
        if timer is None:
            self._timer = reactor.callLater(seconds, self._deadline_reached)
            self._timer_due = deadline
        elif deadline < self._timer_due:
            timer.reset(seconds)
            self._timer_due = deadline

    def _cancel_timer(self) -> None:
        for timer in (self._timer, self._close_timer):
            if timer is not None and timer.active():
                timer.cancel()
        self._timer = self._close_timer = None

    def _deadline_reached(self) -> None:
        self._timer = None
        remaining = self._deadline - self.reactor.seconds()
        if remaining > 0:
            # A reply came meanwhile and moved the deadline.
            self._timer = self.reactor.callLater(remaining, self._deadline_reached)
            self._timer_due = self._deadline
            return
        self._timed_out()

    def _timed_out(self) -> None:
        assert self.dialogue is not None
        self._carry_out(self.dialogue.timed_out(self._timer_seconds))

    def _cancel(self, _: defer.Deferred) -> None:
        self._cancel_timer()
        if self.transport is not None:
            self.transport.abortConnection()

    # -- transcript

    def _show(self, text: str) -> None:
        if self.transcript is not None:
            self.transcript(text)

    def _show_data(self, data: bytes) -> None:
        if self.transcript is None:
            return
        lines = data.split(b"\r\n")[:-1]
        for line in lines[:TRANSCRIPT_DATA_LINES]:
            self._show(" > " + printable(line))
        if len(lines) > TRANSCRIPT_DATA_LINES:
            self._show(f" > [... {len(lines) - TRANSCRIPT_DATA_LINES} more lines, {len(data)} bytes in all]")


_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def printable(line: bytes) -> str:
    """
    A received line as transcript text: control characters (which could
    drive the user's terminal) are shown escaped, never written raw.
    """
    text = line.decode("utf-8", "replace")
    return _UNPRINTABLE.sub(lambda match: repr(match.group())[1:-1], text)


def _tls_summary(transport: Any) -> str:
    """
    Protocol, cipher and the certificate's subject and issuer, for -v.
    """
    try:
        handle = transport.getHandle()
        text = f"{handle.get_protocol_version_name()} {handle.get_cipher_name()}"
    except Exception:
        return "(no details available)"
    try:
        certificate = handle.get_peer_certificate(as_cryptography=True)
        text += f", certificate {certificate.subject.rfc4514_string()} issued by {certificate.issuer.rfc4514_string()}"
    except Exception:
        pass
    return text


def _failure_text(reason: Optional[Failure]) -> str:
    """
    One readable line for why a connection ended; OpenSSL's error lists are
    reduced to their reasons, with a hint for the usual certificate problem.
    """
    if reason is None:
        return "connection closed"
    try:
        from OpenSSL import SSL
    except ImportError:  # pragma: no cover - twisted[tls] installs it
        return reason.getErrorMessage()
    if not reason.check(SSL.Error):
        return reason.getErrorMessage()
    reasons = []
    for argument in reason.value.args:
        for item in argument if isinstance(argument, list) else [argument]:
            text = item[-1] if isinstance(item, tuple) and item else str(item)
            if text and text not in reasons:
                reasons.append(text)
    text = "; ".join(reasons) or reason.getErrorMessage()
    if "certificate verify failed" in text:
        text += " (the server certificate is not trusted for this name: --cafile FILE for a private CA)"
    return text


def _describe(address: Any) -> str:
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return str(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _OneShotFactory(Factory):
    def __init__(self, protocol: SMTPClientProtocol) -> None:
        self._protocol = protocol

    def buildProtocol(self, addr: Any) -> SMTPClientProtocol:
        return self._protocol


def client_tls_options(host: str, cafile: Optional[str] = None, insecure: bool = False) -> Any:
    """
    TLS settings checking the server's certificate against C{host} with
    service-identity (a DNS name or an IP address in subjectAltName),
    trusting the system CAs or only those in C{cafile}.  C{insecure}
    disables verification entirely (the CLI warns loudly).
    """
    from twisted.internet import ssl

    if insecure:
        return ssl.CertificateOptions(verify=False)
    trust_root = None
    if cafile is not None:
        with open(cafile, "rb") as f:
            pem = f.read()
        certificates = [
            ssl.Certificate.loadPEM(block)
            for block in _pem_blocks(pem)
        ]
        if not certificates:
            raise ValueError(f"{cafile}: no PEM certificate found")
        trust_root = ssl.trustRootFromCertificates(certificates)
    return ssl.optionsForClientTLS(host, trustRoot=trust_root)


@implementer(IOpenSSLClientConnectionCreator)
class SystemTrust:
    """
    The default TLS settings, L{client_tls_options}C{(host)} (the system
    CAs, the name checked), made when the first TLS connection needs them:
    a client that never gets as far as STARTTLS (a refused connection, a
    server without it) never loads Twisted's certificate checking.
    """

    def __init__(self, host: str) -> None:
        self.host = host
        self._options: Any = None

    def options(self) -> Any:
        """
        The TLS settings, made on the first call.
        """
        if self._options is None:
            self._options = client_tls_options(self.host)
        return self._options

    def clientConnectionForTLS(self, tlsProtocol: Any) -> Any:
        return self.options().clientConnectionForTLS(tlsProtocol)


def _pem_blocks(pem: bytes) -> List[bytes]:
    end = b"-----END CERTIFICATE-----"
    blocks = []
    for part in pem.split(end)[:-1]:
        start = part.find(b"-----BEGIN CERTIFICATE-----")
        if start >= 0:
            blocks.append(part[start:] + end + b"\n")
    return blocks


def _endpoint(reactor: Any, host: str, port: int, timeout_seconds: float) -> Any:
    """
    An address literal is connected to directly (L{AddressEndpoint}: no
    resolver thread, no import of L{twisted.internet.endpoints}); a host
    name through a HostnameEndpoint (resolution, happy eyeballs).
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        from twisted.internet.endpoints import HostnameEndpoint

        return HostnameEndpoint(reactor, host, port, timeout=timeout_seconds)
    return AddressEndpoint(reactor, host, port, timeout_seconds)


def send_messages(
    reactor: Any,
    host: str,
    messages: Sequence[Envelope],
    port: Optional[int] = None,
    tls: TLSMode = TLSMode.REQUIRED,
    credentials: Optional[Credentials] = None,
    auth_mechanism: Optional[str] = None,
    tls_options: Any = None,
    ehlo_name: Optional[str] = None,
    quit_after: Optional[Step] = None,
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
    transcript: Optional[Transcript] = None,
    endpoint: Any = None,
) -> defer.Deferred:
    """
    Send C{messages} over one connection (RSET between them).

    @param port: default 465 with C{TLSMode.IMPLICIT}, else 25.
    @param tls_options: an C{IOpenSSLClientConnectionCreator}; default
        L{SystemTrust}C{(host)}: system CAs, name checked, the settings
        made when TLS starts.
    @param quit_after: L{Step.GREETING}, L{Step.EHLO}, L{Step.TLS} or
        L{Step.AUTH}: say QUIT once that step worked, sending no message.
    @param endpoint: a client endpoint to use instead of TCP to C{host}.
    @return: a Deferred firing with one L{MessageResult} per message (a
        message refused by the server has its C{error}); it fails with an
        L{SMTPClientError} when the dialogue itself failed (connection, TLS,
        AUTH, timeout, protocol violation).
    """
    if port is None:
        port = 465 if tls is TLSMode.IMPLICIT else 25
    if tls_options is None and tls is not TLSMode.NONE:
        tls_options = SystemTrust(host)
    config = ClientConfig(
        tls=tls,
        credentials=credentials,
        auth_mechanism=auth_mechanism,
        ehlo_name=ehlo_name or "[127.0.0.1]",
        quit_after=quit_after,
    )
    protocol = SMTPClientProtocol(
        config,
        messages,
        tls_options=tls_options,
        reactor=reactor,
        timeout_seconds=timeout_seconds,
        transcript=transcript,
        derive_ehlo_name=ehlo_name is None,
    )
    if endpoint is None:
        endpoint = _endpoint(reactor, host, port, timeout_seconds)
        if tls is TLSMode.IMPLICIT:
            from twisted.internet.endpoints import wrapClientTLS

            endpoint = wrapClientTLS(tls_options, endpoint)
    if transcript is not None:
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        transcript(f"=== trying {where} ({'implicit TLS' if tls is TLSMode.IMPLICIT else 'plain TCP'})")
    connecting = endpoint.connect(_OneShotFactory(protocol))

    def connect_failed(reason: Failure) -> Failure:
        if reason.check(defer.CancelledError):
            return reason
        error = ConnectionLost(Step.CONNECT, f"cannot connect to {host} port {port}: {reason.getErrorMessage()}")
        error.results = []  # type: ignore[attr-defined]
        if transcript is not None:
            transcript(f"*** {error}")
        return Failure(error)

    def connected(_: Any) -> defer.Deferred:
        return protocol.finished

    def cancel(_: defer.Deferred) -> None:
        connecting.cancel()
        if not protocol.finished.called and protocol.transport is not None:
            protocol.finished.cancel()

    result: defer.Deferred = defer.Deferred(cancel)
    connecting.addCallbacks(connected, connect_failed).chainDeferred(result)
    return result


def sendmail(
    reactor: Any,
    host: str,
    sender: str,
    recipients: Sequence[str],
    message: Union[bytes, email.message.Message],
    port: Optional[int] = None,
    utf8: bool = False,
    **options: Any,
) -> defer.Deferred:
    """
    Send one message; the Deferred fires with its L{MessageResult} (look at
    C{result.refused} for recipients the server turned down) when at least
    one recipient accepted it, and fails with the L{SMTPClientError} of the
    step that went wrong otherwise (its C{result} holds the per-recipient
    replies).  C{options} are those of L{send_messages}.
    """
    if not isinstance(message, bytes):
        # Imported only here: the command line sends bytes.
        import email.message
        import email.policy

        if isinstance(message, email.message.Message):
            message = message.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)
    if not isinstance(message, bytes):
        raise TypeError(f"message must be bytes or an email.message.Message, not {type(message).__name__}")
    envelope = Envelope(sender, tuple(recipients), message, utf8=utf8)

    def one(results: List[MessageResult]) -> MessageResult:
        [result] = results
        if result.error is not None:
            raise result.error
        return result

    return send_messages(reactor, host, [envelope], port=port, **options).addCallback(one)


__all__ = [
    "SMTPClientProtocol",
    "client_tls_options",
    "local_ehlo_name",
    "send_messages",
    "sendmail",
    "Transcript",
]
