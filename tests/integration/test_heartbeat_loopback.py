"""
Integration: the real ``twistd -n netlab-heartbeat`` on loopback, fed by
``netlab beat`` and by a plain-socket sender written like the lab's.
Stops, recoveries and restarts are asserted from the figures the monitor
logs, not from the test's own timing.
"""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from twisted.trial.unittest import TestCase

from tests.helpers import child_env, executable, start_process, start_server
from twisted_netlab.heartbeat import encode_beat

PERIOD = 0.2
TIMEOUT = 1.0
#: Allowance for a loaded machine scheduling the sweep late.
SCHEDULING_SLACK = 0.5

#: The lab's client, as a student writes it: a plain UDP socket sending
#: "<seq> - <time>" every PERIOD.  It binds the source port it is given so
#: that the restarted process is the same client (by address).
LAB_SENDER = """
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[3])))
sequence = 0
while True:
    message = f"{sequence} - {time.time()}"
    sock.sendto(message.encode(), (sys.argv[1], int(sys.argv[2])))
    print("sent", message, flush=True)
    sequence += 1
    time.sleep(float(sys.argv[4]))
"""


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


STOPPED = r"{client} stopped \(was \w+\): silent ([\d.]+) s, phi (?:[\d.]+|> 100), timeout ([\d.]+) s, sweep ([\d.]+) s, last sequence (\d+)"


class HeartbeatLoopbackTests(TestCase):
    def setUp(self):
        self.monitor = start_server(
            self,
            ["netlab-heartbeat", "--port", "0", "--period", str(PERIOD), "--timeout", str(TIMEOUT),
             "--status", "tcp:0:interface=127.0.0.1", "--verbose"],
            expect=2,
            timeout=40,
        )
        self.udp_port, self.status_port = (port for _, _, port in self.monitor.ports)
        self.log = self.monitor

    def spawn(self, command):
        """
        Start a sender; it is killed (SIGKILL, as a crash) on cleanup.
        """
        child = start_process(self, command, expect=0)
        self.addCleanup(child.stop, signal.SIGKILL)
        return child.process

    def netlab_beat(self, client_id):
        return self.spawn([executable("netlab"), "beat", "127.0.0.1", str(self.udp_port),
                           "--interval", str(PERIOD), "--id", client_id])

    def assert_stopped_in_time(self, client):
        """
        Wait for the stop line and check its figures: the silence when the
        stop was declared is at least the timeout and at most timeout + one
        sweep (plus scheduling slack on a loaded machine).
        """
        found = self.log.expect(STOPPED.format(client=re.escape(client)))
        silence, timeout, sweep = float(found.group(1)), float(found.group(2)), float(found.group(3))
        self.assertEqual(timeout, TIMEOUT)
        self.assertGreaterEqual(silence, timeout)
        self.assertLessEqual(silence, timeout + sweep + SCHEDULING_SLACK)
        return int(found.group(4))

    def status(self):
        url = f"http://127.0.0.1:{self.status_port}/status.json?limit=1000"
        with urllib.request.urlopen(url, timeout=10) as response:
            return {c["client"]: c for c in json.load(response)["clients"]}

    def test_netlab_beat_stop_recover_restart(self):
        """
        netlab beat --id: alive; killed: stopped within timeout + one sweep;
        started again: restarted (new boot id, sequence back to 0) and
        recovered.  Ctrl+C then ends it with exit 0 and a summary.
        """
        sender = self.netlab_beat("alpha")
        self.log.expect(r"alpha alive \(was new\)")
        self.log.expect(r"alpha beat 3 on time")
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        last = self.assert_stopped_in_time("alpha")
        self.assertGreaterEqual(last, 3)
        self.assertEqual(self.status()["alpha"]["state"], "stopped")

        again = self.netlab_beat("alpha")
        found = self.log.expect(r"alpha restarted: sequence (\d+) -> 0")
        self.assertEqual(int(found.group(1)), last)
        self.log.expect(r"alpha recovered \(was stopped\): silent ([\d.]+) s.* restarts 1")
        self.log.expect(r"alpha beat 2 on time")
        row = self.status()["alpha"]
        self.assertEqual((row["state"], row["restarts"], row["lost"]), ("recovered", 1, 0))

        again.send_signal(signal.SIGINT)
        out, err = again.communicate(timeout=20)
        self.assertEqual(again.returncode, 0, err)
        self.assertRegex(out, r"\d+ beats sent in [\d.]+ s \(interval 0.2 s\), boot [0-9a-f]{16}")

    def test_lab_sender_stop_and_restart(self):
        """
        A plain-socket lab sender in the classic format: tracked by address;
        killed: stopped in time; started again on the same port: restart
        (sequence back to 0) and recovery.
        """
        source_port = free_udp_port()
        command = [sys.executable, "-c", LAB_SENDER, "127.0.0.1", str(self.udp_port), str(source_port), str(PERIOD)]
        client = f"127.0.0.1:{source_port}"
        sender = self.spawn(command)
        self.log.expect(re.escape(client) + r" alive \(was new\)")
        self.log.expect(re.escape(client) + r" beat 2 on time: 0\.\d+ s since last, offset [+-]0\.\d+ s")
        sender.kill()
        sender.wait(10)
        last = self.assert_stopped_in_time(client)

        self.spawn(command)
        found = self.log.expect(re.escape(client) + r" restarted: sequence (\d+) -> 0")
        self.assertEqual(int(found.group(1)), last)
        self.log.expect(re.escape(client) + r" recovered \(was stopped\)")

    def test_junk_does_not_disturb(self):
        """
        Malformed and oversized datagrams are counted, reported once, and
        create no client; a real beat right after is tracked.
        """
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for payload in (b"HELLO", b"\xff" * 4000, b"1 - nan", b"0 - 5"):
                sock.sendto(payload, ("127.0.0.1", self.udp_port))
            self.log.expect(r"rejected datagram from 127\.0\.0\.1:\d+: malformed \(.*\): \"HELLO\"")
            sock.sendto(f"0 - {time.time()}".encode(), ("127.0.0.1", self.udp_port))
            port = sock.getsockname()[1]
        self.log.expect(rf"127\.0\.0\.1:{port} alive \(was new\)")
        self.assertEqual(list(self.status()), [f"127.0.0.1:{port}"])
        self.assertEqual(sum(1 for line in self.monitor.output if "rejected datagram" in line), 1)

    def test_status_page_refuses_foreign_host(self):
        """
        DNS rebinding: the real status page answers Host: evil.example.com
        with 403 and no data, and Host: 127.0.0.1 with the summary.
        """
        for host, code in ((b"evil.example.com", b"403"), (b"127.0.0.1", b"200")):
            with socket.create_connection(("127.0.0.1", self.status_port), timeout=10) as sock:
                sock.sendall(b"GET /status.json HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n")
                answer = b""
                while True:
                    data = sock.recv(65536)
                    if not data:
                        break
                    answer += data
            self.assertTrue(answer.startswith(b"HTTP/1.1 " + code), answer[:100])
            self.assertEqual(b"clients_total" in answer, code == b"200")


