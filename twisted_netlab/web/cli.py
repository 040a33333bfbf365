# -*- test-case-name: tests.web.test_get_cli -*-
# About 710 lines, over the ~700 guide: curl's option surface (output sinks,
# ranges, conditions, limits, warnings) and its exit-code mapping in one place.
"""
``netlab get``: the command-line face of L{twisted_netlab.web.client}:
L{Options} (validation only), output sinks (stdout, ``-o``, ``-O``,
``-i``/``-I``/``--raw``, ``-v``, progress bar) and L{main}, which maps
every failure to curl's exit code and one line on stderr.
"""

from __future__ import annotations

import os
import sys
from typing import IO, TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from twisted.python import usage

from twisted_netlab._endpoints import default_reactor, parse_duration
from twisted_netlab._options import CommandOptions
from twisted_netlab.web._client_core import (
    BodyData,
    InformationalResponse,
    LocalProtocolError,
    ResponseEnd,
    ResponseHead,
    UNANNOUNCED_CLOSE,
    Target,
    UnsafeFileName,
    check_header,
    parse_byte_range,
    parse_url,
    remote_file_name,
)
from twisted_netlab.web._client_limits import LowSpeedCheck, parse_size, size_exceeded

if TYPE_CHECKING:
    from twisted.internet import defer

    from twisted_netlab.web._response_checks import Finding
    from twisted_netlab.web.client import GetError, Response

# The Twisted side (twisted_netlab.web.client, Deferreds) is imported when a
# transfer starts, not for --help or a usage error.

PROGRAM = "netlab get"
#: Bodies at least this large get a progress bar (when stderr is a TTY).
PROGRESS_MIN_BYTES = 1024 * 1024
PROGRESS_INTERVAL_SECONDS = 0.25
#: Bytes of each URL's responses kept for the response checks and for
#: showing a head that never completed; past this only the head is checked.
CHECKED_BYTES = 4 * 1024 * 1024
#: Exit code of --strict when a response broke HTTP/1.1.
STRICT_EXIT = 9
#: Failures that are the server's doing (weird reply, cut short, empty
#: reply, reset): after one, what came is shown and judged.  After our own
#: limits (time, size) or an interruption it is not.
SERVER_FAULTS = frozenset([8, 18, 52, 56])


def _size_option(value: str) -> int:
    try:
        return parse_size(value)
    except ValueError as error:
        raise usage.UsageError(f"--max-filesize: {error}")


def _speed_option(value: str) -> int:
    try:
        speed = parse_size(value)
    except ValueError as error:
        raise usage.UsageError(f"--speed-limit: {error}")
    if speed < 1:
        raise usage.UsageError("--speed-limit must be at least 1 byte per second")
    return speed


