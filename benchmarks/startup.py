"""
Benchmark: how long each ``netlab`` sub-command takes from exec to exit,
next to curl, iputils ping and bare Python, in the same run.

Every command runs once to warm up, then ROUNDS times (default 7), the commands interleaved round
by round, each round in a new order, so that load on the machine hits them alike; the median wall time
(and the least: this VM's speed wanders by a third from minute to minute)
and the median CPU time (user + system of the child, from wait4) are
reported, and for each netlab command whether its median wall time meets
the goal (under 200 ms; --help and usage errors under 150 ms).  Connections
go to 127.0.0.1 only: a closed TCP port (refused), a UDP echo responder in
this process for ``ping``, a closed UDP port for ``beat`` (it sends one
beat and exits).  The ``python:`` rows are the floor: Python alone, the
reactor as Twisted loads it, without TLS, then with netlab's start-up
arrangements (twisted_netlab._startup) one after the other.

Usage: .venv/bin/python benchmarks/startup.py [ROUNDS] [--before DIR]
       .venv/bin/python benchmarks/startup.py --imports [ROUNDS]
(--before DIR: also run every netlab command with the netlab package found
in DIR, e.g. a checkout of an older commit, with this environment's Python
and Twisted, interleaved with the current one: a before/after comparison
under the same load.  DIR's commands start from DIR's own console entry
point, as its setup.cfg names it, in a script shaped as pip writes one.)

--imports: what the floor (the reactor as netlab starts it) spends its
import time on, from ``python -X importtime`` of that row's program,
median of ROUNDS runs (default 9): each group is the subtree of its root's
first import; Twisted's own modules and the rest count their own time.
"""

from __future__ import annotations

import configparser
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional, Tuple

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
NETLAB = os.path.join(BIN, "netlab")
PYTHON = os.path.join(BIN, "python")


def closed_port(kind: int) -> int:
    """
    A loopback port nobody listens on (bound, then released).
    """
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def echo_responder() -> Tuple[int, threading.Event]:
    """
    A UDP echo on 127.0.0.1 for ``netlab ping``, until the event is set.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except socket.timeout:
                continue
            sock.sendto(data, peer)
        sock.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock.getsockname()[1], stop


#: As a user's shell runs them: byte-compiled modules are written and
#: reused (a development shell may set PYTHONDONTWRITEBYTECODE, which
#: would make every run compile netlab's modules again).
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def run_once(argv: List[str], env: Optional[Dict[str, str]] = None) -> Tuple[float, float, int]:
    """
    Wall seconds, CPU seconds (user + system) and exit status of one run.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env or ENV
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_utime + usage.ru_stime, process.returncode


def console_script(tree: str, folder: str) -> str:
    """
    Write, in C{folder}, the ``netlab`` console script that an install of
    C{tree} would have (its entry point from its setup.cfg) and return its
    path: an older tree may start from another function than this one.
    """
    config = configparser.ConfigParser()
    config.read(os.path.join(tree, "setup.cfg"))
    entry = "twisted_netlab.cli:run"
    for line in config.get("options.entry_points", "console_scripts", fallback="").splitlines():
        name, _, target = line.partition("=")
        if name.strip() == "netlab":
            entry = target.strip()
    module, _, function = entry.partition(":")
    path = os.path.join(folder, "netlab")
    with open(path, "w") as script:
        script.write(
            f"#!{PYTHON}\nimport sys\nfrom {module} import {function}\n"
            f"if __name__ == '__main__':\n    sys.exit({function}())\n"
        )
    os.chmod(path, 0o755)
    return path


FLOOR = "import sys; sys.modules['OpenSSL'] = None; from twisted.internet import reactor, defer, task"

#: The same with the modules Twisted only binds loaded on first use.
FLOOR_LAZY = f"from twisted_netlab import _startup; _startup.defer_imports(_startup.DEFERRED_MODULES); {FLOOR}"

#: The same, started as the netlab command starts (twisted_netlab._startup):
#: also the collector off during start-up and the start-up heap frozen.
FLOOR_AS_NETLAB = (
    "from twisted_netlab import _startup\n"
    "def command(argv, started, defer_modules):\n"
    f"    {FLOOR}\n"
    "    started()\n"
    "_startup.run([], command)\n"
)