class SignedLoopbackTests(TestCase):
    def test_signed_beats_only(self):
        """
        With --key-file on both sides, netlab beat's signed beats are
        tracked; an unsigned beat, a beat signed with another key and a
        replay of a beat netlab beat printed are dropped and counted, and
        none creates a client.
        """
        key_file = self.mktemp()
        with open(key_file, "wb") as handle:
            handle.write(b"correct horse battery staple 42\n")
        os.chmod(key_file, 0o600)
        other_key = self.mktemp()
        with open(other_key, "wb") as handle:
            handle.write(b"another key, also long enough\n")
        os.chmod(other_key, 0o600)
        monitor = start_server(
            self,
            ["netlab-heartbeat", "--port", "0", "--period", "0.2", "--key-file", key_file,
             "--status", "tcp:0:interface=127.0.0.1", "--verbose"],
            expect=2,
            timeout=40,
        )
        udp_port, status_port = (port for _, _, port in monitor.ports)
        beat = [executable("netlab"), "beat", "127.0.0.1", str(udp_port), "--interval", "0.2", "--count", "3"]
        result = subprocess.run(beat + ["--id", "signed", "--key-file", key_file], capture_output=True, text=True,
                                timeout=60, env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)
        monitor.expect(r"signed beat 2 on time")
        first_beat = re.search(r"beat 0 to \S+: (.+ mac=[0-9a-f]{64})", result.stdout).group(1)

        forged = subprocess.run(beat + ["--id", "intruder", "--key-file", other_key], capture_output=True,
                                timeout=60, env=child_env())
        self.assertEqual(forged.returncode, 0)
        marker = encode_beat(0, time.time(), client_id="marker", boot="0" * 16,
                             key=b"correct horse battery staple 42")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(first_beat.encode(), ("127.0.0.1", udp_port))
            sock.sendto(f"0 - {time.time()}".encode(), ("127.0.0.1", udp_port))
            sock.sendto(marker, ("127.0.0.1", udp_port))  # processed after the two above
        monitor.expect(r"marker alive \(was new\)")
        with urllib.request.urlopen(f"http://127.0.0.1:{status_port}/status.json?limit=10", timeout=10) as response:
            document = json.load(response)
        counters = document["counters"]
        self.assertEqual((counters["accepted"], counters["forged"], counters["replayed"], counters["unsigned"]),
                         (4, 3, 1, 1))
        self.assertEqual(sorted(c["client"] for c in document["clients"]), ["marker", "signed"])
