"""
Integration: an impairment nobody here wrote.  Two network namespaces
joined by a veth pair (made by the test, removed afterwards), socat echoing
in one, nftables in it dropping 30% of the requests at random, and
``netlab ping`` in the other: the loss it reports must fall within the
binomial bounds.  Skipped, with the reason, where namespaces are forbidden.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import shutil
import subprocess

from twisted.trial.unittest import SkipTest, TestCase

from tests.helpers import child_env, executable, require_program, start_process

#: A test-only range (RFC 2544 benchmarking, 198.18.0.0/15), and only
#: inside the namespaces this test creates.
ECHO_ADDRESS = "198.18.0.1"
CLIENT_ADDRESS = "198.18.0.2"
PORT = 9000
DROP_PERCENT = 30
PROBES = 500
SIGMAS = 5.0

NFT_RULES = f"""
table inet netlab_ping_test {{
    chain input {{
        type filter hook input priority 0; policy accept;
        udp dport {PORT} numgen random mod 100 < {DROP_PERCENT} counter drop
    }}
}}
"""


def run(command, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, **kwargs)


class NamespaceLossTests(TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            raise SkipTest("network namespaces need root (ip netns add); not running as root")
        ip = shutil.which("ip")
        if ip is None:
            raise SkipTest("iproute2 (ip) is not installed")
        self.ip = ip
        self.nft = require_program("nft")
        self.socat = require_program("socat")
        tag = secrets.token_hex(3)
        self.echo_ns = f"netlab-ping-{tag}-echo"
        self.client_ns = f"netlab-ping-{tag}-client"
        for namespace in (self.echo_ns, self.client_ns):
            result = run([ip, "netns", "add", namespace])
            if result.returncode != 0:
                raise SkipTest(f"cannot create a network namespace here: {result.stderr.strip()}")
            self.addCleanup(run, [ip, "netns", "delete", namespace])
        # Both ends are created inside their namespaces, so nothing is ever
        # left in the host's namespace; deleting a namespace removes its end.
        self.check(
            ip, "link", "add", f"nlp{tag}e", "netns", self.echo_ns, "type", "veth",
            "peer", "name", f"nlp{tag}c", "netns", self.client_ns,
        )
        self.check(ip, "-n", self.echo_ns, "addr", "add", f"{ECHO_ADDRESS}/30", "dev", f"nlp{tag}e")
        self.check(ip, "-n", self.client_ns, "addr", "add", f"{CLIENT_ADDRESS}/30", "dev", f"nlp{tag}c")
        for namespace, device in ((self.echo_ns, f"nlp{tag}e"), (self.client_ns, f"nlp{tag}c")):
            self.check(ip, "-n", namespace, "link", "set", device, "up")
            self.check(ip, "-n", namespace, "link", "set", "lo", "up")

    def check(self, *command: str, stdin: str = None) -> None:
        result = subprocess.run(
            list(command), input=stdin, capture_output=True, text=True, timeout=30
        )
        if result.returncode != 0:
            self.fail(f"{' '.join(command)} failed: {result.stderr.strip()}")

    def test_nftables_random_drop_measured_within_binomial_bounds(self):
        """
        nftables drops 30% of the requests at random; over 500 probes the
        loss netlab ping reports lies within 30% +- 5 binomial standard
        deviations (about +-10 points), and every reply that did come back
        was matched to its own probe.  The probes lost are the ones
        nftables counted as dropped.
        """
        self.check(self.ip, "netns", "exec", self.echo_ns, self.nft, "-f", "-", stdin=NFT_RULES)
        socat = start_process(
            self,
            [self.ip, "netns", "exec", self.echo_ns, self.socat, "-d", "-d",
             f"UDP4-RECVFROM:{PORT},bind={ECHO_ADDRESS},fork", "PIPE"],
            expect=0,
        )
        socat.read_until(rf"receiving on AF=2 {ECHO_ADDRESS}:{PORT}\b", timeout=20)
        socat.drain()

        result = subprocess.run(
            [self.ip, "netns", "exec", self.client_ns, executable("netlab"), "ping",
             "-c", str(PROBES), "-i", "0.01", "-W", "1", "--json", ECHO_ADDRESS, str(PORT)],
            capture_output=True, text=True, timeout=120, env=child_env(), stdin=subprocess.DEVNULL,
        )
        self.assertEqual(result.returncode, 0, result.stderr + result.stdout[-2000:])
        report = json.loads(result.stdout)
        self.assertEqual(report["transmitted"], PROBES)
        self.assertEqual((report["corrupted"], report["foreign"], report["duplicates"]), (0, 0, 0))

        probability = DROP_PERCENT / 100.0
        sigma_percent = 100.0 * math.sqrt(probability * (1 - probability) / PROBES)
        low = DROP_PERCENT - SIGMAS * sigma_percent
        high = DROP_PERCENT + SIGMAS * sigma_percent
        loss = report["loss_percent"]
        self.assertTrue(low <= loss <= high, f"loss {loss:.1f}% outside [{low:.1f}, {high:.1f}]")
        # The loss is nftables' doing: its counter saw (nearly) every lost
        # probe; a couple more may be lost elsewhere (socat forks per packet).
        listing = run([self.ip, "netns", "exec", self.echo_ns, self.nft, "list", "ruleset"])
        dropped = int(re.search(r"counter packets (\d+)", listing.stdout).group(1))
        lost = report["transmitted"] - report["received"]
        self.assertTrue(0 <= lost - dropped <= 2, f"{lost} probes lost, nftables dropped {dropped}")