class Options(CommandOptions):
    synopsis = "[options] URL..."
    single_valued = ("output",)
    longdesc = (
        "Fetch URLs over HTTP/1.1 (http and https) and write the body to stdout. "
        "Several URLs to one host share one kept-alive connection. "
        "Exit codes follow curl: 2 usage, 3 malformed URL, 6 cannot resolve, "
        "7 cannot connect, 8 weird reply, 18 partial body, 22 HTTP error with --fail, "
        "9 a response broke HTTP/1.1 (--strict), "
        "23 write error, 28 timeout or too slow, 35 TLS handshake, 47 too many redirects, "
        "52 empty reply, 56 receive error, 60 certificate rejected, 63 --max-filesize exceeded, "
        "130 interrupted, 141 stdout closed by its reader."
    )
    optFlags = [
        ["remote-name", "O", "Write each body to a file named after the last segment of its URL path, in the current folder."],
        ["include", "i", "Write the response status line and headers before the body."],
        ["head", "I", "Send HEAD and write the response headers."],
        ["raw", None, "Write each response exactly as received (status line, headers, framing, body); sends Connection: close like the course lab."],
        ["verbose", "v", "Show request and response headers on stderr (> and <)."],
        ["silent", "s", "No progress bar."],
        ["timing", None, "After each URL, print connect, TLS, first byte, total, bytes and speed on stderr."],
        ["location", "L", "Follow redirects (301, 302, 303, 307, 308)."],
        ["fail", "f", "Exit 22 without writing the body when the final status is 400 or more."],
        ["insecure", "k", "Do not verify TLS certificates (warns on stderr)."],
        ["pipeline", None, "Send all requests to a host at once before reading responses."],
        ["strict", None, "Treat the response warnings (bare LF, bytes after the body, ...) as errors: exit 9."],
    ]
    optParameters = [
        ["output", "o", None, "Write the body to FILE ('-' for stdout); one URL only."],
        ["max-redirs", None, 50, "At most N redirects with -L.", int],
        ["max-time", "m", None, "Give up after this long in total (e.g. 30, 1.5s, 500ms).", parse_duration],
        ["connect-timeout", None, 30.0, "Give up connecting (TCP and TLS) after this long.", parse_duration],
        ["idle-timeout", None, 60.0, "Give up when the server sends nothing for this long while a response is due.", parse_duration],
        ["range", "r", None, "Ask for bytes, e.g. 0-499, 500-, -500."],
        ["if-modified-since", "z", None, "Send If-Modified-Since: an HTTP date, or the modification time of an existing FILE."],
        ["etag", None, None, "Send If-None-Match with this entity tag."],
        ["etag-compare", None, None, "Send If-None-Match with the entity tag stored in FILE (skipped when FILE is missing)."],
        ["etag-save", None, None, "Store the final response's ETag in FILE (after a 2xx)."],
        ["cafile", None, None, "Trust the PEM certificates in FILE instead of the system store."],
        ["max-filesize", None, None, "Refuse a body larger than BYTES (k, M, G suffixes: 1024s), exit 63.", _size_option],
        ["speed-limit", "Y", None, "Give up (exit 28) when fewer than BYTES per second came over --speed-time (default 30 s).", _speed_option],
        ["speed-time", "y", None, "The window of --speed-limit (default limit 1 byte/s when only this is given).", parse_duration],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["header"] = []
        self["urls"] = []

    def opt_header(self, value: str) -> None:
        """
        Extra request header 'Name: value' (repeatable; 'Name:' removes a default one).
        """
        name, colon, rest = value.partition(":")
        if not colon:
            raise usage.UsageError(f"header {value!r} must look like 'Name: value'")
        name, rest = name.strip(), rest.strip(" \t")
        try:
            check_header(name, rest)
        except LocalProtocolError as error:
            raise usage.UsageError(str(error))
        self["header"].append((name, rest))

    opt_H = opt_header

    def parseArgs(self, *urls: str) -> None:
        if not urls:
            raise usage.UsageError("at least one URL is required")
        self["urls"] = list(urls)

    def postOptions(self) -> None:
        if self["max-redirs"] < 0:
            raise usage.UsageError("--max-redirs must be >= 0")
        if self["output"] is not None and len(self["urls"]) > 1:
            raise usage.UsageError("-o takes one URL; use -O to save several")
        if self["output"] is not None and self["remote-name"]:
            raise usage.UsageError("-o and -O cannot be combined")
        if self["pipeline"] and self["location"]:
            raise usage.UsageError("--pipeline cannot be combined with -L (a redirect would reorder the output)")
        if self["connect-timeout"] <= 0 or self["idle-timeout"] <= 0:
            raise usage.UsageError("timeouts must be greater than 0")
        if self["max-time"] is not None and self["max-time"] <= 0:
            raise usage.UsageError("--max-time must be greater than 0")
        if self["range"] is not None:
            try:
                self["range"] = parse_byte_range(self["range"])
            except LocalProtocolError as error:
                raise usage.UsageError(str(error))
        if self["if-modified-since"] is not None:
            self["if-modified-since"] = _http_date_option(self["if-modified-since"])
        if self["etag-compare"] is not None:
            if self["etag"] is not None:
                raise usage.UsageError("--etag and --etag-compare cannot be combined")
            try:
                with open(self["etag-compare"], "r", encoding="latin-1") as handle:
                    stored = handle.read(8192).strip()
            except FileNotFoundError:
                stored = ""
            except OSError as error:
                raise usage.UsageError(f"cannot read --etag-compare file: {error.strerror}")
            self["etag"] = stored or None
        if (self["etag-save"] is not None) and len(self["urls"]) > 1:
            raise usage.UsageError("--etag-save takes one URL")
        if self["etag"] is not None:
            tag = self["etag"].strip()
            if not tag.startswith(('"', 'W/"')) and tag != "*":
                tag = f'"{tag}"'
            try:
                check_header("If-None-Match", tag)
            except LocalProtocolError as error:
                raise usage.UsageError(str(error))
            self["etag"] = tag
        if self["cafile"] is not None and self["insecure"]:
            raise usage.UsageError("--cafile and --insecure contradict each other")
        if self["speed-time"] is not None and self["speed-time"] <= 0:
            raise usage.UsageError("--speed-time must be greater than 0")
        if self["speed-limit"] is not None or self["speed-time"] is not None:
            # As curl: either one alone turns the check on.
            self["speed-limit"] = 1 if self["speed-limit"] is None else self["speed-limit"]
            self["speed-time"] = 30.0 if self["speed-time"] is None else self["speed-time"]

    def needs_tls(self) -> bool:
        """
        Whether TLS is needed before connecting: only to read a CA file.
        An https:// URL loads it once its TCP connection is up (so a
        refused one costs no TLS import), as a redirect to https does.
        """
        return self["cafile"] is not None


def _http_date_option(value: str) -> str:
    import email.utils  # only for -z: about 10 ms of every start otherwise

    if os.path.exists(value):
        return email.utils.formatdate(os.stat(value).st_mtime, usegmt=True)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        moment = None
    if moment is None:
        raise usage.UsageError(f"--if-modified-since {value!r} is neither an HTTP date nor an existing file")
    return email.utils.format_datetime(moment.astimezone(__import__("datetime").timezone.utc), usegmt=True)


# -- output ----------------------------------------------------------------

#: 128 + SIGINT, as for every netlab command stopped by Ctrl+C.
EXIT_INTERRUPTED = 130



class Output:
    """
    A binary destination opened on first use, so a 304 or a --fail error
    never truncates an existing file.  C{-O} names are opened without
    following symlinks and only in the current folder.
    """

    def __init__(self, stream: Optional[IO[bytes]] = None, path: Optional[str] = None, safe_name: bool = False) -> None:
        self._stream = stream
        self.path = path
        self._safe_name = safe_name
        self._owned = False

    def _open(self) -> IO[bytes]:
        from twisted_netlab.web.client import WriteFailed

        if self._stream is None:
            assert self.path is not None
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
            if self._safe_name:
                flags |= getattr(os, "O_NOFOLLOW", 0)
            try:
                descriptor = os.open(self.path, flags, 0o666)
            except OSError as error:
                raise WriteFailed(f"cannot open {self.path!r} for writing: {error.strerror}")
            self._stream = os.fdopen(descriptor, "wb", buffering=0)
            self._owned = True
        return self._stream

    def ensure_open(self) -> None:
        self._open()

    def write(self, data: bytes) -> None:
        from twisted_netlab.web.client import ClosedPipe, WriteFailed

        stream = self._open()
        try:
            # Unbuffered files: each body piece goes straight to write(2),
            # without a copy into a user-space buffer; loop on short writes.
            view = memoryview(data)
            while view:
                written = stream.write(view)
                if written is None:
                    raise OSError("output would block")
                view = view[written:]
        except BrokenPipeError:
            if self.path is None:
                raise ClosedPipe()
            raise WriteFailed(f"write error on {self.path}: broken pipe")
        except (OSError, ValueError) as error:
            raise WriteFailed(f"write error on {self.path or 'stdout'}: {getattr(error, 'strerror', None) or error}")

    def close(self) -> None:
        from twisted_netlab.web.client import ClosedPipe, WriteFailed

        if self._stream is None:
            return
        try:
            if self._owned:
                self._stream.close()
            else:
                self._stream.flush()
        except BrokenPipeError:
            if self.path is None:
                raise ClosedPipe()
            raise WriteFailed(f"write error on {self.path}: broken pipe")
        except (OSError, ValueError) as error:
            raise WriteFailed(f"write error on {self.path or 'stdout'}: {getattr(error, 'strerror', None) or error}")


def _head_text(head: ResponseHead) -> bytes:
    """
    The head as received minus leading blank lines (for -i/-I).
    """
    return head.raw.lstrip(b"\r\n")


class CommandSink:
    """
    What ``netlab get`` does with one URL's events, according to the flags
    (a L{twisted_netlab.web.client.ResponseSink}: it has every method).
    """

    def __init__(self, options: Options, output: Output, stderr: IO[str], clock: Any, progress: bool) -> None:
        self.options = options
        self.output = output
        self.stderr = stderr
        self.clock = clock
        self.progress = progress
        self.final: Optional[ResponseHead] = None
        self.failed_status = False
        self._bar_at = 0.0
        self._bar_shown = False
        self._received = 0
        self._limited = 0
        self._started = clock.seconds()
        self._method = "HEAD" if options["head"] else "GET"
        self._raw = bytearray()
        self._raw_cut = False
        self._heads = 0
        self._reconnects: List[Finding] = []

    def _note(self, line: str) -> None:
        self.stderr.write(line + "\n")

    def connected(self, description: str) -> None:
        if self.options["verbose"]:
            self._note(f"* Connected to {description}")

    def request_sent(self, target: Target, head: bytes) -> None:
        if self.options["verbose"]:
            for line in head.decode("latin-1").split("\r\n")[:-1]:
                self._note(f"> {line}".rstrip())

    def _verbose_head(self, raw: bytes) -> None:
        if self.options["verbose"]:
            for line in raw.lstrip(b"\r\n").decode("latin-1").splitlines():
                self._note(f"< {line}")
            self._note("<")

    def bytes_received(self, data: bytes) -> None:
        room = CHECKED_BYTES - len(self._raw)
        if room > 0:
            self._raw += data[:room]
        if len(data) > room:
            self._raw_cut = True

    def reconnecting(self, reason: str) -> None:
        if self.options["verbose"]:
            self._note(f"* Reconnecting: {reason}")
        if reason == UNANNOUNCED_CLOSE:
            from twisted_netlab.web._response_checks import KEEP_ALIVE_CLOSED, Finding

            self._reconnects.append(Finding(KEEP_ALIVE_CLOSED, reason))

    def show_unparsed(self) -> None:
        """
        After a failure before any head was parsed, show what came anyway
        (``-v`` on stderr, ``--raw`` as is): a 404 without its empty line
        must not vanish.
        """
        if self._heads or not self._raw:
            return
        if self.options["verbose"]:
            lines = bytes(self._raw).split(b"\n")
            for line in lines[:-1] if not lines[-1] else lines:
                self._note("< " + line.rstrip(b"\r").decode("latin-1").encode("unicode_escape").decode("ascii"))
        if self.options["raw"]:
            self.output.write(bytes(self._raw))

    def findings(self, method: str, failed: bool) -> List[Finding]:
        """
        What the response checks say about this URL's responses (only the
        head when they were too large to keep, or pipelined).
        """
        if not self._raw and self.final is None:
            return self._reconnects  # nothing came: nothing to check
        # Loaded here: a command whose connection failed never needs them.
        from twisted_netlab.web._response_checks import response_findings

        if (self._raw_cut or self.options["pipeline"]) and self.final is not None:
            found = response_findings(self.final.raw, ["HEAD"], False)
        else:
            closed = failed or (self.final is not None and not self.final.keep_alive)
            found = response_findings(bytes(self._raw), [method] * max(1, self._heads), closed)
        return self._reconnects + found

    def informational(self, response: InformationalResponse) -> None:
        self._verbose_head(response.raw.rstrip(b"\r\n"))
        if self.options["raw"]:
            self.output.write(response.raw)

    def head_received(self, head: ResponseHead, redirecting: bool) -> None:
        self._heads += 1
        self._verbose_head(head.raw.rstrip(b"\r\n"))
        if redirecting and self.options["verbose"]:
            self._note(f"* Following redirect to {head.get('Location')}")
        if self.options["raw"]:
            self.output.write(head.raw)
            return
        if not redirecting:
            self.final = head
            if self.options["fail"] and head.status >= 400:
                self.failed_status = True
                return
            self._limited = 0
            limit = self.options["max-filesize"]
            has_body = self._method != "HEAD" and head.status not in (204, 304)
            if has_body and size_exceeded(limit, head.content_length, 0):
                from twisted_netlab.web.client import BodyTooLarge

                # As curl: refused before a byte of it is written.
                raise BodyTooLarge(
                    f"maximum file size exceeded: the server announced {head.content_length} bytes, "
                    f"more than --max-filesize {limit}"
                )
        if self.options["include"] or self.options["head"]:
            self.output.write(_head_text(head))
        elif not redirecting and head.status != 304:
            self.output.ensure_open()

    def body_received(self, data: BodyData, redirecting: bool) -> None:
        if not redirecting:
            self._limited += len(data.data)
            limit = self.options["max-filesize"]
            if size_exceeded(limit, None, self._limited):
                from twisted_netlab.web.client import BodyTooLarge

                raise BodyTooLarge(f"maximum file size exceeded: the body is larger than --max-filesize {limit} bytes")
        if self.options["raw"]:
            self.output.write(data.raw)
            return
        if redirecting or self.failed_status:
            return
        self.output.write(data.data)
        self._received += len(data.data)
        if self.progress:
            self._progress(final=False)

    def response_ended(self, end: ResponseEnd, redirecting: bool) -> None:
        if self.options["raw"]:
            self.output.write(end.raw)
        elif self.options["include"] and end.trailers and not redirecting and not self.failed_status:
            pass
        if not redirecting and self._bar_shown:
            self._progress(final=True)

    def _progress(self, final: bool) -> None:
        now = self.clock.seconds()
        total = self.final.content_length if self.final is not None else None
        big = (total or 0) >= PROGRESS_MIN_BYTES or self._received >= PROGRESS_MIN_BYTES
        if not big or (not final and now - self._bar_at < PROGRESS_INTERVAL_SECONDS):
            return
        self._bar_at = now
        self._bar_shown = True
        elapsed = max(now - self._started, 1e-9)
        speed = f"{self._received / elapsed / 1e6:7.1f} MB/s"
        if total:
            fraction = min(1.0, self._received / total)
            filled = int(fraction * 30)
            line = f"\r{fraction * 100:5.1f}% [{'#' * filled}{' ' * (30 - filled)}] {self._received / 1e6:8.1f} MB {speed}"
        else:
            line = f"\r{self._received / 1e6:8.1f} MB {speed}"
        self.stderr.write(line + ("\n" if final else ""))
        self.stderr.flush()


def _timing_report(response: Response) -> str:
    timing = response.timing
    tls = "-" if timing.tls is None else f"{timing.tls:.6f} s"
    reused = " (reused connection)" if timing.reused else ""
    return (
        f"url         {response.url}\n"
        f"connect     {timing.connect:.6f} s{reused}\n"
        f"tls         {tls}\n"
        f"first byte  {timing.first_byte:.6f} s\n"
        f"total       {timing.total:.6f} s\n"
        f"bytes       {timing.body_bytes}\n"
        f"speed       {timing.bytes_per_second / 1e6:.1f} MB/s\n"
    )


# -- main ----------------------------------------------------------------------


def _request_headers(options: Options) -> Tuple[Tuple[str, str], ...]:
    headers: List[Tuple[str, str]] = []
    if options["range"] is not None:
        headers.append(("Range", options["range"]))
    if options["if-modified-since"] is not None:
        headers.append(("If-Modified-Since", options["if-modified-since"]))
    if options["etag"] is not None:
        headers.append(("If-None-Match", options["etag"]))
    if options["raw"]:
        headers.append(("Connection", "close"))
    headers.extend(options["header"])
    return tuple(headers)


def main(
    reactor: Any,
    options: Options,
    stdout: Optional[IO[bytes]] = None,
    stderr: Optional[IO[str]] = None,
    endpoint_factory: Any = None,
) -> defer.Deferred:
    """
    Fetch every URL in order; the Deferred fires with the exit code.
    C{stdout}, C{stderr} and C{endpoint_factory} are for tests.
    """
    from twisted.internet import defer
    from twisted.python.failure import Failure

    reactor = default_reactor(reactor)
    out = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr
    interrupted: List[bool] = []
    running = defer.ensureDeferred(_run(reactor, options, out, err, endpoint_factory, interrupted))
    outcome: defer.Deferred = defer.Deferred()

    def settle(result: Any) -> None:
        if not outcome.called:
            outcome.callback(result)
        elif isinstance(result, Failure):
            result.trap(Exception)  # interrupted: what the closing did is noise

    def on_shutdown() -> None:
        # Ctrl+C or SIGTERM stops the reactor, which closes the connection:
        # say so (exit 130), not the receive error that the close causes.
        if not outcome.called:
            interrupted.append(True)
            err.write(f"{PROGRAM}: interrupted\n")
            err.flush()
            outcome.callback(EXIT_INTERRUPTED)

    reactor.addSystemEventTrigger("before", "shutdown", on_shutdown)
    running.addBoth(settle)
    return outcome


def _speak_up(stderr: IO[str], sink: CommandSink, method: str, failed: bool, strict: bool) -> int:
    """
    Print one line per response finding (``warning:``, or ``error:`` with
    --strict); return how many.
    """
    found = sink.findings(method, failed)
    for finding in found:
        stderr.write(f"{PROGRAM}: {'error' if strict else 'warning'}: {finding.message}\n")
    return len(found)


def _fail(stderr: IO[str], error: GetError, stdout: Any = None, interrupted: Sequence[bool] = ()) -> int:
    from twisted_netlab.web.client import ClosedPipe

    if interrupted:
        return EXIT_INTERRUPTED  # already said
    if isinstance(error, ClosedPipe):
        _silence(stdout)
        return error.exit_code
    stderr.write(f"{PROGRAM}: {error}\n")
    stderr.flush()
    return error.exit_code


def _silence(stream: Any) -> None:
    """
    Point a closed stdout at /dev/null, so that the interpreter's last
    flush cannot print "Exception ignored ... BrokenPipeError" (what
    Python's documentation advises for SIGPIPE).  A test's stream is left
    as it is.
    """
    if stream is None or stream is not getattr(sys.__stdout__, "buffer", None):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())  # type: ignore[union-attr]
        os.close(devnull)
    except (OSError, ValueError):
        pass


