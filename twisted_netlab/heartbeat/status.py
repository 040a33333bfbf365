# -*- test-case-name: tests.heartbeat.test_status -*-
"""
The status page of netlab-heartbeat, on L{twisted.web}: C{/} is an HTML
table of clients that refreshes itself, C{/status.json} the same data for
scripts.  Read-only, no scripts, no external resources.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any, Dict, List, Optional

from twisted.web.resource import Resource
from twisted.web.server import Site

from twisted_netlab._endpoints import default_reactor
from twisted_netlab.heartbeat._monitor_core import ClientState, ClientStatus, HeartbeatMonitor

#: The HTML table shows at most this many rows (problems first); the JSON has all.
MAX_HTML_ROWS = 2000

_ORDER = {ClientState.STOPPED: 0, ClientState.SUSPECT: 1, ClientState.RECOVERED: 2, ClientState.ALIVE: 3}

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: .25em .6em; border-bottom: 1px solid #ddd; text-align: right; }
th:first-child, td:first-child, .state, .source { text-align: left; }
tr.stopped td.state { color: #fff; background: #b00020; }
tr.suspect td.state { background: #ffd54f; }
tr.recovered td.state { background: #81d4fa; }
tr.alive td.state { color: #1b5e20; }
p.summary { color: #555; }
"""


def _number(value: float) -> Any:
    """
    JSON has no infinity: report it as null.
    """
    return value if math.isfinite(value) else None


def client_json(row: ClientStatus) -> Dict[str, Any]:
    return {
        "client": row.client,
        "source": row.source,
        "state": row.state.value,
        "last_sequence": row.last_sequence,
        "beats": row.beats,
        "lost": row.lost,
        "late": row.late,
        "duplicates": row.duplicates,
        "out_of_order": row.out_of_order,
        "restarts": row.restarts,
        "last_beat_at": row.last_beat_at,
        "silence_seconds": round(row.silence_seconds, 6),
        "phi": _number(round(row.phi, 3)),
        "offset_seconds": round(row.offset_seconds, 6),
        "jitter_seconds": round(row.jitter_seconds, 6),
        "mean_interval_seconds": round(row.mean_interval_seconds, 6),
    }


def status_document(monitor: HeartbeatMonitor, now: float, rows: Optional[List[ClientStatus]] = None) -> Dict[str, Any]:
    """
    Everything the status page shows, as one JSON-ready dict (C{rows}: a
    snapshot already taken at C{now}).
    """
    settings = monitor.settings
    if rows is None:
        rows = monitor.status(now)
    states = {state.value: 0 for state in ClientState}
    for row in rows:
        states[row.state.value] += 1
    return {
        "now": now,
        "settings": {
            "period": settings.period,
            "timeout": settings.timeout,
            "phi_threshold": settings.phi_threshold,
            "signed": settings.key is not None,
        },
        "states": states,
        "counters": dict(monitor.counters),
        "clients": [client_json(row) for row in rows],
    }


def _security_headers(request: Any, content_type: bytes) -> None:
    request.setHeader(b"Content-Type", content_type)
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    request.setHeader(b"Referrer-Policy", b"no-referrer")
    request.setHeader(b"Content-Security-Policy", b"default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")


class StatusJSON(Resource):
    isLeaf = True

    def __init__(self, monitor: HeartbeatMonitor, clock: Any) -> None:
        Resource.__init__(self)
        self.monitor = monitor
        self.clock = clock

    def render_GET(self, request: Any) -> bytes:
        _security_headers(request, b"application/json")
        document = status_document(self.monitor, self.clock.seconds())
        return json.dumps(document, separators=(",", ":")).encode("utf-8")


