#!/usr/bin/env python3
"""
netlab-http's own CPU cost per request, in process: 20,000 keep-alive GETs
of a 2 KB file with a current Chromium's navigation head (a distinct query
per request) fed through the real protocol on a StringTransport, no
sockets, no wrk.  Prints CPU microseconds per request (the least of 5
runs); with --stages, each stage timed on its own; with --profile, the
top of a cProfile run and the share of each stage in it.

Usage: .venv/bin/python benchmarks/http_profile.py [--varying] [--stages] [--profile] [--core FILE]
  --varying  a Cookie field that changes on every request too, so no two
             field sections are alike (the parser's no-reuse path)
  --stages   parse, resolve, plan and write timed alone, in microseconds
             per request, and the adapter's remainder
  --core     run with another copy of twisted_netlab/web/_server_core.py
             (e.g. the previous commit's, from git show) to compare
"""

from __future__ import annotations

import cProfile
import importlib.util
import os
import pstats
import shutil
import sys
import tempfile
import time
from typing import Any, Callable, List

ARGS = sys.argv[1:]
if "--core" in ARGS:
    _spec = importlib.util.spec_from_file_location("twisted_netlab.web._server_core", ARGS[ARGS.index("--core") + 1])
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules[_spec.name] = _module
    _spec.loader.exec_module(_module)

from twisted.internet.address import IPv4Address  # noqa: E402
from twisted.internet.task import Clock  # noqa: E402
from twisted.internet.testing import StringTransport  # noqa: E402

from twisted_netlab.web.server import StaticFileFactory  # noqa: E402

HEAD = (
    "GET /file.bin?n=%d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nConnection: keep-alive\r\n"
    'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"\r\nsec-ch-ua-mobile: ?0\r\n'
    'sec-ch-ua-platform: "Linux"\r\nUpgrade-Insecure-Requests: 1\r\n'
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: none\r\nSec-Fetch-Mode: navigate\r\nSec-Fetch-User: ?1\r\nSec-Fetch-Dest: document\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n%s\r\n"
)
COUNT = 20_000
#: Each figure is the least of this many runs.
ROUNDS = 5
#: (label, file suffix, function) of the stages reported with --profile.
STAGES = [
    ("parse", "_server_core.py", "next_event"),
    ("resolve", "server.py", "resolve"),
    ("plan", "_plan.py", "plan_target"),
    ("write", "server.py", "_carry_out"),
]


def least(work: Callable[[], None], rounds: int = ROUNDS) -> float:
    """
    CPU microseconds per request of C{work} (COUNT requests), the least
    of C{rounds} runs: other load on the machine only ever adds.
    """
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best / COUNT * 1e6


def stages(factory: Any, protocol: Any, transport: Any, heads: List[bytes], total: float) -> None:
    """
    Each stage of the request path timed on its own, on the same objects
    (the least of ROUNDS runs of COUNT requests each), and what is left
    for the adapter's own bookkeeping (phases, deadlines, dispatch).
    """
    from twisted_netlab.web._plan import plan_target
    from twisted_netlab.web._server_core import RequestParser

    parser = RequestParser(factory.limits)

    def parse() -> None:
        for head in heads:
            parser.receive_data(head)
            parser.next_event()
            parser.next_event()

    parser.receive_data(heads[0])
    request = parser.next_event()
    framing = protocol._framing(request)
    path = request.path
    target = factory.resolve(path)

    def resolve() -> None:
        for _ in heads:
            factory.resolve(path)

    def plan() -> None:
        for _ in heads:
            plan_target(request, target, framing, str)

    ready = plan_target(request, target, framing, str)

    def write() -> None:
        for _ in heads:
            protocol._carry_out(ready, request)
            transport.clear()

    timed = [("parse", least(parse)), ("resolve", least(resolve)), ("plan", least(plan)), ("write", least(write))]
    for label, cost in timed:
        print(f"  {label:8s} {cost:6.2f} us/request")
    print(f"  {'adapter':8s} {total - sum(cost for _, cost in timed):6.2f} us/request (the rest: dispatch, phases, deadlines)")


def main() -> None:
    root = tempfile.mkdtemp(prefix="netlab-profile-")
    try:
        with open(os.path.join(root, "file.bin"), "wb") as f:
            f.write(os.urandom(2048))
        clock = Clock()
        clock.seconds = time.time  # type: ignore[method-assign]
        factory = StaticFileFactory(root, reactor=clock)
        protocol = factory.buildProtocol(None)
        transport = StringTransport(peerAddress=IPv4Address("TCP", "127.0.0.1", 5555))
        protocol.makeConnection(transport)
        varying = "--varying" in ARGS
        heads = [(HEAD % (i, "Cookie: s=%d\r\n" % i if varying else "")).encode() for i in range(COUNT)]

        def run() -> None:
            for head in heads:
                protocol.dataReceived(head)
                transport.clear()

        run()  # warm up: file cache, Host cache
        assert b"200 OK" in (protocol.dataReceived(heads[0]) or transport.value()), "not answered 200"
        transport.clear()
        per_request = least(run)
        print(f"{per_request:.2f} us CPU/request ({'varying' if varying else 'repeated'} field sections)")
        if "--stages" in ARGS:
            stages(factory, protocol, transport, heads, per_request)
        if "--profile" in ARGS:
            profile = cProfile.Profile()
            profile.runcall(run)
            stats = pstats.Stats(profile)
            stats.sort_stats("tottime").print_stats(int(os.environ.get("NETLAB_PROFILE_TOP", "14")))
            total = max(ct for (_, _, fn), (_, _, _, ct, _) in stats.stats.items() if fn == "dataReceived")  # type: ignore[attr-defined]
            for label, suffix, name in STAGES:
                cumulative = sum(
                    ct for (path, _, fn), (_, _, _, ct, _) in stats.stats.items()  # type: ignore[attr-defined]
                    if fn == name and path.endswith(suffix)
                )
                print(f"  {label:8s} {cumulative / total:6.1%} of dataReceived (profiled)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
