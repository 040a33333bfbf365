# -*- test-case-name: tests.mail.test_sink -*-
"""
Twisted adapter of the mail sink: L{SinkProtocol} feeds bytes to the pure
L{SinkSession} and carries out its events; L{SinkFactory} holds what
sessions share.  Transcripts: L{SinkFactory.observers} get every line.
"""

# SinkProtocol writes the session's replies, starts TLS, streams each message
# body into its Maildir tmp/ file as it arrives (MaildirStore), and runs the
# session's deadline timer and the connection limits (in total and per client
# address).  Transcripts for Python: every callable in SinkFactory.observers
# is called with a TranscriptEntry for each line of every session (client
# lines with AUTH masked, every server reply including errors, warnings such
# as an unstuffed dot); ``--transcript DIR`` is one such observer
# (TranscriptFiles, one file per session).

from __future__ import annotations

import binascii
import os
from collections import deque
from typing import Any, Callable, Dict, List, Optional, Tuple

from twisted.internet.protocol import Protocol, ServerFactory, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.mail._faults import FaultPlan
from twisted_netlab.mail._maildir import Delivery, Maildir, trace_headers, unique_name
from twisted_netlab.mail._sink_core import (
    MIN_DATA_RATE,
    AcceptTLS,
    AuthenticationAttempted,
    CloseSession,
    CommandReceived,
    Event,
    FaultInjected,
    MessageData,
    MessageReceived,
    MessageRefused,
    PlaintextDiscarded,
    ReceivedEnvelope,
    SendReply,
    SessionState,
    SinkPolicy,
    SinkSession,
    UnstuffedDot,
    next_deadline,
)
from twisted_netlab.mail._transcript import EntryKind, TranscriptEntry, TranscriptFiles
from twisted_netlab._write_now import write_now

log = Logger()