class StatusPage(Resource):
    """
    C{/}: the HTML table; C{/status.json}: the JSON document.
    """

    def __init__(self, monitor: HeartbeatMonitor, clock: Any, refresh_seconds: int = 2) -> None:
        Resource.__init__(self)
        self.monitor = monitor
        self.clock = clock
        self.refresh_seconds = refresh_seconds
        self.putChild(b"status.json", StatusJSON(monitor, clock))  # type: ignore[arg-type]

    def getChild(self, path: bytes, request: Any) -> Resource:
        if path == b"":
            return self
        return Resource.getChild(self, path, request)

    def render_GET(self, request: Any) -> bytes:
        _security_headers(request, b"text/html; charset=utf-8")
        return self.render_html(self.clock.seconds()).encode("utf-8")

    def render_html(self, now: float) -> str:
        rows = self.monitor.status(now)
        document = status_document(self.monitor, now, rows)
        rows.sort(key=lambda row: (_ORDER[row.state], row.client))
        escape = html.escape
        settings = document["settings"]
        counts = ", ".join(f"{count} {state}" for state, count in document["states"].items())
        rejected = ", ".join(f"{count} {name}" for name, count in document["counters"].items() if name != "accepted" and count)
        parts: List[str] = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="refresh" content="{int(self.refresh_seconds)}">',
            "<title>netlab-heartbeat</title>",
            f"<style>{_STYLE}</style></head><body>",
            "<h1>netlab-heartbeat</h1>",
            f'<p class="summary">{len(rows)} clients: {escape(counts)}. '
            f"{document['counters']['accepted']} beats accepted"
            + (f"; rejected: {escape(rejected)}" if rejected else "")
            + f". Period {settings['period']:g} s, timeout {settings['timeout']:g} s, "
            f"phi threshold {settings['phi_threshold']:g}"
            + (", signed beats only" if settings["signed"] else "")
            + '. <a href="status.json">JSON</a></p>',
            '<table id="clients"><thead><tr><th>client</th><th class="state">state</th><th>last seq</th><th>beats</th>'
            "<th>lost</th><th>late</th><th>dup</th><th>reordered</th><th>restarts</th>"
            "<th>silent (s)</th><th>phi</th><th>offset (s)</th><th>jitter (ms)</th><th class=\"source\">source</th></tr></thead><tbody>",
        ]
        for row in rows[:MAX_HTML_ROWS]:
            phi_text = f"{row.phi:.2f}" if math.isfinite(row.phi) else "inf"
            parts.append(
                f'<tr class="{row.state.value}" data-client="{escape(row.client)}">'
                f"<td>{escape(row.client)}</td><td class=\"state\">{row.state.value}</td>"
                f"<td>{row.last_sequence}</td><td>{row.beats}</td><td>{row.lost}</td><td>{row.late}</td>"
                f"<td>{row.duplicates}</td><td>{row.out_of_order}</td><td>{row.restarts}</td>"
                f"<td>{row.silence_seconds:.1f}</td><td>{phi_text}</td>"
                f"<td>{row.offset_seconds:+.3f}</td><td>{row.jitter_seconds * 1000:.2f}</td>"
                f'<td class="source">{escape(row.source)}</td></tr>'
            )
        parts.append("</tbody></table>")
        if len(rows) > MAX_HTML_ROWS:
            parts.append(f"<p>{len(rows) - MAX_HTML_ROWS} more clients in the JSON.</p>")
        parts.append("</body></html>")
        return "\n".join(parts)


class StatusSite(Site):
    """
    A L{Site} for the status page that does not log each connection (the
    page reloads itself every few seconds).
    """

    noisy = False

    def log(self, request: Any) -> None:
        """
        No access log: the page reloads itself every few seconds.
        """


def status_site(monitor: HeartbeatMonitor, reactor: Any = None, refresh_seconds: int = 2) -> Site:
    """
    The status site; C{reactor} (L{None}: the global one) gives the time.
    """
    reactor = default_reactor(reactor)
    site = StatusSite(StatusPage(monitor, reactor, refresh_seconds), reactor=reactor)
    site.displayTracebacks = False
    return site
