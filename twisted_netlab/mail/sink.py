# -*- test-case-name: tests.mail.test_sink -*-
"""
Twisted adapter of the mail sink: L{SinkProtocol} feeds received bytes to
the pure L{SinkSession}, writes its replies, starts TLS, stores messages
in a L{Maildir} through L{MaildirStore} and enforces the idle timeout and
the connection limit.  L{SinkFactory} holds what sessions share.
"""

from __future__ import annotations

import binascii
import os
from collections import deque
from typing import Any, Callable, List, Optional

from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.mail._faults import FaultPlan
from twisted_netlab.mail._maildir import Maildir, trace_headers, unique_name
from twisted_netlab.mail._sink_core import (
    AuthenticationAttempted,
    CloseSession,
    ReceivedEnvelope,
    Event,
    FaultInjected,
    MessageReceived,
    MessageRefused,
    PlaintextDiscarded,
    SendReply,
    SinkPolicy,
    SinkSession,
    AcceptTLS,
)

log = Logger()

__all__ = ["MaildirStore", "SinkFactory", "SinkProtocol", "SinkPolicy", "FaultPlan"]


def _random_hex() -> str:
    return binascii.hexlify(os.urandom(8)).decode("ascii")


def received_protocol(envelope: ReceivedEnvelope, esmtp: bool = True) -> str:
    """
    The ``with`` keyword of the Received header (RFC 3848, RFC 6531 3.7.3).
    """
    name = "ESMTP" if esmtp else "SMTP"
    if envelope.smtputf8:
        name = "UTF8" + name
    if envelope.tls:
        name += "S"
    if envelope.authenticated_as is not None:
        name += "A"
    return name


class MaildirStore:
    """
    Names and writes messages into a L{Maildir}: trace headers first, then
    the message exactly as received.  C{clock} (``seconds()``) and
    C{random_hex} are parameters so names are reproducible in tests.
    """

    def __init__(
        self,
        maildir: Maildir,
        clock: Any,
        hostname: str,
        random_hex: Callable[[], str] = _random_hex,
        pid: Optional[int] = None,
    ) -> None:
        self.maildir = maildir
        self.clock = clock
        self.hostname = hostname
        self.random_hex = random_hex
        self.pid = os.getpid() if pid is None else pid
        self.counter = 0

    def store(self, envelope: ReceivedEnvelope, data: bytes, peer: str) -> str:
        """
        Store one message; return its queue id (the Maildir file name).

        @raise OSError: when it could not be stored durably.
        """
        self.counter += 1
        now = self.clock.seconds()
        name = unique_name(now, self.pid, self.counter, self.random_hex(), self.hostname)
        header = trace_headers(
            sender=envelope.sender,
            recipients=list(envelope.recipients),
            hello=envelope.hello,
            peer=peer,
            hostname=self.hostname,
            protocol=received_protocol(envelope),
            queue_id=name,
            now=now,
            authenticated_as=envelope.authenticated_as,
        )
        self.maildir.deliver(name, [header, data])
        return name


