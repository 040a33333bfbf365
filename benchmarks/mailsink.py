"""
Benchmark: smtplib sends N messages over one connection to
``twistd -n netlab-mailsink`` and to aiosmtpd with its own Maildir handler
(C{aiosmtpd.handlers.Mailbox}), in one run; each server runs in its own
child process and stores every message in a fresh Maildir.  Plain TCP, no
AUTH: this measures the receiving engines and storage.  Prints messages per
second for each and the ratio.

Note: netlab-mailsink fsyncs every message file and the ``new/`` folder
before it answers 250; aiosmtpd's Mailbox (Python's mailbox.Maildir) does
not fsync, so the comparison favours aiosmtpd on durability cost.

    .venv/bin/python benchmarks/mailsink.py [--count 1000] [--size 2000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import selectors
import signal
import smtplib
import statistics
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)

AIOSMTPD = """
import sys, mailbox
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
controller = Controller(Mailbox({maildir!r}), hostname="127.0.0.1", port={port})
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(process: subprocess.Popen, pattern: str, timeout: float = 30.0) -> re.Match:
    """
    Read the child's output until C{pattern} shows, then keep draining it
    in a thread (a full pipe would stall a server that logs per message).
    """
    assert process.stdout is not None
    compiled = re.compile(pattern)
    output = ""
    deadline = time.monotonic() + timeout
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    while time.monotonic() < deadline:
        if not selector.select(deadline - time.monotonic()):
            break
        chunk = os.read(process.stdout.fileno(), 65536)
        if not chunk:
            break
        output += chunk.decode("utf-8", "replace")
        found = compiled.search(output)
        if found:
            selector.close()
            threading.Thread(target=_drain, args=(process,), daemon=True).start()
            return found
    raise SystemExit(f"server did not start:\n{output[-2000:]}")


def _drain(process: subprocess.Popen) -> None:
    assert process.stdout is not None
    while os.read(process.stdout.fileno(), 65536):
        pass


def make_message(size: int, number: int) -> bytes:
    body = ("x" * 70 + "\r\n") * max(1, size // 72)
    return f"From: a@example.com\r\nTo: b@example.com\r\nSubject: message {number}\r\n\r\n{body}".encode()


def send(port: int, count: int, size: int) -> float:
    messages = [make_message(size, n) for n in range(count)]
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo("bench.test")
        start = time.perf_counter()
        for message in messages:
            client.sendmail("a@example.com", ["b@example.com"], message)
        elapsed = time.perf_counter() - start
    return elapsed


def count_files(maildir: str) -> int:
    return len(os.listdir(os.path.join(maildir, "new")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median rate is reported")
    arguments = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mailsink-bench-")
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONUNBUFFERED="1")

    netlab_data = os.path.join(work, "netlab")
    netlab = subprocess.Popen(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-mailsink",
         "--listen", "tcp:0:interface=127.0.0.1", "--no-tls", "--data-dir", netlab_data, "--hostname", "bench.test"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, bufsize=0, env=env,
    )
    aiosmtpd_maildir = os.path.join(work, "aiosmtpd")
    aiosmtpd_port = free_port()
    aiosmtpd = subprocess.Popen(
        [sys.executable, "-c", AIOSMTPD.format(maildir=aiosmtpd_maildir, port=aiosmtpd_port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.PIPE, bufsize=0, env=env,
    )
    try:
        netlab_port = int(wait_for(netlab, r"netlab-mailsink listening on tcp \S+ (\d+)").group(1))
        wait_for(aiosmtpd, r"ready")
        netlab_times, aiosmtpd_times = [], []
        for _ in range(arguments.rounds):
            netlab_times.append(send(netlab_port, arguments.count, arguments.size))
            aiosmtpd_times.append(send(aiosmtpd_port, arguments.count, arguments.size))
        netlab_seconds = statistics.median(netlab_times)
        aiosmtpd_seconds = statistics.median(aiosmtpd_times)
        stored = (count_files(os.path.join(netlab_data, "Maildir")), count_files(aiosmtpd_maildir))
    finally:
        netlab.send_signal(signal.SIGTERM)
        if aiosmtpd.stdin is not None:
            aiosmtpd.stdin.close()
        for process in (netlab, aiosmtpd):
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
    netlab_rate = arguments.count / netlab_seconds
    aiosmtpd_rate = arguments.count / aiosmtpd_seconds
    print(
        f"{arguments.count} messages of ~{arguments.size} bytes over one connection, smtplib client, "
        f"median of {arguments.rounds} alternating rounds"
    )
    print(f"netlab-mailsink (fsync): {netlab_rate:8.0f} messages/s  ({stored[0]} files)")
    print(f"aiosmtpd Mailbox:        {aiosmtpd_rate:8.0f} messages/s  ({stored[1]} files)")
    print(f"ratio netlab/aiosmtpd:   {netlab_rate / aiosmtpd_rate:8.2f}")


if __name__ == "__main__":
    main()
