# -*- test-case-name: tests.mail.test_cli -*-
"""
``netlab mail``: send one message over ESMTP, as swaks does, on top of
L{twisted_netlab.mail.client.send_messages}.  This module only parses
options, reads files and the password, prints, and maps errors to exit codes.

Exit codes (also in README):
  0 delivered to every recipient      1 delivered, but some recipients refused
  2 usage error (bad flag, unreadable file, header injection attempt, no password)
  3 connection failed                 4 greeting, EHLO/HELO or RSET refused
  5 TLS: STARTTLS missing/refused, handshake or certificate failure, injection
  6 AUTH: refused, not offered, or no mechanism in common
  7 envelope: MAIL FROM or every RCPT TO refused; SIZE, 8BITMIME or SMTPUTF8 missing
  8 message refused at DATA or after the final dot
  70 internal error (a bug; the traceback is printed)
A timeout or a protocol violation gets the code of the step it happened in.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import Any, List, Optional, TextIO

from twisted.python import usage

from twisted_netlab._endpoints import parse_duration
from twisted_netlab._options import CommandOptions, parse_host_port
from twisted_netlab.mail._client_core import Credentials, Envelope, MessageResult, TLSMode
from twisted_netlab.mail._message import Attachment, Mailbox, build_message, frame_data, make_message_id
from twisted_netlab.mail._replies import LocalProtocolError, Phase, SMTPClientError, Step
from twisted_netlab.mail._servers import (
    NamedServer,
    ServerConfigError,
    config_path,
    describe,
    keyring_password,
    load_servers,
)

PASSWORD_ENVIRONMENT_VARIABLE = "NETLAB_MAIL_PASSWORD"
EXIT_OK = 0
EXIT_PARTIAL = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # sysexits EX_SOFTWARE
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports Ctrl+C

#: Bound what we read from files and stdin into memory.
MAX_INPUT_BYTES = 64 * 1024 * 1024


def _read_input(path: str, what: str, stdin: Any = None) -> bytes:
    try:
        if path == "-":
            stream = (stdin or sys.stdin).buffer if hasattr(stdin or sys.stdin, "buffer") else (stdin or sys.stdin)
            data = stream.read(MAX_INPUT_BYTES + 1)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_INPUT_BYTES + 1)
    except OSError as error:
        raise usage.UsageError(f"cannot read {what} {path!r}: {error.strerror or error}")
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_INPUT_BYTES:
        raise usage.UsageError(f"{what} {path!r} is larger than {MAX_INPUT_BYTES} bytes")
    return data


class Options(CommandOptions):
    synopsis = "--from ADDRESS --to ADDRESS [options]"
    longdesc = (
        "Send one message over ESMTP and show the dialogue (-v).  TLS is required by "
        "default (STARTTLS); the password comes from --password-file, the "
        f"{PASSWORD_ENVIRONMENT_VARIABLE} environment variable or a prompt, never from "
        "the command line.  Exit codes: 0 sent, 1 some recipients refused, 2 usage, "
        "3 connect, 4 greeting/EHLO, 5 TLS, 6 AUTH, 7 envelope, 8 message."
    )

    optParameters = [
        ["server", "s", None, "SMTP server: a name (lab, gmail, office365 or one of yours: --list-servers), host, address, host:port or [IPv6]:port (default: lab, the local netlab-mailsink on 127.0.0.1:2525)."],
        ["port", "p", None, "Server port (default: the named server's, else 25, or 465 with --tls implicit).", int],
        ["from", "f", None, "Envelope sender and From: header (Name <a@b> allowed)."],
        ["subject", None, "netlab mail test", "Subject: header."],
        ["body", None, None, "Message text."],
        ["body-file", None, None, "Read the message text from FILE ('-' for stdin)."],
        ["raw", None, None, "Send FILE ('-' for stdin) as the whole message, unchanged but for CRLF."],
        ["tls", None, None, "required | opportunistic | none | implicit (default: the named server's, else required)"],
        ["cafile", None, None, "Trust only the CA certificates in this PEM file."],
        ["user", "u", None, "AUTH user name (enables AUTH)."],
        ["password-file", None, None, "Read the AUTH password from the first line of FILE."],
        ["auth", None, None, "AUTH mechanism: CRAM-MD5, PLAIN or LOGIN (default: best offered)."],
        ["ehlo", None, None, "Name to greet with (default: our address literal, e.g. [127.0.0.1])."],
        ["quit-after", None, None, "Stop after greeting, ehlo, tls or auth (check a server without sending mail)."],
        ["timeout", None, 30.0, "Timeout for connecting and for every reply (30s, 1m, 500ms).", parse_duration],
    ]
    optFlags = [
        ["insecure", None, "Do not verify the server certificate (DANGEROUS; warns)."],
        ["verbose", "v", "Print the SMTP transcript (secrets masked)."],
        ["list-servers", None, "List the server names --server knows (built-in and from the servers file) and exit."],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["to"] = []
        self["cc"] = []
        self["bcc"] = []
        self["attach"] = []
        self["header"] = []
        self.stdin: Any = sys.stdin

    def opt_to(self, address: str) -> None:
        """
        Recipient (To: header and envelope); repeatable.
        """
        self["to"].append(address)

    opt_t = opt_to

    def opt_cc(self, address: str) -> None:
        """
        Recipient shown in Cc:; repeatable.
        """
        self["cc"].append(address)

    def opt_bcc(self, address: str) -> None:
        """
        Recipient in the envelope only; repeatable.
        """
        self["bcc"].append(address)

    def opt_attach(self, path: str) -> None:
        """
        Attach FILE (MIME type from its name); repeatable.
        """
        self["attach"].append(path)

    def opt_header(self, header: str) -> None:
        """
        Add a header "Name: value"; repeatable.
        """
        name, colon, value = header.partition(":")
        if not colon:
            raise usage.UsageError(f"--header wants 'Name: value', not {header!r}")
        self["header"].append((name.strip(), value.strip()))

    def opt_password(self, _: str) -> None:
        """
        Refused: a password on the command line shows in ps and shell history.
        """
        raise usage.UsageError(
            "passwords are not accepted on the command line (ps and shell history show them); "
            f"use --password-file, the {PASSWORD_ENVIRONMENT_VARIABLE} environment variable, or the prompt"
        )

    def postOptions(self) -> None:
        if self["list-servers"]:
            return
        self._resolve_named_server()
        try:
            self["tls_mode"] = TLSMode(self["tls"])
        except ValueError:
            raise usage.UsageError(
                f"--tls must be one of required, opportunistic, none, implicit, not {self['tls']!r}"
            )
        self["quit_step"] = None
        if self["quit-after"] is not None:
            steps = {"greeting": Step.GREETING, "ehlo": Step.EHLO, "tls": Step.TLS, "auth": Step.AUTH}
            if self["quit-after"].lower() not in steps:
                raise usage.UsageError(f"--quit-after must be greeting, ehlo, tls or auth, not {self['quit-after']!r}")
            self["quit_step"] = steps[self["quit-after"].lower()]
        elif self["from"] is None:
            raise usage.UsageError("--from is required")
        elif not (self["to"] or self["cc"] or self["bcc"]):
            raise usage.UsageError("at least one --to, --cc or --bcc is required")
        if self["port"] is not None and not 1 <= self["port"] <= 65535:
            raise usage.UsageError(f"--port must be 1 to 65535, not {self['port']}")
        if self["auth"] is not None and self["user"] is None:
            raise usage.UsageError("--auth needs --user")
        if self["auth"] is not None and self["auth"].upper() not in ("CRAM-MD5", "PLAIN", "LOGIN"):
            raise usage.UsageError(f"--auth must be CRAM-MD5, PLAIN or LOGIN, not {self['auth']!r}")
        if self["insecure"] and self["cafile"]:
            raise usage.UsageError("--insecure and --cafile contradict each other")
        if self["cafile"] is not None and not self.get("cafile_of_named_server") and not os.path.isfile(self["cafile"]):
            raise usage.UsageError(f"--cafile {self['cafile']!r} is not a readable file")
        if self["timeout"] <= 0:
            raise usage.UsageError("--timeout must be more than 0")
        sources = [k for k in ("body", "body-file", "raw") if self[k] is not None]
        if len(sources) > 1:
            raise usage.UsageError("use only one of --body, --body-file and --raw")
        if self["raw"] is not None and (self["attach"] or self["header"]):
            raise usage.UsageError("--raw sends the file as it is: --attach and --header do not apply")
        self["password_value"] = self._password_from_file_or_environment()
        if self["quit_step"] is not None:
            self["message"] = None  # no mail is sent: nothing to build
            return
        try:
            self["sender"] = Mailbox.parse(self["from"], "--from")
            self["recipients"] = {
                key: [Mailbox.parse(a, f"--{key}") for a in self[key]] for key in ("to", "cc", "bcc")
            }
        except LocalProtocolError as error:
            raise usage.UsageError(str(error))
        if not any(self["recipients"].values()):
            raise usage.UsageError("at least one --to, --cc or --bcc is required")
        self["message"] = self._message_bytes()
        try:
            frame_data(self["message"])
        except LocalProtocolError as error:
            raise usage.UsageError(f"cannot send this message: {error}")

    def _resolve_named_server(self) -> None:
        """
        Turn ``--server NAME`` into its host, port, TLS mode, user, CA file
        and password reference; options given explicitly win.  Without
        --server, the lab's sink is meant (its port unless --port).
        """
        if self["server"] is None:
            self["server"] = "lab"
        self._split_server_port()
        named: Optional[NamedServer] = None
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", self["server"]):
            try:
                named = load_servers().get(self["server"])
            except ServerConfigError as error:
                raise usage.UsageError(str(error))
        self["named"] = named
        if named is None:
            self["tls"] = self["tls"] or "required"
            return
        self["server"] = named.host
        if self["port"] is None:
            self["port"] = named.port
        self["tls"] = self["tls"] or named.tls
        if self["user"] is None:
            self["user"] = named.user
        if self["cafile"] is None and not self["insecure"] and named.cafile is not None and self["tls"] != "none":
            # Checked when connecting: the lab's sink makes it on its first start.
            self["cafile"] = named.cafile
            self["cafile_of_named_server"] = True

    def _split_server_port(self) -> None:
        """
        Accept ``host:port`` and ``[ipv6]:port`` in --server, as swaks does; a
        bare IPv6 address (several colons) stays a host.
        """
        server, port = parse_host_port(self["server"], None, "--server")
        if port is not None:
            if self["port"] is not None and self["port"] != port:
                raise usage.UsageError(f"--server {self['server']} and --port {self['port']} disagree")
            self["port"] = port
        self["server"] = server

    def _password_from_file_or_environment(self) -> Optional[str]:
        if self["password-file"] is not None:
            if self["user"] is None:
                raise usage.UsageError("--password-file needs --user")
            data = _read_input(self["password-file"], "password file")
            return data.decode("utf-8", "replace").splitlines()[0] if data.strip() else ""
        if self["user"] is None:
            return None
        from_environment = os.environ.get(PASSWORD_ENVIRONMENT_VARIABLE)
        named: Optional[NamedServer] = self["named"]
        if from_environment is not None or named is None or self["user"] != named.user:
            return from_environment
        if named.password_file is not None:
            data = _read_input(named.password_file, f"password file of server {named.name}")
            return data.decode("utf-8", "replace").splitlines()[0] if data.strip() else ""
        if named.password_keyring is not None:
            try:
                return keyring_password(named.password_keyring, named.user or "")
            except ServerConfigError as error:
                raise usage.UsageError(f"--server {named.name}: {error}")
        return None

    def _message_bytes(self) -> bytes:
        if self["raw"] is not None:
            return _read_input(self["raw"], "message file", self.stdin)
        if self["body"] is not None:
            body = self["body"]
        elif self["body-file"] is not None:
            body = _read_input(self["body-file"], "body file", self.stdin).decode("utf-8", "replace")
        elif self.stdin is not None and not _isatty(self.stdin):
            body = _read_input("-", "standard input", self.stdin).decode("utf-8", "replace")
        else:
            body = ""
        attachments = []
        for path in self["attach"]:
            attachments.append(Attachment(os.path.basename(path), _read_input(path, "attachment")))
        sender: Mailbox = self["sender"]
        domain = sender.address.rpartition("@")[2]
        # An ASCII domain with labels of 1 to 63 characters is what the idna
        # codec would return unchanged (and the codec costs an import).
        if not (domain.isascii() and all(0 < len(label) < 64 for label in domain.split("."))):
            try:
                domain = domain.encode("idna").decode("ascii")
            except UnicodeError:
                domain = "netlab.invalid"
        try:
            return build_message(
                sender,
                self["recipients"]["to"],
                self["recipients"]["cc"],
                subject=self["subject"],
                body=body,
                attachments=attachments,
                now=time.time(),
                message_id=make_message_id(os.urandom(16), domain),
                extra_headers=self["header"],
            )
        except LocalProtocolError as error:
            raise usage.UsageError(str(error))


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def resolve_password(options: Options, stdin: Any = None, prompt: Any = None) -> Optional[str]:
    """
    The password from --password-file or the environment, else a prompt,
    but only when stdin is a terminal (a script must not hang on one).
    """
    if options["user"] is None:
        return None
    if options["password_value"] is not None:
        return options["password_value"]
    stdin = stdin if stdin is not None else sys.stdin
    if not _isatty(stdin):
        raise usage.UsageError(
            f"--user needs a password: --password-file FILE, {PASSWORD_ENVIRONMENT_VARIABLE}, "
            "or run on a terminal to be prompted"
        )
    if prompt is None:
        import getpass  # only to prompt on a terminal

        prompt = getpass.getpass
    return prompt(f"Password for {options['user']}: ")


def report(result: MessageResult, out: TextIO) -> int:
    for recipient in result.recipients:
        if recipient.accepted:
            out.write(f"accepted {recipient.address}\n")
        else:
            reply = recipient.reply.quoted() if recipient.reply else "not tried"
            out.write(f"refused  {recipient.address}: {reply}\n")
    final = result.reply.quoted() if result.reply else ""
    accepted = len([r for r in result.recipients if r.accepted])
    out.write(f"sent to {accepted} of {len(result.recipients)} recipients: {final}\n")
    return EXIT_OK if not result.refused else EXIT_PARTIAL


def list_servers(out: TextIO, err: TextIO) -> int:
    """
    ``--list-servers``: the names --server knows, and where they come from.
    """
    try:
        servers = load_servers()
    except ServerConfigError as error:
        err.write(f"netlab mail: error: {error}\n")
        return EXIT_USAGE
    for line in describe(servers):
        out.write(line.rstrip() + "\n")
    lab = servers["lab"].cafile or ""
    state = "present" if os.path.isfile(lab) else "not made yet: start bash scripts/lab"
    out.write(f"lab certificate: {lab} ({state})\n")
    out.write(f"your servers: {config_path()} (host, port, tls, user, cafile, password-file or password-keyring)\n")
    return EXIT_OK


def main(reactor: Any, options: Options, out: Optional[TextIO] = None, err: Optional[TextIO] = None) -> Any:
    # Imported here: --help and usage errors need no reactor machinery.
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from twisted_netlab.mail.client import client_tls_options, send_messages

    out = out or sys.stdout
    err = err or sys.stderr
    if options["list-servers"]:
        return list_servers(out, err)
    try:
        password = resolve_password(options)
    except usage.UsageError as error:
        err.write(f"netlab mail: error: {error}\n")
        return EXIT_USAGE
    credentials = None
    if options["user"] is not None:
        try:
            credentials = Credentials(options["user"], password or "")
        except LocalProtocolError as error:
            err.write(f"netlab mail: error: {error}\n")
            return EXIT_USAGE
    mode: TLSMode = options["tls_mode"]
    named: Optional[NamedServer] = options["named"]
    if options.get("cafile_of_named_server") and not os.path.isfile(options["cafile"]):
        assert named is not None
        if named.name == "lab":
            err.write(
                f"netlab mail: error at connect: the lab's mail sink has not made its certificate {named.cafile} yet; "
                "start it (bash scripts/lab, or twistd -n netlab-mailsink) and try again\n"
            )
        else:
            err.write(f"netlab mail: error at connect: --server {named.name}: cafile {named.cafile} is not a readable file\n")
        return int(Phase.CONNECT)
    tls_options = None
    # Without a CA file or --insecure, send_messages() makes the default
    # settings when TLS starts (SystemTrust); a CA file is read now, so that
    # a bad one is a usage error before anything is sent.
    if mode is not TLSMode.NONE and (options["cafile"] is not None or options["insecure"]):
        if options["insecure"]:
            err.write(
                "netlab mail: WARNING: --insecure: the server certificate is NOT verified; "
                "anyone on the path can read and change this session, including the password\n"
            )
        try:
            tls_options = client_tls_options(options["server"], options["cafile"], options["insecure"])
        except Exception as error:  # unreadable or malformed PEM, bad name
            err.write(f"netlab mail: error: --cafile {options['cafile']}: {error}\n")
            return EXIT_USAGE
    messages = []
    if options["message"] is not None and options["quit_step"] is None:
        recipients = options["recipients"]
        sender: Mailbox = options["sender"]
        addresses = tuple(m.address for m in recipients["to"] + recipients["cc"] + recipients["bcc"])
        raw = options["message"]
        messages.append(Envelope(sender.address, addresses, raw, utf8=not raw.isascii() and options["raw"] is None))

    def show(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    finished = send_messages(
        reactor,
        options["server"],
        messages,
        port=options["port"],
        tls=mode,
        credentials=credentials,
        auth_mechanism=options["auth"],
        quit_after=options["quit_step"],
        tls_options=tls_options,
        ehlo_name=options["ehlo"],
        timeout_seconds=options["timeout"],
        transcript=show if options["verbose"] else None,
    )

    def done(results: List[MessageResult]) -> int:
        if options["quit_step"] is not None:
            out.write(f"session worked up to {options['quit_step'].value}; quit there as asked (no mail sent)\n")
            return EXIT_OK
        [result] = results
        if result.error is not None:
            return failed(Failure(result.error))
        return report(result, out)

    def failed(reason: Failure) -> int:
        error = reason.value
        if not isinstance(error, SMTPClientError):
            # Not an SMTP outcome: a bug.  Say so instead of a misleading code.
            err.write(f"netlab mail: internal error: {reason.getTraceback()}\n")
            return EXIT_INTERNAL
        result = error.result
        if result is not None and any(r.reply is not None for r in result.recipients):
            for recipient in result.recipients:
                if recipient.reply is not None and not recipient.accepted:
                    err.write(f"netlab mail: refused {recipient.address}: {recipient.reply.quoted()}\n")
        err.write(f"netlab mail: error at {error}\n")
        return int(error.phase)

    # Ctrl+C or SIGTERM stops the reactor, which closes the connection: say
    # "interrupted" (exit 130) rather than the misleading error that the
    # closed connection would produce.
    outcome: Deferred = Deferred()

    def settle(result: Any) -> None:
        if outcome.called:
            return  # interrupted: what the closed connection did is noise
        outcome.callback(failed(result) if isinstance(result, Failure) else done(result))

    def on_shutdown() -> None:
        if not outcome.called:
            err.write("netlab mail: interrupted before the session ended; the server may not have the message\n")
            err.flush()
            outcome.callback(EXIT_INTERRUPTED)

    reactor.addSystemEventTrigger("before", "shutdown", on_shutdown)
    finished.addBoth(settle)
    return outcome


__all__ = ["Options", "main"]
