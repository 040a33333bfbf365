"""
Benchmark: 1,000 messages over one connection, sent by twisted-netlab's
L{send_messages} and by the standard library's C{smtplib} doing the same
exchange (EHLO once, then MAIL, RCPT, DATA and the content per message; no
RSET, since a completed transaction already resets the server and netlab
sends none then), to two servers in one run:

- aiosmtpd (child process; it does not offer PIPELINING), and
- ``twistd -n netlab-mailsink --storage discard`` (child process; offers
  PIPELINING; the benchmark-only discard storage keeps the server from
  being the bottleneck).

Every round of every client runs in a fresh process of its own
(``--before DIR`` adds a round of the netlab client code in DIR, e.g. an
unpacked older commit, in the same run).
Each round runs netlab [/ before] / smtplib for each server, in reverse
order every other round; the best rate of each is reported, and the median
of the per-round ratios (the machine is shared: runs back to back see about
the same load).  Plain TCP, no AUTH:
this measures the SMTP engines, not TLS.

    .venv/bin/python benchmarks/mail.py [--count 1000] [--size 2000] [--rounds 5]
        [--before DIR] [--profile PREFIX]

C{--profile PREFIX} writes a cProfile of the netlab client rounds against
each server to PREFIX.aiosmtpd and PREFIX.netlab-mailsink (profiled rounds
are slower: use the rates of a run without it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


CLIENT = """
import cProfile, json, sys, time
sys.path[:0] = [sys.argv[1], {benchmarks!r}]
from mail import make_message
from twisted.internet import reactor
import twisted_netlab
from twisted_netlab.mail import Envelope, TLSMode, send_messages
assert twisted_netlab.__file__.startswith(sys.argv[1]), (twisted_netlab.__file__, sys.argv[1])

port, count, size, profile = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
envelopes = [Envelope("a@example.com", ("b@example.com",), make_message(size, n)) for n in range(count)]
measured = {{}}
profiler = cProfile.Profile(time.process_time) if profile else None

def go():
    start, start_cpu = time.perf_counter(), time.process_time()
    if profiler is not None:
        profiler.enable()
    d = send_messages(reactor, "127.0.0.1", envelopes, port=port, tls=TLSMode.NONE, timeout_seconds=60)

    def done(outcome):
        if profiler is not None:
            profiler.disable()
        measured["seconds"] = time.perf_counter() - start
        measured["cpu"] = time.process_time() - start_cpu
        failed = [r for r in outcome if not r.delivered]
        measured["failed"] = len(failed)
        measured["first_failure"] = str(failed[0].error) if failed else None

    d.addCallback(done)
    d.addErrback(lambda f: measured.update(error=f.getErrorMessage()))
    d.addBoth(lambda _: reactor.stop())

reactor.callWhenRunning(go)
reactor.run()
if profiler is not None:
    profiler.dump_stats(profile)
