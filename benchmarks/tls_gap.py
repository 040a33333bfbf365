"""
Benchmark: over TLS, the gap between a response's first byte and its last
for small files from a local ``twistd -n netlab-http`` on an ssl: endpoint
(certificate made here with the cryptography package), as ``netlab get
--timing`` and as curl (``-w``) see it, in the same run against the same
server.  A Nagle/delayed-ACK stall between head and body shows up as ~40 ms.

Usage: .venv/bin/python benchmarks/tls_gap.py [REQUESTS]   (default 30 per size)
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from tests.integration.test_http_loopback import make_certificate  # noqa: E402

BIN = os.path.join(os.path.dirname(sys.executable))
SIZES = (1000, 4096, 16000, 32768)


def start_server(folder, key, cert):
    log = os.path.join(folder, "server.log")
    server = subprocess.Popen(
        [os.path.join(BIN, "twistd"), "-n", "--pidfile=", f"--logfile={log}", "netlab-http",
         "--listen", f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}", "--path", folder],
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(log):
            found = re.search(r"netlab-http listening on tcp \S+ (\d+)", open(log).read())
            if found:
                return server, int(found.group(1))
        time.sleep(0.05)
    server.kill()
    raise SystemExit("netlab-http did not start")


def netlab_gaps(urls, cert):
    result = subprocess.run(
        [os.path.join(BIN, "netlab"), "get", "-s", "--timing", "--cafile", cert, *urls],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=120,
    )
    first = [float(v) for v in re.findall(r"first byte\s+([\d.]+) s", result.stderr)]
    total = [float(v) for v in re.findall(r"total\s+([\d.]+) s", result.stderr)]
    return [(t - f) * 1000 for f, t in zip(first, total)][1:]  # drop the handshake's


def curl_gaps(urls, cert):
    args = []
    for url in urls:
        args += ["--next", "-sS", "--cacert", cert, "-o", "/dev/null", "-w", "%{time_starttransfer} %{time_total}\n", url]
    result = subprocess.run(["curl", *args[1:]], capture_output=True, text=True, timeout=120)
    pairs = [line.split() for line in result.stdout.splitlines() if line.strip()]
    return [(float(t) - float(f)) * 1000 for f, t in pairs][1:]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    folder = tempfile.mkdtemp()
    server = None
    try:
        key, cert = make_certificate(folder)
        for size in SIZES:
            with open(os.path.join(folder, f"{size}.bin"), "wb") as handle:
                handle.write(os.urandom(size))
        server, port = start_server(folder, key, cert)
        print(f"{'size':>6}  {'netlab get median/max ms':>25}  {'curl median/max ms':>19}")
        for size in SIZES:
            urls = [f"https://127.0.0.1:{port}/{size}.bin"] * (count + 1)
            ours = netlab_gaps(urls, cert)
            theirs = curl_gaps(urls, cert) if shutil.which("curl") else [float("nan")]
            print(
                f"{size:>6}  {statistics.median(ours):>14.3f} / {max(ours):>8.3f}"
                f"  {statistics.median(theirs):>9.3f} / {max(theirs):>7.3f}"
            )
        print("gap = total - first byte on a reused connection; ~40 ms would mean a Nagle stall")
    finally:
        if server is not None:
            server.terminate()
            server.wait(20)
        shutil.rmtree(folder, True)


if __name__ == "__main__":
    main()
