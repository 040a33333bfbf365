# -*- test-case-name: tests.test_cli -*-
"""
The ``netlab`` console command: one L{usage.Options} whose sub-commands
come from each family's ``cli`` module, run under L{task.react}.

A family ``cli`` module provides:

  - ``Options``: a L{usage.Options} subclass (validation raises
    L{usage.UsageError});
  - ``main(reactor, options)``: returns an C{int} exit code or a
    L{Deferred} firing with one.  Reports go to stdout, errors to stderr.

Sub-command modules are imported only when that sub-command is used, and
the reactor only once the options are valid: ``--help`` and usage errors
load no more than L{twisted.python.usage} and the sub-command's options.
The console script is L{twisted_netlab._startup.run}, which arranges the
process's start-up and then calls L{run}.

Exit codes common to every sub-command: 2 for a usage error (wrong flag,
bad value), 130 when interrupted before the sub-command could report.
Each sub-command documents its own codes above those.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Optional, Sequence

from twisted.python import usage

if TYPE_CHECKING:
    from twisted.internet import defer

#: (name, module, one-line help)
SUBCOMMANDS: List[tuple] = [
    ("get", "twisted_netlab.web.cli", "fetch URLs over HTTP/1.1 (a small curl)"),
    ("ping", "twisted_netlab.ping.cli", "UDP pinger with iputils-style statistics"),
    ("beat", "twisted_netlab.heartbeat.cli", "send UDP heartbeats to a monitor"),
    ("mail", "twisted_netlab.mail.cli", "send mail over ESMTP, showing the dialogue"),
    ("check", "twisted_netlab.check.cli", "grade someone's lab program case by case (check http ...)"),
]

USAGE_ERROR = 2


def _print_version() -> None:
    """
    Print netlab's version and Twisted's, and exit.
    """
    from twisted_netlab._options import print_version

    print_version("netlab")


def _lazy(module_name: str) -> Callable[[], usage.Options]:
    def make() -> usage.Options:
        base = importlib.import_module(module_name).Options
        # usage.Options' own --version names Twisted's version; ours says
        # which netlab this is, in every sub-command.
        def opt_version(self: usage.Options) -> None:
            """
            Print netlab's version and exit.
            """
            _print_version()

        command = type(base.__name__, (base,), {"opt_version": opt_version})
        return command()

    return make


class Options(usage.Options):
    synopsis = "Usage: netlab <command> [options] [arguments]"
    longdesc = "Run 'netlab <command> --help' for a command's own options."
    subCommands = [(name, None, _lazy(module), doc) for name, module, doc in SUBCOMMANDS]

    def opt_version(self) -> None:
        """
        Print netlab's version and Twisted's, and exit.
        """
        _print_version()

    # The same function: usage.Options shows "-h, --help".
    opt_h = usage.Options.opt_help

    def getSynopsis(self) -> str:
        # A sub-command's synopsis is appended to its parent's: while one
        # is being described, ours is just the program name.
        if self.subCommand is not None:
            return "Usage: netlab"
        return self.synopsis

    def postOptions(self) -> None:
        if self.subCommand is None:
            raise usage.UsageError("a command is required: " + ", ".join(n for n, _, _ in SUBCOMMANDS))


def parse(argv: Sequence[str]) -> Options:
    """
    Parse C{argv} (without the program name) into L{Options}.

    @raise usage.UsageError: for anything the user must correct.
    """
    options = Options()
    options.parseOptions(list(argv))
    return options


def _module_for(name: str) -> Any:
    for command, module, _ in SUBCOMMANDS:
        if command == name:
            return importlib.import_module(module)
    raise usage.UsageError(f"unknown command {name!r}")


def main(reactor: Any, options: Options) -> defer.Deferred:
    """
    Run the chosen sub-command; the Deferred fails with L{SystemExit} whose
    code is the sub-command's exit code, which is what L{task.react} uses.
    """
    from twisted.internet import defer

    assert options.subCommand is not None  # postOptions requires one
    module = _module_for(options.subCommand)

    def finished(code: Optional[int]) -> None:
        raise SystemExit(0 if code is None else int(code))

    return defer.maybeDeferred(module.main, reactor, options.subOptions).addCallback(finished)


#: Sub-commands that never use TLS; L{needs_tls} asks the others.
_WITHOUT_TLS = {"ping", "beat"}


def needs_tls(options: Options) -> bool:
    """
    Whether the chosen sub-command needs TLS from the start: ``get`` for a
    CA file (https:// loads it once connected), ``mail`` unless ``--tls none``; never
    ``ping`` or ``beat``.  Without it the reactor is loaded without its
    TLS support (see L{twisted_netlab._endpoints.defer_tls}), about half
    of a client's start-up time.
    """
    name, sub = options.subCommand, options.subOptions
    if name in _WITHOUT_TLS:
        return False
    if name == "mail":
        return str(sub["tls"]).lower() != "none"
    ask = getattr(sub, "needs_tls", None)
    return True if ask is None else bool(ask())


def run(
    argv: Optional[Sequence[str]] = None,
    started: Optional[Callable[[], None]] = None,
    defer_modules: Optional[Callable[[Iterable[str]], object]] = None,
) -> None:
    """
    Parse, report usage errors on stderr with exit code 2, otherwise run
    under L{task.react}.  C{started}, if given, is called once the
    sub-command has started (its synchronous part has returned), just
    before the reactor runs: L{twisted_netlab._startup}, the console
    script, ends its start-up arrangements there.  C{defer_modules}, if given
    (the console script gives L{twisted_netlab._startup.defer_imports}),
    is handed the modules that a command loading TLS from the start
    needs only to check a certificate.
    """
    if argv is None:
        argv = sys.argv[1:]
    sys.stdout = _ClosedPipeGuard(sys.stdout)  # type: ignore[assignment]
    try:
        options = parse(argv)
    except usage.UsageError as error:
        known = {name for name, _, _ in SUBCOMMANDS}
        command = argv[0] if argv and argv[0] in known else None
        prefix = f"netlab {command}" if command else "netlab"
        sys.stderr.write(f"{prefix}: error: {error}\n")
        sys.stderr.write(f"Try '{prefix} --help' for more information.\n")
        sys.exit(USAGE_ERROR)
    if not needs_tls(options):
        from twisted_netlab._endpoints import defer_tls

        defer_tls()
    elif defer_modules is not None:
        from twisted_netlab._endpoints import TLS_CHECKING_MODULES

        defer_modules(TLS_CHECKING_MODULES)
    from twisted.internet import task
    from twisted.logger import globalLogBeginner

    # A command reports its own errors in one line; Twisted's critical log
    # events would otherwise reach stderr as tracebacks (a certificate
    # without subjectAltName makes service_identity log one while the
    # command says "certificate verification failed").
    observers: List[Any] = [_report_bugs_only]
    globalLogBeginner.beginLoggingTo(observers, discardBuffer=True, redirectStandardIO=False)

    def start(reactor: Any, options: Options) -> defer.Deferred:
        finished = main(reactor, options)
        if started is not None:
            started()
        return finished

    task.react(start, [options])


#: Log namespaces whose failures the sub-commands report themselves.
_REPORTED_BY_COMMANDS = ("twisted.internet._sslverify",)


def _report_bugs_only(event: dict) -> None:
    """
    Show only what no sub-command reports: critical events (unhandled
    errors, which are bugs), on stderr; everything else Twisted logs is
    dropped, as a command line tool's user never asked for a log.
    """
    from twisted.logger import LogLevel, formatEventAsClassicLogText

    if event.get("log_level") is not LogLevel.critical:
        return
    if str(event.get("log_namespace", "")).startswith(_REPORTED_BY_COMMANDS):
        return
    text = formatEventAsClassicLogText(event)
    if text:
        sys.stderr.write(text)


#: Exit status when our reader went away (128 + SIGPIPE, as a shell shows
#: for C tools killed by SIGPIPE, e.g. ``ping ... | head -2``).
CLOSED_PIPE = 141


class _ClosedPipeGuard:
    """
    Wrap the text stdout: when its reader has gone (``netlab ... | head``),
    end the process at once with L{CLOSED_PIPE}, quietly, as C tools do on
    SIGPIPE.  Python ignores SIGPIPE, so without this the error would
    surface inside a protocol callback as a traceback or a hang.  Binary
    writes (``sys.stdout.buffer``) are left to the command: ``netlab get``
    reports those as curl's write error.
    """

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _closed(self) -> None:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
        finally:
            os._exit(CLOSED_PIPE)

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._closed()
            return 0

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._closed()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
