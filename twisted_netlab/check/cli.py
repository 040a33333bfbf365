# -*- test-case-name: tests.check.test_cli -*-
"""
``netlab check <kind>``: the command-line face of the check family.  This
module holds what every kind shares: the sub-command registry (L{KINDS}),
the common flags (L{TargetOptions}), the loopback rule, and L{conclude}
(print the report, write ``--junit``, choose the exit code).  Each kind's
own adapter module (``check/http.py``) adds its target syntax and its
fixtures and runs its cases with L{twisted_netlab.check.runner}.

To add a kind (``ping-client``, ``smtp``...): write the pure
``_cases_<kind>.py`` (a list of L{Case}s), an adapter module with
``Options(TargetOptions)`` and ``main(reactor, options)`` shaped like
``check/http.py``, and one line in L{KINDS}.

Exit codes: 0 nothing failed, 1 a case failed (or the ``--run`` command
exited before accepting connections), 2 usage error, 7 the target could
not be reached at all.
"""

from __future__ import annotations

import importlib
import ipaddress
import os
import sys
from typing import IO, Any, Callable, Coroutine, Dict, List, Optional, Sequence, Union

from twisted.internet import defer
from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab.check._case import PROFILE_CHOICES
from twisted_netlab.check._report import Report, render_json, render_junit, render_text

#: (name, adapter module, one-line help); modules are imported when used.
KINDS: List[tuple] = [
    ("http", "twisted_netlab.check.http", "grade an HTTP/1.1 server: lab rubric, RFC 9110/9112, hardening"),
    ("smtp", "twisted_netlab.check.smtp", "grade an SMTP server: RFC 5321/3207/4954, smuggling"),
    ("ping-client", "twisted_netlab.check.ping_client", "run a UDP pinger against a scripted netlab-echo and judge what it prints"),
    ("smtp-client", "twisted_netlab.check.smtp_client", "run an SMTP client against netlab-mailsink and judge its dialogue and message"),
    ("beat-client", "twisted_netlab.check.beat_client", "run a heartbeat sender against a listener that goes away and comes back"),
    ("beat-monitor", "twisted_netlab.check.beat_monitor", "send a heartbeat monitor a scripted stream and judge what it reports"),
]

#: Kinds that only speak UDP.
_KINDS_WITHOUT_TLS = frozenset({"ping-client", "beat-client", "beat-monitor"})

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 7


