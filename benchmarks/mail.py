"""
Benchmark: 1,000 messages over one connection, sent by twisted-netlab's
L{send_messages} (RSET between messages, as the library does) and by the
standard library's C{smtplib} doing the same, to two servers in one run:

- aiosmtpd (child process; it does not offer PIPELINING), and
- ``twistd -n netlab-mailsink --storage discard`` (child process; offers
  PIPELINING; the benchmark-only discard storage keeps the server from
  being the bottleneck).

Rounds alternate netlab / smtplib for each server; the best rate of each
is reported, and the median of the per-round ratios (the machine is shared:
a pair of back-to-back runs sees about the same load).  Plain TCP, no AUTH: this measures the SMTP engines, not TLS.

    .venv/bin/python benchmarks/mail.py [--count 1000] [--size 2000] [--rounds 3] [--profile FILE]
"""

from __future__ import annotations

import argparse
import os
import re
import smtplib
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
BIN = os.path.dirname(sys.executable)

SERVER = """
import sys, threading
sys.path.insert(0, {repo!r})
from tests.mail.aiosmtpd_peer import AiosmtpdPeer

class CountingHandler:
    count = 0
    async def handle_DATA(self, server, session, envelope):
        CountingHandler.count += 1
        return "250 OK"

peer = AiosmtpdPeer(strict=False)
peer.handler = CountingHandler()
peer.start()
print(peer.port, flush=True)
sys.stdin.read()
print(CountingHandler.count, flush=True)
peer.stop()
"""


def make_message(size: int, number: int) -> bytes:
    body = ("x" * 70 + "\r\n") * max(1, size // 72)
    return f"From: a@example.com\r\nTo: b@example.com\r\nSubject: message {number}\r\n\r\n{body}".encode()


def run_smtplib(port: int, messages: List[bytes], cpu: List[float]) -> float:
    start, start_cpu = time.perf_counter(), time.process_time()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        for message in messages:
            client.sendmail("a@example.com", ["b@example.com"], message)
            client.rset()
    cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def start_aiosmtpd() -> Any:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(repo=REPO)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    return server, int(server.stdout.readline())


def start_sink() -> Any:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""), PYTHONUNBUFFERED="1")
    data = os.path.join("/tmp", f"netlab-mail-bench-{os.getpid()}")
    sink = subprocess.Popen(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=/dev/null", "netlab-mailsink",
         "--listen", "tcp:0:interface=127.0.0.1", "--no-tls", "--data-dir", data, "--hostname", "bench.test",
         "--storage", "discard"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True, env=env,
    )
    # twistd logs "listening" to its log file; discard storage logs nothing per
    # message, so find the port from /proc instead of parsing output.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        port = _listening_port(sink.pid)
        if port:
            return sink, port, data
        if sink.poll() is not None:
            raise SystemExit(f"netlab-mailsink exited: {sink.stdout.read()}")
        time.sleep(0.1)
    raise SystemExit("netlab-mailsink did not start")


def _listening_port(pid: int) -> int:
    inodes = set()
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{name}")
            match = re.match(r"socket:\[(\d+)\]", target)
            if match:
                inodes.add(match.group(1))
        with open("/proc/net/tcp") as handle:
            for line in handle.readlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and fields[9] in inodes:
                    return int(fields[1].split(":")[1], 16)
    except OSError:
        return 0
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2000, help="approximate message size in bytes")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", help="write a cProfile of the netlab client rounds to FILE")
    arguments = parser.parse_args()
    from twisted.internet import defer, reactor

    from twisted_netlab.mail import Envelope, TLSMode, send_messages

    raw = [make_message(arguments.size, n) for n in range(arguments.count)]
    envelopes = [Envelope("a@example.com", ("b@example.com",), m) for m in raw]
    aiosmtpd, aiosmtpd_port = start_aiosmtpd()
    sink, sink_port, sink_data = start_sink()
    results: Dict[str, Dict[str, List[float]]] = {}
    failures: List[Any] = []
    profiler = None
    if arguments.profile:
        import cProfile

        profiler = cProfile.Profile(time.process_time)

    @defer.inlineCallbacks
    def run() -> Any:
        for name, port in [("aiosmtpd", aiosmtpd_port), ("netlab-mailsink", sink_port)]:
            rates = results.setdefault(name, {"netlab": [], "smtplib": [], "netlab_cpu": [], "smtplib_cpu": []})
            for _ in range(arguments.rounds):
                start, start_cpu = time.perf_counter(), time.process_time()
                if profiler is not None:
                    profiler.enable()
                outcome = yield send_messages(
                    reactor, "127.0.0.1", envelopes, port=port, tls=TLSMode.NONE, timeout_seconds=60
                )
                if profiler is not None:
                    profiler.disable()
                seconds = time.perf_counter() - start
                rates["netlab_cpu"].append(time.process_time() - start_cpu)
                assert all(r.delivered for r in outcome), [r for r in outcome if not r.delivered][:1]
                rates["netlab"].append(arguments.count / seconds)
                # smtplib blocks the reactor thread; nothing else runs meanwhile.
                rates["smtplib"].append(arguments.count / run_smtplib(port, raw, rates["smtplib_cpu"]))

    def go() -> None:
        d = run()
        d.addErrback(failures.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    try:
        reactor.run()
        aiosmtpd.stdin.close()
        stored = int(aiosmtpd.stdout.readline() or 0)
        aiosmtpd.wait(20)
    finally:
        # Never leave a server behind, whatever happened above.
        for child in (aiosmtpd, sink):
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()
        subprocess.run(["rm", "-rf", sink_data])
    if failures:
        failures[0].raiseException()
    if profiler is not None:
        profiler.dump_stats(arguments.profile)
    print(
        f"{arguments.count} messages of ~{arguments.size} bytes over one connection per round, "
        f"{arguments.rounds} rounds, each a netlab run then an smtplib run"
    )
    print(f"{'server':<50}{'netlab msg/s':>14}{'smtplib msg/s':>15}{'best/best':>11}{'median pair':>13}")
    for name, label in [("aiosmtpd", "aiosmtpd (no PIPELINING)"), ("netlab-mailsink", "netlab-mailsink --storage discard (PIPELINING)")]:
        netlab_rate, smtplib_rate = max(results[name]["netlab"]), max(results[name]["smtplib"])
        pairs = statistics.median(a / b for a, b in zip(results[name]["netlab"], results[name]["smtplib"]))
        print(
            f"{label:<50}{netlab_rate:>14.0f}{smtplib_rate:>15.0f}{netlab_rate / smtplib_rate:>11.2f}{pairs:>13.2f}"
        )
        rounds = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(results[name]["netlab"], results[name]["smtplib"]))
        print(f"    rounds netlab/smtplib: {rounds}")
        cpu = [min(results[name][key]) * 1e6 / arguments.count for key in ("netlab_cpu", "smtplib_cpu")]
        print(f"    client CPU per message (least of the rounds): netlab {cpu[0]:.0f} us, smtplib {cpu[1]:.0f} us")
    print(f"aiosmtpd counted {stored} messages (expected {2 * arguments.count * arguments.rounds})")


if __name__ == "__main__":
    main()
