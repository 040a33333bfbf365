#!/usr/bin/env python3
"""
netlab-http before and after a change, over loopback, in one run: three
request shapes (wrk's repeated head, distinct heads, browser heads), each
served in turn by the netlab package of a checkout (--before DIR), by this
tree's, and by the bare responder; rounds interleaved; the median of the
server's CPU time per request (utime + stime from /proc/PID/stat over the
wrk run, divided by the requests wrk completed) and bare/this for each.

Usage: .venv/bin/python benchmarks/http_before_after.py [ROUNDS] --before DIR
(DIR: e.g. ``git worktree add /tmp/before <commit>``; its twisted_netlab
is put first on sys.path of a twistd started with this tree's Python.)
Needs wrk (apt-get install -y wrk).  Loopback only.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from typing import Callable, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import http_bench  # noqa: E402

PYTHON = os.path.join(os.path.dirname(HERE), ".venv", "bin", "python")
#: twistd with another checkout's twisted_netlab first on sys.path (an
#: editable install would otherwise win).
LAUNCH_BEFORE = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]; "
    "from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
)


def main(rounds: int, before: str) -> None:
    root = tempfile.mkdtemp(prefix="netlab-bench-")
    try:
        with open(os.path.join(root, "file2k.txt"), "wb") as handle:
            handle.write(os.urandom(2048))
        packages = tempfile.mkdtemp(prefix="netlab-before-")
        os.symlink(os.path.join(os.path.abspath(before), "twisted_netlab"), os.path.join(packages, "twisted_netlab"))
        serve = ["-n", "--pidfile=", "--logfile=/dev/null", "netlab-http", "--path", root, "--listen"]
        builders: Dict[str, Callable[[int], List[str]]] = {
            "before": lambda p: [PYTHON, "-c", LAUNCH_BEFORE, packages, *serve, f"tcp:{p}:interface=127.0.0.1"],
            "after": lambda p: http_bench.netlab(root, p),
            "bare": lambda p: [PYTHON, os.path.join(HERE, "bare_responder.py"), str(p), os.path.join(root, "file2k.txt")],
        }
        shapes: Dict[str, Optional[str]] = {
            "wrk's repeated head": None,
            "distinct heads": http_bench.DISTINCT_HEADS,
            "browser heads": http_bench.BROWSER_HEADS,
        }
        cpu: Dict[Tuple[str, str], List[float]] = {(s, b): [] for s in shapes for b in builders}
        print(f"load average {os.getloadavg()[0]:.2f} at start", flush=True)
        for number in range(1, rounds + 1):
            for shape, script in shapes.items():
                for name, build in builders.items():
                    port = http_bench.free_port()
                    server = http_bench.Server(name, build(port), port)
                    try:
                        http_bench.wrk(port, "/file2k.txt", script)  # warm up
                        rate, us = http_bench.wrk(port, "/file2k.txt", script, server)
                    finally:
                        server.stop()
                    cpu[(shape, name)].append(us)
                    print(f"  round {number}: {shape:20s} {name:6s} {rate:8.0f} req/s {us:6.1f} us CPU/request", flush=True)
        print(f"\n  {'shape':20s} {'before us':>10s} {'after us':>9s} {'bare us':>8s} {'bare/before':>12s} {'bare/after':>11s}")
        for shape in shapes:
            b, a, z = (statistics.median(cpu[(shape, name)]) for name in builders)
            print(f"  {shape:20s} {b:10.1f} {a:9.1f} {z:8.1f} {z / b:12.2f} {z / a:11.2f}")
        print(f"load average {os.getloadavg()[0]:.2f} at end")
        shutil.rmtree(packages, ignore_errors=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--before" not in args or args.index("--before") + 1 >= len(args):
        sys.exit(__doc__)
    at = args.index("--before")
    before_dir = args[at + 1]
    del args[at : at + 2]
    main(int(args[0]) if args else 3, before_dir)
