# -*- test-case-name: tests.mail.test_transcript -*-
"""
Session transcripts of the mail sink (standard library only): the
L{TranscriptEntry} values that L{twisted_netlab.mail.sink.SinkFactory}
gives its observers, and L{TranscriptFiles}, the observer behind
``netlab-mailsink --transcript DIR`` (one text file per session).
"""

from __future__ import annotations

import enum
import os
import time
from dataclasses import dataclass
from typing import IO, Dict, Optional

#: Files open at once are bounded by the sink's connection limit; this caps
#: the lines kept per session so that a chatty client cannot fill the disk.
MAX_LINES_PER_SESSION = 10_000


class EntryKind(enum.Enum):
    """
    What a transcript line records; the value is its prefix in a file.
    """

    OPENED = "==="
    CLIENT = "C:"
    SERVER = "S:"
    WARNING = "!!"
    CLOSED = "---"


@dataclass(frozen=True)
class TranscriptEntry:
    """
    One line of one session: C{session} numbers the sink's connections
    from 1, C{at} is the reactor's time, C{text} is printable (control
    characters escaped, AUTH secrets masked).
    """

    session: int
    at: float
    peer: str
    kind: EntryKind
    text: str

    def format(self) -> str:
        stamp = time.strftime("%H:%M:%S", time.gmtime(self.at)) + f".{int(self.at * 1000) % 1000:03d}"
        return f"{stamp} {self.kind.value} {self.text}\n"


class TranscriptFiles:
    """
    Write each session to ``DIR/<UTC start>-s<session>-<peer>.txt``
    (created exclusively, mode 0600: transcripts hold addresses).  Call
    the instance with each L{TranscriptEntry}.
    """

    def __init__(self, folder: str, max_lines: int = MAX_LINES_PER_SESSION) -> None:
        self.folder = os.path.abspath(folder)
        self.max_lines = max_lines
        self._open: Dict[int, IO[str]] = {}
        self._lines: Dict[int, int] = {}

    def __call__(self, entry: TranscriptEntry) -> None:
        handle = self._open.get(entry.session)
        if handle is None:
            if entry.kind is not EntryKind.OPENED:
                return
            handle = self._create(entry)
            if handle is None:
                return
            self._open[entry.session] = handle
            self._lines[entry.session] = 0
        count = self._lines[entry.session] + 1
        self._lines[entry.session] = count
        if count < self.max_lines:
            handle.write(entry.format())
        elif count == self.max_lines:
            handle.write(f"[transcript cut after {self.max_lines} lines]\n")
        if entry.kind is EntryKind.CLOSED:
            if count >= self.max_lines:
                handle.write(entry.format())
            handle.close()
            del self._open[entry.session], self._lines[entry.session]
        else:
            handle.flush()

    def _create(self, entry: TranscriptEntry) -> Optional[IO[str]]:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(entry.at))
        peer = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in entry.peer.strip("[]"))[:80]
        path = os.path.join(self.folder, f"{stamp}-s{entry.session}-{peer}.txt")
        try:
            descriptor = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0), 0o600
            )
        except OSError:
            return None
        return os.fdopen(descriptor, "w", encoding="utf-8", errors="replace")

    def close(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()
        self._lines.clear()
