"""
A child process whose output is read by a thread, for the heartbeat
integration tests.

C{tests.helpers.start_server} reads with C{select} and then
C{TextIOWrapper.readline}; when two lines arrive in one chunk the second one
stays in Python's buffer and C{select} does not wake for it, so a quiet
process (such as ``netlab-heartbeat --quiet`` after announcing its two
ports) can look silent.  Reading on a thread has no such gap.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import List, Sequence

from tests.helpers import _LISTENING, child_env, executable


class WatchedProcess:
    """
    @ivar lines: every output line so far (stdout and stderr together).
    """

    def __init__(self, command: Sequence[str]) -> None:
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            text=True, env=child_env(),
        )
        self.lines: List[str] = []
        self.position = 0
        self._condition = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._condition:
                self.lines.append(line)
                self._condition.notify_all()
        with self._condition:
            self._condition.notify_all()

    def expect(self, pattern: str, timeout: float = 20.0) -> re.Match:
        """
        The next line after the previous match that matches C{pattern};
        fail after C{timeout} seconds.
        """
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._condition:
            while True:
                while self.position < len(self.lines):
                    line = self.lines[self.position]
                    self.position += 1
                    found = compiled.search(line)
                    if found:
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self.process.poll() is not None and not self._reader.is_alive()):
                    raise AssertionError(
                        f"no line matching {pattern!r} within {timeout}s from {' '.join(self.command[:4])}...; "
                        "output:\n" + "".join(self.lines[-30:])
                    )
                self._condition.wait(min(remaining, 1.0))

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(10)
        return self.process.returncode


def start_monitor(testcase, arguments: Sequence[str], ports: int = 1) -> tuple:
    """
    Run C{twistd -n netlab-heartbeat ARGUMENTS}, wait for its C{ports}
    listening lines, and stop it on cleanup.  Returns the process and the
    announced port numbers in order.
    """
    monitor = WatchedProcess(
        [executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-heartbeat"] + list(arguments)
    )
    testcase.addCleanup(monitor.stop)
    numbers = []
    for _ in range(ports):
        found = monitor.expect(_LISTENING.pattern)
        numbers.append(int(found.group(4)))
    return monitor, numbers