async def _run(
    reactor: Any, options: Options, stdout: IO[bytes], stderr: IO[str], endpoint_factory: Any, interrupted: Sequence[bool]
) -> int:
    from twisted.internet import defer

    from twisted_netlab.web.client import GetError, HTTPClient, TimedOut, TLSPolicy, WriteFailed, classify, load_certificates

    def fail(error: GetError) -> int:
        return _fail(stderr, error, stdout, interrupted)

    # Everything that can be refused without the network is refused first.
    targets: List[Target] = []
    outputs: List[Output] = []
    try:
        for url in options["urls"]:
            target = parse_url(url)
            targets.append(target)
            if options["remote-name"]:
                outputs.append(Output(path=remote_file_name(target), safe_name=True))
            elif options["output"] not in (None, "-"):
                outputs.append(Output(path=options["output"]))
            else:
                outputs.append(Output(stream=stdout))
        if options["cafile"] is not None:
            load_certificates(options["cafile"])
    except (LocalProtocolError, GetError) as error:
        return fail(classify(error))
    if options["insecure"] and any(t.scheme == "https" for t in targets):
        stderr.write(f"{PROGRAM}: warning: --insecure: TLS certificates are NOT verified; "
                     "anyone on the path can read and change this transfer\n")
    extra: Dict[str, Any] = {} if endpoint_factory is None else {"endpoint_factory": endpoint_factory}
    speed: Optional[LowSpeedCheck] = None
    if options["speed-limit"] is not None:
        speed = LowSpeedCheck(options["speed-limit"], options["speed-time"], reactor.seconds())
        extra["meter"] = speed.observe
    client = HTTPClient(
        reactor,
        tls=TLSPolicy(cafile=options["cafile"], insecure=options["insecure"]),
        pipeline=options["pipeline"],
        connect_timeout=options["connect-timeout"],
        idle_timeout=options["idle-timeout"],
        **extra,
    )
    timer = None
    if options["max-time"] is not None:
        limit = options["max-time"]
        timer = reactor.callLater(limit, lambda: client.close(TimedOut(f"operation timed out after {limit:g} s")))
    ticker: List[Any] = []

    def check_speed() -> None:
        assert speed is not None
        too_slow = speed.check(reactor.seconds())
        if too_slow is not None:
            ticker.clear()
            client.close(TimedOut(str(too_slow)))
        else:
            ticker[:] = [reactor.callLater(speed.check_interval, check_speed)]

    if speed is not None:
        ticker.append(reactor.callLater(speed.check_interval, check_speed))
    # Like curl: no bar when the body itself goes to the same terminal.
    to_terminal_stdout = _is_tty(stdout) and not options["remote-name"] and options["output"] in (None, "-")
    progress = not options["silent"] and not options["verbose"] and _is_tty(stderr) and not to_terminal_stdout
    method = "HEAD" if options["head"] else "GET"
    headers = _request_headers(options)
    sinks = [CommandSink(options, output, stderr, reactor, progress) for output in outputs]

    def start(index: int) -> defer.Deferred:
        sink: Any = sinks[index]  # duck-typed ResponseSink
        fetching = client.fetch(
            targets[index], sink, method=method, headers=headers,
            follow_redirects=options["location"], max_redirects=options["max-redirs"],
        )
        return fetching

    try:
        pending = [start(i) for i in range(len(targets))] if options["pipeline"] else []
        for index in range(len(targets)):
            fetching = pending[index] if pending else start(index)
            try:
                response = await fetching
            except Exception as error:
                for later in pending[index + 1:]:
                    later.addErrback(lambda _: None)
                problem = classify(error)
                if problem.exit_code in SERVER_FAULTS and not interrupted:
                    # The server ended the exchange: show and judge what came.
                    sinks[index].show_unparsed()
                    _speak_up(stderr, sinks[index], method, True, options["strict"])
                return fail(problem)
            finally:
                try:
                    outputs[index].close()
                except GetError as error:
                    return fail(error)
            if _speak_up(stderr, sinks[index], method, False, options["strict"]) and options["strict"]:
                return fail(GetError("the response broke HTTP/1.1 (--strict)", STRICT_EXIT))
            if options["timing"]:
                stderr.write(_timing_report(response))
            if options["etag-save"] is not None and 200 <= response.status < 300:
                tag = response.header("ETag")
                if tag is not None:
                    try:
                        with open(options["etag-save"], "w", encoding="latin-1") as handle:
                            handle.write(tag + "\n")
                    except OSError as error:
                        return fail(WriteFailed(f"cannot write --etag-save file: {error.strerror}"))
            if sinks[index].failed_status:
                for later in pending[index + 1:]:
                    later.addErrback(lambda _: None)
                return fail(GetError(
                    f"the requested URL returned error: {response.status} {response.reason}".rstrip(), 22))
        return 0
    finally:
        if timer is not None and timer.active():
            timer.cancel()
        for pending in ticker:
            if pending.active():
                pending.cancel()
        client.close()
        stderr.flush()


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["Options", "main", "UnsafeFileName"]
