# -*- test-case-name: tests.check.test_smtp_server -*-
"""
``netlab check smtp``: the adapter that runs the pure SMTP server cases
(L{_cases_smtp}) against a server given as ``HOST[:PORT]`` or started with
``--run``: it learns the server's EHLO keywords once, skips what cannot
run (with the reason), and hands the rest to L{runner.run_cases}.
"""

from __future__ import annotations

import os
import re
from typing import IO, Any, Dict, List, Optional, Tuple

from twisted.internet import defer
from twisted.python import usage

from twisted_netlab.check import runner
from twisted_netlab.check._case import Await, Case, CaseResult, Context, EntryKind, Send, Stream, select, skipped
from twisted_netlab.check._cases_smtp import NEEDS_TEXT, STARTTLS, all_cases, available_from
from twisted_netlab.check._smtp_dialogue import login_line, parse_replies, replies_seen
from twisted_netlab.check._report import Report
from twisted_netlab.check.cli import EXIT_FAILED, EXIT_UNREACHABLE, EXIT_USAGE, TargetOptions, conclude, is_loopback, command_main, pick_cases

PROGRAM = "netlab check smtp"

_DOMAIN = re.compile(r"\A(?=.{1,200}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+\Z")


class Options(TargetOptions):
    synopsis = "[options] [HOST[:PORT]]"
    longdesc = (
        "Check an SMTP server case by case: RFC 5321 dialogue, STARTTLS (RFC 3207), AUTH (RFC 4954), "
        "SIZE/8BITMIME/SMTPUTF8, SMTP smuggling. Give HOST[:PORT] (port 25 by default) of a running "
        "server, or --run CMD ({port} = a free loopback port). No message is submitted without --send, "
        "and then only to addresses under --domain. Exit codes: 0 nothing failed, 1 a case failed, "
        "2 usage error, 7 the server could not be reached."
    )
    optFlags = [["send", None, "Allow the cases that submit a message (DATA transparency, smuggling)."]]
    optParameters = [
        ["domain", None, "example.com", "The domain of every address the checker uses."],
        ["user", None, None, "Log in as this user (AUTH PLAIN, over TLS when offered) before the transaction cases."],
        ["password-file", None, None, "File whose first line is --user's password."],
    ]

    def __init__(self) -> None:
        TargetOptions.__init__(self)
        self["address"] = None

    def parseArgs(self, address: Optional[str] = None) -> None:
        self["address"] = address

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if not _DOMAIN.match(self["domain"]):
            raise usage.UsageError(f"--domain {self['domain']!r} is not a domain name")
        if (self["user"] is None) != (self["password-file"] is None):
            raise usage.UsageError("--user and --password-file go together")
        self["password"] = None
        if self["password-file"] is not None:
            try:
                with open(self["password-file"], encoding="utf-8") as handle:
                    self["password"] = handle.readline().rstrip("\r\n")
            except OSError as problem:
                raise usage.UsageError(f"cannot read --password-file {self['password-file']!r}: {problem.strerror}")
        if self["list"]:
            return
        if (self["address"] is None) == (self["run"] is None):
            raise usage.UsageError("give the server as HOST[:PORT], or --run CMD (not both)")
        if self["address"] is not None:
            self["host"], self["port"] = parse_address(self["address"])
            if not self["allow-remote"] and not is_loopback(self["host"]):
                raise usage.UsageError(f"{self['host']} is not a loopback address; add --allow-remote to check another host")


def parse_address(text: str) -> Tuple[str, int]:
    """
    ``HOST``, ``HOST:PORT``, ``[V6]:PORT`` or ``smtp://HOST:PORT`` as (host, port).

    @raise usage.UsageError: no host, or a port that is not 1-65535.
    """
    rest = text[len("smtp://"):] if text.startswith("smtp://") else text
    rest = rest.rstrip("/")
    port = "25"
    if rest.startswith("["):
        host, _, tail = rest[1:].partition("]")
        if tail.startswith(":"):
            port = tail[1:]
        elif tail:
            raise usage.UsageError(f"not HOST[:PORT]: {text!r}")
    elif rest.count(":") == 1:
        host, port = rest.split(":")
    else:
        host = rest
    if not host:
        raise usage.UsageError(f"no host in {text!r}")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise usage.UsageError(f"bad port in {text!r}")
    return host, int(port)