def commands() -> Tuple[List[Tuple[str, List[str]]], threading.Event]:
    tcp = closed_port(socket.SOCK_STREAM)
    udp = closed_port(socket.SOCK_DGRAM)
    echo, stop = echo_responder()
    mail = ["--from", "a@example.com", "--to", "b@example.com", "--body", "hi", "--server", f"127.0.0.1:{tcp}"]
    table: List[Tuple[str, List[str]]] = [
        ("netlab get http:// (refused)", [NETLAB, "get", "-s", "-o", "/dev/null", f"http://127.0.0.1:{tcp}/"]),
        ("netlab get https:// (refused)", [NETLAB, "get", "-s", "-o", "/dev/null", f"https://127.0.0.1:{tcp}/"]),
        ("netlab ping -c 1 (echo answers)", [NETLAB, "ping", "-c", "1", "-q", "127.0.0.1", str(echo)]),
        ("netlab beat -c 1", [NETLAB, "beat", "-c", "1", "-q", "127.0.0.1", str(udp)]),
        ("netlab mail --tls none (refused)", [NETLAB, "mail", "--tls", "none", *mail]),
        ("netlab mail STARTTLS (refused)", [NETLAB, "mail", *mail]),
        ("netlab check http (refused)", [NETLAB, "check", "http", f"http://127.0.0.1:{tcp}/"]),
        ("netlab check smtp (refused)", [NETLAB, "check", "smtp", f"127.0.0.1:{tcp}"]),
        ("netlab get --help", [NETLAB, "get", "--help"]),
        ("netlab ping (usage error)", [NETLAB, "ping", "--bogus"]),
        ("python -c pass", [PYTHON, "-c", "pass"]),
        ("python: import the reactor", [PYTHON, "-c", "from twisted.internet import reactor"]),
        # What netlab's plain clients start from: the reactor and Deferreds
        # without the reactor's TLS support (twisted_netlab._endpoints.defer_tls).
        ("python: reactor without TLS", [PYTHON, "-c", FLOOR]),
        # ... with the modules Twisted only binds loaded on first use, then
        # also the collector off during start-up and the start-up heap
        # frozen: as the netlab command starts (twisted_netlab._startup).
        ("python: the same, lazy modules", [PYTHON, "-c", FLOOR_LAZY]),
        ("python: the same, netlab's start-up", [PYTHON, "-c", FLOOR_AS_NETLAB]),
    ]
    curl = shutil.which("curl")
    if curl:
        table.append(("curl http:// (refused)", [curl, "-s", "-o", "/dev/null", f"http://127.0.0.1:{tcp}/"]))
    ping = shutil.which("ping")
    if ping and subprocess.run([ping, "-c", "1", "-W", "1", "127.0.0.1"], capture_output=True).returncode == 0:
        table.append(("ping -c 1 127.0.0.1 (ICMP)", [ping, "-c", "1", "-q", "127.0.0.1"]))
    return table, stop


#: The issue's goal in wall milliseconds (median): --help and usage errors
#: under 150, every other sub-command under 200 (start, fail on the refused
#: connection or get the echo, exit).
def goal_ms(name: str) -> float:
    return 150.0 if "--help" in name or "usage error" in name else 200.0