print(json.dumps(measured), flush=True)
"""


#: --minimal: a responder that parses nothing and answers at once (no
#: PIPELINING), so the rates and CPU figures are the clients' own.
MINIMAL = r"""
import socket, sys
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(5)
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    connection.sendall(b"220 minimal ESMTP\r\n")
    buffered, in_data = b"", False
    while True:
        chunk = connection.recv(65536)
        if not chunk:
            break
        buffered += chunk
        replies = []
        while True:
            if in_data:
                end = 0 if buffered.startswith(b".\r\n") else buffered.find(b"\r\n.\r\n") + 2
                if end < 2 and not buffered.startswith(b".\r\n"):
                    break
                buffered, in_data = buffered[end + 3:], False
                replies.append(b"250 2.0.0 Ok: queued\r\n")
                continue
            end = buffered.find(b"\r\n")
            if end < 0:
                break
            verb, buffered = buffered[:4].upper(), buffered[end + 2:]
            if verb == b"EHLO":
                replies.append(b"250-minimal\r\n250-SIZE 33554432\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                replies.append(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                in_data = True
            elif verb == b"QUIT":
                replies.append(b"221 Bye\r\n")
            else:
                replies.append(b"250 2.1.0 Ok\r\n")
        if replies:
            connection.sendall(b"".join(replies))
    connection.close()
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
    cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def run_smtplib_child(port: int, arguments: Any, cpu: List[float]) -> float:
    """
    One smtplib round in a child process, started like a netlab round (a
    fresh process each time for both clients, so neither has the warm one).
    """
    code = (
        f"import json, sys; sys.path.insert(0, {os.path.join(REPO, 'benchmarks')!r}); import mail; cpu = []\n"
        f"raw = [mail.make_message({arguments.size}, n) for n in range({arguments.count})]\n"
        f"seconds = mail.run_smtplib({port}, raw, cpu)\n"
        "print(json.dumps({'seconds': seconds, 'cpu': cpu[0]}))"
    )
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    if child.returncode != 0:
        raise SystemExit(f"smtplib client failed: {child.stderr.strip()[-2000:]}")
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    cpu.append(measured["cpu"])
    return float(measured["seconds"])


def run_netlab(code: str, port: int, arguments: Any, cpu: List[float], profile: str = "") -> float:
    """
    One netlab round in a child process running the client code under
    C{code}; returns its seconds (the child measures around send_messages).
    """
    child = subprocess.run(
        [sys.executable, "-c", CLIENT.format(benchmarks=os.path.join(REPO, "benchmarks")), code, str(port),
         str(arguments.count), str(arguments.size), profile],
        capture_output=True, text=True, timeout=600,
    )
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        raise SystemExit(f"netlab client ({code}) failed: {child.stderr.strip()[-2000:]}")
    measured = json.loads(lines[-1])
    if "error" in measured or measured["failed"]:
        raise SystemExit(f"netlab client ({code}): {measured}")
    cpu.append(measured["cpu"])
    return float(measured["seconds"])


def cpu_seconds(pid: int) -> float:
    """
    User plus system CPU time of process C{pid} so far (/proc/PID/stat).
    """
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    # twistd logs "listening" to its log file, which is /dev/null here (discard
    # storage logs no line per message), so find the port from /proc instead
    # of parsing output.
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
    parser.add_argument("--before", metavar="DIR", help="also run the netlab client found in DIR (same run, interleaved)")
    parser.add_argument("--profile", metavar="PREFIX", help="write cProfiles of the netlab rounds to PREFIX.<server>")
    parser.add_argument("--minimal", action="store_true", help="also measure against a responder that parses nothing")
    arguments = parser.parse_args()
    clients = [("netlab", REPO)] + ([("before", os.path.abspath(arguments.before))] if arguments.before else [])
    aiosmtpd, aiosmtpd_port = start_aiosmtpd()
    sink, sink_port, sink_data = start_sink()
    servers = [("aiosmtpd", aiosmtpd_port, aiosmtpd), ("netlab-mailsink", sink_port, sink)]
    if arguments.minimal:
        minimal = subprocess.Popen([sys.executable, "-c", MINIMAL], stdout=subprocess.PIPE, text=True)
        servers.append(("minimal", int(minimal.stdout.readline()), minimal))
    results: Dict[str, Dict[str, List[float]]] = {}
    profiles = tempfile.mkdtemp(prefix="netlab-mail-profile-") if arguments.profile else None
    try:
        for name, port, server in servers:
            rates = results.setdefault(name, {})
            for number in range(arguments.rounds):
                # ABBA order: a load that drifts during a round favours
                # neither client.
                order = clients + [("smtplib", "")]
                for label, code in order if number % 2 == 0 else order[::-1]:
                    server_start = cpu_seconds(server.pid)
                    if label == "smtplib":
                        seconds = run_smtplib_child(port, arguments, rates.setdefault("smtplib_cpu", []))
                    else:
                        profile = ""
                        if profiles is not None and label == "netlab":
                            profile = os.path.join(profiles, f"{name}.{number}")
                        seconds = run_netlab(code, port, arguments, rates.setdefault(label + "_cpu", []), profile)
                    rates.setdefault(label + "_server", []).append(cpu_seconds(server.pid) - server_start)
                    rates.setdefault(label, []).append(arguments.count / seconds)
            if profiles is not None:
                import pstats

                names = [os.path.join(profiles, f"{name}.{n}") for n in range(arguments.rounds)]
                pstats.Stats(*names).dump_stats(f"{arguments.profile}.{name}")
        aiosmtpd.stdin.close()
        stored = int(aiosmtpd.stdout.readline() or 0)
        aiosmtpd.wait(20)
    finally:
        # Never leave a server behind, whatever happened above.
        for _, _, child in servers:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(20)
                except subprocess.TimeoutExpired:
                    child.kill()
        subprocess.run(["rm", "-rf", sink_data] + ([profiles] if profiles else []))
    order = " / ".join(label for label, _ in clients + [("smtplib", "")])
    print(
        f"{arguments.count} messages of ~{arguments.size} bytes over one connection per round, "
        f"{arguments.rounds} rounds, each {order} (reversed every other round); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(f"{'server':<50}{'client':>8}{'msg/s':>8}{'smtplib':>9}{'best/best':>11}{'median pair':>13}")
    titles = {
        "aiosmtpd": "aiosmtpd (no PIPELINING)",
        "netlab-mailsink": "netlab-mailsink --storage discard (PIPELINING)",
        "minimal": "minimal responder (no PIPELINING)",
    }
    for name, _, _ in servers:
        title = titles[name]
        rates = results[name]
        smtplib_best = max(rates["smtplib"])
        for label, _ in clients:
            best = max(rates[label])
            pairs = statistics.median(a / b for a, b in zip(rates[label], rates["smtplib"]))
            print(f"{title:<50}{label:>8}{best:>8.0f}{smtplib_best:>9.0f}{best / smtplib_best:>11.2f}{pairs:>13.2f}")
            title = ""
        for label, _ in clients:
            rounds = ", ".join(f"{a:.0f}/{b:.0f}" for a, b in zip(rates[label], rates["smtplib"]))
            print(f"    rounds {label}/smtplib: {rounds}")
        cpu = ", ".join(
            f"{label} {min(rates[label + '_cpu']) * 1e6 / arguments.count:.0f} us"
            for label in [label for label, _ in clients] + ["smtplib"]
        )
        print(f"    client CPU per message (least of the rounds): {cpu}")
        cpu = ", ".join(
            f"{label} {statistics.median(rates[label + '_server']) * 1e6 / arguments.count:.0f} us"
            for label in [label for label, _ in clients] + ["smtplib"]
        )
        print(f"    server CPU per message (median of the rounds), with {cpu}")
    print(f"aiosmtpd counted {stored} messages (expected {len(clients + [('smtplib', '')]) * arguments.count * arguments.rounds})")


if __name__ == "__main__":
    main()
