# -*- test-case-name: tests.mail.test_sink_metrics -*-
"""
The mail sink's Prometheus collector: reads the running totals
L{SinkFactory} keeps (sessions, replies by class, messages and bytes
stored, refused connections) at scrape time.
"""

from __future__ import annotations

from typing import Any, Iterator

from twisted_netlab._metrics import counter, gauge


class SinkCollector:
    """
    ``netlab_mailsink_*`` for one L{SinkFactory}.
    """

    def __init__(self, factory: Any) -> None:
        self.factory = factory

    def collect(self) -> Iterator[Any]:
        factory = self.factory
        yield counter(
            "netlab_mailsink_connections", "Connections received (those refused by a limit included).",
            [], [((), factory.session_count)],
        )
        yield counter(
            "netlab_mailsink_connections_refused", "Connections refused by --max-connections(-per-address).",
            [], [((), factory.refused_connections)],
        )
        yield gauge("netlab_mailsink_sessions_open", "SMTP sessions open now.", [], [((), factory.active_connections)])
        yield counter(
            "netlab_mailsink_replies", "Replies sent, by class (2xx, 3xx, 4xx, 5xx).", ["class"],
            [((f"{digit}xx",), factory.replies_by_class[digit]) for digit in (2, 3, 4, 5)],
        )
        yield counter("netlab_mailsink_messages_stored", "Messages stored.", [], [((), factory.messages_stored)])
        yield counter(
            "netlab_mailsink_stored_bytes", "Bytes of the messages stored, as the clients sent them (trace headers not counted).",
            [], [((), factory.bytes_stored)],
        )
