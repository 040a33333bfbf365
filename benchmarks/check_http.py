"""
Time of a full ``netlab check http --profile all`` run (79 cases, default
5 s per-case bound) against netlab-http and against nginx, median of 3
runs each; wall-clock seconds of the whole command, server start excluded.

Usage (from the repository root, after ``bash scripts/setup test``):

    .venv/bin/python benchmarks/check_http.py [RUNS]

Prints one line per server: the runs, the median, and the verdict counts.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.check import servers  # noqa: E402
from tests.helpers import child_env, executable  # noqa: E402


class _Cleanups:
    """
    The two methods of a TestCase the server starters use.
    """

    def __init__(self) -> None:
        self._calls: list = []

    def addCleanup(self, function, *args) -> None:  # noqa: N802 (TestCase's name)
        self._calls.append((function, args))

    def close(self) -> None:
        for function, args in reversed(self._calls):
            function(*args)


def timed(url: str, root: str) -> tuple:
    started = time.monotonic()
    result = subprocess.run(
        [executable("netlab"), "check", "http", url, "--root", root, "--profile", "all", "--no-color"],
        capture_output=True, text=True, env=child_env(), stdin=subprocess.DEVNULL, timeout=300,
    )
    return time.monotonic() - started, result.stdout.strip().splitlines()[-1]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    for name in ("netlab-http", "nginx"):
        cleanups = _Cleanups()
        try:
            root = tempfile.mkdtemp(prefix="netlab-bench-root-")
            if name == "nginx":
                if servers.nginx_program() is None:
                    print("nginx: not installed, skipped")
                    continue
                os.chmod(root, 0o755)
                work = tempfile.mkdtemp(prefix="netlab-bench-nginx-")
                url = servers.start_nginx(cleanups, root, work)
            else:
                url = servers.start_netlab_http(cleanups, root)
            times = []
            summary = ""
            for _ in range(runs):
                seconds, summary = timed(url, root)
                times.append(seconds)
            shown = " ".join(f"{t:.1f}" for t in times)
            print(f"{name:<12} runs {shown} s  median {statistics.median(times):.1f} s  ({summary})")
        finally:
            cleanups.close()


if __name__ == "__main__":
    main()
