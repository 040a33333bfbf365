# -*- test-case-name: tests.check.test_cli -*-
"""
``netlab check http``: the adapter that runs the pure HTTP cases
(L{_cases_http}, L{_cases_http_rfc}) against a server: it parses the
target, writes the fixtures (``--root``, or the fresh folder of ``--run``),
starts the ``--run`` child, probes reachability, and hands everything to
L{runner.run_cases} and L{cli.conclude}.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, Dict, List, Optional
from urllib.parse import urlsplit

from twisted.internet import defer
from twisted.python import usage

from twisted_netlab.check import runner
from twisted_netlab.check._case import Await, Context, Send, Stream, select
from twisted_netlab.check._cases_http import FILES, MARKER, all_cases, answered, fixture_files, marker_bytes, request
from twisted_netlab.check._report import Report
from twisted_netlab.check.cli import (
    EXIT_FAILED,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    TargetOptions,
    conclude,
    is_loopback,
    command_main,
    pick_cases,
)

PROGRAM = "netlab check http"


class Options(TargetOptions):
    synopsis = "[options] [URL]"
    longdesc = (
        "Grade an HTTP/1.1 server case by case: the lab rubric, RFC 9110/9112 and hardening. "
        "Give the URL of a running server (with --root DIR, the folder it serves, so the checker can "
        "write its fixtures there), or --run CMD to let netlab start it. Exit codes: 0 nothing failed, "
        "1 a case failed, 2 usage error, 7 the server could not be reached."
    )
    optParameters = [
        ["root", None, None, "The folder the server serves (fixtures are written in a fresh sub-folder, removed after)."],
    ]

    def __init__(self) -> None:
        TargetOptions.__init__(self)
        self["url"] = None

    def parseArgs(self, url: Optional[str] = None) -> None:
        self["url"] = url

    def needs_tls(self) -> bool:
        """
        TLS from the start only for an https:// URL (a ``--run`` server is
        spoken to over plain HTTP).
        """
        target = self.get("target")
        return target is not None and target.scheme == "https"

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if self["list"]:
            return
        if self["url"] is None and self["run"] is None:
            raise usage.UsageError("give the server's URL, or --run CMD")
        if self["url"] is not None and self["run"] is not None:
            raise usage.UsageError("give a URL or --run CMD, not both (--run picks the port)")
        if self["root"] is not None:
            if self["run"] is not None:
                raise usage.UsageError("--root is for a server that already runs; --run makes its own root")
            if not os.path.isdir(self["root"]):
                raise usage.UsageError(f"--root {self['root']!r} is not a folder")
        if self["url"] is not None:
            self["target"] = parse_target(self["url"])
            if not self["allow-remote"] and not is_loopback(self["target"].host):
                raise usage.UsageError(
                    f"{self['target'].host} is not a loopback address; add --allow-remote to check another host"
                )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(text: str) -> Target:
    """
    An http(s) URL as a L{Target}; the path is made to end in ``/``.

    @raise usage.UsageError: not http(s), no host, a bad port.
    """
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as problem:
        raise usage.UsageError(f"not a usable URL: {text!r} ({problem})")
    if parts.scheme not in ("http", "https"):
        raise usage.UsageError(f"not an http or https URL: {text!r}")
    if not parts.hostname:
        raise usage.UsageError(f"no host in {text!r}")
    path = parts.path or "/"
    if not path.endswith("/"):
        path += "/"
    return Target(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80), path)


@dataclass
class Fixtures:
    """
    What was written on disk, to be removed afterwards.
    """

    folder: Optional[str] = None
    marker: Optional[str] = None
    temporary: Optional[str] = None
    files: Dict[str, bytes] = field(default_factory=dict)

    def remove(self) -> None:
        if self.marker is not None:
            try:
                os.remove(self.marker)
            except OSError:
                pass
        for path in (self.folder, self.temporary):
            if path is not None:
                shutil.rmtree(path, ignore_errors=True)


def write_fixtures(root: str, token: str, marker_folder: Optional[str]) -> Fixtures:
    """
    Write the fixture files into C{root}/netlab-check-C{token}/ and the
    traversal marker into C{marker_folder} (beside the root) when it is
    writable.
    """
    fixtures = Fixtures(files=fixture_files())
    folder = os.path.join(root, f"netlab-check-{token}")
    os.mkdir(folder)
    fixtures.folder = folder
    for name, data in fixtures.files.items():
        path = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(data)
    if marker_folder is not None:
        marker = os.path.join(marker_folder, f"netlab-check-secret-{token}.txt")
        try:
            with open(marker, "xb") as handle:
                handle.write(marker_bytes(token))
            fixtures.marker = marker
        except OSError:
            pass
    return fixtures


def make_context(host: str, port: int, base: str, fixtures: Optional[Fixtures], token: str, timeout: float) -> Context:
    available = set()
    extra: Dict[str, Any] = {"token": token}
    fixture_path = None
    if fixtures is not None and fixtures.folder is not None:
        available.add(FILES)
        extra["files"] = fixtures.files
        fixture_path = f"{base}netlab-check-{token}/"
        if fixtures.marker is not None:
            available.add(MARKER)
            extra["marker_name"] = os.path.basename(fixtures.marker)
            extra["marker_path"] = os.path.abspath(fixtures.marker)
            extra["marker_bytes"] = marker_bytes(token)
    return Context(host, port, base, fixture_path, frozenset(available), timeout, extra)


@defer.inlineCallbacks
def probe(reactor: Any, context: Context, tls: Any) -> Any:
    """
    One ordinary GET of the target (the same request any client sends):
    fires with L{None} when the server could be reached, else the reason.
    """
    stream = Stream((Send(request(context, context.base_path, headers=[("Connection", "close")])),
                     Await(answered(["GET"]), context.timeout_seconds)))
    recording = yield runner.play(reactor, (stream,), context.host, context.port, context.timeout_seconds + 1, tls)
    return recording.streams[0].first_failure()


def _tls_options() -> Any:
    from twisted.internet import ssl

    # Loopback grading of a lab server: its certificate is self-made.
    return ssl.CertificateOptions(verify=False)


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    cases = all_cases()
    picked = pick_cases(cases, options, select, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    token = os.urandom(6).hex()
    notes: List[str] = []
    child: Optional[runner.ChildServer] = None
    fixtures: Optional[Fixtures] = None
    tls = None

    def interrupted() -> Any:
        # The reactor stops before the run ended (Ctrl-C, SIGTERM): neither
        # the server nor the fixtures may outlive the checker.
        if fixtures is not None:
            fixtures.remove()
        if child is not None:
            return child.stop()
        return None

    trigger = reactor.addSystemEventTrigger("before", "shutdown", interrupted)
    try:
        if options["run"] is not None:
            temporary = tempfile.mkdtemp(prefix="netlab-check-")
            root = os.path.join(temporary, "root")
            os.mkdir(root)
            fixtures = write_fixtures(root, token, temporary)
            fixtures.temporary = temporary
            try:
                child = runner.ChildServer(reactor, options["run"], root, start_timeout_seconds=options["start-timeout"])
            except ValueError as problem:
                stderr.write(f"{PROGRAM}: error: --run: {problem}\n")
                return EXIT_USAGE
            try:
                port = await child.start()
            except runner.ChildFailed as problem:
                stderr.write(f"{PROGRAM}: {problem}\n")
                if problem.output.strip():
                    stderr.write("its output:\n" + "".join(f"  | {line}\n" for line in problem.output.splitlines()[-30:]))
                return EXIT_FAILED if problem.exited else EXIT_UNREACHABLE
            host, base, shown = "127.0.0.1", "/", f"http://127.0.0.1:{port}/ ({options['run']})"
            notes.append(f"server: {' '.join(child.argv)} (cwd {root})")
        else:
            target: Target = options["target"]
            host, port, base = target.host, target.port, target.path
            shown = options["url"]
            if target.scheme == "https":
                tls = _tls_options()
            if options["root"] is not None:
                root = os.path.abspath(options["root"])
                try:
                    fixtures = write_fixtures(root, token, os.path.dirname(root.rstrip(os.sep)))
                except OSError as problem:
                    stderr.write(f"{PROGRAM}: cannot write fixtures into --root {options['root']!r}: {problem.strerror}\n")
                    return EXIT_USAGE
        context = make_context(host, port, base, fixtures, token, options["timeout"])
        if child is None:
            failure = await probe(reactor, context, tls)
            if failure is not None:
                stderr.write(f"{PROGRAM}: {host}:{port}: {failure}\n")
                return EXIT_UNREACHABLE
        state = runner.RunState(context, notes, {})
        results = await runner.run_cases(reactor, chosen, state, runner.stream_driver(reactor, tls), child)
        if child is not None and child.starts > 1:
            notes.append(f"server was started {child.starts} times")
        output = child.output_text(last_lines=20) if child is not None else ""
        report = Report("http", shown, options["profile"], results, tuple(notes), output)
        return conclude(report, options, stdout, stderr, state.elapsed)
    finally:
        reactor.removeSystemEventTrigger(trigger)
        if child is not None:
            await child.stop()
        if fixtures is not None:
            fixtures.remove()


__all__ = ["Options", "main", "parse_target"]


main = command_main(_run)
