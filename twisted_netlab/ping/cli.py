# -*- test-case-name: tests.ping.test_cli -*-
"""
``netlab ping HOST [PORT]``: iputils-style options, per-reply lines and the
closing statistics on stdout, errors on stderr.  Exit codes as iputils:
0 some replies, 1 none (or, with ``-c`` and ``-w``, fewer than ``-c``),
2 error.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Callable, Optional, TextIO

from twisted.python import usage

from twisted_netlab._endpoints import default_reactor, parse_duration
from twisted_netlab._options import CommandOptions, host_and_port
from twisted_netlab.ping._pinger_core import (
    CorruptedReply,
    DuplicateReply,
    ForeignReply,
    LateReply,
    PingEvent,
    PingReport,
    ProbeError,
    ProbeTimedOut,
    ReplyReceived,
    SendFailed,
    format_us,
    seconds_to_us,
)
from twisted_netlab.ping._probe import MAX_UDP_PAYLOAD, PayloadFormat

if TYPE_CHECKING:
    from twisted.internet import defer

    from twisted_netlab.ping.pinger import PingerProtocol

EXIT_REPLIES = 0
EXIT_NO_REPLY = 1
EXIT_ERROR = 2
#: Shortest -i: 1 ms, so at most 1000 probes per second (netlab-echo's
#: default per-source cap).  iputils refuses short intervals to non-root
#: users because ICMP echo is answered by every host's kernel; these are
#: UDP probes to an echo service someone chose to run, so 1 ms is allowed
#: to anyone, but a pinger should never be a flood tool: no -i 0.
MIN_INTERVAL_SECONDS = 0.001


def _positive_duration(name: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        seconds = parse_duration(value)
        if seconds <= 0:
            raise usage.UsageError(f"{name} must be > 0, not {value!r}")
        return seconds

    return parse


def _interval(value: str) -> float:
    seconds = parse_duration(value)
    if not seconds >= MIN_INTERVAL_SECONDS:
        raise usage.UsageError(
            f"-i must be at least {MIN_INTERVAL_SECONDS:g} s (at most "
            f"{1 / MIN_INTERVAL_SECONDS:.0f} probes per second), not {value!r}"
        )
    return seconds


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise usage.UsageError(f"-c must be a whole number >= 1, not {value!r}")
    if not 1 <= count <= 1_000_000:
        raise usage.UsageError(f"-c must be from 1 to 1000000, not {value!r}")
    return count


def _size(value: str) -> int:
    try:
        size = int(value)
    except ValueError:
        raise usage.UsageError(f"-s must be a number of bytes, not {value!r}")
    if not 0 <= size <= MAX_UDP_PAYLOAD:
        raise usage.UsageError(f"-s must be from 0 to {MAX_UDP_PAYLOAD}, not {value!r}")
    return size


class Options(CommandOptions):
    synopsis = "[options] HOST[:PORT] [PORT]"
    longdesc = (
        "Send sequenced UDP probes to an echo server (PORT defaults to 12000) "
        "and report RTTs and loss like iputils ping."
    )
    optFlags = [
        ["quiet", "q", "Print only the summary."],
        ["json", None, "Print one JSON report (percentiles, every probe's fate) instead of text."],
    ]
    optParameters = [
        ["count", "c", None, "Probes to send (default 10; with -w, replies to wait for).", _count],
        ["interval", "i", 1.0, "Seconds between probes (>= 0.001: 1000 probes/s at most).", _interval],
        ["timeout", "W", 1.0, "Seconds to wait for each reply.", _positive_duration("-W")],
        ["deadline", "w", None, "Stop after this many seconds, whatever happened.", _positive_duration("-w")],
        ["size", "s", None, "Pad each probe to this many bytes.", _size],
        ["format", None, "lab", "Payload format: lab (Ping <seq> <time>) or seq (sequence=<n>\\ttime=<t>)."],
        ["report", None, None, "Also draw the run into FILE: .svg, or .html (the SVG inline), no script."],
    ]

    def parseArgs(self, *args: str) -> None:
        # HOST[:PORT] [PORT], [IPv6]:PORT: the rule shared by every client.
        self["host"], self["port"] = host_and_port(args, 12000)

    def postOptions(self) -> None:
        try:
            self["format"] = PayloadFormat(self["format"].lower())
        except ValueError:
            raise usage.UsageError(f"--format must be lab or seq, not {self['format']!r}")
        if self["count"] is None and self["deadline"] is None:
            self["count"] = 10
        if self["report"] is not None:
            from twisted_netlab.ping._report import report_format

            try:
                report_format(self["report"])
            except ValueError as error:
                raise usage.UsageError(str(error))


def ms(seconds: float) -> str:
    """
    A duration in ms with microsecond resolution (1.5 s is ``1500.000``).
    """
    return format_us(seconds_to_us(seconds))


class Printer:
    """
    Writes one line per event, iputils-like, unless quiet.

    @param on_closed: called once when C{out} turns out to be a closed pipe
        (``netlab ping ... | head -2``): nobody reads any more, so the run
        should end, as iputils ends on SIGPIPE.
    """

    def __init__(
        self, name: str, out: TextIO, quiet: bool, on_closed: Optional[Callable[[], None]] = None
    ) -> None:
        self.name = name
        self.out = out
        self.quiet = quiet
        self.on_closed = on_closed

    def __call__(self, event: PingEvent) -> None:
        if self.quiet:
            return
        line = self.line(event)
        if line is not None:
            try:
                self.out.write(line + "\n")
                self.out.flush()
            except BrokenPipeError:  # `netlab ping ... | head`: the reader left
                self.quiet = True
                if self.on_closed is not None:
                    self.on_closed()

    def line(self, event: PingEvent) -> Optional[str]:
        name = self.name
        if isinstance(event, ReplyReceived):
            extra = " (reordered)" if event.reordered else ""
            return f"{event.size} bytes from {name}: seq={event.sequence} time={ms(event.rtt_seconds)} ms{extra}"
        if isinstance(event, DuplicateReply):
            return f"{event.size} bytes from {name}: seq={event.sequence} time={ms(event.rtt_seconds)} ms (DUP!)"
        if isinstance(event, LateReply):
            return f"{event.size} bytes from {name}: seq={event.sequence} time={ms(event.rtt_seconds)} ms (late)"
        if isinstance(event, CorruptedReply):
            return f"{event.size} bytes from {name}: seq={event.sequence} (corrupted: differs from the probe)"
        if isinstance(event, ForeignReply):
            return f"{event.size} bytes from {name}: not our probe ({event.reason})"
        if isinstance(event, ProbeTimedOut):
            return f"no answer yet for seq={event.sequence}"
        if isinstance(event, ProbeError):
            return f"From {event.source} seq={event.sequence} {event.text}"
        if isinstance(event, SendFailed):
            where = f" seq={event.sequence}" if event.sequence is not None else ""
            return f"From {name}:{where} error: {event.reason}"
        return None


def exit_code(report: PingReport, count: Optional[int], deadline: Optional[float]) -> int:
    """
    iputils: 1 when nothing came back, or when -c and -w were both given and
    fewer than -c replies came in time; else 0.
    """
    if not report.received:
        return EXIT_NO_REPLY
    if count is not None and deadline is not None and report.received < count:
        return EXIT_NO_REPLY
    return EXIT_REPLIES


def main(
    reactor: Any,
    options: Options,
    out: Optional[TextIO] = None,
    err: Optional[TextIO] = None,
    monotonic: Callable[[], float] = time.monotonic,
    install_signal: bool = True,
) -> defer.Deferred:
    """
    Run ``netlab ping``; fire with the exit code.  SIGINT (Ctrl+C) ends the
    run early and the summary is still printed.
    """
    # Imported here: --help and usage errors need no reactor machinery.
    from twisted_netlab.ping.pinger import PingerProtocol, resolve_host, start_pinger

    reactor = default_reactor(reactor)
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    host, port = options["host"], options["port"]

    def bad_host(failure: Any) -> int:
        err.write(f"netlab ping: error: cannot resolve {host!r}: {failure.getErrorMessage()}\n")
        return EXIT_ERROR

    def resolved(address: str) -> Any:
        endpoint = f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
        name = endpoint if address == host else f"{host} ({endpoint})"

        def closed() -> None:
            # End the run on the next turn (not inside the protocol's own
            # callback) and keep the exit quiet: no more writes, and the
            # interpreter's last flush of a dead stdout cannot complain.
            _silence(out)
            reactor.callLater(0, protocol.stop)

        printer = Printer(endpoint, out, options["quiet"] or options["json"], on_closed=closed)
        protocol = PingerProtocol(
            address,
            port,
            reactor=reactor,
            count=options["count"],
            interval_seconds=options["interval"],
            timeout_seconds=options["timeout"],
            deadline_seconds=options["deadline"],
            size=options["size"],
            payload_format=options["format"],
            observer=printer,
            monotonic=monotonic,
        )
        if not options["json"]:
            size = options["size"]
            detail = f"probes padded to {size} bytes" if size else "probes unpadded"
            try:
                out.write(f"PING {name} (udp): format {options['format'].value}, {detail}\n")
                out.flush()
            except BrokenPipeError:
                _silence(out)
        # The header first: the first probe leaves as the socket opens, and
        # its send error (no route) belongs under the header.
        try:
            start_pinger(reactor, address, protocol)
        except Exception as error:
            err.write(f"netlab ping: error: cannot open a UDP socket for {address}: {error}\n")
            return EXIT_ERROR
        if install_signal:
            _stop_on_sigint(reactor, protocol)

        def finished(report: PingReport) -> int:
            try:
                if options["json"]:
                    out.write(json.dumps(report.as_json(), indent=2) + "\n")
                else:
                    out.write("\n" + "\n".join(report.summary_lines(name)) + "\n")
                out.flush()
            except BrokenPipeError:
                _silence(out)
            if options["report"] is not None and not write_report(options["report"], report, name, options, err):
                return EXIT_ERROR
            return exit_code(report, options["count"], options["deadline"])

        return protocol.finished.addCallback(finished)

    return resolve_host(reactor, host).addCallbacks(resolved, bad_host)


def write_report(path: str, report: PingReport, name: str, options: Options, err: TextIO) -> bool:
    """
    Draw C{report} into C{path} (see L{twisted_netlab.ping._report});
    False, with one line on C{err}, when the file cannot be written.
    """
    from twisted_netlab.ping._report import render_report

    try:
        with open(path, "w", encoding="utf-8") as file:
            file.write(render_report(report, name, path, options["interval"]))
    except OSError as error:
        err.write(f"netlab ping: error: cannot write the report {path!r}: {error.strerror or error}\n")
        return False
    return True


def _silence(out: TextIO) -> None:
    """
    Point a closed stdout at /dev/null (what Python's documentation advises
    for SIGPIPE), so that the interpreter's flush at exit cannot print
    "Exception ignored ... BrokenPipeError".  Any other stream (a test's
    StringIO) is left as it is.
    """
    if out is not sys.stdout:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, out.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


def _stop_on_sigint(reactor: Any, protocol: PingerProtocol) -> None:
    """
    Replace the reactor's SIGINT handler (which would stop the reactor with
    no report) by one that ends the run, so the summary is printed.
    """

    def handler(signum: int, frame: Any) -> None:
        reactor.callFromThread(protocol.stop)

    def install() -> None:
        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:  # not the main thread
            pass

    if getattr(reactor, "running", False):
        install()
    else:
        reactor.callWhenRunning(install)