@defer.inlineCallbacks
def learn(reactor: Any, host: str, port: int, timeout: float, domain: str) -> Any:
    """
    Greeting, EHLO, MAIL, RSET, QUIT: fires with (the EHLO reply or
    L{None}, the MAIL reply or L{None}, why the server could not be reached
    or L{None}).  MAIL tells whether the server wants STARTTLS first.
    """
    steps = (
        Await(replies_seen(1), timeout),
        Send(b"EHLO checker." + domain.encode("ascii") + b"\r\n"),
        Await(replies_seen(2), timeout),
        Send(b"MAIL FROM:<netlab-check@" + domain.encode("ascii") + b">\r\n"),
        Await(replies_seen(3), timeout),
        Send(b"RSET\r\nQUIT\r\n"),
        Await(replies_seen(5), timeout),
    )
    recording = yield runner.play(reactor, (Stream(steps),), host, port, timeout * 4 + 1)
    stream = recording.streams[0]
    if stream.connect_failed:
        entry = stream.first(EntryKind.CONNECT_FAILED)
        return None, None, "could not connect: " + (entry.data.decode("ascii", "replace") if entry else "")
    replies = parse_replies(stream.received)
    if not replies:
        return None, None, "no SMTP greeting within the time bound"
    return (replies[1] if len(replies) > 1 else None), (replies[2] if len(replies) > 2 else None), None


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    cases = all_cases()
    picked = pick_cases(cases, options, select, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    notes: List[str] = []
    child: Optional[runner.ChildServer] = None
    try:
        if options["run"] is not None:
            try:
                child = runner.ChildServer(reactor, options["run"], os.getcwd(), start_timeout_seconds=options["start-timeout"])
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
            host = "127.0.0.1"
            shown = f"127.0.0.1:{port} ({options['run']})"
        else:
            host, port = options["host"], options["port"]
            shown = f"{host}:{port}"
        ehlo, mail, unreachable = await learn(reactor, host, port, options["timeout"], options["domain"])
        if unreachable is not None:
            stderr.write(f"{PROGRAM}: {host}:{port}: {unreachable}\n")
            return EXIT_UNREACHABLE
        available, size_limit = available_from(ehlo, options["send"])
        if ehlo is not None:
            notes.append("EHLO keywords: " + (", ".join(line[4:] for line in ehlo.lines[1:]) or "none"))
        if not options["send"]:
            notes.append("cases that submit a message were skipped: give --send to run them")
        token = os.urandom(6).hex()
        extra: Dict[str, Any] = {"domain": options["domain"], "size_limit": size_limit, "token": token}
        if mail is not None and mail.code == 530 and STARTTLS in available:
            extra["tls_first"] = True
            notes.append(f"MAIL in clear got {mail.text!r}: the dialogue cases run after STARTTLS")
        if options["user"] is not None:
            extra["login"] = (options["user"], options["password"])
            if STARTTLS in available and not extra.get("tls_first"):
                extra["tls_first"] = True
                notes.append("the dialogue cases run after STARTTLS (credentials never cross in clear)")
            notes.append(f"the transaction cases log in as {options['user']!r} first (AUTH PLAIN, masked in the transcripts)")
        context = Context(host, port, "/", None, available, options["timeout"], extra)
        runnable = [case for case in chosen if not case.missing(context)]
        state = runner.RunState(context, notes, {})
        ran = await runner.run_cases(reactor, runnable, state, runner.stream_driver(reactor), child)
        results = _masked(_in_order(chosen, ran, context), context)
        report = Report("smtp", shown, options["profile"], results, tuple(notes))
        return conclude(report, options, stdout, stderr, state.elapsed)
    finally:
        if child is not None:
            await child.stop()


def _masked(results: List[CaseResult], context: Context) -> List[CaseResult]:
    """
    The results with the AUTH PLAIN token of C{--user} masked in transcripts.
    """
    from dataclasses import replace

    line = login_line(context)
    if line is None:
        return results
    token = line.split(b" ")[2].strip().decode("ascii")
    return [replace(r, transcript=r.transcript.replace(token, "<credentials masked>")) for r in results]


def _in_order(chosen: List[Case], ran: List[CaseResult], context: Context) -> List[CaseResult]:
    by_id = {result.case.id: result for result in ran}
    results = []
    for case in chosen:
        if case.id in by_id:
            results.append(by_id[case.id])
        else:
            reasons = "; ".join(NEEDS_TEXT[need] for need in sorted(case.missing(context)))
            results.append(CaseResult(case, skipped(reasons)))
    return results


__all__ = ["Options", "main", "parse_address"]


main = command_main(_run)
