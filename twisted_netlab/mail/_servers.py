# -*- test-case-name: tests.mail.test_servers -*-
"""
Named SMTP servers for ``netlab mail --server NAME`` (standard library
only): the built-in ``gmail``, ``office365`` and ``lab`` (this machine's
netlab-mailsink), and the user's own from ``$XDG_CONFIG_HOME/netlab/mail-servers.toml``.

A user's server names a password only by reference (a file, or an entry of
the system keyring read through the optional C{keyring} package): a
password written in the file itself is refused.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional

#: Where the mail sink keeps its Maildir and certificate by default.
SINK_DATA_SUBDIR = os.path.join("netlab", "mailsink")
CONFIG_FILE_NAME = os.path.join("netlab", "mail-servers.toml")
TLS_MODES = ("required", "opportunistic", "none", "implicit")
_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
_KEYS = frozenset({"host", "port", "tls", "user", "cafile", "password-file", "password-keyring"})
MAX_CONFIG_BYTES = 256 * 1024


class ServerConfigError(ValueError):
    """
    The servers file is unreadable or says something we refuse; str() is
    one line naming the file and the problem.
    """


def default_data_dir(environ: Optional[Mapping[str, str]] = None) -> str:
    """
    Where the Maildir and the generated certificate of netlab-mailsink live
    by default: ``$XDG_DATA_HOME/netlab/mailsink``, else
    ``~/.local/share/netlab/mailsink`` (the XDG default), else (no home
    folder) ``./netlab-mailsink`` in the current folder.
    """
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_DATA_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, SINK_DATA_SUBDIR)
    home = environ.get("HOME", "")
    if home and os.path.isabs(home):
        return os.path.join(home, ".local", "share", SINK_DATA_SUBDIR)
    return os.path.abspath("netlab-mailsink")


def lab_certificate(environ: Optional[Mapping[str, str]] = None) -> str:
    """
    The certificate the lab's sink generates on its first start (and
    names in its start-up log line).
    """
    return os.path.join(default_data_dir(environ), "tls", "certificate.pem")


def config_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """
    ``$XDG_CONFIG_HOME/netlab/mail-servers.toml``, else under ``~/.config``.
    """
    environ = os.environ if environ is None else environ
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, CONFIG_FILE_NAME)
    return os.path.join(environ.get("HOME", "") or os.path.expanduser("~"), ".config", CONFIG_FILE_NAME)


@dataclass(frozen=True)
class NamedServer:
    """
    One server a user can name: where it is, how TLS is done, who logs in
    and where the password is found (never the password itself).
    """

    name: str
    host: str
    port: int
    tls: str = "required"
    user: Optional[str] = None
    cafile: Optional[str] = None
    password_file: Optional[str] = None
    password_keyring: Optional[str] = None
    origin: str = "built-in"

    def password_source(self) -> str:
        if self.password_file:
            return f"file {self.password_file}"
        if self.password_keyring:
            return f"keyring {self.password_keyring}"
        return "-"


def builtin_servers(environ: Optional[Mapping[str, str]] = None) -> Dict[str, NamedServer]:
    return {
        # Google's and Microsoft's submission ports: STARTTLS, then AUTH.
        "gmail": NamedServer("gmail", "smtp.gmail.com", 587, "required"),
        "office365": NamedServer("office365", "smtp.office365.com", 587, "required"),
        # The lab's netlab-mailsink (bash scripts/lab): its own certificate.
        "lab": NamedServer("lab", "127.0.0.1", 2525, "required", cafile=lab_certificate(environ)),
    }


def _expand(path: str, base: str) -> str:
    path = os.path.expanduser(path)
    return path if os.path.isabs(path) else os.path.join(base, path)


def parse_servers(text: str, path: str) -> Dict[str, NamedServer]:
    """
    The servers of a ``mail-servers.toml``: one table per server,
    ``[servers.NAME]`` with C{host} (required), C{port}, C{tls}, C{user},
    C{cafile}, and at most one of C{password-file} / C{password-keyring}.
    Relative paths are relative to the file's folder.

    @raise ServerConfigError: on any key or value we do not accept.
    """
    import tomllib  # only when a servers file exists: not at every start

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ServerConfigError(f"{path}: not valid TOML: {error}")
    base = os.path.dirname(path)
    unknown = set(document) - {"servers"}
    if unknown:
        raise ServerConfigError(f"{path}: unknown top-level key {sorted(unknown)[0]!r} (expected [servers.NAME] tables)")
    tables = document.get("servers", {})
    if not isinstance(tables, dict):
        raise ServerConfigError(f"{path}: 'servers' must be a table of [servers.NAME] tables")
    servers: Dict[str, NamedServer] = {}
    for name, table in tables.items():
        where = f"{path}: [servers.{name}]"
        if not _NAME.match(name):
            raise ServerConfigError(f"{where}: a name is letters, digits, '-' and '_'")
        if not isinstance(table, dict):
            raise ServerConfigError(f"{where} must be a table")
        if "password" in table:
            raise ServerConfigError(
                f"{where}: a password is never written in this file; "
                "use password-file = \"PATH\" or password-keyring = \"SERVICE\""
            )
        extra = set(table) - _KEYS
        if extra:
            raise ServerConfigError(f"{where}: unknown key {sorted(extra)[0]!r} (known: {', '.join(sorted(_KEYS))})")
        host = table.get("host")
        if not isinstance(host, str) or not host or any(c.isspace() or c in "/@" for c in host):
            raise ServerConfigError(f"{where}: host must be a host name or address")
        tls = table.get("tls", "required")
        if tls not in TLS_MODES:
            raise ServerConfigError(f"{where}: tls must be one of {', '.join(TLS_MODES)}")
        port = table.get("port", 465 if tls == "implicit" else 587)
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
            raise ServerConfigError(f"{where}: port must be a number from 1 to 65535")
        strings = {}
        for key in ("user", "cafile", "password-file", "password-keyring"):
            value = table.get(key)
            if value is not None and (not isinstance(value, str) or not value or "\n" in value):
                raise ServerConfigError(f"{where}: {key} must be a non-empty string")
            strings[key] = value
        if strings["password-file"] and strings["password-keyring"]:
            raise ServerConfigError(f"{where}: give password-file or password-keyring, not both")
        if (strings["password-file"] or strings["password-keyring"]) and not strings["user"]:
            raise ServerConfigError(f"{where}: a password reference needs user")
        servers[name] = NamedServer(
            name,
            host,
            port,
            tls,
            user=strings["user"],
            cafile=_expand(strings["cafile"], base) if strings["cafile"] else None,
            password_file=_expand(strings["password-file"], base) if strings["password-file"] else None,
            password_keyring=strings["password-keyring"],
            origin=path,
        )
    return servers


def load_servers(environ: Optional[Mapping[str, str]] = None) -> Dict[str, NamedServer]:
    """
    The built-in servers, then the user's (which may not reuse a built-in
    name: ``--server gmail`` must always mean Gmail).

    @raise ServerConfigError: when the user's file exists but is refused.
    """
    servers = builtin_servers(environ)
    path = config_path(environ)
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return servers
    except OSError as error:
        raise ServerConfigError(f"{path}: {error.strerror}")
    if len(raw) > MAX_CONFIG_BYTES:
        raise ServerConfigError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ServerConfigError(f"{path}: not UTF-8")
    for name, server in parse_servers(text, path).items():
        if name in servers:
            raise ServerConfigError(f"{path}: [servers.{name}] would hide the built-in server of that name")
        servers[name] = server
    return servers


def keyring_password(service: str, user: str, importer: Callable[[str], object] = __import__) -> str:
    """
    The password stored in the system keyring for C{service} and C{user},
    through the optional C{keyring} package.

    @raise ServerConfigError: no keyring package, or no such entry.
    """
    try:
        keyring = importer("keyring")
    except ImportError:
        raise ServerConfigError(
            f"password-keyring {service!r} needs the 'keyring' package (pip install keyring), "
            "or use password-file"
        )
    password = keyring.get_password(service, user)  # type: ignore[attr-defined]
    if password is None:
        raise ServerConfigError(f"the keyring has no password for service {service!r}, user {user!r}")
    return str(password)


def describe(servers: Mapping[str, NamedServer]) -> List[str]:
    """
    The lines of ``netlab mail --list-servers``.
    """
    rows = [("NAME", "SERVER", "TLS", "USER", "PASSWORD", "FROM")]
    for server in servers.values():
        address = f"[{server.host}]:{server.port}" if ":" in server.host else f"{server.host}:{server.port}"
        rows.append((server.name, address, server.tls, server.user or "-", server.password_source(), server.origin))
    widths = [max(len(row[index]) for row in rows) for index in range(len(rows[0]) - 1)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] for row in rows
    ]
