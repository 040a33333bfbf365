"""
Hand-written recordings for the judges' tests: what a runner would have
recorded, built from bytes and a few facts.
"""

from __future__ import annotations

from typing import Dict

from twisted_netlab.check._case import Context, Entry, EntryKind, Recording, StreamRecord
from twisted_netlab.check._cases_http import FILES, MARKER, fixture_files, marker_bytes

TOKEN = "0123abcd"
FILES_BYTES: Dict[str, bytes] = {}


def context(fixtures: bool = True, timeout: float = 5.0) -> Context:
    """
    The context of a target at 127.0.0.1:8080 serving / with the fixtures
    written (their bytes as L{fixture_files} makes them).
    """
    if not FILES_BYTES:
        FILES_BYTES.update(fixture_files())
    if not fixtures:
        return Context("127.0.0.1", 8080, "/", None, frozenset(), timeout, {"token": TOKEN})
    extra = {
        "token": TOKEN,
        "files": FILES_BYTES,
        "marker_name": f"netlab-check-secret-{TOKEN}.txt",
        "marker_path": f"/tmp/x/netlab-check-secret-{TOKEN}.txt",
        "marker_bytes": marker_bytes(TOKEN),
    }
    return Context("127.0.0.1", 8080, "/", f"/netlab-check-{TOKEN}/", frozenset([FILES, MARKER]), timeout, extra)


def stream(
    received: bytes = b"",
    sent: bytes = b"GET / HTTP/1.1\r\n\r\n",
    closed: bool = False,
    closed_at: float = 0.2,
    received_at: float = 0.1,
    expired: bool = False,
    refused: bool = False,
    label: str = "",
) -> StreamRecord:
    entries = []
    if refused:
        return StreamRecord((Entry(0.0, EntryKind.CONNECT_FAILED, b"Connection refused"),), label)
    entries.append(Entry(0.0, EntryKind.SENT, sent))
    if received:
        entries.append(Entry(received_at, EntryKind.RECEIVED, received))
    if expired:
        entries.append(Entry(1.0, EntryKind.WAIT_EXPIRED))
    if closed:
        entries.append(Entry(closed_at, EntryKind.PEER_CLOSED))
    entries.sort(key=lambda e: e.at)
    return StreamRecord(tuple(entries), label)


def recording(*streams: StreamRecord, timed_out: bool = False) -> Recording:
    return Recording(tuple(streams), timed_out, 1.0)


def ok(body: bytes, status: bytes = b"200 OK", extra: bytes = b"", version: bytes = b"HTTP/1.1") -> bytes:
    """
    A well-formed response carrying C{body}.
    """
    return (version + b" " + status + b"\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n" + extra
            + b"Content-Length: %d\r\n\r\n" % len(body) + body)


def file(name: str) -> bytes:
    context()
    return FILES_BYTES[name]

