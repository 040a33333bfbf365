"""
Helpers shared by the integration tests: start a real ``twistd -n`` (or
any command) on loopback, wait for its L{LISTENING_FORMAT} line (never a
sleep), and kill it on cleanup.
"""

from __future__ import annotations

import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence

from twisted.trial.unittest import SkipTest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
_LISTENING = re.compile(r"(\S+) listening on (\w+) (\S+) (\d+)")


def executable(name: str) -> str:
    """
    The path of a console script of this environment (``twistd``,
    ``netlab``), falling back to C{PATH}.
    """
    candidate = os.path.join(BIN, name)
    if os.path.exists(candidate):
        return candidate
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed in this environment")
    return found


def require_program(name: str) -> str:
    """
    The path of a third-party peer; skip (with the reason) when it is not
    installed.  .ci/run installs every peer, so CI never skips for this.
    """
    found = shutil.which(name)
    if found is None:
        raise SkipTest(f"{name} is not installed (apt-get install it; .ci/run does)")
    return found


def child_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    if extra:
        env.update(extra)
    return env


class RunningServer:
    """
    A child process whose stdout announced C{service} listening.

    @ivar ports: the announced (transport, host, port) triples, in order.
    @ivar output: every line read from its stdout so far.
    """

    def __init__(self, process: subprocess.Popen, ports: List[tuple], output: List[str]) -> None:
        self.process = process
        self.ports = ports
        self.output = output
        self._cursor = 0
        self._draining = False

    @property
    def text(self) -> str:
        """
        Everything read from the child's output so far, as one string.
        """
        return "".join(self.output)

    @property
    def port(self) -> int:
        return self.ports[0][2]

    def read_until(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """
        Read stdout lines until one matches C{pattern}; fail after C{timeout}.
        """
        compiled = re.compile(pattern)
        for line in self.output:
            found = compiled.search(line)
            if found:
                return found
        deadline = time.monotonic() + timeout
        for line in _lines(self.process, deadline):
            self.output.append(line)
            found = compiled.search(line)
            if found:
                return found
        raise AssertionError(
            f"no line matching {pattern!r} within {timeout}s; output:\n" + "".join(self.output[-40:])
        )

    def expect(self, pattern: str, timeout: float = 20.0) -> re.Match:
        """
        The next line matching C{pattern} after the line of the previous
        C{expect} match (or after the last line C{start_process} read); fail
        after C{timeout} seconds or when the output ends.
        """
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self._cursor < len(self.output):
                line = self.output[self._cursor]
                self._cursor += 1
                found = compiled.search(line)
                if found:
                    return found
            line = next(_lines(self.process, deadline), None)
            if line is None:
                raise AssertionError(
                    f"no line matching {pattern!r} within {timeout}s; output:\n" + "".join(self.output[-40:])
                )
            self.output.append(line)

    def finish(self, timeout: float = 30.0) -> str:
        """
        Read the output until the child closes it and wait for its exit,
        both bounded by C{timeout}; return the whole output.
        """
        deadline = time.monotonic() + timeout
        self.output.extend(_lines(self.process, deadline))
        self.process.wait(max(0.1, deadline - time.monotonic()))
        return self.text

    def drain(self) -> None:
        """
        From now on discard the output on a thread, so that a chatty child
        never blocks on a full pipe; no further lines are recorded.
        """
        if self.process.stdout is None:
            return
        self._draining = True
        descriptor = self.process.stdout.fileno()

        def discard() -> None:
            try:
                while os.read(descriptor, 65536):
                    pass
            except OSError:
                pass

        self._drainer = threading.Thread(target=discard, daemon=True)
        self._drainer.start()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10.0, idle: Optional[float] = None) -> int:
        """
        Send C{sig} unless the child already exited, wait C{timeout} (then
        kill), collect the remaining output and return the exit code.  The
        output is read for 2 s at most, or with C{idle} until end of file,
        waiting at most C{idle} seconds for each chunk (children such as
        workers may hold the pipe open after the parent exited).
        """
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self._draining:
            self.output.extend(_lines(self.process, time.monotonic() + 2.0, idle))
        drainer = getattr(self, "_drainer", None)
        if drainer is not None:
            # Let the discarding thread see end of file before the pipe is
            # closed, so it can never read a reused descriptor.
            drainer.join(idle if idle is not None else 5.0)
            if drainer.is_alive():
                return self.process.returncode  # a grandchild holds the pipe: leave it open
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def _lines(process: subprocess.Popen, deadline: float, idle: Optional[float] = None):
    """
    Yield the child's stdout lines until C{deadline} (with C{idle}: until
    no chunk arrives for C{idle} seconds).  Reads the raw file descriptor
    and splits lines here: select() on a buffered text stream misses lines
    that already sit in Python's buffer.
    """
    if process.stdout is None or process.stdout.closed:
        return
    fd = process.stdout.fileno()
    pending = process.__dict__.setdefault("_netlab_pending", bytearray())
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    try:
        while True:
            newline = pending.find(b"\n")
            if newline >= 0:
                line = bytes(pending[: newline + 1])
                del pending[: newline + 1]
                yield line.decode("utf-8", "replace")
                continue
            remaining = idle if idle is not None else deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                return
            chunk = os.read(fd, 65536)
            if not chunk:
                if pending:
                    line = bytes(pending)
                    pending.clear()
                    yield line.decode("utf-8", "replace")
                return
            pending += chunk
    finally:
        selector.close()


def start_server(
    testcase,
    args: Sequence[str],
    expect: int = 1,
    timeout: float = 20.0,
    env: Optional[Dict[str, str]] = None,
) -> RunningServer:
    """
    Run C{twistd -n <args>} (stdout log), wait until C{expect} listening
    lines appeared, and register its termination with C{testcase}.
    """
    command = [executable("twistd"), "-n", "--pidfile=", "--logfile=-"] + list(args)
    return start_process(testcase, command, expect=expect, timeout=timeout, env=env)


def start_process(testcase, command: Sequence[str], expect: int = 1, timeout: float = 20.0, env=None) -> RunningServer:
    """
    Run C{command} with stdout and stderr merged into one pipe, wait until
    C{expect} listening lines appeared (C{expect=0}: return at once), and
    register its termination with C{testcase}.
    """
    process = subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env(env),
    )
    server = RunningServer(process, [], [])
    testcase.addCleanup(server.stop)
    if expect <= 0:
        return server
    deadline = time.monotonic() + timeout
    for line in _lines(process, deadline):
        server.output.append(line)
        match = _LISTENING.search(line)
        if match:
            server.ports.append((match.group(2), match.group(3), int(match.group(4))))
            if len(server.ports) >= expect:
                server._cursor = len(server.output)
                return server
    server.stop()
    raise AssertionError(
        f"{' '.join(command)} did not announce {expect} listening port(s) in {timeout}s:\n"
        + "".join(server.output[-40:])
    )
