# -*- test-case-name: tests.heartbeat.test_cli -*-
"""
``netlab beat HOST [PORT]``: send heartbeats to a netlab-heartbeat monitor
(or the lab's server) until --count beats were sent or Ctrl+C.

Exit codes: 0 when done or interrupted (a summary is printed either way);
1 when the host cannot be resolved or the socket fails; 2 usage errors.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, List

from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab._options import CommandOptions, host_and_port
from twisted_netlab.heartbeat._beat import CLIENT_ID_PATTERN
from twisted_netlab.heartbeat.keyfile import read_key_file

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

#: Faster than this is a flood, not a heartbeat.
MIN_INTERVAL_SECONDS = 0.01


class Options(CommandOptions):
    synopsis = "HOST[:PORT] [PORT] [--interval 5] [--id NAME] [--count N] [--key-file FILE]"
    longdesc = (
        "Send UDP heartbeats '<seq> - <epoch>' to HOST (default port 13000), sequence numbers "
        "from 0. With --id (or --key-file) the beats also carry id= and a random boot= per run, "
        "so the monitor can tell a restart from lost beats; with --key-file they are signed "
        "(HMAC-SHA256). Ctrl+C stops cleanly with a summary."
    )
    optFlags = [["quiet", "q", "Print only the summary."]]
    optParameters = [
        ["interval", "i", "5", "Seconds between beats (fractions allowed: 0.5, 250ms)."],
        ["id", None, None, "Client id carried in each beat (letters, digits, ._@-; starts with a letter)."],
        ["count", "c", None, "Stop after this many beats.", int],
        ["key-file", "k", None, "Sign beats with the shared key in this file (mode 600)."],
    ]

    def parseArgs(self, *args: str) -> None:
        # HOST[:PORT] [PORT], [IPv6]:PORT: the rule shared by every client.
        self["host"], self["port"] = host_and_port(args, 13000)

    def postOptions(self) -> None:
        interval = parse_duration(self["interval"])
        if interval < MIN_INTERVAL_SECONDS:
            raise usage.UsageError(f"--interval must be at least {MIN_INTERVAL_SECONDS} s")
        self["interval-seconds"] = interval
        if self["count"] is not None and self["count"] < 1:
            raise usage.UsageError("--count must be at least 1")
        if self["id"] is not None and not CLIENT_ID_PATTERN.match(self["id"]):
            raise usage.UsageError(
                f"--id {self['id']!r}: use 1-64 letters, digits or ._@-, starting with a letter"
            )
        self["key"] = read_key_file(self["key-file"]) if self["key-file"] else None


def main(reactor: Any, options: Options, out: Any = None, err: Any = None) -> Deferred:
    # Imported here: --help and usage errors need no reactor machinery.
    from twisted.internet.error import DNSLookupError

    from twisted_netlab.heartbeat.beats import BeatLoop

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    target = f"{options['host']}:{options['port']}"
    refused_reported: List[bool] = []

    def on_beat(sequence: int, sent_at: float, datagram: bytes) -> None:
        if sender.refused and not refused_reported:
            refused_reported.append(True)
            err.write(f"netlab beat: {target} answered 'port unreachable': is the monitor running? (still beating)\n")
            err.flush()
        if not options["quiet"]:
            out.write(f"beat {sequence} to {target}: {datagram.decode('ascii')}\n")
            out.flush()

    def on_error(sequence: int, error: OSError) -> None:
        if sender.errors == 1:
            err.write(f"netlab beat: beat {sequence} not sent: {error.strerror or error} (still trying)\n")
            err.flush()

    sender = BeatLoop(
        options["host"],
        options["port"],
        interval=options["interval-seconds"],
        client_id=options["id"],
        key=options["key"],
        count=options["count"],
        reactor=reactor,
        on_beat=on_beat,
        on_error=on_error,
    )
    started = reactor.seconds()

    def report(sent: int) -> int:
        elapsed = reactor.seconds() - started
        out.write(f"--- {target} heartbeat ---\n")
        out.write(
            f"{sent - sender.errors} beats sent in {elapsed:.1f} s (interval {options['interval-seconds']:g} s)"
            + (f", boot {sender.boot}" if sender.boot else "")
            + (f", {sender.refused} port-unreachable answers" if sender.refused else "")
            + (f", {sender.errors} not sent (socket errors)" if sender.errors else "")
            + "\n"
        )
        out.flush()
        return 0

    def failed(reason: Any) -> int:
        if reason.check(DNSLookupError):
            err.write(f"netlab beat: cannot resolve {options['host']!r}\n")
        else:
            err.write(f"netlab beat: {reason.getErrorMessage()}\n")
        err.flush()
        return 1

    def on_shutdown() -> None:
        # Ctrl+C or SIGTERM: stop beating and report; react then exits 0.
        if sender.running:
            sender.stop()

    result = sender.done.addCallbacks(report, failed)
    reactor.addSystemEventTrigger("before", "shutdown", on_shutdown)
    sender.start()
    return result