__all__ = [
    "MaildirStore",
    "SinkFactory",
    "SinkProtocol",
    "SinkPolicy",
    "FaultPlan",
    "TranscriptEntry",
    "TranscriptFiles",
]


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
    C{durable=False} (benchmarks only) skips the fsyncs; C{discard=True}
    (benchmarks only) writes nothing at all, logs no line per message and
    acknowledges anyway.
    """

    def __init__(
        self,
        maildir: Maildir,
        clock: Any,
        hostname: str,
        random_hex: Callable[[], str] = _random_hex,
        pid: Optional[int] = None,
        durable: bool = True,
        discard: bool = False,
    ) -> None:
        self.maildir = maildir
        self.clock = clock
        self.hostname = hostname
        self.random_hex = random_hex
        self.pid = os.getpid() if pid is None else pid
        self.counter = 0
        self.durable = durable
        self.discard = discard

    def begin(self, envelope: ReceivedEnvelope, peer: str) -> Tuple[str, Optional[Delivery]]:
        """
        Open the next message's ``tmp/`` file and write its trace headers;
        return its queue id (the Maildir file name) and the delivery to
        write the body into (L{None} when discarding).

        @raise OSError: when the file cannot be created.
        """
        self.counter += 1
        now = self.clock.seconds()
        name = unique_name(now, self.pid, self.counter, self.random_hex(), self.hostname)
        if self.discard:
            return name, None
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
        delivery = self.maildir.begin(name, durable=self.durable)
        try:
            delivery.write(header)
        except BaseException:
            delivery.abort()
            raise
        return name, delivery

    def store(self, envelope: ReceivedEnvelope, data: bytes, peer: str) -> str:
        """
        Store one whole message; return its queue id.

        @raise OSError: when it could not be stored durably.
        """
        name, delivery = self.begin(envelope, peer)
        if delivery is not None:
            try:
                delivery.write(data)
            except BaseException:
                delivery.abort()
                raise
            delivery.commit()
        return name


class SinkProtocol(Protocol):
    """
    One SMTP connection.  All decisions are the session's; this class only
    moves bytes, runs the deadline timer, writes message files and logs.
    """

    session: Optional[SinkSession] = None
    # Typed loosely: zope interfaces confuse mypy without its zope plugin.
    _timer: Any = None
    transport: Any

    def __init__(self, factory: "SinkFactory") -> None:
        self.factory = factory
        self.peer = "unknown"
        self.host = ""
        self.number = 0
        self._counted = False
        self._deadline = 0.0
        self._delivery: Optional[Delivery] = None
        self._message_open = False
        self._queue_id = ""
        self._size = 0
        self._store_error: Optional[OSError] = None
        self._replies: List[bytes] = []

    # -- Twisted callbacks

    def connectionMade(self) -> None:
        factory = self.factory
        address = self.transport.getPeer()
        host = getattr(address, "host", None)
        self.host = host or str(address)
        self.peer = f"[{host}]:{getattr(address, 'port', 0)}" if host else str(address)
        factory.session_count += 1
        self.number = factory.session_count
        self._note(EntryKind.OPENED, self.peer)
        refusal = factory.admit(self.host)
        if refusal is not None:
            log.info("{peer}: refused: {why}", peer=self.peer, why=refusal)
            self._write_reply(SendReply(421, (f"4.7.0 {refusal}, try again later",)))
            self._flush_replies()
            self.transport.loseConnection()
            return
        self._counted = True
        self.session = SinkSession(factory.policy, factory.faults, record_dialogue=bool(factory.observers))
        now = factory.reactor.seconds()
        self._deadline = now + factory.timeout_seconds
        self._timer = factory.reactor.callLater(factory.timeout_seconds, self._timed_out)
        self._handle(self.session.start())

    def dataReceived(self, data: bytes) -> None:
        session = self.session
        if session is None:
            return
        lines_before = session.lines_received
        was_in_data = session.state is SessionState.RECEIVING_DATA
        events = session.receive_data(data)
        if self._timer is not None and self._timer.active():
            now = self.factory.reactor.seconds()
            deadline = next_deadline(
                self._deadline,
                now,
                len(data),
                session.lines_received != lines_before,
                was_in_data,
                session.state is SessionState.RECEIVING_DATA,
                self.factory.timeout_seconds,
                self.factory.min_data_rate,
            )
            if deadline != self._deadline:
                self._deadline = deadline
                self._timer.reset(max(0.0, deadline - now))
        self._handle(events)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._counted:
            self._counted = False
            self.factory.release(self.host)
        self._cancel_timer()
        self._abort_delivery()
        self.session = None
        self._note(EntryKind.CLOSED, "connection closed")

    # -- deadlines

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _rearm(self) -> None:
        self._cancel_timer()
        self._deadline = self.factory.reactor.seconds() + self.factory.timeout_seconds
        self._timer = self.factory.reactor.callLater(self.factory.timeout_seconds, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        session = self.session
        if session is None:
            return
        if session.state is SessionState.RECEIVING_DATA:
            what = "DATA phase deadline"
        elif session.partial_line:
            what = "command line deadline"
        else:
            what = "idle timeout"
        log.info("{peer}: {what}", peer=self.peer, what=what)
        self._note(EntryKind.WARNING, what)
        self._handle(session.timed_out(what))

    # -- events

    def _handle(self, events: List[Event]) -> None:
        """
        Carry out C{events} in order.  A stored message yields the events of
        the rest of the buffer; they are queued rather than recursed into,
        so a packet carrying thousands of pipelined messages is fine.
        """
        pending = deque(events)
        # Replies to pipelined commands leave in one write.
        self._replies = []
        while pending:
            event = pending.popleft()
            if isinstance(event, SendReply):
                self._write_reply(event)
            elif isinstance(event, MessageData):
                self._write_body(event.envelope, event.data)
            elif isinstance(event, CommandReceived):
                self._note(EntryKind.CLIENT, event.text)
            elif isinstance(event, AcceptTLS):
                self._flush_replies()
                self.transport.startTLS(self.factory.tls_context)
            elif isinstance(event, CloseSession):
                self._flush_replies()
                self._cancel_timer()
                self.transport.loseConnection()
            elif isinstance(event, MessageReceived):
                pending.extendleft(reversed(self._store(event)))
            elif isinstance(event, MessageRefused):
                self._abort_delivery()
                log.info(
                    "{peer}: refused message from <{sender}>: {code} {text}",
                    peer=self.peer,
                    sender=event.envelope.sender,
                    code=event.reply.code,
                    text=event.reply.lines[-1],
                )
            elif isinstance(event, UnstuffedDot):
                self._note(
                    EntryKind.WARNING,
                    f"body line {event.line_number} began with an unstuffed '.' (RFC 5321 4.5.2): "
                    "the client did not double it, so that dot was removed",
                )
            elif isinstance(event, PlaintextDiscarded):
                log.warn(
                    "{peer}: discarded {count} plaintext bytes sent after STARTTLS",
                    peer=self.peer,
                    count=event.byte_count,
                )
                self._note(EntryKind.WARNING, f"discarded {event.byte_count} plaintext bytes sent after STARTTLS")
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
                self._note(EntryKind.WARNING, f"fault {event.fault.rule.describe()} injected")
        self._flush_replies()

    def _flush_replies(self) -> None:
        replies, self._replies = self._replies, []
        if replies:
            write_now(self.transport, b"".join(replies))

    def _write_reply(self, reply: SendReply) -> None:
        self._replies.append(reply.to_bytes())
        self.factory.replies_by_class[reply.code // 100] += 1
        if self.factory.observers:
            last = len(reply.lines) - 1
            for index, line in enumerate(reply.lines):
                self._note(EntryKind.SERVER, f"{reply.code}{' ' if index == last else '-'}{line}")

    def _note(self, kind: EntryKind, text: str) -> None:
        observers = self.factory.observers
        if not observers:
            return
        entry = TranscriptEntry(self.number, self.factory.reactor.seconds(), self.peer, kind, text)
        for observer in list(observers):
            observer(entry)

    # -- storage: the body goes to tmp/ as it arrives

    def _write_body(self, envelope: ReceivedEnvelope, data: bytes) -> None:
        """
        Append to the message's tmp/ file, opened at its first chunk.  A
        storage error is kept for the final dot, which then answers 451.
        """
        if self._store_error is not None:
            return
        try:
            if not self._message_open:
                self._message_open = True
                self._queue_id, self._delivery = self.factory.store.begin(envelope, self.peer)
            if self._delivery is not None:
                self._delivery.write(data)
            self._size += len(data)
        except OSError as error:
            self._abort_delivery()
            self._store_error = error

    def _abort_delivery(self) -> None:
        """
        Forget the message in progress and remove its tmp/ file.
        """
        delivery, self._delivery = self._delivery, None
        self._message_open, self._queue_id, self._size, self._store_error = False, "", 0, None
        if delivery is not None:
            delivery.abort()

    def _store(self, event: MessageReceived) -> List[Event]:
        session = self.session
        assert session is not None
        envelope = event.envelope
        self._write_body(envelope, event.data)
        error, delivery, queue_id, size = self._store_error, self._delivery, self._queue_id, self._size
        self._delivery = None
        self._abort_delivery()
        if error is not None:
            return self._not_stored(envelope, error)
        if delivery is None:
            # Discarding (benchmarks): nothing was stored, so no "stored
            # message" line either (formatting it cost about a quarter of
            # the sink's time per message); the counters still count.
            return self._stored(envelope, queue_id, size, logged=False)
        run = self.factory.run_commit
        if run is None:
            try:
                delivery.commit()
            except OSError as caught:
                return self._not_stored(envelope, caught)
            return self._stored(envelope, queue_id, size)
        # fsync and rename run off the reactor thread; the session waits in
        # AWAITING_STORAGE and the transport is paused meanwhile.
        self._cancel_timer()
        self.transport.pauseProducing()

        def finished(result: Any) -> None:
            if self.session is not session or session.state is not SessionState.AWAITING_STORAGE:
                return  # the connection went away meanwhile
            self.transport.resumeProducing()
            self._rearm()
            if isinstance(result, Failure):
                if result.check(OSError):
                    self._handle(self._not_stored(envelope, result.value))
                else:
                    log.failure("{peer}: storing failed", result, peer=self.peer)
                    self._handle(self._not_stored(envelope, OSError(0, "storage error")))
            else:
                self._handle(self._stored(envelope, queue_id, size))

        run(delivery.commit).addBoth(finished)
        return []

    def _not_stored(self, envelope: ReceivedEnvelope, error: OSError) -> List[Event]:
        assert self.session is not None
        log.error(
            "{peer}: could not store message from <{sender}>: {error}",
            peer=self.peer,
            sender=envelope.sender,
            error=error,
        )
        return self.session.message_not_stored(error.strerror or "storage error")

    def _stored(self, envelope: ReceivedEnvelope, queue_id: str, size: int, logged: bool = True) -> List[Event]:
        assert self.session is not None
        if logged:
            self._log_stored(envelope, queue_id, size)
        self.factory.messages_stored += 1
        self.factory.bytes_stored += size
        return self.session.message_stored(queue_id)

    def _log_stored(self, envelope: ReceivedEnvelope, queue_id: str, size: int) -> None:
        log.info(
            "stored message {queue_id} from <{sender}> to {recipients} "
            "({size} bytes, {peer}, tls={tls}, auth={user})",
            queue_id=queue_id,
            sender=envelope.sender,
            recipients=", ".join(f"<{r}>" for r in envelope.recipients),
            size=size,
            peer=self.peer,
            tls=envelope.tls,
            user=envelope.authenticated_as,
        )


class SinkFactory(ServerFactory):
    """
    Builds L{SinkProtocol}s sharing one policy, fault plan (so counts run
    over the whole server), store and connection counts.

    @param tls_context: an C{IOpenSSLServerConnectionCreator} (e.g.
        C{CertificateOptions}) for STARTTLS, or L{None} for no STARTTLS.
    @param timeout_seconds: the time a whole command line may take, and
        the DATA phase's base time.
    @param min_data_rate: octets per second a DATA phase must average
        beyond C{timeout_seconds} (Postfix's ``smtpd_min_data_rate``).
    @param max_connections_per_address: connections one client address
        may hold at once, so that one address cannot take every slot.
    @param run_commit: runs a delivery's commit (fsync, rename) and
        returns a Deferred, e.g. in a thread pool; L{None} commits at once.
    @param reactor: runs the sessions' timers; L{None} means the global
        reactor, looked up when first needed.
    @ivar observers: callables given each L{TranscriptEntry}.
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
        max_connections_per_address: Optional[int] = None,
        min_data_rate: float = MIN_DATA_RATE,
        run_commit: Optional[Callable[[Callable[[], str]], Any]] = None,
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
        self.max_connections_per_address = (
            max_connections if max_connections_per_address is None else max_connections_per_address
        )
        self.min_data_rate = min_data_rate
        self.run_commit = run_commit
        self._reactor = reactor
        self.active_connections = 0
        self.connections_by_address: Dict[str, int] = {}
        self.session_count = 0
        # Running totals for --metrics (read at scrape time): replies by
        # their first digit (index 0 unused), messages and bytes stored,
        # connections refused by a limit.
        self.replies_by_class = [0] * 6
        self.messages_stored = 0
        self.bytes_stored = 0
        self.refused_connections = 0
        self.observers: List[Callable[[TranscriptEntry], None]] = []

    @property
    def reactor(self) -> Any:
        """
        The reactor given (a C{task.Clock} in tests), else the global one,
        looked up when the first connection needs a timer.
        """
        return default_reactor(self._reactor)

    def admit(self, host: str) -> Optional[str]:
        """
        Count a new connection from C{host}, or say why it is refused.
        """
        if self.active_connections >= self.max_connections:
            self.refused_connections += 1
            return "Too many connections"
        if self.connections_by_address.get(host, 0) >= self.max_connections_per_address:
            self.refused_connections += 1
            return "Too many connections from your address"
        self.active_connections += 1
        self.connections_by_address[host] = self.connections_by_address.get(host, 0) + 1
        return None

    def release(self, host: str) -> None:
        self.active_connections -= 1
        left = self.connections_by_address.get(host, 1) - 1
        if left > 0:
            self.connections_by_address[host] = left
        else:
            self.connections_by_address.pop(host, None)

    def buildProtocol(self, addr: Any) -> SinkProtocol:
        return SinkProtocol(self)
