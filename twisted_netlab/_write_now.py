# -*- test-case-name: tests.test_write_now -*-
"""
Shared Twisted-side helper: write to a TCP transport at once instead of on
the reactor's next turn.  For request/reply protocols (SMTP commands, an
HTTP response to a request that is all we have) that turn is pure latency
and costs two epoll_ctl calls (start and stop watching for writability).
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp


def write_now(transport: Any, data: bytes) -> None:
    """
    Write C{data}, handing it to the kernel at once when the transport is
    plain TCP with nothing queued (C{writeSomeData}, Twisted's own "write
    as much as possible now"), else through the normal C{write}.  The
    peer waits for these bytes, so waiting for the reactor's next turn to
    send is pure latency (on a loaded machine it doubled an SMTP client's
    time per message) and CPU (the turn's write watch).  Whatever was not
    taken, and any error (which the reactor then reports), goes through
    C{write}, with its buffering and producer flow control.
    """
    # Only a real TCP connection qualifies: a TLS wrapper (wrapClientTLS,
    # implicit TLS) forwards unknown attributes such as TLS, dataBuffer and
    # writeSomeData to the TCP transport beneath it, so duck typing here
    # would send plaintext around the TLS layer.
    if (
        not isinstance(transport, tcp.Connection)
        or transport.TLS
        or getattr(transport, "disconnecting", True)
        or transport.dataBuffer
        or transport._tempDataBuffer
    ):
        transport.write(data)
        return
    sent = transport.writeSomeData(data)
    if isinstance(sent, int) and sent >= 0:
        if sent < len(data):
            transport.write(data[sent:])
        return
    transport.write(data)
