# -*- test-case-name: tests.check.test_smtp_client -*-
"""
``netlab check smtp-client``: runs a student's SMTP client against
netlab-mailsink as an instrument (a L{SinkFactory} on a free loopback port
with STARTTLS on a throwaway certificate, AUTH for C{--user}, a greeting
held back 0.3 s, every byte the client sends recorded with whether TLS was
on, every reply line from the sink's transcript observers), once normally
and once with a 450 on RCPT, and judges the sessions with
L{_cases_smtp_client}.
"""

from __future__ import annotations

import datetime
import hashlib
import tempfile
from typing import IO, Any, List, Optional, Tuple

from twisted.internet import defer
from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab.check import _cases_smtp_client as cases
from twisted_netlab.check._report import Report
from twisted_netlab.check._session import choose, judge_session
from twisted_netlab.check.cli import EXIT_FAILED, EXIT_USAGE, TargetOptions, conclude, command_main, pick_cases
from twisted_netlab.check.program import StudentProgram, sleep

PROGRAM = "netlab check smtp-client"
#: The instrument greets this long after the connection, so that a client
#: that speaks first is seen doing it.
GREETING_DELAY_SECONDS = 0.3


class Options(TargetOptions):
    synopsis = "--run 'python3 mailclient.py {host} {port} ...' [--user NAME --password-file FILE] [options]"
    longdesc = (
        "Run an SMTP client (the mail lab's) against netlab-mailsink as an instrument, with STARTTLS "
        "(a throwaway certificate), AUTH for --user, and a second run where RCPT gets 450, and judge "
        "the dialogue, the message and what the client reports. {host}/{port} (also "
        "$NETLAB_HOST/$NETLAB_PORT) name the instrument. Exit codes: 0 nothing failed, 1 a case "
        "failed, 2 usage error."
    )
    optFlags = [["show-auth", None, "Show AUTH credentials in the transcript (masked by default)."]]
    optParameters: List[List[Any]] = [
        ["user", None, None, "The user the client logs in as (the instrument then requires AUTH)."],
        ["password-file", None, None, "File whose first line is that user's password."],
        ["expect-attachment", None, None, "The file the client attaches: its sha256 is compared with the attachment's."],
        ["limit", None, "30s", "The longest each run of the program may take before it is stopped."],
    ]

    def postOptions(self) -> None:
        TargetOptions.postOptions(self)
        if self["list"]:
            return
        if self["run"] is None:
            raise usage.UsageError("--run CMD is required (the mail client to check, with {host} and {port})")
        if (self["user"] is None) != (self["password-file"] is None):
            raise usage.UsageError("--user and --password-file go together")
        self["password"] = None
        if self["password-file"] is not None:
            try:
                with open(self["password-file"], encoding="utf-8") as handle:
                    self["password"] = handle.readline().rstrip("\r\n")
            except OSError as problem:
                raise usage.UsageError(f"cannot read --password-file {self['password-file']!r}: {problem.strerror}")
        self["attachment-sha256"] = None
        if self["expect-attachment"] is not None:
            try:
                with open(self["expect-attachment"], "rb") as handle:
                    self["attachment-sha256"] = hashlib.sha256(handle.read()).hexdigest()
            except OSError as problem:
                raise usage.UsageError(f"cannot read --expect-attachment {self['expect-attachment']!r}: {problem.strerror}")
        self["limit"] = parse_duration(self["limit"]) if isinstance(self["limit"], str) else self["limit"]
        if self["limit"] <= 0:
            raise usage.UsageError("--limit must be more than 0")


def _tls_context() -> Any:
    from twisted.internet import ssl

    from twisted_netlab.mail._tls import generate

    certificate, key = generate("localhost", datetime.datetime.now(datetime.timezone.utc))
    private = ssl.PrivateCertificate.loadPEM(certificate + b"\n" + key)
    return ssl.CertificateOptions(privateKey=private.privateKey.original, certificate=private.original)