def main(rounds: int, before: Optional[str] = None) -> None:
    load_at_start = os.getloadavg()[0]
    table, stop = commands()
    variants: List[Tuple[str, Dict[str, str], str]] = [("now", ENV, NETLAB)]
    if before is not None:
        scripts = tempfile.mkdtemp(prefix="startup-before-")
        variants.insert(0, ("before", dict(ENV, PYTHONPATH=before), console_script(before, scripts)))
    runs = [
        (name, label, [program, *argv[1:]] if argv[0] == NETLAB else argv, env)
        for name, argv in table
        for label, env, program in (variants if argv[0] == NETLAB else variants[-1:])
    ]
    walls: Dict[Tuple[str, str], List[float]] = {(name, label): [] for name, label, _, _ in runs}
    cpus: Dict[Tuple[str, str], List[float]] = {key: [] for key in walls}
    codes: Dict[Tuple[str, str], set] = {key: set() for key in walls}
    try:
        for _, _, argv, env in runs:  # warm-up, not counted: compiles modules, fills the page cache
            run_once(argv, env)
        # Each round in its own order (seeded: runs are repeatable), so that
        # no command always follows the same one (the first of a fixed order
        # came after curl and ping and measured 20-30 ms slower).
        order = random.Random(16)
        for _ in range(rounds):
            for name, label, argv, env in order.sample(runs, len(runs)):
                wall, cpu, code = run_once(argv, env)
                walls[name, label].append(wall)
                cpus[name, label].append(cpu)
                codes[name, label].add(code)
    finally:
        stop.set()
        if before is not None:
            shutil.rmtree(scripts, ignore_errors=True)
    curl = ("curl http:// (refused)", "now")
    reference: Optional[float] = statistics.median(walls[curl]) if curl in walls else None
    print(
        f"{rounds} rounds, median; {os.cpu_count()} CPUs, load average {load_at_start:.2f} at the start,"
        f" {os.getloadavg()[0]:.2f} at the end"
    )
    if before is not None:
        print(f"'before' runs the netlab package in {before}")
    print(f"{'command':36} {'':6} {'wall ms':>8} {'min ms':>7} {'cpu ms':>8} {'x curl':>7}  exit  goal (wall ms)")
    for name, label, _, _ in runs:
        wall = statistics.median(walls[name, label]) * 1000
        least = min(walls[name, label]) * 1000
        cpu = statistics.median(cpus[name, label]) * 1000
        ratio = f"{wall / (reference * 1000):6.1f}x" if reference else "      -"
        exits = ",".join(str(code) for code in sorted(codes[name, label]))
        shown = label if len(variants) > 1 and label != "now" or (len(variants) > 1 and name.startswith("netlab")) else ""
        goal = ""
        if name.startswith("netlab") and label == "now":
            limit = goal_ms(name)
            goal = f"< {limit:.0f} " + ("met" if wall < limit else f"over by {wall - limit:.0f}")
        print(f"{name:36} {shown:6} {wall:8.1f} {least:7.1f} {cpu:8.1f} {ratio:>7}  {exits:4}  {goal}".rstrip())


#: Roots whose whole first import (their subtree) is one group of --imports.
IMPORT_GROUPS = ("asyncio", "attr", "incremental", "typing", "zope.interface", "typing_extensions")


def import_groups(stderr: str) -> Dict[str, int]:
    """
    Microseconds of import time per group, from one ``-X importtime`` log.
    """
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, _, name = line[len("import time:") :].split("|")
        depth = (len(name.rstrip()) - len(name.strip())) // 2
        rows.append((int(own), name.strip(), depth))
    owner: List[Optional[str]] = [None] * len(rows)
    for at, (_, name, depth) in enumerate(rows):
        if name in IMPORT_GROUPS:  # its subtree is printed just before it, deeper
            owner[at] = owner[at] or name
            below = at - 1
            while below >= 0 and rows[below][2] > depth:
                owner[below] = owner[below] or name
                below -= 1
    groups: Dict[str, int] = {"total": 0}
    for (own, name, _), group in zip(rows, owner):
        if group is None:
            twisted = name == "twisted" or name.startswith("twisted.")
            group = "Twisted's own modules" if twisted else "the rest"
        groups[group] = groups.get(group, 0) + own
        groups["total"] += own
    return groups


def imports(rounds: int) -> None:
    runs = []
    env = dict(ENV, PYTHONPROFILEIMPORTTIME="1")
    for at in range(rounds + 1):
        child = subprocess.run([PYTHON, "-c", FLOOR_AS_NETLAB], env=env, capture_output=True, text=True)
        if at:  # the first run warms up
            runs.append(import_groups(child.stderr))
    names = set().union(*runs)
    median = {name: statistics.median(run.get(name, 0) for run in runs) for name in names}
    print(f"import time of the floor (python: the same, netlab's start-up), median of {rounds} runs;")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    for name in sorted(names, key=lambda name: -median[name]):
        print(f"{name:24} {median[name] / 1000:7.1f} ms {100 * median[name] / median['total']:6.1f} %")


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if arguments[:1] == ["--imports"]:
        imports(int(arguments[1]) if len(arguments) > 1 else 9)
        sys.exit(0)
    previous: Optional[str] = None
    if "--before" in arguments:
        at = arguments.index("--before")
        previous = os.path.abspath(arguments[at + 1])
        del arguments[at : at + 2]
    main(int(arguments[0]) if arguments else 7, previous)
