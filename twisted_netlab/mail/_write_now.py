# -*- test-case-name: tests.mail.test_client -*-
"""
Twisted-side helper of the mail family: write to a TCP transport at once
instead of on the reactor's next turn (the SMTP dialogue is request and
reply, so that turn is pure latency).  Used by the client and the sink.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import tcp


def write_now(transport: Any, data: bytes) -> None:
    """
    Write C{data}, handing it to the kernel at once when the transport is
    plain TCP with nothing queued (a non-blocking C{send} on its socket,
    what Twisted's own C{writeSomeData} does), else through the normal
    C{write}.  Each command waits for its reply, so waiting for the
    reactor's next turn to send is pure latency: on a loaded machine it
    doubled the time per message.  Whatever was not taken, and any error
    (which the reactor then reports), goes through C{write}.
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
    try:
        # What tcp.Connection.writeSomeData does, without its two frames:
        # this runs once per command.
        sent = transport.socket.send(data)
    except OSError:
        # Would block, or the connection broke: the reactor's own write
        # path queues the bytes or reports the loss.
        transport.write(data)
        return
    if sent < len(data):
        transport.write(data[sent:])
