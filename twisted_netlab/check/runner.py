# -*- test-case-name: tests.check.test_runner -*-
"""
The Twisted side of ``netlab check``, shared by every check kind: it plays
a case's L{Plan} over loopback and records what came with its time
(L{play}), bounds each case by cancellation, runs the ``--run`` child
(L{ChildServer}) and walks the cases (L{run_cases}).  It decides nothing:
verdicts come from the cases' pure judges.

For a new kind: a kind whose checker is the *client* of the program under
test (``smtp``) reuses L{play} as is; a kind whose checker is the *server*
(``ping-client``, ``beat-client``, ``smtp-client``) passes its own
C{driver} to L{run_cases} (a callable C{(case, context) -> Deferred[
Recording]} that honours cancellation) and still gets the child process
management, the restart on crash and the per-case bound from here.
"""

from __future__ import annotations

import os
import shlex
import signal
import socket
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, List, Mapping, Optional, Sequence, Tuple

from twisted.internet import defer, error, protocol
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure

from twisted_netlab.check._case import (
    Await,
    Case,
    CaseResult,
    Close,
    Context,
    Entry,
    EntryKind,
    Outcome,
    Pause,
    Plan,
    Recording,
    Send,
    StartTLS,
    StopReading,
    Stream,
    StreamRecord,
    failed,
    skipped,
    transcript,
)

#: A stream that receives more than this is aborted (a server streaming
#: forever must not fill the checker's memory).
MAX_RECEIVED_BYTES = 16 * 1024 * 1024
#: After its last step a stream closes gently; past this it is aborted.
CLOSE_GRACE_SECONDS = 1.0


# -- playing a plan ----------------------------------------------------------


