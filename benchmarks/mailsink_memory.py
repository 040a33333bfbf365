"""
Benchmark: memory of ``twistd -n netlab-mailsink`` while N clients send
one large message each at the same time (issue 14 item 8).  Each client is
a thread with a raw socket: EHLO, MAIL, RCPT, DATA, then the body in 64 KiB
writes, the final dot, QUIT.  Prints the sink's resident memory before,
its peak (VmHWM) and after, from /proc/PID/status, and the MB/s moved.

    .venv/bin/python benchmarks/mailsink_memory.py [--clients 60] [--size-mb 9.9]

Run it against another checkout with PYTHONPATH=/path/to/checkout to
compare (the sink is started with the same interpreter).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.dirname(sys.executable)


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def expect(reader, prefix: bytes) -> bytes:
    while True:
        line = reader.readline()
        if not line:
            raise ConnectionError("connection closed")
        if line[:4] == prefix + b" ":
            return line
        if line[:4] != prefix + b"-":
            raise ConnectionError(f"expected {prefix!r}, got {line!r}")


def send_one(port: int, body: bytes, results: list, barrier: threading.Barrier) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=120) as connection:
            reader = connection.makefile("rb")
            expect(reader, b"220")
            connection.sendall(b"EHLO bench.test\r\n")
            expect(reader, b"250")
            connection.sendall(b"MAIL FROM:<a@example.test>\r\n")
            expect(reader, b"250")
            connection.sendall(b"RCPT TO:<b@example.test>\r\n")
            expect(reader, b"250")
            connection.sendall(b"DATA\r\n")
            expect(reader, b"354")
            barrier.wait()
            view = memoryview(body)
            for offset in range(0, len(body), 65536):
                connection.sendall(view[offset : offset + 65536])
            connection.sendall(b".\r\nQUIT\r\n")
            results.append(expect(reader, b"250")[:3])
    except Exception as error:  # reported, not raised: other threads go on
        results.append(repr(error).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--size-mb", type=float, default=9.9)
    parser.add_argument("--old-options", action="store_true", help="omit options older checkouts lack")
    arguments = parser.parse_args()
    line = b"x" * 76 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * int(arguments.size_mb * 1_000_000 / len(line))
    with tempfile.TemporaryDirectory() as data:
        sink = subprocess.Popen(
            [
                os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-mailsink",
                "--listen", "tcp:0:interface=127.0.0.1", "--data-dir", data, "--no-tls",
                "--hostname", "localhost", "--max-size", "20M",
                "--max-connections", str(arguments.clients + 10),
            ]
            + ([] if arguments.old_options else ["--max-connections-per-address", str(arguments.clients + 10)]),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert sink.stdout is not None
            port = 0
            for output in sink.stdout:
                match = re.search(r"netlab-mailsink listening on tcp 127.0.0.1 (\d+)", output)
                if match:
                    port = int(match.group(1))
                    break
            threading.Thread(target=lambda: [None for _ in sink.stdout], daemon=True).start()  # type: ignore[union-attr]
            before = status_kib(sink.pid, "VmRSS")
            results: list = []
            barrier = threading.Barrier(arguments.clients)
            threads = [
                threading.Thread(target=send_one, args=(port, body, results, barrier)) for _ in range(arguments.clients)
            ]
            start = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            elapsed = time.perf_counter() - start
            peak = status_kib(sink.pid, "VmHWM")
            after = status_kib(sink.pid, "VmRSS")
        finally:
            sink.terminate()
            sink.wait(30)
    accepted = sum(1 for r in results if r == b"250")
    total_mb = len(body) * arguments.clients / 1e6
    print(f"{arguments.clients} concurrent messages of {len(body) / 1e6:.1f} MB to netlab-mailsink (durable storage)")
    print(f"accepted {accepted}/{arguments.clients}; {total_mb:.0f} MB in {elapsed:.1f} s ({total_mb / elapsed:.0f} MB/s)")
    print(f"sink RSS: before {before / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, after {after / 1024:.0f} MiB")
    if accepted != arguments.clients:
        print("failures:", sorted(set(r for r in results if r != b"250"))[:3])


if __name__ == "__main__":
    main()