class SinkProtocol(Protocol):
    """
    One SMTP connection.  All decisions are the session's; this class only
    moves bytes, runs the idle timer and performs the storage.
    """

    session: Optional[SinkSession] = None
    # Typed loosely: zope interfaces confuse mypy without its zope plugin.
    _timer: Any = None
    transport: Any

    def __init__(self, factory: "SinkFactory") -> None:
        self.factory = factory
        self.peer = "unknown"

    def connectionMade(self) -> None:
        address = self.transport.getPeer()
        host = getattr(address, "host", None)
        self.peer = f"[{host}]:{getattr(address, 'port', 0)}" if host else str(address)
        self.factory.active_connections += 1
        if self.factory.active_connections > self.factory.max_connections:
            self.transport.write(b"421 4.7.0 Too many connections, try again later\r\n")
            self.transport.loseConnection()
            return
        self.session = SinkSession(self.factory.policy, self.factory.faults)
        self._timer = self.factory.reactor.callLater(self.factory.timeout_seconds, self._timed_out)
        self._handle(self.session.start())

    def dataReceived(self, data: bytes) -> None:
        if self.session is None:
            return
        if self._timer is not None and self._timer.active():
            self._timer.reset(self.factory.timeout_seconds)
        self._handle(self.session.receive_data(data))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.factory.active_connections -= 1
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.session is not None:
            log.info("{peer}: idle timeout", peer=self.peer)
            self._handle(self.session.timed_out())

    def _handle(self, events: List[Event]) -> None:
        """
        Carry out C{events} in order.  A stored message yields the events of
        the rest of the buffer; they are queued rather than recursed into,
        so a packet carrying thousands of pipelined messages is fine.
        """
        assert self.session is not None
        pending = deque(events)
        while pending:
            event = pending.popleft()
            if isinstance(event, SendReply):
                self.transport.write(event.to_bytes())
            elif isinstance(event, AcceptTLS):
                self.transport.startTLS(self.factory.tls_context)
            elif isinstance(event, CloseSession):
                if self._timer is not None and self._timer.active():
                    self._timer.cancel()
                self._timer = None
                self.transport.loseConnection()
            elif isinstance(event, MessageReceived):
                pending.extendleft(reversed(self._store(event)))
            elif isinstance(event, PlaintextDiscarded):
                log.warn(
                    "{peer}: discarded {count} plaintext bytes sent after STARTTLS",
                    peer=self.peer,
                    count=event.byte_count,
                )
            elif isinstance(event, AuthenticationAttempted):
                log.info(
                    "{peer}: AUTH {mechanism} as {user!r} {outcome}",
                    peer=self.peer,
                    mechanism=event.mechanism,
                    user=event.username,
                    outcome="succeeded" if event.succeeded else "failed",
                )
            elif isinstance(event, FaultInjected):
                log.info(
                    "{peer}: fault {rule} answered {code} (occurrence {count})",
                    peer=self.peer,
                    rule=event.fault.rule.describe(),
                    code=event.fault.code,
                    count=event.fault.count,
                )
            elif isinstance(event, MessageRefused):
                log.info(
                    "{peer}: refused message from <{sender}>: {code} {text}",
                    peer=self.peer,
                    sender=event.envelope.sender,
                    code=event.reply.code,
                    text=event.reply.lines[-1],
                )

    def _store(self, event: MessageReceived) -> List[Event]:
        assert self.session is not None
        envelope = event.envelope
        try:
            queue_id = self.factory.store.store(envelope, event.data, self.peer)
        except OSError as error:
            log.error(
                "{peer}: could not store message from <{sender}>: {error}",
                peer=self.peer,
                sender=envelope.sender,
                error=error,
            )
            return self.session.message_not_stored(error.strerror or "storage error")
        log.info(
            "stored message {queue_id} from <{sender}> to {recipients} "
            "({size} bytes, {peer}, tls={tls}, auth={user})",
            queue_id=queue_id,
            sender=envelope.sender,
            recipients=", ".join(f"<{r}>" for r in envelope.recipients),
            size=len(event.data),
            peer=self.peer,
            tls=envelope.tls,
            user=envelope.authenticated_as,
        )
        return self.session.message_stored(queue_id)


class SinkFactory(ServerFactory):
    """
    Builds L{SinkProtocol}s sharing one policy, fault plan (so counts run
    over the whole server) and store.

    @param reactor: runs the sessions' timers; L{None} means the global
        reactor, looked up when first needed.
    @param tls_context: an C{IOpenSSLServerConnectionCreator} (e.g.
        C{CertificateOptions}) for STARTTLS, or L{None} for no STARTTLS.
    """

    noisy = False

    def __init__(
        self,
        policy: SinkPolicy,
        store: MaildirStore,
        tls_context: Any = None,
        faults: Optional[FaultPlan] = None,
        timeout_seconds: float = 300.0,
        max_connections: int = 100,
        reactor: Any = None,
    ) -> None:
        if policy.tls_available != (tls_context is not None):
            raise ValueError("policy.tls_available must match whether a tls_context is given")
        self.policy = policy
        self.store = store
        self.tls_context = tls_context
        self.faults = faults if faults is not None else FaultPlan()
        self.timeout_seconds = timeout_seconds
        self.max_connections = max_connections
        self._reactor = reactor
        self.active_connections = 0

    @property
    def reactor(self) -> Any:
        """
        The reactor given (a C{task.Clock} in tests), else the global one,
        looked up when the first connection needs a timer.
        """
        return default_reactor(self._reactor)

    def buildProtocol(self, addr: Any) -> SinkProtocol:
        return SinkProtocol(self)