def instrument(reactor: Any, origin: float, user: Optional[str], password: Optional[str], tls: Any, fault: Optional[str], folder: str) -> Tuple[Any, List[Any]]:
    """
    A sink factory recording into the returned list: (protocol, WireEvent)
    for client bytes and (session number, WireEvent) for the sink's lines.
    """
    from twisted.internet.interfaces import ISSLTransport

    from twisted_netlab.mail._faults import FaultPlan, parse_fault
    from twisted_netlab.mail._maildir import Maildir
    from twisted_netlab.mail._transcript import EntryKind
    from twisted_netlab.mail.sink import MaildirStore, SinkFactory, SinkPolicy, SinkProtocol

    log: List[Any] = []

    class RecordingSink(SinkProtocol):
        def connectionMade(self) -> None:
            self._held: Optional[List[bytes]] = []
            self._greet = reactor.callLater(GREETING_DELAY_SECONDS, self._start)

        def _start(self) -> None:
            SinkProtocol.connectionMade(self)
            held, self._held = self._held or [], None
            for data in held:
                SinkProtocol.dataReceived(self, data)

        def dataReceived(self, data: bytes) -> None:
            log.append((self, cases.WireEvent(reactor.seconds() - origin, "client", data, ISSLTransport.providedBy(self.transport))))
            if self._held is not None:
                self._held.append(data)
            else:
                SinkProtocol.dataReceived(self, data)

        def connectionLost(self, reason: Any = None) -> None:
            if self._greet.active():
                self._greet.cancel()
            SinkProtocol.connectionLost(self, reason)

    class RecordingFactory(SinkFactory):
        def buildProtocol(self, addr: Any) -> Any:
            return RecordingSink(self)

    def observe(entry: Any) -> None:
        kind = {EntryKind.SERVER: "server", EntryKind.WARNING: "warning"}.get(entry.kind)
        if kind is not None:
            log.append((entry.session, cases.WireEvent(entry.at - origin, kind, entry.text.encode("utf-8"))))

    users = {user: password} if user is not None and password is not None else {}
    policy = SinkPolicy(hostname="localhost", users=users, tls_available=True, require_auth=bool(users))
    store = MaildirStore(Maildir(folder), reactor, "localhost", durable=False, discard=True)
    faults = FaultPlan()
    if fault is not None:
        faults.add(parse_fault(fault))
    factory = RecordingFactory(policy, store, tls_context=tls, faults=faults, timeout_seconds=30.0, max_connections=10, reactor=reactor)
    factory.observers.append(observe)
    return factory, log


def _first_connection(log: List[Any]) -> Tuple[Tuple[cases.WireEvent, ...], int]:
    """
    The events of the first connection (client bytes are tagged with their
    protocol, the sink's lines with its session number), and how many
    connections there were.
    """
    numbers = sorted({getattr(owner, "number", owner) for owner, _ in log if getattr(owner, "number", owner)})
    if not numbers:
        return (), 0
    first = numbers[0]
    return tuple(event for owner, event in log if getattr(owner, "number", owner) == first), len(numbers)


async def _one_run(reactor: Any, options: Options, tls: Any, fault: Optional[str], folder: str, notes: List[str]) -> Optional[cases.ClientRun]:
    origin = reactor.seconds()
    factory, log = instrument(reactor, origin, options["user"], options["password"], tls, fault, folder)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    program = StudentProgram(reactor, options["run"], "127.0.0.1", port.getHost().port, origin)
    try:
        program.start()
        await program.wait(options["limit"])
        if program.running:
            await program.stop()
            notes.append(f"the program was still running after {options['limit']:g} s{' (run with ' + fault + ')' if fault else ''} and was stopped")
        await sleep(reactor, 0.05)
    finally:
        await defer.maybeDeferred(port.stopListening)
        if program.running:
            await program.stop()
    events, connections = _first_connection(log)
    if connections > 1:
        notes.append(f"the client opened {connections} connections; the first is judged")
    return cases.ClientRun(events, tuple(program.lines), program.exit_code, program.exit_description or "", connections, fault or "")


async def _run(reactor: Any, options: Options, stdout: IO[str], stderr: IO[str]) -> int:
    all_cases = cases.all_cases()
    picked = pick_cases(all_cases, options, choose, PROGRAM, stdout, stderr)
    if isinstance(picked, int):
        return picked
    chosen = picked
    notes: List[str] = []
    tls = _tls_context()
    with tempfile.TemporaryDirectory(prefix="netlab-check-mail-") as folder:
        try:
            normal = await _one_run(reactor, options, tls, None, folder, notes)
            faulted = None
            if any(case.id == "smtp.reports-4xx" for case in chosen):
                faulted = await _one_run(reactor, options, tls, "RCPT=450", folder, notes)
        except ValueError as problem:
            stderr.write(f"{PROGRAM}: error: --run: {problem}\n")
            return EXIT_USAGE
        except OSError as problem:
            stderr.write(f"{PROGRAM}: cannot run {options['run']!r}: {problem.strerror}\n")
            return EXIT_FAILED
    assert normal is not None
    session = cases.read_session(
        cases.SmtpClientSession(normal, faulted, options["user"], options["attachment-sha256"], options["show-auth"])
    )
    results = judge_session(chosen, session)
    notes.append(f"run 1 (no faults): the program {normal.exit_description}; its dialogue with the instrument"
                 f"{' (AUTH masked; --show-auth shows it)' if not options['show-auth'] else ''}:")
    notes.extend("  " + line for line in cases.dialogue(session))
    notes.append("  its output:")
    notes.extend(f"  {line.at:7.3f} {'!' if line.stream == 'err' else '|'} {line.text[:200]}" for line in normal.output[-40:])
    if faulted is not None:
        notes.append(f"run 2 (RCPT answered 450): the program {faulted.exit_description}; its output:")
        notes.extend(f"  {line.at:7.3f} {'!' if line.stream == 'err' else '|'} {line.text[:200]}" for line in faulted.output[-20:])
    report = Report("smtp-client", options["run"], options["profile"], results, tuple(notes))
    return conclude(report, options, stdout, stderr)


__all__ = ["Options", "main"]


main = command_main(_run)
