# -*- test-case-name: tests.check.test_program -*-
"""
The Twisted side of running a student's *client* (or UDP server) program
for ``netlab check``: L{StudentProgram} starts the ``--run`` command with
``{host}``/``{port}`` (and C{$NETLAB_HOST}/C{$NETLAB_PORT}) pointing at a
netlab instrument, keeps every output line with the time it came, waits
for the end (bounded) and stops it (SIGTERM, then SIGKILL).  It decides
nothing: judges read the L{OutputLine}s.
"""

from __future__ import annotations

import os
import shlex
import signal
from typing import Any, Dict, List, Optional, Sequence

from twisted.internet import defer, error, protocol
from twisted.python.failure import Failure

from twisted_netlab.check._student_output import OutputLine

#: Lines kept per program (a program printing forever must not fill memory).
MAX_LINES = 5000
#: Longest line kept; the rest is cut.
MAX_LINE = 2000


def command_words(command: str, host: str, port: int, here: Optional[str] = None) -> List[str]:
    """
    C{command} split as a shell splits words (no shell runs), with
    C{{host}} and C{{port}} replaced; a word naming an existing file
    relative to C{here} is made absolute.

    @raise ValueError: an empty command or unbalanced quotes.
    """
    words = shlex.split(command)
    if not words:
        raise ValueError("--run needs a command")
    out = []
    for word in words:
        word = word.replace("{host}", host).replace("{port}", str(port))
        if here is not None and word and not word.startswith("-") and not os.path.isabs(word):
            candidate = os.path.join(here, word)
            if os.path.isfile(candidate):
                word = os.path.abspath(candidate)
        out.append(word)
    return out


class _Protocol(protocol.ProcessProtocol):
    def __init__(self, owner: "StudentProgram") -> None:
        self._owner = owner

    def connectionMade(self) -> None:
        self.transport.closeStdin()  # type: ignore[union-attr]

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self._owner._data(childFD, data)

    def processEnded(self, reason: Failure) -> None:
        self._owner._ended(reason)


class StudentProgram:
    """
    One run of the program under test.  C{origin} is the reactor time the
    session began (line times are relative to it).

    @ivar lines: every complete output line so far (stdout ``"out"``,
        stderr ``"err"``).
    @ivar exit_code: its exit status, or L{None} (running, or killed).
    @ivar exit_description: "exited with status N" / "killed by SIGTERM".
    """

    def __init__(
        self,
        reactor: Any,
        command: str,
        host: str,
        port: int,
        origin: float,
        cwd: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self._reactor = reactor
        self.cwd = os.getcwd() if cwd is None else cwd
        self.argv = command_words(command, host, port, self.cwd)
        self._env = dict(os.environ if env is None else env)
        self._env.update(NETLAB_HOST=host, NETLAB_PORT=str(port), PYTHONUNBUFFERED="1")
        self.origin = origin
        self.lines: List[OutputLine] = []
        self._partial: Dict[int, bytes] = {1: b"", 2: b""}
        self.exit_code: Optional[int] = None
        self.exit_description: Optional[str] = None
        self.ended_at: Optional[float] = None
        self.stopped_by_checker = False
        self._process: Any = None
        self._waiters: List[defer.Deferred] = []

    @property
    def running(self) -> bool:
        return self._process is not None and self.exit_description is None

    def start(self) -> None:
        """
        Start it.

        @raise OSError: the program cannot be run.
        """
        self._process = self._reactor.spawnProcess(
            _Protocol(self), self.argv[0], self.argv, env=self._env, path=self.cwd, childFDs={0: "w", 1: "r", 2: "r"}
        )

    def rebase(self, origin: float) -> None:
        """
        Count line times from C{origin} from now on, lines already kept
        included (a session that starts after the program did).
        """
        shift = self.origin - origin
        self.lines = [OutputLine(line.at + shift, line.stream, line.text) for line in self.lines]
        if self.ended_at is not None:
            self.ended_at += shift
        self.origin = origin

    def _now(self) -> float:
        return self._reactor.seconds() - self.origin

    def _data(self, fd: int, data: bytes) -> None:
        buffered = self._partial.get(fd, b"") + data
        *complete, rest = buffered.split(b"\n")
        self._partial[fd] = rest[-MAX_LINE:]
        for raw in complete:
            self._add(fd, raw)

    def _add(self, fd: int, raw: bytes) -> None:
        if len(self.lines) >= MAX_LINES:
            return
        text = raw.rstrip(b"\r")[:MAX_LINE].decode("utf-8", "replace")
        self.lines.append(OutputLine(self._now(), "out" if fd == 1 else "err", text))

    def _ended(self, reason: Failure) -> None:
        for fd, rest in self._partial.items():
            if rest:
                self._add(fd, rest)
        self._partial = {1: b"", 2: b""}
        code = getattr(reason.value, "exitCode", None)
        sig = getattr(reason.value, "signal", None)
        if sig is not None:
            try:
                name = signal.Signals(sig).name
            except ValueError:
                name = str(sig)
            self.exit_description = f"killed by {name}"
        else:
            self.exit_code = code
            self.exit_description = f"exited with status {code}"
        self.ended_at = self._now()
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.called:
                waiter.callback(self.exit_description)

    def wait(self, seconds: float) -> defer.Deferred:
        """
        Fires (with the exit description, or L{None}) when it ended, or
        after C{seconds}, whichever comes first; it is not stopped.
        """
        if not self.running:
            return defer.succeed(self.exit_description)
        waiter: defer.Deferred = defer.Deferred()
        self._waiters.append(waiter)

        def expire() -> None:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            if not waiter.called:
                waiter.callback(None)

        timer = self._reactor.callLater(seconds, expire)

        def done(result: Any) -> Any:
            if timer.active():
                timer.cancel()
            return result

        return waiter.addBoth(done)

    @defer.inlineCallbacks
    def stop(self, grace_seconds: float = 2.0) -> Any:
        """
        SIGTERM, then SIGKILL after C{grace_seconds}; fires once it ended.
        """
        if not self.running:
            return
        self.stopped_by_checker = True
        self._signal("TERM")
        ended = yield self.wait(grace_seconds)
        if ended is None:
            self._signal("KILL")
            yield self.wait(grace_seconds)

    def _signal(self, name: str) -> None:
        try:
            self._process.signalProcess(name)
        except (error.ProcessExitedAlready, OSError):
            pass

    def output_text(self, lines: Optional[Sequence[OutputLine]] = None) -> str:
        chosen = self.lines if lines is None else lines
        return "\n".join(f"{line.at:7.3f} {'!' if line.stream == 'err' else '|'} {line.text}" for line in chosen)


def udp_bound(port: int, tables: Sequence[str] = ("/proc/net/udp", "/proc/net/udp6")) -> Optional[bool]:
    """
    Whether some UDP socket is bound to C{port}, from the kernel's tables;
    L{None} where they cannot be read.  How a checker knows a student's
    UDP server is up without sending it anything.
    """
    wanted = f":{port:04X}"
    seen = False
    for table in tables:
        try:
            with open(table) as rows:
                seen = True
                for row in rows:
                    fields = row.split()
                    if len(fields) > 2 and fields[1].endswith(wanted):
                        return True
        except OSError:
            continue
    return False if seen else None


def sleep(reactor: Any, seconds: float) -> defer.Deferred:
    d: defer.Deferred = defer.Deferred()
    reactor.callLater(seconds, d.callback, None)
    return d


__all__ = ["StudentProgram", "command_words", "sleep", "udp_bound"]