class _StreamProtocol(protocol.Protocol):
    def __init__(self, player: "_Player") -> None:
        self._player = player

    def connectionMade(self) -> None:
        self._player.connected(self.transport)

    def dataReceived(self, data: bytes) -> None:
        self._player.data_received(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self._player.connection_lost(reason)


class _Factory(protocol.ClientFactory):
    def __init__(self, player: "_Player") -> None:
        self._player = player

    def buildProtocol(self, addr: Any) -> protocol.Protocol:
        return _StreamProtocol(self._player)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self._player.connect_failed(reason)


class _Player:
    """
    Plays one L{Stream}'s steps on one connection and records entries.
    C{done} fires (with nothing) when the connection is gone.
    """

    def __init__(self, reactor: Any, stream: Stream, started: float, everyone: Callable[[], Tuple[bytes, ...]]) -> None:
        self._everyone = everyone
        self._reactor = reactor
        self._stream = stream
        self._started = started
        self.entries: List[Entry] = []
        self._received = bytearray()
        self._transport: Any = None
        self._steps = list(stream.steps)
        self._timer: Any = None
        self._waiting: Optional[Await] = None
        self._closed = False
        self._finished_steps = False
        self.done: defer.Deferred = defer.Deferred()

    def _now(self) -> float:
        return self._reactor.seconds() - self._started

    def _record(self, kind: EntryKind, data: bytes = b"") -> None:
        self.entries.append(Entry(self._now(), kind, data))

    def start(self, host: str, port: int, tls: Any = None) -> None:
        factory = _Factory(self)
        if tls is not None:
            self._reactor.connectSSL(host, port, factory, tls, timeout=5)
        else:
            self._reactor.connectTCP(host, port, factory, timeout=5)

    # transport events

    def connected(self, transport: Any) -> None:
        self._transport = transport
        self._next()

    def connect_failed(self, reason: Failure) -> None:
        self._record(EntryKind.CONNECT_FAILED, str(reason.getErrorMessage()).encode("ascii", "replace"))
        self._finish()

    def data_received(self, data: bytes) -> None:
        self._record(EntryKind.RECEIVED, data)
        self._received += data
        if len(self._received) > MAX_RECEIVED_BYTES:
            self._record(EntryKind.ABORTED, b"more than %d bytes received" % MAX_RECEIVED_BYTES)
            self.abort()
            return
        self._check_wait()

    def connection_lost(self, reason: Failure) -> None:
        if not self._finished_steps and not self._closed:
            why = b"" if reason.check(error.ConnectionDone) else str(reason.getErrorMessage()).encode("ascii", "replace")
            self._record(EntryKind.PEER_CLOSED, why)
        self._closed = True
        self._transport = None
        self._check_wait()
        if self._waiting is None:
            self._finish()

    # steps

    def _next(self) -> None:
        while self._steps and self._transport is not None:
            step = self._steps.pop(0)
            if isinstance(step, Send):
                data = step.data if isinstance(step.data, bytes) else step.data(self._everyone())
                self._record(EntryKind.SENT, data)
                self._transport.write(data)
            elif isinstance(step, Pause):
                self._timer = self._reactor.callLater(step.seconds, self._resume)
                return
            elif isinstance(step, Await):
                self._waiting = step
                self._timer = self._reactor.callLater(step.seconds, self._wait_expired)
                self._check_wait()
                return
            elif isinstance(step, StopReading):
                self._transport.pauseProducing()
            elif isinstance(step, Close):
                self._steps = []
            elif isinstance(step, StartTLS):
                self._record(EntryKind.TLS_STARTED)
                self._transport.startTLS(_unverified_tls())
        if self._transport is None:
            # The peer closed: the remaining sends have nowhere to go.
            self._finish()
            return
        self._finished_steps = True
        self._transport.loseConnection()
        self._timer = self._reactor.callLater(CLOSE_GRACE_SECONDS, self.abort)

    def _resume(self) -> None:
        self._timer = None
        self._next()

    def _check_wait(self) -> None:
        step = self._waiting
        if step is None:
            return
        if step.until(bytes(self._received), self._closed) or self._closed:
            self._waiting = None
            self._cancel_timer()
            if self._closed:
                self._finish()
            else:
                self._next()

    def _wait_expired(self) -> None:
        self._timer = None
        self._waiting = None
        self._record(EntryKind.WAIT_EXPIRED)
        self._next()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def abort(self) -> None:
        """
        Drop the connection now (case bound reached, or too many bytes).
        """
        self._cancel_timer()
        self._waiting = None
        self._steps = []
        if self._transport is not None:
            self._finished_steps = True
            self._transport.abortConnection()
        else:
            self._finish()

    def _finish(self) -> None:
        self._cancel_timer()
        if not self.done.called:
            self.done.callback(None)

    def record(self) -> StreamRecord:
        return StreamRecord(tuple(self.entries), self._stream.label)


def _unverified_tls() -> Any:
    from twisted.internet import ssl

    return ssl.CertificateOptions(verify=False)


def play(
    reactor: Any,
    plan: Plan,
    host: str,
    port: int,
    timeout_seconds: float,
    tls: Any = None,
) -> defer.Deferred:
    """
    Play every stream of C{plan} at once against C{host}:C{port}; fire with
    the L{Recording} when all are closed, or when C{timeout_seconds} ran
    out (then the open ones are aborted and the recording says
    C{timed_out}).  Cancelling the returned Deferred does the same early.
    """
    started = reactor.seconds()
    players: List[_Player] = []

    def everyone() -> Tuple[bytes, ...]:
        return tuple(bytes(p._received) for p in players)

    players.extend(_Player(reactor, stream, started, everyone) for stream in plan)
    state = {"timed_out": False}

    def result() -> Recording:
        return Recording(tuple(p.record() for p in players), state["timed_out"], reactor.seconds() - started)

    def cancel(d: defer.Deferred) -> None:
        state["timed_out"] = True
        for player in players:
            if not player.done.called:
                player.entries.append(Entry(reactor.seconds() - started, EntryKind.ABORTED, b"case time bound"))
                player.abort()
        if not d.called:
            d.callback(result())

    finished: defer.Deferred = defer.Deferred(cancel)
    timer = reactor.callLater(timeout_seconds, finished.cancel)

    def all_done(_: Any) -> None:
        if timer.active():
            timer.cancel()
        if not finished.called:
            finished.callback(result())

    defer.DeferredList([p.done for p in players]).addCallback(all_done)

    def case_done(_: Any) -> None:
        for player in players:
            if not player.done.called:
                player.entries.append(Entry(reactor.seconds() - started, EntryKind.ABORTED, b"case complete"))
                player.abort()

    for player, stream in zip(players, plan):
        if stream.ends_case:
            player.done.addCallback(case_done)
    for player, stream in zip(players, plan):
        if stream.after is None:
            player.start(host, port, tls)
        else:
            players[stream.after].done.addCallback(_start_later, player, finished, host, port, tls)
    return finished


def _start_later(_: Any, player: _Player, finished: defer.Deferred, host: str, port: int, tls: Any) -> None:
    if not finished.called:
        player.start(host, port, tls)
    else:
        player.done.callback(None)


# -- the --run child ---------------------------------------------------------


class ChildFailed(Exception):
    """
    The ``--run`` command could not be brought to accept connections:
    C{exited} says whether it ended (exit 1) or kept running without
    listening (exit 7, unreachable).
    """

    def __init__(self, message: str, output: str, exited: bool) -> None:
        Exception.__init__(self, message)
        self.output = output
        self.exited = exited


def free_port(host: str = "127.0.0.1") -> int:
    """
    A loopback port nothing listens on right now (bound, read and released).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def substitute(command: str, port: int) -> List[str]:
    """
    C{command} split as a shell would split words (no shell runs: signals
    reach the server itself), with every C{{port}} replaced.

    @raise ValueError: an empty command or unbalanced quotes.
    """
    words = shlex.split(command)
    if not words:
        raise ValueError("--run needs a command")
    return [word.replace("{port}", str(port)) for word in words]


def anchor(argv: Sequence[str], here: str) -> List[str]:
    """
    C{argv} with every word that names an existing file (not a folder: a
    server given ``.`` must still serve the fixture folder) relative to
    C{here} (where netlab was run) made absolute: the server runs in the
    fixture folder, and ``--run 'python3 server.py {port}'`` must still
    find ``server.py``.  Options (``-m``, ``--x=y``) are left alone.
    """
    out = []
    for word in argv:
        if word and not word.startswith("-") and not os.path.isabs(word) and os.path.isfile(os.path.join(here, word)):
            word = os.path.abspath(os.path.join(here, word))
        out.append(word)
    return out


def listening_on(port: int, tables: Sequence[str] = ("/proc/net/tcp", "/proc/net/tcp6")) -> Optional[bool]:
    """
    Whether some socket is in LISTEN state on C{port}, read from the
    kernel's tables; L{None} where they cannot be read.  Used to wait for
    a ``--run`` child without connecting to it: a probe connection that
    sends nothing is enough to crash many lab servers.
    """
    wanted = f"{port:04X}"
    seen = False
    for table in tables:
        try:
            with open(table) as rows:
                seen = True
                for row in rows:
                    fields = row.split()
                    if len(fields) > 3 and fields[1].endswith(":" + wanted) and fields[3] == "0A":
                        return True
        except OSError:
            continue
    return False if seen else None


class _ChildProtocol(protocol.ProcessProtocol):
    def __init__(self, owner: "ChildServer") -> None:
        self._owner = owner

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self._owner._output(data)

    def processEnded(self, reason: Failure) -> None:
        self._owner._ended(reason)


class ChildServer:
    """
    The server under test when ``--run CMD`` is given: started in C{cwd}
    on a free loopback port (C{{port}} in the command, C{PORT} in its
    environment), waited for (bounded), its output kept (the last
    C{output_limit} bytes), stopped with SIGTERM then SIGKILL, and started
    again on a new port after it died.
    """

    def __init__(
        self,
        reactor: Any,
        command: str,
        cwd: str,
        host: str = "127.0.0.1",
        start_timeout_seconds: float = 10.0,
        stop_timeout_seconds: float = 2.0,
        output_limit: int = 64 * 1024,
        env: Optional[Mapping[str, str]] = None,
        here: Optional[str] = None,
    ) -> None:
        substitute(command, 0)  # fail early on an unusable command
        self.here = os.getcwd() if here is None else here
        self._reactor = reactor
        self.command = command
        self.cwd = cwd
        self.host = host
        self.start_timeout_seconds = start_timeout_seconds
        self.stop_timeout_seconds = stop_timeout_seconds
        self._output_limit = output_limit
        self._env = dict(os.environ if env is None else env)
        self._chunks: Deque[bytes] = deque()
        self._kept = 0
        self.port = 0
        self.argv: List[str] = []
        self.starts = 0
        self.exit_description: Optional[str] = None
        self._process: Any = None
        self._ended_waiters: List[defer.Deferred] = []

    @property
    def alive(self) -> bool:
        return self._process is not None and self.exit_description is None

    def output_text(self, last_lines: Optional[int] = None) -> str:
        text = b"".join(self._chunks).decode("utf-8", "replace")
        if last_lines is not None:
            text = "\n".join(text.splitlines()[-last_lines:])
        return text

    def _output(self, data: bytes) -> None:
        self._chunks.append(data)
        self._kept += len(data)
        while self._kept > self._output_limit and len(self._chunks) > 1:
            self._kept -= len(self._chunks.popleft())

    def _ended(self, reason: Failure) -> None:
        value = reason.value
        code = getattr(value, "exitCode", None)
        sig = getattr(value, "signal", None)
        if sig is not None:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            self.exit_description = f"killed by {name}"
        else:
            self.exit_description = f"exited with status {code}"
        waiters, self._ended_waiters = self._ended_waiters, []
        for waiter in waiters:
            waiter.callback(None)

    def _wait_ended(self) -> defer.Deferred:
        if self.exit_description is not None:
            return defer.succeed(None)
        waiter: defer.Deferred = defer.Deferred()
        self._ended_waiters.append(waiter)
        return waiter

    @defer.inlineCallbacks
    def start(self) -> Any:
        """
        Start the command; fire with the port once something listens on
        it, or fail with L{ChildFailed} (exited, or silent past the bound).
        """
        self.port = free_port(self.host)
        argv = anchor(substitute(self.command, self.port), self.here)
        self.argv = argv
        env = dict(self._env, PORT=str(self.port))
        self.exit_description = None
        self.starts += 1
        if self.starts > 1:
            self._output(f"--- netlab check: restarted ({' '.join(argv)}) ---\n".encode())
        try:
            self._process = self._reactor.spawnProcess(
                _ChildProtocol(self), argv[0], argv, env=env, path=self.cwd, childFDs={0: "w", 1: "r", 2: "r"}
            )
        except OSError as problem:
            raise ChildFailed(f"cannot run {argv[0]!r}: {problem.strerror}", "", exited=True)
        deadline = self._reactor.seconds() + self.start_timeout_seconds
        delay = 0.01
        while True:
            if self.exit_description is not None:
                raise ChildFailed(
                    f"the server {self.exit_description} before accepting connections on port {self.port}",
                    self.output_text(),
                    exited=True,
                )
            ready = listening_on(self.port)
            if ready is None:
                ready = yield self._connects()
            if ready:
                return self.port
            if self._reactor.seconds() >= deadline:
                raise ChildFailed(
                    f"the server did not accept connections on port {self.port} within "
                    f"{self.start_timeout_seconds:g}s",
                    self.output_text(),
                    exited=False,
                )
            yield _sleep(self._reactor, delay)
            delay = min(delay * 2, 0.1)

    @defer.inlineCallbacks
    def check(self, grace_seconds: float = 2.0) -> Any:
        """
        Fire with whether the child still serves: alive and listening.  A
        crash shows first as a closed connection and only later as an
        exit, so a child that no longer listens gets C{grace_seconds} to
        finish exiting; one that is alive but stopped listening is killed.
        """
        if not self.alive:
            return False
        if listening_on(self.port) is not False:
            return True
        deadline = self._reactor.seconds() + grace_seconds
        while self.alive and self._reactor.seconds() < deadline:
            yield _sleep(self._reactor, 0.02)
        if self.alive:
            ended = self._wait_ended()
            self._signal("KILL")
            yield ended
            self.exit_description = f"stopped listening on port {self.port} (killed)"
        return False

    def _connects(self) -> defer.Deferred:
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        endpoint = TCP4ClientEndpoint(self._reactor, self.host, self.port, timeout=1)
        d = connectProtocol(endpoint, protocol.Protocol())

        def ok(proto: protocol.Protocol) -> bool:
            proto.transport.loseConnection()  # type: ignore[union-attr]
            return True

        return d.addCallbacks(ok, lambda _: False)

    @defer.inlineCallbacks
    def stop(self) -> Any:
        """
        SIGTERM, then SIGKILL after C{stop_timeout_seconds}; fires when it
        has exited (at once if it already had).
        """
        if not self.alive:
            return
        ended = self._wait_ended()
        self._signal("TERM")
        timer = self._reactor.callLater(self.stop_timeout_seconds, self._signal, "KILL")
        yield ended
        if timer.active():
            timer.cancel()

    def _signal(self, name: str) -> None:
        try:
            self._process.signalProcess(name)
        except error.ProcessExitedAlready:
            pass


def _sleep(reactor: IReactorTime, seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


# -- walking the cases -------------------------------------------------------

Driver = Callable[[Case, Context], defer.Deferred]


def stream_driver(reactor: Any, tls: Any = None) -> Driver:
    """
    The driver for kinds whose checker is the client: the case's plan is
    a tuple of L{Stream}s played with L{play}.
    """

    def drive(case: Case, context: Context) -> defer.Deferred:
        bound = case.timeout_seconds or context.timeout_seconds
        return play(reactor, case.plan(context), context.host, context.port, bound, tls)

    return drive


@dataclass
class RunState:
    """
    What L{run_cases} keeps between cases: the current context (its port
    changes when the child restarts) and notes for the report.
    """

    context: Context
    notes: List[str]
    elapsed: Dict[str, float]


@defer.inlineCallbacks
def run_cases(
    reactor: Any,
    cases: Sequence[Case],
    state: RunState,
    driver: Driver,
    child: Optional[ChildServer] = None,
    on_result: Optional[Callable[[CaseResult], None]] = None,
) -> Any:
    """
    Run C{cases} one after another, judging each recording; fires with the
    list of L{CaseResult}s.  A case whose fixtures are missing is skipped
    with the reason.  With a C{child}: when it died during a case, that
    case fails (with the child's last output) and it is started again on a
    new port; when it cannot be restarted, the remaining cases fail.
    """
    results: List[CaseResult] = []
    for case in cases:
        context = state.context
        missing = case.missing(context)
        if missing:
            result = CaseResult(case, skipped(_needs_text(missing)))
        elif child is not None and not child.alive:
            result = CaseResult(case, failed(f"not run: the server could not be restarted ({child.exit_description})"))
        else:
            began = reactor.seconds()
            recording = yield driver(case, context)
            state.elapsed[case.id] = reactor.seconds() - began
            outcome = _judge(case, recording, context)
            result = CaseResult(case, outcome, transcript(recording))
            if child is not None:
                serving = yield child.check()
                if not serving:
                    result = yield _after_crash(child, result, state)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def _judge(case: Case, recording: Recording, context: Context) -> Outcome:
    try:
        return case.judge(recording, context)
    except Exception as problem:  # a judge bug must not hide the other cases
        return failed(f"internal error judging this case: {problem.__class__.__name__}: {problem}")


@defer.inlineCallbacks
def _after_crash(child: ChildServer, result: CaseResult, state: RunState) -> Any:
    died = child.exit_description
    output = child.output_text(last_lines=15)
    try:
        port = yield child.start()
    except ChildFailed as problem:
        state.notes.append(f"server died during {result.case.id} ({died}) and could not be restarted: {problem}")
    else:
        state.context = _with_port(state.context, port)
        state.notes.append(f"server died during {result.case.id} ({died}); restarted on port {port}")
    outcome = failed(f"the server died during this case ({died}); was: {result.outcome.verdict.value}: {result.outcome.detail}")
    return CaseResult(result.case, outcome, result.transcript, output)


def _with_port(context: Context, port: int) -> Context:
    from dataclasses import replace

    return replace(context, port=port)


def _needs_text(missing: Any) -> str:
    return f"needs fixtures ({', '.join(sorted(missing))}): give --root DIR (the folder the server serves) or --run CMD"


__all__ = [
    "ChildFailed",
    "ChildServer",
    "RunState",
    "free_port",
    "listening_on",
    "play",
    "run_cases",
    "stream_driver",
    "substitute",
]

