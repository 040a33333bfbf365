# -*- test-case-name: tests.mail.test_sink_maildir -*-
"""
Maildir storage of the mail sink (standard library only; time, process id
and randomness are passed in).  Delivery follows the Maildir rules: write
to ``tmp/``, fsync, rename into ``new/``, fsync ``new/``; the client hears
250 only after that, so a crash loses nothing that was acknowledged and
never shows a half-written file in ``new/``.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import formatdate
from typing import Callable, Collection, Dict, List, Optional, Tuple

#: How much of a file is read to show its headers on the status page.
HEADER_READ_LIMIT = 64 * 1024
#: Headers shown for each message.
SUMMARY_HEADERS = ("From", "To", "Subject", "Date", "Message-ID")


def unique_name(now: float, pid: int, counter: int, random_hex: str, hostname: str) -> str:
    """
    A Maildir file name unique across processes and hosts:
    ``<seconds>.M<microseconds>P<pid>Q<counter>R<random>.<host>`` (the
    modern form used by Dovecot and Courier), with ``/`` and ``:`` in the
    host name escaped as the Maildir specification asks.
    """
    seconds = int(now)
    microseconds = int(round((now - seconds) * 1_000_000)) % 1_000_000
    host = hostname.replace("/", "\\057").replace(":", "\\072") or "localhost"
    return f"{seconds}.M{microseconds}P{pid}Q{counter}R{random_hex}.{host}"


def _fold_addresses(name: str, addresses: List[str]) -> str:
    """
    A header line listing C{addresses}, folded below 78 characters.
    """
    lines = [f"{name}:"]
    for index, address in enumerate(addresses):
        item = f" <{address}>" + ("," if index < len(addresses) - 1 else "")
        if len(lines[-1]) + len(item) > 78 and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += item
    return "\r\n".join(lines) + "\r\n"


def trace_headers(
    sender: str,
    recipients: List[str],
    hello: str,
    peer: str,
    hostname: str,
    protocol: str,
    queue_id: str,
    now: float,
    authenticated_as: Optional[str] = None,
) -> bytes:
    """
    The lines prepended to a stored message: ``Return-Path`` (the envelope
    sender, RFC 5321 4.4), ``X-Envelope-To`` (the envelope recipients, so
    the status page can show them after a restart) and ``Received``
    (RFC 5321 4.4, ``with`` as in RFC 3848).  The inputs never hold CR or
    LF: the session refused those.
    """
    auth = f" (authenticated as {authenticated_as})" if authenticated_as else ""
    received = (
        f"Received: from {hello} ({peer}){auth}\r\n"
        f"\tby {hostname} (netlab-mailsink) with {protocol} id {queue_id};\r\n"
        f"\t{formatdate(now, usegmt=True)}\r\n"
    )
    text = f"Return-Path: <{sender}>\r\n" + _fold_addresses("X-Envelope-To", recipients) + received
    return text.encode("utf-8")


@dataclass(frozen=True)
class StoredMessage:
    """
    One message file as the status page lists it.
    """

    name: str
    folder: str
    size: int
    modified: float
    sender: str
    recipients: Tuple[str, ...]
    headers: Dict[str, str]

    def as_json(self) -> Dict[str, object]:
        return {
            "id": self.name,
            "folder": self.folder,
            "size": self.size,
            "modified": self.modified,
            "envelope_from": self.sender,
            "envelope_to": list(self.recipients),
            "headers": dict(self.headers),
        }


def _decoded(value: Optional[str]) -> str:
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(value)))
    except (ValueError, LookupError, UnicodeError):
        return value


_ANGLE = re.compile(r'<((?:"(?:[^"\\]|\\.)*"|[^>"])*)>')


def summarize(head: bytes) -> Tuple[str, Tuple[str, ...], Dict[str, str]]:
    """
    Envelope sender, recipients and summary headers from the start of a
    message file (RFC 2047 encoded words decoded).
    """
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            head = head[: end + len(separator)]
            break
    message = BytesHeaderParser(policy=compat32).parsebytes(head)

    def first(name: str) -> str:
        return " ".join(_decoded(message.get(name)).split())

    headers = {name: first(name) for name in SUMMARY_HEADERS}
    sender = _ANGLE.findall(first("Return-Path"))
    recipients = tuple(_ANGLE.findall(first("X-Envelope-To")))
    return (sender[0] if sender else ""), recipients, headers


class Maildir:
    """
    A Maildir folder (``tmp``, ``new``, ``cur``).  File-system calls that
    matter for atomicity are parameters so tests can record their order or
    make them fail.
    """

    def __init__(
        self,
        root: str,
        fsync: Callable[[int], None] = os.fsync,
        rename: Callable[[str, str], None] = os.rename,
    ) -> None:
        self.root = os.path.abspath(root)
        self._fsync = fsync
        self._rename = rename

    def create(self) -> None:
        """
        Make the folders (mode 0700: mail is private) if missing.
        """
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.root, sub), mode=0o700, exist_ok=True)

    def _sync_directory(self, path: str) -> None:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            self._fsync(descriptor)
        finally:
            os.close(descriptor)

    def begin(self, name: str, durable: bool = True) -> "Delivery":
        """
        Start message C{name}: ``tmp/name`` is created exclusively (mode
        0600) and written as the body arrives; L{Delivery.commit} makes it
        durable and visible.  C{durable=False} skips the fsyncs (for
        benchmarks only: a crash may then lose acknowledged mail).
        """
        return Delivery(self, name, durable)

    def deliver(self, name: str, parts: List[bytes]) -> str:
        """
        Write C{parts} as message C{name} in one go (see L{begin}).

        @return: the path in ``new/``.
        """
        delivery = self.begin(name)
        try:
            for part in parts:
                delivery.write(part)
        except BaseException:
            delivery.abort()
            raise
        return delivery.commit()

    def remove_orphans(self, owned: Collection[str] = ()) -> List[Tuple[str, int]]:
        """
        Remove every file in ``tmp/`` whose name is not in C{owned}: at
        start no delivery of this (single-writer) sink exists, so anything
        there is a message cut short by a crash, never acknowledged.

        @return: (name, size) of each file removed.
        """
        removed = []
        for entry in os.scandir(os.path.join(self.root, "tmp")):
            if entry.name in owned:
                continue
            try:
                if entry.is_file(follow_symlinks=False) or entry.is_symlink():
                    size = entry.stat(follow_symlinks=False).st_size
                    os.unlink(entry.path)
                    removed.append((entry.name, size))
            except FileNotFoundError:
                pass
        return removed

    def _entries(self) -> List[Tuple[float, str, str, int]]:
        entries = []
        for folder in ("new", "cur"):
            try:
                scanned = list(os.scandir(os.path.join(self.root, folder)))
            except FileNotFoundError:
                continue
            for entry in scanned:
                if entry.name.startswith("."):
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue
                    status = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                entries.append((status.st_mtime, entry.name, folder, status.st_size))
        return entries

    def count(self) -> int:
        return len(self._entries())

    def list_messages(self, limit: int = 100) -> List[StoredMessage]:
        """
        The newest C{limit} messages of ``new/`` and ``cur/``, newest first.
        """
        entries = sorted(self._entries(), reverse=True)[:limit]
        messages = []
        for modified, name, folder, size in entries:
            try:
                with open(os.path.join(self.root, folder, name), "rb") as handle:
                    head = handle.read(HEADER_READ_LIMIT)
            except OSError:
                continue
            sender, recipients, headers = summarize(head)
            messages.append(StoredMessage(name, folder, size, modified, sender, recipients, headers))
        return messages

    def path_of(self, name: str) -> Optional[str]:
        """
        The path of message C{name} if it is a file in ``new/`` or ``cur/``
        (names are matched against the folder listing, so no path from a
        request is ever joined blindly).
        """
        for modified, entry_name, folder, size in self._entries():
            if entry_name == name:
                return os.path.join(self.root, folder, entry_name)
        return None


class Delivery:
    """
    One message being written into ``tmp/``.  L{write} appends (the
    caller writes as the body arrives, so memory stays small);
    L{commit} fsyncs the file, renames it into ``new/`` and fsyncs
    ``new/``: only then is the message acknowledged.  L{abort} removes
    the file.  L{commit} may run in a worker thread: it touches nothing
    shared but the file system.
    """

    def __init__(self, maildir: Maildir, name: str, durable: bool = True) -> None:
        self.maildir = maildir
        self.name = name
        self.durable = durable
        self.size = 0
        self.temporary = os.path.join(maildir.root, "tmp", name)
        self._descriptor: Optional[int] = os.open(
            self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
        )

    def write(self, data: bytes) -> None:
        if self._descriptor is None:
            raise ValueError(f"delivery {self.name} is already finished")
        view = memoryview(data)
        while view:
            written = os.write(self._descriptor, view)
            view = view[written:]
        self.size += len(data)

    def commit(self) -> str:
        """
        @return: the path in ``new/``.
        @raise OSError: the message is not stored (and ``tmp/`` is clean).
        """
        maildir = self.maildir
        final = os.path.join(maildir.root, "new", self.name)
        try:
            descriptor, self._descriptor = self._descriptor, None
            if descriptor is None:
                raise ValueError(f"delivery {self.name} is already finished")
            try:
                if self.durable:
                    maildir._fsync(descriptor)
            finally:
                os.close(descriptor)
            if os.path.exists(final):
                raise OSError(errno.EEXIST, "Maildir name collision", final)
            maildir._rename(self.temporary, final)
        except BaseException:
            self._unlink()
            raise
        if self.durable:
            maildir._sync_directory(os.path.join(maildir.root, "new"))
        return final

    def abort(self) -> None:
        """
        Throw the message away (refused, connection lost, storage error).
        """
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)
            self._unlink()

    def _unlink(self) -> None:
        try:
            os.unlink(self.temporary)
        except OSError:
            pass


_QUEUE_ID = re.compile(r"^[0-9]+\.M[0-9]+P[0-9]+Q[0-9]+R[0-9a-f]+\.")


def is_queue_id(name: str) -> bool:
    """
    Whether C{name} looks like a name made by L{unique_name}.
    """
    return bool(_QUEUE_ID.match(name))
