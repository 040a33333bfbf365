"""
Benchmark: ``twistd -n netlab-heartbeat`` tracking N simulated clients at
1 beat/s each on loopback (N = 1,000 and 10,000 by default).

A simulator process sends the N clients' beats spread evenly over each
second (extended format, one id and boot id per client, one socket).  A
separate ``netlab beat --id victim`` is killed mid-run.  Reported per N:

  - the monitor's CPU share (utime + stime from /proc/PID/stat over the
    measured window; the kernel's part is stime), beats accepted per
    wake-up (voluntary context switches: one per epoll_wait that had to
    wait) and RSS (VmRSS, VmHWM from /proc/PID/status);
  - beats sent by the simulator vs accepted by the monitor (status JSON);
  - false alarms: simulated clients ever reported suspect or stopped;
  - the victim's detection delay: silence when suspected (phi) and when
    declared stopped, from the monitor's own log figures, and the wall
    time from the kill to the stop line.

With ``--pollers K``, K threads also fetch the status page (``/`` and
``/status.json?limit=1000``) in a loop during the measured window, and a
probe fetches the summary every 0.5 s: its median and worst latency show
what page rendering costs everyone else on the reactor thread.

Usage: .venv/bin/python benchmarks/heartbeat.py [--clients 1000,10000]
       [--seconds 15] [--timeout 5] [--pollers 0] [--rounds 1] [--code DIR]
       [--read-pause DURATION] [--profile FILE]
       .venv/bin/python benchmarks/heartbeat.py --in-process [--clients 10000]
       .venv/bin/python benchmarks/heartbeat.py --render 100000
The last two run in this process, without sockets: the monitor's CPU per
beat (median of --rounds, at least 5) and what one status page request
costs at N clients; on a busy machine they are steadier than the CPU share.
Linux only (/proc).  Runs about (seconds + 7) s per N and round.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
BIN = os.path.dirname(sys.executable)
LISTENING = re.compile(r"listening on (\w+) (\S+) (\d+)")

SIMULATOR = r"""
import os, socket, sys, time
host, port, clients, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
address = (host, port)
tails = [f" id=c{i} boot={os.urandom(8).hex()}".encode() for i in range(clients)]
start = time.time() + 0.2
end = start + seconds
sent = 0
k = 0
i = 0
while True:
    due = start + k + i / clients
    if due >= end:
        break
    delay = due - time.time()
    if delay > 0.002:
        time.sleep(delay)
    sock.sendto(b"%d - %.6f" % (k, time.time()) + tails[i], address)
    sent += 1
    i += 1
    if i == clients:
        i = 0
        k += 1
