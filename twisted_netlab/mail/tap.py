# -*- test-case-name: tests.mail.test_tap -*-
"""
twistd glue for ``twistd netlab-mailsink``: L{Options} (every value
validated, with a UsageError naming the option) and L{makeService}, which
prepares the Maildir and the certificate and assembles the listening
services.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
from typing import Any, Dict, Mapping, Optional

from twisted.application.service import IService, MultiService
from twisted.python import usage

from twisted_netlab import _metrics
from twisted_netlab._endpoints import StreamListeningService, default_reactor, parse_duration
from twisted_netlab.mail import _servers
from twisted_netlab.mail._faults import FaultPlan, FaultSyntaxError, parse_fault
from twisted_netlab.mail._maildir import Maildir
from twisted_netlab.mail._sink_core import MAX_RECIPIENTS, MIN_DATA_RATE, SinkPolicy
from twisted_netlab.mail._tls import ensure_certificate

DEFAULT_LISTEN = "tcp:2525:interface=127.0.0.1"
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)i?b?\s*$", re.IGNORECASE)
_HOSTNAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")


def default_data_dir(environ: Optional[Mapping[str, str]] = None) -> str:
    """
    Where the Maildir and the generated certificate live by default (see
    L{_servers.default_data_dir}: ``netlab mail --server lab`` finds the
    certificate there too).
    """
    return _servers.default_data_dir(environ)


def default_hostname(name: Optional[str] = None) -> str:
    """
    This machine's host name when it is a usable DNS name, else
    ``localhost``.
    """
    name = socket.gethostname() if name is None else name
    return name if name and _HOSTNAME.match(name) else "localhost"


def parse_size(value: str) -> int:
    """
    ``10485760``, ``512K``, ``10M``, ``1G`` (binary multiples) in octets.
    """
    match = _SIZE.match(value)
    if match is None:
        raise usage.UsageError(f"--max-size must be a number of bytes such as 10485760 or 10M, not {value!r}")
    number = int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]
    if not 1024 <= number <= 2**31:
        raise usage.UsageError(f"--max-size must be from 1K to 2G, not {value!r}")
    return number


def parse_users(path: str) -> Dict[str, str]:
    """
    Read a users file: one ``user:password`` per line (split at the first
    colon, so passwords may contain colons; nothing is stripped but the
    line end); blank lines and lines starting with ``#`` are skipped.
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(1024 * 1024 + 1)
    except OSError as error:
        raise usage.UsageError(f"--users {path!r}: {error.strerror}")
    if len(raw) > 1024 * 1024:
        raise usage.UsageError(f"--users {path!r}: larger than 1 MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise usage.UsageError(f"--users {path!r}: not UTF-8")
    users: Dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        user, colon, password = line.partition(":")
        if not colon or not user or not password:
            raise usage.UsageError(f"--users {path!r} line {number}: expected user:password")
        if any(ch.isspace() or ord(ch) < 32 for ch in user) or "\x00" in password:
            raise usage.UsageError(f"--users {path!r} line {number}: user names cannot contain spaces or controls")
        if user in users:
            raise usage.UsageError(f"--users {path!r} line {number}: user {user!r} appears twice")
        users[user] = password
    if not users:
        raise usage.UsageError(f"--users {path!r}: no user:password lines")
    return users


def _positive(name: str, low: int, high: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise usage.UsageError(f"--{name} must be a whole number, not {value!r}")
        if not low <= number <= high:
            raise usage.UsageError(f"--{name} must be from {low} to {high}, not {number}")
        return number

    return parse


class Options(usage.Options):
    synopsis = "[--listen ENDPOINT]... [--status ENDPOINT] [--users FILE] [--fault STAGE=CODE[:N]]..."
    longdesc = (
        "A local ESMTP server that stores every message it accepts in a Maildir: "
        "STARTTLS with a generated self-signed certificate, AUTH PLAIN/LOGIN from a "
        "users file, a size limit, deterministic faults, and an optional status page. "
        "A test peer for mail clients; it never relays."
    )
    optFlags = [
        ["no-tls", None, "Do not offer STARTTLS (to test clients against a plaintext-only server)."],
        ["allow-plaintext-auth", None, "Offer AUTH before STARTTLS too (default: only over TLS)."],
        ["require-tls", None, "Refuse MAIL (530) until STARTTLS was done."],
        ["require-auth", None, "Refuse MAIL (530) until AUTH succeeded."],
        ["no-smtputf8", None, "Do not offer SMTPUTF8 (non-ASCII addresses are then refused)."],
    ]
    optParameters = [
        _metrics.OPTION,
        ["status", None, None, "Endpoint for the status page (HTML and /messages.json), e.g. tcp:8025:interface=127.0.0.1."],
        ["data-dir", None, None, "Folder for the Maildir and the generated certificate (default: $XDG_DATA_HOME/netlab/mailsink or ~/.local/share/netlab/mailsink)."],
        ["maildir", None, None, "Maildir to store messages in (default: DATA-DIR/Maildir)."],
        ["certificate", None, None, "PEM certificate (chain) for STARTTLS (default: generated in DATA-DIR/tls/)."],
        ["private-key", None, None, "PEM private key matching --certificate."],
        ["users", None, None, "Users file for AUTH PLAIN/LOGIN: one user:password per line."],
        ["max-size", None, DEFAULT_MAX_SIZE, "Largest message accepted (advertised as SIZE; bigger ones get 552).", parse_size],
        ["max-recipients", None, MAX_RECIPIENTS, "Recipients per message (more get 452).", _positive("max-recipients", 1, 100000)],
        ["max-connections", None, 100, "Simultaneous connections (more get 421).", _positive("max-connections", 1, 100000)],
        ["max-connections-per-address", None, 50, "Simultaneous connections from one client address (more get 421).", _positive("max-connections-per-address", 1, 100000)],
        ["timeout", None, 300.0, "Time a whole command line may take, and the DATA phase's base time; then 421 (e.g. 300, 30s, 5m).", parse_duration],
        ["min-data-rate", None, MIN_DATA_RATE, "Octets per second a DATA phase must average beyond --timeout (as Postfix's smtpd_min_data_rate).", _positive("min-data-rate", 1, 10**9)],
        ["transcript", None, None, "Folder to write each session's whole dialogue to (one file per session, AUTH masked)."],
        ["storage", None, "durable", "durable (fsync, the default) | no-fsync | discard: the last two are for benchmarks only and lose mail."],
        ["hostname", None, None, "Name in the greeting and Received headers (default: this machine's host name)."],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []
        self["faults"] = FaultPlan()

    def opt_listen(self, endpoint: str) -> None:
        """Endpoint for SMTP, e.g. tcp:2525 (repeatable; default tcp:2525:interface=127.0.0.1)."""
        self["listen"].append(endpoint)

    def opt_fault(self, value: str) -> None:
        """Answer a stage with CODE always (STAGE=CODE) or only its Nth time (STAGE=CODE:N), e.g. RCPT=451 or DATA=552:3; stages CONNECT EHLO HELO STARTTLS AUTH MAIL RCPT DATA (repeatable)."""
        try:
            self["faults"].add(parse_fault(value))
        except FaultSyntaxError as error:
            raise usage.UsageError(str(error))

    def postOptions(self) -> None:
        _metrics.check_endpoint("metrics", self["metrics"])
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self["hostname"] is None:
            # A machine name that is no DNS name (my_laptop) must not stop
            # a start without arguments: fall back to localhost.
            self["hostname"] = default_hostname()
        if not _HOSTNAME.match(self["hostname"]):
            raise usage.UsageError(f"--hostname must be a DNS name such as mail.example.org, not {self['hostname']!r}")
        if self["timeout"] <= 0:
            raise usage.UsageError("--timeout must be more than 0")
        if self["storage"] not in ("durable", "no-fsync", "discard"):
            raise usage.UsageError(f"--storage must be durable, no-fsync or discard, not {self['storage']!r}")
        if self["transcript"] is not None:
            self["transcript"] = os.path.abspath(self["transcript"])
            try:
                os.makedirs(self["transcript"], mode=0o700, exist_ok=True)
            except OSError as error:
                raise usage.UsageError(f"--transcript {self['transcript']!r}: {error.strerror}")
            if not os.access(self["transcript"], os.W_OK):
                raise usage.UsageError(f"--transcript {self['transcript']!r}: not writable")
        if self["data-dir"] is None:
            self["data-dir"] = default_data_dir()
        self["data-dir"] = os.path.abspath(self["data-dir"])
        if self["maildir"] is None:
            self["maildir"] = os.path.join(self["data-dir"], "Maildir")
        self["maildir"] = os.path.abspath(self["maildir"])
        if (self["certificate"] is None) != (self["private-key"] is None):
            raise usage.UsageError("--certificate and --private-key go together")
        if self["no-tls"] and self["certificate"] is not None:
            raise usage.UsageError("--no-tls conflicts with --certificate")
        for name in ("certificate", "private-key"):
            if self[name] is not None and not os.path.isfile(self[name]):
                raise usage.UsageError(f"--{name} {self[name]!r} is not a file")
        if self["no-tls"] and self["require-tls"]:
            raise usage.UsageError("--require-tls needs STARTTLS: drop --no-tls")
        self["user-table"] = parse_users(self["users"]) if self["users"] is not None else {}
        if self["require-auth"] and not self["user-table"]:
            raise usage.UsageError("--require-auth needs --users FILE")
        if self["user-table"] and self["no-tls"] and not self["allow-plaintext-auth"]:
            raise usage.UsageError(
                "--users with --no-tls needs --allow-plaintext-auth (AUTH is only offered after STARTTLS)"
            )
        try:
            Maildir(self["maildir"]).create()
        except OSError as error:
            raise usage.UsageError(f"cannot create the Maildir {self['maildir']!r}: {error.strerror}")
        if self["certificate"] is not None:
            try:
                tls_context(self["certificate"], self["private-key"])
            except Exception as error:
                raise usage.UsageError(
                    f"--certificate/--private-key: cannot use {self['certificate']!r} with {self['private-key']!r}: {error}"
                )
        if self["certificate"] is None and not self["no-tls"]:
            self["certificate"] = os.path.join(self["data-dir"], "tls", "certificate.pem")
            self["private-key"] = os.path.join(self["data-dir"], "tls", "private-key.pem")
            self["generate-certificate"] = True
        else:
            self["generate-certificate"] = False

    def policy(self) -> SinkPolicy:
        return SinkPolicy(
            hostname=self["hostname"],
            max_size=self["max-size"],
            users=self["user-table"],
            tls_available=not self["no-tls"],
            allow_plaintext_auth=self["allow-plaintext-auth"],
            require_tls=self["require-tls"],
            require_auth=self["require-auth"],
            smtputf8=not self["no-smtputf8"],
            max_recipients=self["max-recipients"],
        )


def tls_context(certificate_path: str, key_path: str) -> Any:
    """
    A server TLS context (TLS 1.2 or later) from PEM files.
    """
    from twisted.internet import ssl

    with open(certificate_path, "rb") as handle:
        certificate_pem = handle.read()
    with open(key_path, "rb") as handle:
        key_pem = handle.read()
    private = ssl.PrivateCertificate.loadPEM(certificate_pem + b"\n" + key_pem)
    return ssl.CertificateOptions(
        privateKey=private.privateKey.original,
        certificate=private.original,
        raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
    )


def makeService(config: Any, reactor: Any = None) -> IService:
    from twisted.logger import Logger
    from twisted.web.server import Site

    from twisted_netlab.mail._status import StatusResource
    from twisted_netlab.mail.sink import MaildirStore, SinkFactory

    from twisted.internet.threads import deferToThreadPool

    from twisted_netlab.mail._transcript import TranscriptFiles

    log = Logger(namespace="netlab-mailsink")
    reactor = default_reactor(reactor)
    maildir = Maildir(config["maildir"])
    # A single-writer sink owns no delivery yet: whatever is in tmp/ was cut
    # short by a crash and never acknowledged.
    for name, size in maildir.remove_orphans():
        log.warn(
            "removed {name} ({size} bytes) from {root}/tmp: a delivery cut short before this start",
            name=name,
            size=size,
            root=maildir.root,
        )
    context = None
    if not config["no-tls"]:
        if config["generate-certificate"]:
            now = datetime.datetime.fromtimestamp(reactor.seconds(), datetime.timezone.utc)
            reason = ensure_certificate(config["certificate"], config["private-key"], config["hostname"], now)
            if reason is not None:
                log.info(
                    "generated a self-signed certificate ({reason} before): {path}",
                    reason=reason,
                    path=config["certificate"],
                )
        context = tls_context(config["certificate"], config["private-key"])
    storage = config["storage"]
    store = MaildirStore(
        maildir, reactor, config["hostname"], durable=storage == "durable", discard=storage == "discard"
    )
    if storage != "durable":
        log.warn("--storage {storage}: for benchmarks only, acknowledged mail may be lost", storage=storage)

    def run_commit(commit: Any) -> Any:
        # fsync and rename in the reactor's thread pool, not on its thread.
        return deferToThreadPool(reactor, reactor.getThreadPool(), commit)

    factory = SinkFactory(
        config.policy(),
        store,
        tls_context=context,
        faults=config["faults"],
        timeout_seconds=config["timeout"],
        max_connections=config["max-connections"],
        max_connections_per_address=config["max-connections-per-address"],
        min_data_rate=config["min-data-rate"],
        run_commit=run_commit if storage == "durable" else None,
        reactor=reactor,
    )
    if config["transcript"]:
        factory.observers.append(TranscriptFiles(config["transcript"]))
        log.info("writing session transcripts to {folder}", folder=config["transcript"])
    service = MultiService()
    for description in config["listen"]:
        StreamListeningService("netlab-mailsink", description, factory, reactor=reactor).setServiceParent(service)
    if config["status"]:
        site = Site(StatusResource(maildir, allowed_hosts=[config["hostname"]]))
        site.displayTracebacks = False
        StreamListeningService("netlab-mailsink-status", config["status"], site, reactor=reactor).setServiceParent(
            service
        )
    from twisted_netlab._metrics import metrics_service
    from twisted_netlab.mail._sink_metrics import SinkCollector

    collectors = [SinkCollector(factory)]
    if config["metrics"]:
        metrics_service("netlab-mailsink-metrics", config["metrics"], collectors, ["mailsink"], reactor).setServiceParent(service)
    # netlab-all serves every family's collectors on its own --metrics.
    service.collectors = collectors  # type: ignore[attr-defined]
    log.info(
        "netlab-mailsink: Maildir {maildir}, STARTTLS certificate {certificate}",
        maildir=maildir.root,
        certificate=config["certificate"] or "none (--no-tls)",
    )
    return service  # type: ignore[return-value]
