"""
Benchmark: datagrams per second echoed by ``twistd -n netlab-echo`` (no
impairment; per-source and global caps off with ``--source-rate 0
--global-rate 0``, the other abuse checks still run) next to a plain
blocking-socket Python echo loop, in the same run, on 127.0.0.1.

    .venv/bin/python benchmarks/echo.py [--seconds 3] [--rounds 3] [--window 32] [--size 64]

The load generator keeps C{window} datagrams (each one different) in
flight (refilling after a short silence, so a lost datagram never stalls
it) and counts the echoes
received during C{seconds}.  Servers take turns, round after round; the
median of each is reported, with the ratio netlab-echo / plain loop, and
each server's CPU time (user + system, from /proc) per datagram echoed:
unlike the rate, that figure hardly moves when other work shares the
machine.
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import textwrap
import time
from typing import List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

PLAIN_ECHO = textwrap.dedent(
    """
    import socket, sys
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    print("plain-echo listening on udp 127.0.0.1", server.getsockname()[1], flush=True)
    while True:
        data, peer = server.recvfrom(65535)
        server.sendto(data, peer)
    """
)


def start(command: List[str]) -> "tuple[subprocess.Popen, int]":
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    assert process.stdout is not None
    text = b""
    deadline = time.monotonic() + 20
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(deadline - time.monotonic()):
                break
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            text += chunk
            found = re.search(rb"listening on udp \S+ (\d+)", text)
            if found:
                return process, int(found.group(1))
    process.kill()
    raise SystemExit(f"{command[0]} did not start:\n{text.decode(errors='replace')}")


def cpu_seconds(pid: int) -> float:
    """
    User + system CPU time of process C{pid} so far (Linux /proc).
    """
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(port: int, seconds: float, window: int, size: int) -> "tuple[float, int]":
    """
    Echoes received per second with C{window} datagrams in flight, and the
    number received.
    """
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.connect(("127.0.0.1", port))
    client.setblocking(False)
    # Every datagram differs (a counter), as real probes do: netlab-echo
    # refuses a datagram byte-identical to one it echoed in the last second.
    filler = b"x" * size
    sent = 0
    selector = selectors.DefaultSelector()
    selector.register(client, selectors.EVENT_READ)
    in_flight = 0
    received = 0
    deadline = time.monotonic() + seconds
    try:
        while True:
            while in_flight < window:
                try:
                    client.send((b"%d " % sent + filler)[:size])
                except BlockingIOError:
                    break
                sent += 1
                in_flight += 1
            now = time.monotonic()
            if now >= deadline:
                break
            if not selector.select(min(0.05, deadline - now)):
                in_flight = 0  # silence: count the window as lost, refill
                continue
            while True:
                try:
                    client.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                received += 1
                in_flight -= 1
    finally:
        selector.close()
        client.close()
    return received / seconds, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--size", type=int, default=64)
    arguments = parser.parse_args()

    servers = {
        "netlab-echo": [
            os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-echo",
            "--port", "0", "--source-rate", "0", "--global-rate", "0", "--summary-interval", "0",
        ],
        "plain loop": [sys.executable, "-c", PLAIN_ECHO],
    }
    running = {name: start(command) for name, command in servers.items()}
    results: "dict[str, list[float]]" = {name: [] for name in servers}
    cpu_per_echo: "dict[str, list[float]]" = {name: [] for name in servers}
    try:
        for name, (_, port) in running.items():
            load(port, 0.5, arguments.window, arguments.size)  # warm up
        for _ in range(arguments.rounds):
            for name, (process, port) in running.items():
                before = cpu_seconds(process.pid)
                rate, received = load(port, arguments.seconds, arguments.window, arguments.size)
                results[name].append(rate)
                cpu_per_echo[name].append((cpu_seconds(process.pid) - before) / max(1, received))
    finally:
        for process, _ in running.values():
            process.kill()
            process.wait()

    print(
        f"UDP echo on 127.0.0.1, {arguments.size}-byte datagrams, window {arguments.window}, "
        f"{arguments.rounds} x {arguments.seconds:g} s per server (median)"
    )
    medians = {name: statistics.median(values) for name, values in results.items()}
    for name, values in results.items():
        rounds = ", ".join(f"{value:,.0f}" for value in values)
        cpu = statistics.median(cpu_per_echo[name]) * 1e6
        print(f"  {name:12s} {medians[name]:>10,.0f} datagrams/s   {cpu:5.1f} µs CPU each   (rounds: {rounds})")
    print(f"  ratio netlab-echo / plain loop: {medians['netlab-echo'] / medians['plain loop']:.2f}")


if __name__ == "__main__":
    main()