print("sent", sent, flush=True)
"""


class Watched:
    """
    A child whose output lines are collected by a thread.
    """

    def __init__(self, command, env):
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines = []
        self.condition = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self.condition:
                self.lines.append((time.monotonic(), line))
                self.condition.notify_all()

    def wait_for(self, pattern, timeout, start=0):
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        position = start
        with self.condition:
            while True:
                while position < len(self.lines):
                    at, line = self.lines[position]
                    position += 1
                    found = compiled.search(line)
                    if found:
                        return at, found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise RuntimeError(f"timed out waiting for {pattern!r}:\n" + "".join(l for _, l in self.lines[-20:]))
                self.condition.wait(remaining)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def cpu_split(pid):
    """
    (user, system) CPU seconds of C{pid} so far.
    """
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / ticks, int(fields[12]) / ticks  # utime, stime


def wakeups(pid):
    """
    How often C{pid} has blocked and been woken (voluntary context
    switches: one per epoll_wait that had to wait).
    """
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def memory_kib(pid):
    values = {}
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                values[name] = int(rest.split()[0])
    return values


def udp_drops(port):
    """
    The kernel's drop counter for the UDP socket bound to C{port}
    (receive buffer full), from /proc/net/udp.
    """
    drops = 0
    suffix = ":%04X" % port
    with open("/proc/net/udp") as handle:
        next(handle)
        for line in handle:
            fields = line.split()
            if fields[1].endswith(suffix):
                drops += int(fields[-1])
    return drops


def status(port, query=""):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/status.json{query}", timeout=30) as response:
        return json.load(response)


def all_clients(port):
    """
    Every client row, fetched a page (1,000 rows) at a time (a monitor
    older than pagination sends them all at once).
    """
    rows = []
    while True:
        document = status(port, f"?limit=1000&offset={len(rows)}")
        rows.extend(document["clients"])
        if "limit" not in document or len(document["clients"]) < 1000:
            return rows


class Pollers:
    """
    C{count} threads fetching the page in a loop, and a probe timing the
    summary every 0.5 s, until stopped.
    """

    def __init__(self, port, count):
        self.port = port
        self.running = True
        self.fetches = 0
        self.probe_seconds = []
        self.threads = [threading.Thread(target=self._poll, daemon=True) for _ in range(count)]
        if count:
            self.threads.append(threading.Thread(target=self._probe, daemon=True))
        for thread in self.threads:
            thread.start()

    def _poll(self):
        while self.running:
            for path in ("/", "/status.json?limit=1000"):
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=60) as response:
                    response.read()
                self.fetches += 1

    def _probe(self):
        while self.running:
            started = time.monotonic()
            status(self.port)
            self.probe_seconds.append(time.monotonic() - started)
            time.sleep(0.5)

    def stop(self):
        self.running = False
        for thread in self.threads:
            thread.join(60)


def run(clients, seconds, timeout, env, pollers=0, profile=None, read_pause=None):
    profiling = ["--profile", profile, "--profiler", "cprofile", "--savestats"] if profile else []
    pausing = ["--read-pause", read_pause] if read_pause is not None else []
    monitor = Watched(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=-", *profiling, "netlab-heartbeat", "--port", "0",
         "--period", "1", "--timeout", str(timeout), "--quiet", "--max-clients", str(clients + 10),
         "--status", "tcp:0:interface=127.0.0.1", *pausing],
        env,
    )
    victim = simulator = None
    try:
        _, udp = monitor.wait_for(LISTENING.pattern, 30)
        _, tcp = monitor.wait_for(r"status " + LISTENING.pattern, 30)
        udp_port, status_port = int(udp.group(3)), int(tcp.group(3))
        pid = monitor.process.pid
        warmup = 3.0
        simulator = Watched(
            [sys.executable, "-c", SIMULATOR, "127.0.0.1", str(udp_port), str(clients), str(warmup + seconds + 2)],
            env,
        )
        victim = Watched(
            [os.path.join(BIN, "netlab"), "beat", "127.0.0.1", str(udp_port), "--interval", "1", "--id", "victim", "-q"],
            env,
        )
        monitor.wait_for(r"victim alive", 30)
        time.sleep(warmup)  # let every simulated client appear before measuring
        polling = Pollers(status_port, pollers)
        accepted_start = status(status_port)["counters"]["accepted"]
        (user_start, system_start), wakeups_start = cpu_split(pid), wakeups(pid)
        cpu_start, wall_start = user_start + system_start, time.monotonic()
        warmup_drops = udp_drops(udp_port)
        time.sleep(seconds / 2)
        mark = len(monitor.lines)
        killed_at = time.monotonic()
        victim.process.send_signal(signal.SIGKILL)
        victim.process.wait()
        seen_at, stopped = monitor.wait_for(r"victim stopped \(was (\w+)\): silent ([\d.]+) s", timeout + 10, mark)
        suspect = None
        if stopped.group(1) == "suspect":
            try:
                _, suspect = monitor.wait_for(r"victim suspect \(was alive\): silent ([\d.]+) s, phi ([\d.]+|> 100)", 1, mark)
            except RuntimeError:  # suspected before the kill (a loaded machine delayed its beats)
                suspect = None
        remaining = seconds - (time.monotonic() - wall_start)
        if remaining > 0:
            time.sleep(remaining)
        (user_end, system_end), wakeups_end = cpu_split(pid), wakeups(pid)
        cpu_used, wall = user_end + system_end - cpu_start, time.monotonic() - wall_start
        accepted_window = status(status_port)["counters"]["accepted"] - accepted_start
        polling.stop()
        memory = memory_kib(pid)
        simulator.process.wait(timeout + 30)
        _, sent = simulator.wait_for(r"sent (\d+)", 10)
        drops = udp_drops(udp_port)
        rows = all_clients(status_port)
        render_started = time.monotonic()
        status(status_port, "?limit=1000&offset=0")
        json_seconds = time.monotonic() - render_started
        simulated = [c for c in rows if c["client"] != "victim"]
        alarms = sum(
            1 for _, line in monitor.lines
            if re.search(r"\bc\d+ (suspect|stopped) \(was", line)
        )
        # Beats accepted for simulated clients (victim excluded).
        accepted = sum(c["beats"] for c in simulated)
        return {
            "clients": clients,
            "tracked": len(rows),
            "poll_fetches": polling.fetches,
            "probe_seconds": sorted(polling.probe_seconds),
            "kernel_drops": drops,
            "warmup_drops": warmup_drops,
            "json_seconds": json_seconds,
            "cpu_share": cpu_used / wall,
            "cpu_us_per_beat": cpu_used / max(1, accepted_window) * 1e6,
            "system_share": (system_end - system_start) / max(cpu_used, 1e-9),
            "beats_per_wakeup": accepted_window / max(1, wakeups_end - wakeups_start),
            "accepted_per_second": accepted_window / wall,
            "rss_mib": memory["VmRSS"] / 1024,
            "hwm_mib": memory["VmHWM"] / 1024,
            "sent": int(sent.group(1)),
            "accepted": accepted,
            "false_alarms": alarms,
            "suspect": (float(suspect.group(1)), suspect.group(2)) if suspect else None,
            "stop_silence": float(stopped.group(2)),
            "kill_to_stop_line": seen_at - killed_at,
            "timeout": timeout,
        }
    finally:
        for child in (victim, simulator, monitor):
            if child is not None:
                child.stop()


def in_process(clients, rounds, profile=None):
    """
    The monitor's own cost per beat, without sockets: N clients' beats fed
    to MonitorProtocol.datagramReceived (default logging to a do-nothing
    log observer, and the status page's history as ``--status`` wires it),
    CPU time per beat for each round of N beats, and the sweep.
    """
    import cProfile
    import pstats

    from twisted.internet.task import Clock
    from twisted.internet.testing import FakeDatagramTransport
    from twisted.logger import Logger

    from twisted_netlab.heartbeat import HeartbeatMonitor, LoggingObserver, MonitorProtocol, MonitorSettings

    start = 1_700_000_000.0
    clock = Clock()
    clock.rightNow = start
    monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0, max_clients=clients + 10))
    observers = [LoggingObserver(5.0, 0.5, all_beats=False, logger=Logger(observer=lambda event: None))]
    try:  # the status page's history, as netlab-heartbeat --status (and the socket benchmark) wires it
        from twisted_netlab.heartbeat._history import HistoryBook
    except ImportError:  # code older than the pictures
        pass
    else:
        observers.append(HistoryBook())
    try:
        protocol = MonitorProtocol(monitor, 0.5, observers, reactor=clock)
    except TypeError:  # code older than reactor= (PYTHONPATH=<old checkout> for a before figure)
        protocol = MonitorProtocol(monitor, 0.5, observers, clock=clock)
    protocol.makeConnection(FakeDatagramTransport())
    tails = [f" id=c{i} boot={os.urandom(8).hex()}".encode() for i in range(clients)]
    address = ("127.0.0.1", 40000)

    def feed(second):
        datagrams = [
            (start + second + i / clients, b"%d - %.6f" % (second, start + second + i / clients) + tails[i])
            for i in range(clients)
        ]
        receive = protocol.datagramReceived
        began = time.process_time()
        for at, data in datagrams:
            clock.rightNow = at
            receive(data, address)
        return time.process_time() - began

    feed(0)
    per_beat, sweeps = [], []
    profiler = cProfile.Profile() if profile else None
    for second in range(1, rounds + 1):
        if profiler is not None and second == rounds:
            profiler.enable()
        per_beat.append(feed(second) / clients * 1e6)
        if profiler is not None and second == rounds:
            profiler.disable()
        clock.rightNow = start + second + 0.99
        began = time.process_time()
        protocol.sweep()
        sweeps.append((time.process_time() - began) * 1000)
    middle = sorted(per_beat)[len(per_beat) // 2]
    print(
        f"in process, N={clients}: {middle:.2f} us CPU per beat (median of {rounds} rounds of {clients} beats; "
        f"each: {', '.join(f'{value:.2f}' for value in per_beat)}), sweep {sorted(sweeps)[len(sweeps) // 2]:.1f} ms; "
        f"at 1 beat/s per client that is {middle * clients / 1e4:.1f}% of a core before the reactor's UDP path",
        flush=True,
    )
    if profiler is not None:
        profiler.dump_stats(profile)
        pstats.Stats(profile).sort_stats("tottime").print_stats(15)


def render_cost(clients):
    """
    What the status page costs per request at N clients, in process: HTML,
    the default JSON summary and a 1,000-row JSON page, each first and then
    asked again before the next sweep (the kept rendering).
    """
    from twisted.internet.task import Clock
    from twisted.web.test.requesthelper import DummyRequest

    from twisted_netlab.heartbeat import HeartbeatMonitor, MonitorSettings, encode_beat, status_site

    start = 1_700_000_000.0
    clock = Clock()
    clock.rightNow = start
    monitor = HeartbeatMonitor(MonitorSettings(period=1.0, timeout=5.0, max_clients=clients + 10))
    for i in range(clients):
        monitor.datagram_received(encode_beat(0, start, client_id=f"c{i}", boot=f"{i:016x}"), ("127.0.0.1", 1), start + i / clients)
    clock.rightNow = start + 1.5
    site = status_site(monitor, reactor=clock)

    def get(path, args=None):
        request = DummyRequest(path.split(b"/")[1:] if path != b"/" else [b""])
        request.args = args or {}
        request.requestHeaders.setRawHeaders(b"host", [b"127.0.0.1:8090"])
        began = time.process_time()
        body = site.getResourceFor(request).render(request)
        return (time.process_time() - began) * 1000, len(body)

    began = time.process_time()
    monitor.sweep(clock.seconds())
    print(f"status page at N={clients} (in process): sweep {(time.process_time() - began) * 1000:.1f} ms", flush=True)
    offset = str(clients // 2).encode()
    for label, path, args in [
        ("/", b"/", None),
        ("/status.json", b"/status.json", None),
        (f"/status.json?limit=1000&offset={clients // 2}", b"/status.json", {b"limit": [b"1000"], b"offset": [offset]}),
    ]:
        first, size = get(path, args)
        again, _ = get(path, args)
        print(f"  {label}: {first:.1f} ms, {size} bytes; again before the next sweep {again:.2f} ms", flush=True)


def report(result, pollers):
    probes = result["probe_seconds"]
    polled = (
        f"; {pollers} pollers made {result['poll_fetches']} page fetches, summary probe "
        f"median {probes[len(probes) // 2] * 1000:.0f} ms, worst {probes[-1] * 1000:.0f} ms"
        if probes else ""
    )
    suspect = result["suspect"]
    print(
        f"N={result['clients']:>6}: monitor CPU {result['cpu_share'] * 100:5.1f}% of one core "
        f"({result['cpu_us_per_beat']:.1f} us per accepted beat, {result['system_share'] * 100:.0f}% of it in the kernel, "
        f"{result['accepted_per_second']:.0f} beats/s accepted, {result['beats_per_wakeup']:.1f} beats per wake-up), "
        f"RSS {result['rss_mib']:.1f} MiB (peak {result['hwm_mib']:.1f}), "
        f"beats accepted {result['accepted']}/{result['sent']} "
        f"({100 * result['accepted'] / max(1, result['sent']):.2f}%, kernel drops {result['kernel_drops']}, "
        f"{result['warmup_drops']} of them while {result['clients']} clients appeared), "
        f"false alarms {result['false_alarms']}, status.json (1,000 rows) {result['json_seconds'] * 1000:.0f} ms; "
        + (f"killed client suspected after {suspect[0]:.2f} s (phi {suspect[1]}), "
           if suspect else "killed client not suspected before the timeout, ")
        + f"stopped after {result['stop_silence']:.2f} s of silence (timeout {result['timeout']:g} s), "
        f"stop line {result['kill_to_stop_line']:.2f} s after the kill"
        + polled,
        flush=True,
    )


def median_of(rounds, key):
    values = sorted(r[key] for r in rounds)
    return values[len(values) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1000,10000")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured window per N")
    parser.add_argument("--timeout", type=float, default=5.0, help="monitor --timeout (period is 1 s)")
    parser.add_argument("--pollers", type=int, default=0, help="threads fetching the status page in a loop")
    parser.add_argument("--rounds", type=int, default=1, help="runs per N (medians reported when > 1)")
    parser.add_argument("--code", default=REPO, help="run the monitor from this checkout (before/after comparisons)")
    parser.add_argument("--read-pause", help="the monitor's --read-pause (e.g. 0, 5ms; default: the monitor's own)")
    parser.add_argument("--profile", help="run the monitor under cProfile, stats saved to this file, top printed")
    parser.add_argument("--in-process", action="store_true", help="feed the monitor in process (no sockets): CPU per beat")
    parser.add_argument("--render", type=int, help="only measure the status page's cost at this many clients, in process")
    arguments = parser.parse_args()
    if arguments.render:
        render_cost(arguments.render)
        return
    if arguments.in_process:
        for clients in [int(n) for n in arguments.clients.split(",")]:
            in_process(clients, max(arguments.rounds, 5), arguments.profile)
        return
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.abspath(arguments.code) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    results = []
    for clients in [int(n) for n in arguments.clients.split(",")]:
        rounds = []
        for _ in range(arguments.rounds):
            result = run(
                clients, arguments.seconds, arguments.timeout, env, arguments.pollers, arguments.profile, arguments.read_pause
            )
            rounds.append(result)
            report(result, arguments.pollers)
            if arguments.profile:
                import pstats

                pstats.Stats(arguments.profile).sort_stats("tottime").print_stats(15)
        if len(rounds) > 1:
            shares = ", ".join(f"{r['cpu_share'] * 100:.1f}" for r in rounds)
            alarms = ", ".join(str(r["false_alarms"]) for r in rounds)
            print(
                f"N={clients:>6}: median of {len(rounds)} rounds: monitor CPU "
                f"{median_of(rounds, 'cpu_share') * 100:.1f}% of one core (each: {shares}), "
                f"{median_of(rounds, 'cpu_us_per_beat'):.1f} us per accepted beat, "
                f"stop declared after {median_of(rounds, 'stop_silence'):.2f} s of silence "
                f"(timeout {arguments.timeout:g} s), false alarms {alarms}",
                flush=True,
            )
        results.append(sorted(rounds, key=lambda r: r["cpu_share"])[len(rounds) // 2])
    if len(results) > 1:
        base = results[0]
        for result in results[1:]:
            print(
                f"ratio N={result['clients']} / N={base['clients']}: "
                f"clients x{result['clients'] / base['clients']:.0f}, "
                f"CPU x{result['cpu_share'] / max(base['cpu_share'], 1e-9):.1f}, "
                f"RSS x{result['rss_mib'] / base['rss_mib']:.2f}, "
                f"CPU per 1,000 beats/s: {1000 * base['cpu_share'] / base['clients'] * 100:.2f}% -> "
                f"{1000 * result['cpu_share'] / result['clients'] * 100:.2f}% of a core"
            )


if __name__ == "__main__":
    main()
