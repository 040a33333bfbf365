"""
A real Prometheus (Debian's ``prometheus``, started here with a temporary
configuration on loopback, scraping every second) scrapes ``twistd -n
netlab-all``'s /metrics; the counters this test drives up must reach
Prometheus with the values the test caused.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.parse
import urllib.request

from twisted.trial.unittest import TestCase

from tests.helpers import require_program, start_process, start_server
from twisted_netlab.heartbeat._beat import encode_beat

_ANNOUNCED = re.compile(r"(\S+) listening on (\w+) (\S+) (\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusScrapeTests(TestCase):
    def start_netlab_all(self):
        home = self.mktemp()
        os.makedirs(home)
        server = start_server(
            self,
            [
                "netlab-all", "--http", "tcp:0:interface=127.0.0.1", "--echo-port", "0", "--heartbeat-port", "0",
                "--heartbeat-status", "tcp:0:interface=127.0.0.1", "--mail", "tcp:0:interface=127.0.0.1",
                "--mail-status", "tcp:0:interface=127.0.0.1", "--metrics", "tcp:0:interface=127.0.0.1",
            ],
            expect=7,
            timeout=60,
            env={"XDG_DATA_HOME": os.path.join(home, "data"), "XDG_CACHE_HOME": os.path.join(home, "cache")},
        )
        return {match.group(1): int(match.group(4)) for match in _ANNOUNCED.finditer(server.text)}

    def start_prometheus(self, target_port: int) -> int:
        binary = require_program("prometheus")
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        config = os.path.join(folder, "prometheus.yml")
        with open(config, "w") as handle:
            handle.write(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                "scrape_configs:\n  - job_name: netlab\n    static_configs:\n"
                f"      - targets: ['127.0.0.1:{target_port}']\n"
            )
        port = free_port()
        start_process(
            self,
            [
                binary, f"--config.file={config}", f"--storage.tsdb.path={os.path.join(folder, 'data')}",
                f"--web.listen-address=127.0.0.1:{port}", "--log.level=info",
            ],
            expect=0,
        ).read_until("Server is ready to receive web requests", timeout=60)
        return port

    def query(self, port: int, expression: str):
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expression})
        with urllib.request.urlopen(url, timeout=5) as response:
            document = json.load(response)
        return [(sample["metric"], float(sample["value"][1])) for sample in document["data"]["result"]]

    def wait_for(self, port: int, expression: str, expected: float, timeout: float = 30.0):
        """
        Poll Prometheus until C{expression} has one sample equal to
        C{expected}; fail with the last answer after C{timeout}.
        """
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            answer = self.query(port, expression)
            if [value for _, value in answer] == [expected]:
                return
            time.sleep(0.5)  # Prometheus scrapes once a second: poll, bounded
        self.fail(f"{expression}: expected {expected}, Prometheus answered {answer}")

    def test_prometheus_sees_driven_counters(self):
        """
        7 GETs of the bundled index, 5 datagrams to the echo and 3 beats to
        the monitor are seen by Prometheus as netlab_http_requests_total
        (GET, 2xx) = 7, netlab_echo_datagrams_received_total = 5 and
        netlab_heartbeat_beats_accepted_total = 3, with netlab_info's
        version label and the target up.
        """
        ports = self.start_netlab_all()
        prometheus = self.start_prometheus(ports["netlab-all-metrics"])
        for _ in range(7):
            with urllib.request.urlopen(f"http://127.0.0.1:{ports['netlab-http']}/", timeout=5) as response:
                self.assertEqual(response.status, 200)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            for sequence in range(5):
                udp.sendto(f"Ping {sequence} 0".encode(), ("127.0.0.1", ports["netlab-echo"]))
            now = time.time()
            for sequence in range(3):
                udp.sendto(encode_beat(sequence, now + sequence * 0.01), ("127.0.0.1", ports["netlab-heartbeat"]))
        self.wait_for(prometheus, 'up{job="netlab"}', 1)
        self.wait_for(prometheus, 'netlab_http_requests_total{method="GET",code="2xx"}', 7)
        self.wait_for(prometheus, "netlab_echo_datagrams_received_total", 5)
        self.wait_for(prometheus, "netlab_heartbeat_beats_accepted_total", 3)
        [(labels, value)] = self.query(prometheus, "netlab_info")
        self.assertEqual(value, 1)
        from twisted_netlab import __version__

        self.assertEqual(labels["version"], __version__)
