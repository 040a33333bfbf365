#!/usr/bin/env python3
"""
Benchmark netlab-http against its peers, all in one run on this machine:

1. wrk -t1 -c20 -d5s (keep-alive) on the same 2 KB file against
   netlab-http (also with --workers 2, with --access-log FILE, and with
   --file-cache-seconds 0), ``twistd web --path``,
   ``python -m http.server``, a bare 30-line Twisted responder
   (benchmarks/bare_responder.py) and, to show where time goes, netlab's
   parser with a fixed answer (benchmarks/parser_responder.py); each
   measured three times, interleaved, best kept; printed with ratios.
2. Server RSS while a deliberately slow reader downloads a 1 GB sparse
   file (created in a temp folder, deleted after).
3. Server RSS per connection with 10,000 idle keep-alive connections from
   127.0.0.1 (the fd limit is raised for this process and the server).
4. Server RSS per stalled reader: 1,000 clients each ask for a 4 MB file
   and never read; RSS while they wait and after they left.

Every wrk run also reports the server's CPU time per request (utime +
stime from /proc/PID/stat over the run, divided by the requests wrk
completed): on a shared, noisy machine that, and its ratio to the bare
responder measured in the same run, moves much less than req/s does.

Usage: bash benchmarks/http.sh [--quick]   (about 6 minutes; --quick: only
netlab-http and the bare responder, one round, plus sections 2 and 4)
Needs wrk (Debian: apt-get install -y wrk).
Everything listens on 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.dirname(sys.executable)
TWISTD = os.path.join(BIN, "twistd")
CONNECTIONS = 10_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_listening(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early: {process.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server did not listen on {port}: {process.args}")


def raise_fd_limit(limit: int = CONNECTIONS + 2000) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(limit, hard)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


class Server:
    def __init__(self, name: str, command: List[str], port: int) -> None:
        self.name = name
        self.port = port
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=raise_fd_limit, cwd="/"
        )
        wait_listening(port, self.process)

    def cpu_seconds(self) -> float:
        """
        utime + stime so far (fields 14 and 15 of /proc/PID/stat, in clock
        ticks) of the server process and of its children (the --workers).
        """
        ticks = 0
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as stat_file:
                    fields = stat_file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(name) == self.process.pid or int(fields[1]) == self.process.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def netlab(root: str, port: int, *extra: str) -> List[str]:
    return [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null", "netlab-http",
            "--listen", f"tcp:{port}:interface=127.0.0.1", "--path", root, *extra]


#: A wrk script that makes every request head different (a counter in the
#: query string), so no server can reuse the previous request's parse.
DISTINCT_HEADS = os.path.join(HERE, "distinct_heads.lua")


def wrk(port: int, path: str, script: Optional[str] = None, server: Optional[Server] = None) -> Tuple[float, float]:
    """
    Requests per second, and the server's CPU microseconds per request
    (0 without C{server}).
    """
    command = ["wrk", "-t1", "-c20", "-d5s"] + (["-s", script] if script else [])
    cpu_before = server.cpu_seconds() if server else 0.0
    result = subprocess.run(
        command + [f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, timeout=60
    )
    cpu = (server.cpu_seconds() - cpu_before) if server else 0.0
    found = re.search(r"Requests/sec:\s+([0-9.]+)", result.stdout)
    count = re.search(r"(\d+) requests in", result.stdout)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", result.stdout)
    if errors:
        print(f"    (wrk on {port}: {errors.group(0)})")
    requests = int(count.group(1)) if count else 0
    return (float(found.group(1)) if found else 0.0), (cpu * 1e6 / requests if requests else 0.0)


def throughput(root: str, quick: bool = False) -> Tuple[Dict[str, float], Dict[str, float]]:
    builders = {
        "netlab-http": lambda p: netlab(root, p),
        "netlab-http --workers 2": lambda p: netlab(root, p, "--workers", "2"),
        "netlab-http --access-log": lambda p: netlab(root, p, "--access-log", os.path.join(root, "access.log")),
        "netlab-http, no file cache": lambda p: netlab(root, p, "--file-cache-seconds", "0"),
        "twistd web --path": lambda p: [TWISTD, "-n", "--pidfile=", "--logfile=/dev/null", "web",
                                        "--listen", f"tcp:{p}:interface=127.0.0.1", "--path", root],
        "python -m http.server": lambda p: [sys.executable, "-m", "http.server", str(p), "--bind", "127.0.0.1",
                                            "--directory", root],
        "parser + fixed answer": lambda p: [sys.executable, os.path.join(HERE, "parser_responder.py"), str(p),
                                            os.path.join(root, "file2k.txt")],
        "bare Twisted responder": lambda p: [sys.executable, os.path.join(HERE, "bare_responder.py"), str(p),
                                             os.path.join(root, "file2k.txt")],
    }
    # The same servers again, every request head distinct (wrk -s
    # distinct_heads.lua): netlab's parser cannot reuse the previous parse.
    distinct = {
        "netlab-http, distinct heads": builders["netlab-http"],
        "bare responder, distinct heads": builders["bare Twisted responder"],
    }
    builders.update(distinct)
    if quick:
        builders = {name: builders[name] for name in ("netlab-http", "bare Twisted responder")}
    best: Dict[str, float] = {name: 0.0 for name in builders}
    cpu_best: Dict[str, float] = {name: 0.0 for name in builders}
    for round_number in ((1,) if quick else (1, 2, 3)):
        for name, build in builders.items():
            port = free_port()
            server = Server(name, build(port), port)
            try:
                script = DISTINCT_HEADS if name in distinct else None
                wrk(port, "/file2k.txt", script)  # warm up (caches, JIT-free but page cache)
                rate, cpu_us = wrk(port, "/file2k.txt", script, server)
            finally:
                server.stop()
            print(f"  round {round_number}: {name:28s} {rate:10.0f} req/s {cpu_us:7.1f} us CPU/request", flush=True)
            best[name] = max(best[name], rate)
            if cpu_us and (not cpu_best[name] or cpu_us < cpu_best[name]):
                cpu_best[name] = cpu_us
    return best, cpu_best


def slow_reader_rss(root: str) -> Dict[str, float]:
    """
    Download a 1 GB file at about 4 MB/s for 6 s; report server RSS.
    """
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # sparse: costs no disk
    port = free_port()
    server = Server("netlab-http", netlab(root, port), port)
    try:
        idle = server.rss_kib()
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /big.bin HTTP/1.1\r\nHost: bench\r\n\r\n")
        received = 0
        peak = idle
        start = time.monotonic()
        while time.monotonic() - start < 6.0:
            received += len(sock.recv(65536))
            time.sleep(0.015)  # about 4 MB/s: far slower than the server
            peak = max(peak, server.rss_kib())
        sock.close()
        return {"idle_kib": idle, "peak_kib": peak, "received_mb": received / 1e6}
    finally:
        server.stop()
        os.unlink(big)


def idle_connections_rss(root: str) -> Dict[str, float]:
    """
    Open CONNECTIONS keep-alive connections, one request each, then hold
    them idle and compare the server's RSS with its RSS before.
    """
    raise_fd_limit()
    port = free_port()
    # Above the default --max-connections (4096), which would close the rest.
    server = Server("netlab-http", netlab(root, port, "--max-connections", str(CONNECTIONS + 100)), port)
    sockets: List[socket.socket] = []
    try:
        # Warm up once so the first request's imports are not counted.
        warm = socket.create_connection(("127.0.0.1", port), timeout=10)
        warm.sendall(b"GET /file2k.txt HTTP/1.1\r\nHost: bench\r\n\r\n")
        warm.recv(65536)
        warm.close()
        time.sleep(0.5)
        before = server.rss_kib()
        request = b"GET /file2k.txt HTTP/1.1\r\nHost: bench\r\n\r\n"
        for _ in range(CONNECTIONS):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(request)
            data = b""
            while not data.endswith(b"\r\n\r\n") and len(data) < 2048 + 300:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and len(data.partition(b"\r\n\r\n")[2]) >= 2048:
                    break
            sockets.append(sock)
        time.sleep(1.0)
        after = server.rss_kib()
        alive = 0
        for sock in sockets[:: CONNECTIONS // 20]:
            sock.sendall(request)
            if sock.recv(65536).startswith(b"HTTP/1.1 200"):
                alive += 1
        return {"before_kib": before, "after_kib": after, "per_connection_bytes": (after - before) * 1024 / CONNECTIONS,
                "sampled_alive": alive, "sampled": len(sockets[:: CONNECTIONS // 20])}
    finally:
        for sock in sockets:
            sock.close()
        server.stop()


STALLED = 1_000


def stalled_readers_rss(root: str) -> Dict[str, float]:
    """
    STALLED clients each ask for a 4 MB file and never read a byte; the
    server's RSS before, while they hang, and 3 s after they closed.
    """
    raise_fd_limit()
    big = os.path.join(root, "four-mb.bin")
    with open(big, "wb") as f:
        f.write(os.urandom(4 << 20))
    port = free_port()
    server = Server("netlab-http", netlab(root, port), port)
    sockets: List[socket.socket] = []
    try:
        warm = socket.create_connection(("127.0.0.1", port), timeout=10)
        warm.sendall(b"GET /file2k.txt HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        while warm.recv(65536):
            pass
        warm.close()
        time.sleep(0.5)
        before = server.rss_kib()
        for _ in range(STALLED):
            sock = socket.socket()
            # A small receive buffer, as a stalled phone client has.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(10)
            sock.connect(("127.0.0.1", port))
            sock.sendall(b"GET /four-mb.bin HTTP/1.1\r\nHost: bench\r\n\r\n")
            sockets.append(sock)
        time.sleep(3.0)
        during = server.rss_kib()
        refused = 0
        for sock in sockets:
            try:
                sock.setblocking(False)
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    refused += 1
            except OSError:
                pass
        for sock in sockets:
            sock.close()
        sockets = []
        time.sleep(3.0)
        after = server.rss_kib()
        return {"before_kib": before, "during_kib": during, "after_kib": after,
                "per_client_bytes": (during - before) * 1024 / STALLED, "closed_by_server": refused}
    finally:
        for sock in sockets:
            sock.close()
        server.stop()
        os.unlink(big)


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    quick = "--quick" in sys.argv[1:]
    root = tempfile.mkdtemp(prefix="netlab-bench-")
    try:
        with open(os.path.join(root, "file2k.txt"), "wb") as f:
            f.write((b"netlab benchmark payload. " * 80)[:2048])
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
        print("1. wrk -t1 -c20 -d5s, 2 KB file, keep-alive (best of 3 interleaved rounds)")
        best, cpu = throughput(root, quick)
        web, bare = best.get("twistd web --path", 0.0), best["bare Twisted responder"]
        bare_cpu = cpu["bare Twisted responder"]
        print()
        print(f"  {'server':28s} {'req/s':>10s} {'vs twistd web':>14s} {'vs bare':>8s} {'us CPU/req':>11s} {'CPU vs bare':>12s}")
        for name, rate in best.items():
            print(f"  {name:28s} {rate:10.0f} {rate / web if web else 0:13.2f}x {rate / bare if bare else 0:7.2f}x"
                  f" {cpu[name]:11.1f} {cpu[name] / bare_cpu if bare_cpu else 0:11.2f}x")
        print()
        print("2. RSS while a slow reader (~4 MB/s) downloads a 1 GB file for 6 s")
        slow = slow_reader_rss(root)
        print(f"  idle {slow['idle_kib'] / 1024:.1f} MiB, peak {slow['peak_kib'] / 1024:.1f} MiB "
              f"(+{(slow['peak_kib'] - slow['idle_kib']) / 1024:.1f} MiB), client read {slow['received_mb']:.0f} MB")
        print()
        print(f"4. {STALLED} clients that ask for a 4 MB file and never read")
        stalled = stalled_readers_rss(root)
        print(f"  RSS {stalled['before_kib'] / 1024:.1f} MiB -> {stalled['during_kib'] / 1024:.1f} MiB while they wait "
              f"({stalled['per_client_bytes'] / 1024:.1f} KiB per client), {stalled['after_kib'] / 1024:.1f} MiB 3 s "
              f"after they left; {stalled['closed_by_server']:.0f} closed by the server")
        print()
        if quick:
            return
        print(f"3. {CONNECTIONS} idle keep-alive connections")
        idle = idle_connections_rss(root)
        print(f"  RSS {idle['before_kib'] / 1024:.1f} MiB -> {idle['after_kib'] / 1024:.1f} MiB: "
              f"{idle['per_connection_bytes']:.0f} bytes per connection; "
              f"{idle['sampled_alive']}/{idle['sampled']} sampled connections still answered")
        print(f"load average {os.getloadavg()[0]:.2f} at end")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