class TargetOptions(usage.Options):
    """
    The flags every kind shares.  A kind's C{Options} subclasses this,
    adds its own, and calls C{TargetOptions.postOptions(self)}.
    """

    optFlags = [
        ["json", None, "Print one JSON document instead of the text report."],
        ["allow-remote", None, "Allow a target outside loopback (127.0.0.0/8, ::1, localhost)."],
        ["verbose", "v", "Show the detail and transcript of every case, not only of failures."],
        ["no-color", None, "No colour in the text report (default: colour only on a TTY)."],
        ["list", None, "List the cases (id, profile, reference, title) and exit."],
    ]
    optParameters = [
        ["run", None, None, "Start the server with this command ({port} and $PORT = a free loopback port; cwd = a fresh folder holding the fixtures)."],
        ["profile", None, "all", f"Which cases: {', '.join(PROFILE_CHOICES)}."],
        ["junit", None, None, "Also write JUnit XML to this FILE."],
        ["report", None, None, "Also write the report as one HTML page (verdicts, transcripts) to this FILE.html."],
        ["timeout", None, "5s", "Time bound of each case (hardening cases may take longer)."],
        ["start-timeout", None, "10s", "How long a --run server has to start accepting connections."],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["only"] = []

    def parseOptions(self, options: Optional[List[str]] = None) -> None:
        """
        Accept options after the target too (``netlab check http URL
        --root www``): GNU-style permutation first, then Twisted's parser.
        """
        import getopt

        argv = sys.argv[1:] if options is None else list(options)
        try:
            pairs, rest = getopt.gnu_getopt(argv, self.shortOpt, self.longOpt)
        except getopt.error as problem:
            raise usage.UsageError(str(problem))
        tokens: List[str] = []
        for name, value in pairs:
            if name.startswith("--"):
                takes = (name[2:] + "=") in self.longOpt
            else:
                takes = (name[1:] + ":") in self.shortOpt
            tokens += [name, value] if takes else [name]
        usage.Options.parseOptions(self, tokens + ["--"] + rest)

    def opt_only(self, value: str) -> None:
        """
        Run only these case ids (comma-separated, repeatable; "get." means every get.* case).
        """
        self["only"].extend(part.strip() for part in value.split(",") if part.strip())

    def postOptions(self) -> None:
        if self["profile"] not in PROFILE_CHOICES:
            raise usage.UsageError(f"--profile must be one of {', '.join(PROFILE_CHOICES)}, not {self['profile']!r}")
        for name in ("timeout", "start-timeout"):
            value = self[name]
            if isinstance(value, str):
                self[name] = parse_duration(value)
            if self[name] <= 0:
                raise usage.UsageError(f"--{name} must be more than 0")
        if self["report"] is not None and not self["report"].lower().endswith((".html", ".htm")):
            raise usage.UsageError(f"--report must name a .html file, not {self['report']!r}")
        if self["run"] is not None and not self["run"].strip():
            raise usage.UsageError("--run needs a command")


def is_loopback(host: str) -> bool:
    """
    Whether C{host} names this machine's loopback: C{localhost} (and
    C{*.localhost}, RFC 6761) or an address in 127.0.0.0/8 or ::1.
    """
    name = host.strip("[]").lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def use_colour(options: usage.Options, stream: Any) -> bool:
    if options["no-color"] or os.environ.get("NO_COLOR"):
        return False
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def conclude(
    report: Report,
    options: usage.Options,
    stdout: IO[str],
    stderr: IO[str],
    elapsed: Optional[Dict[str, float]] = None,
) -> int:
    """
    Print the report (text or C{--json}), write C{--junit}, and return the
    exit code: 1 when a case failed, else 0.  A JUnit file that cannot be
    written is an error on stderr and exit 2 (the user named it).
    """
    if options["json"]:
        stdout.write(render_json(report))
    else:
        stdout.write(render_text(report, colour=use_colour(options, stdout), verbose=options["verbose"]))
    stdout.flush()
    if options["junit"] is not None:
        try:
            with open(options["junit"], "wb") as handle:
                handle.write(render_junit(report, elapsed))
        except OSError as problem:
            stderr.write(f"netlab check: cannot write --junit file {options['junit']!r}: {problem.strerror}\n")
            return EXIT_USAGE
    if options["report"] is not None:
        from twisted_netlab.check._report_html import render_html

        try:
            with open(options["report"], "w", encoding="utf-8") as page:
                page.write(render_html(report))
        except OSError as problem:
            stderr.write(f"netlab check: cannot write --report file {options['report']!r}: {problem.strerror}\n")
            return EXIT_USAGE
    return EXIT_FAILED if report.failed else EXIT_OK


def command_main(run: Callable[[Any, Any, IO[str], IO[str]], Coroutine[Any, Any, int]]) -> Callable[..., defer.Deferred]:
    """
    The C{main(reactor, options, stdout=None, stderr=None)} of one check
    kind around its coroutine C{run(reactor, options, stdout, stderr)}:
    the reactor defaulted late, the streams to the process's; fires with
    the exit code.
    """

    def main(reactor: Any, options: Any, stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None) -> defer.Deferred:
        from twisted_netlab._endpoints import default_reactor

        return defer.ensureDeferred(run(default_reactor(reactor), options, stdout or sys.stdout, stderr or sys.stderr))

    return main


def pick_cases(
    cases: Sequence[Any], options: Any, select: Callable[..., List[Any]], program: str, stdout: IO[str], stderr: IO[str]
) -> Union[int, List[Any]]:
    """
    What every check kind does first: with C{--list}, print the cases and
    return the exit code; otherwise the cases C{--profile}/C{--only} choose
    (through C{select}), or the usage exit code after one error line.
    """
    if options["list"]:
        return list_cases([getattr(case, "case", case) for case in cases], stdout)
    try:
        return select(cases, options["profile"], options["only"])
    except ValueError as problem:
        stderr.write(f"{program}: error: {problem}\n")
        return EXIT_USAGE


def list_cases(cases: Sequence[Any], stdout: IO[str]) -> int:
    width = max(len(case.id) for case in cases)
    for case in cases:
        stdout.write(f"{case.id.ljust(width)}  {case.profile.value:<9}  {case.ref:<16}  {case.title}\n")
    return EXIT_OK


def _lazy(module_name: str) -> Any:
    def make() -> usage.Options:
        base = importlib.import_module(module_name).Options

        # As for netlab's own sub-commands: --version names netlab's version.
        def opt_version(self: usage.Options) -> None:
            """
            Print netlab's version and exit.
            """
            from twisted_netlab import __version__

            print(f"netlab {__version__}")
            sys.exit(0)

        return type(base.__name__, (base,), {"opt_version": opt_version})()

    return make


class Options(usage.Options):
    synopsis = "<kind> [options] [target]"
    longdesc = (
        "Check someone's lab program case by case. Exit codes: 0 nothing failed, 1 a case failed, "
        "2 usage error, 7 the target could not be reached."
    )
    subCommands = [(name, None, _lazy(module), doc) for name, module, doc in KINDS]

    def getSynopsis(self) -> str:
        # A kind's synopsis is appended to ours: while one is described,
        # ours stops at "netlab check".
        synopsis = str(usage.Options.getSynopsis(self))
        if self.subCommand is not None and synopsis.endswith(self.synopsis):
            return synopsis[: -len(self.synopsis)].rstrip()
        return synopsis

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a kind of check is required: " + ", ".join(n for n, _, _ in KINDS))

    def needs_tls(self) -> bool:
        """
        Whether the chosen kind needs TLS from the start (the ``netlab``
        command otherwise loads the reactor without it): the kind's own
        answer if it has one (``http``: only for an https:// URL); never
        for the UDP kinds; else yes (``smtp`` and ``smtp-client`` speak
        STARTTLS).
        """
        ask = getattr(self.subOptions, "needs_tls", None)
        if ask is not None:
            return bool(ask())
        return self.subCommand not in _KINDS_WITHOUT_TLS


def main(reactor: Any, options: Options, stdout: Optional[IO[str]] = None, stderr: Optional[IO[str]] = None) -> defer.Deferred:
    """
    Run the chosen kind's C{main}; fires with the exit code.
    """
    for name, module, _ in KINDS:
        if name == options.subCommand:
            kind = importlib.import_module(module)
            return defer.maybeDeferred(
                kind.main, reactor, options.subOptions, stdout or sys.stdout, stderr or sys.stderr
            )
    raise usage.UsageError(f"unknown kind of check {options.subCommand!r}")


__all__ = ["KINDS", "Options", "TargetOptions", "conclude", "is_loopback", "main"]
