"""
Benchmark: 1,000 messages over one connection to aiosmtpd, sent by
twisted-netlab's L{send_messages} (RSET between messages, as the library
does) and by the standard library's C{smtplib} doing the same, in one run.

aiosmtpd runs in a child process so that neither client shares its
interpreter with the server.  Plain TCP, no AUTH: this measures the SMTP
engines, not TLS.  Prints messages per second for each and the ratio.

    .venv/bin/python benchmarks/mail.py [--count 1000] [--size 2000]
"""

from __future__ import annotations

import argparse
import os
import smtplib
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

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


def run_netlab(port: int, count: int, size: int) -> float:
    from twisted_netlab.mail import Envelope, TLSMode, send_messages

    messages = [Envelope("a@example.com", ("b@example.com",), make_message(size, n)) for n in range(count)]
    elapsed = []

    def main(reactor):
        start = time.perf_counter()
        d = send_messages(reactor, "127.0.0.1", messages, port=port, tls=TLSMode.NONE, timeout_seconds=60)

        def done(results):
            elapsed.append(time.perf_counter() - start)
            assert all(r.delivered for r in results), [r for r in results if not r.delivered][:1]

        return d.addCallback(done)

    _react(main)
    return elapsed[0]


def _react(main) -> None:
    # task.react() exits the process; run the reactor by hand instead.
    from twisted.internet import reactor

    failures = []

    def go():
        d = main(reactor)
        d.addErrback(failures.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(go)
    reactor.run()
    if failures:
        failures[0].raiseException()


def run_smtplib(port: int, count: int, size: int) -> float:
    messages = [make_message(size, n) for n in range(count)]
    start = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.ehlo()
        for message in messages:
            client.sendmail("a@example.com", ["b@example.com"], message)
            client.rset()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--size", type=int, default=2000, help="approximate message size in bytes")
    arguments = parser.parse_args()
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(repo=REPO)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        netlab_seconds = run_netlab(port, arguments.count, arguments.size)
        smtplib_seconds = run_smtplib(port, arguments.count, arguments.size)
        server.stdin.close()
        stored = int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
    count = arguments.count
    netlab_rate, smtplib_rate = count / netlab_seconds, count / smtplib_seconds
    print(f"aiosmtpd (child process) on 127.0.0.1, {count} messages of ~{arguments.size} bytes, one connection per client")
    print(f"{'client':<34}{'seconds':>10}{'messages/s':>14}")
    print(f"{'twisted-netlab send_messages()':<34}{netlab_seconds:>10.2f}{netlab_rate:>14.0f}")
    print(f"{'smtplib sendmail() + rset()':<34}{smtplib_seconds:>10.2f}{smtplib_rate:>14.0f}")
    print(f"ratio netlab/smtplib: {netlab_rate / smtplib_rate:.2f}")
    print(f"server stored {stored} messages (expected {2 * count})")


if __name__ == "__main__":
    main()
