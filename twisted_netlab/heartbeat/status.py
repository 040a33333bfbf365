# -*- test-case-name: tests.heartbeat.test_status -*-
"""
The status page of netlab-heartbeat (twisted.web adapter, on the shared
twisted_netlab._statuspage): C{/} an HTML overview that refreshes itself,
C{/status.json} a summary with client rows a page at a time.
"""

# Cost: the page runs on the reactor thread, so what one request may cost is
# bounded whatever the number of clients: the HTML shows at most
# MAX_HTML_ROWS rows (problems first), the JSON at most MAX_LIMIT rows per
# request (?limit=&offset=; none by default), and each rendering is kept until
# the monitor's next sweep (pollers asking again within a sweep get the same
# bytes).  The sweep never renders.

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, List, Optional, Tuple

from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from twisted_netlab._endpoints import default_reactor
from twisted_netlab._statuspage import (
    StatusSite,
    error_body,
    escape,
    html_body,
    html_page,
    json_bytes,
    query_int,
    set_security_headers,
    table,
)
from twisted_netlab.heartbeat._events import ClientState, ClientStatus
from twisted_netlab.heartbeat._history import HistoryBook, gaps_svg, phi_svg, timeline_svg
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor
from twisted_netlab.heartbeat._phi import readable_phi

#: The HTML shows at most this many rows (problems first); the JSON pages through all.
MAX_HTML_ROWS = 500
#: Rows per JSON request: at most this many (``?limit=``).
MAX_LIMIT = 1000
#: Renderings kept per sweep (distinct pages asked for); beyond, not cached.
MAX_CACHED = 32

_STYLE = (
    "td{text-align:right}td:first-child,td.state,td.source{text-align:left}"
    "tr.stopped td.state{color:#fff;background:#b00020}"
    "tr.suspect td.state{background:#ffd54f}"
    "tr.recovered td.state{background:#81d4fa}"
    "tr.alive td.state{color:#1b5e20}"
)
_HEADERS = (
    "client", "state", "last seq", "beats", "lost", "late", "dup", "reordered", "restarts",
    "silent (s)", "phi", "offset (s)", "jitter (ms)", "source",
)


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


def status_summary(monitor: HeartbeatMonitor, now: float) -> Dict[str, Any]:
    """
    The summary every JSON answer starts with: settings, clients per state,
    counters.  Cost independent of the number of clients.
    """
    settings = monitor.settings
    counts = monitor.state_counts()
    return {
        "now": now,
        "settings": {
            "period": settings.period,
            "timeout": settings.timeout,
            "phi_threshold": settings.phi_threshold,
            "signed": settings.key is not None,
            "max_clients": settings.max_clients,
        },
        "clients_total": len(monitor),
        "states": {state.value: counts[state] for state in ClientState},
        "counters": dict(monitor.counters),
    }


def _html_row(row: ClientStatus) -> Tuple[str, ...]:
    return (
        escape(row.client), row.state.value, str(row.last_sequence), str(row.beats), str(row.lost), str(row.late),
        str(row.duplicates), str(row.out_of_order), str(row.restarts), f"{row.silence_seconds:.1f}",
        escape(readable_phi(row.phi)), f"{row.offset_seconds:+.3f}", f"{row.jitter_seconds * 1000:.2f}", escape(row.source),
    )


def _pictures(history: Optional[HistoryBook], row: ClientStatus, monitor: HeartbeatMonitor, now: float) -> str:
    """
    The sparkline cells of a row (recent gaps, phi, the last hour's states).
    """
    if history is None:
        return ""
    past = history.get(row.client)
    if past is None:
        return '<td class="pictures" colspan="3"></td>'
    settings = monitor.settings
    return (
        f'<td class="pictures">{gaps_svg(past, settings.period)}</td>'
        f'<td class="pictures">{phi_svg(past, settings.phi_threshold)}</td>'
        f'<td class="pictures">{timeline_svg(past, now, history.span_seconds)}</td>'
    )


def sample_phi(monitor: HeartbeatMonitor, history: HistoryBook, now: float) -> None:
    """
    One phi sample for the clients the page shows first (at most the
    history's size; cost: those rows).
    """
    history.sample(((row.client, row.phi) for row in monitor.overview(now, history.max_clients)), now)


def render_html(
    monitor: HeartbeatMonitor, now: float, refresh_seconds: int, history: Optional[HistoryBook] = None
) -> bytes:
    """
    The HTML overview: the summary line, then at most L{MAX_HTML_ROWS}
    clients, problems first; an explicit row when there is no client yet.
    With C{history}, each row also draws its recent gaps, phi and last
    hour (inline SVG: nothing to load, nothing to run).
    """
    headers = _HEADERS + (("gaps (s)", "phi", "last hour") if history is not None else ())
    summary = status_summary(monitor, now)
    rows = monitor.overview(now, MAX_HTML_ROWS)
    settings = summary["settings"]
    counts = ", ".join(f"{count} {state}" for state, count in summary["states"].items())
    rejected = ", ".join(
        f"{count} {name}" for name, count in summary["counters"].items() if name != "accepted" and count
    )
    total = summary["clients_total"]
    parts: List[str] = [
        "<h1>netlab-heartbeat</h1>",
        f'<p class="summary">{total} clients: {escape(counts)}. '
        f"{summary['counters']['accepted']} beats accepted"
        + (f"; rejected: {escape(rejected)}" if rejected else "")
        + f". Period {settings['period']:g} s, timeout {settings['timeout']:g} s, "
        f"phi threshold {settings['phi_threshold']:g}"
        + (", signed beats only" if settings["signed"] else "")
        + '. <a href="status.json">JSON</a></p>',
    ]
    body = []
    for row in rows:
        cells = _html_row(row)
        body.append(
            f'<tr class="{row.state.value}" data-client="{cells[0]}"><td>{cells[0]}</td>'
            f'<td class="state">{cells[1]}</td>'
            + "".join(f"<td>{cell}</td>" for cell in cells[2:-1])
            + f'<td class="source">{cells[-1]}</td>'
            + _pictures(history, row, monitor, now) + "</tr>"
        )
    if body:
        head = "".join(f"<th>{escape(name)}</th>" for name in headers)
        parts.append(f'<table id="clients"><thead><tr>{head}</tr></thead><tbody>\n' + "\n".join(body) + "\n</tbody></table>")
    else:
        parts.append(table(headers, [], "No clients yet: nothing has beaten since the monitor started.", ' id="clients"'))
    if total > len(rows):
        parts.append(
            f"<p>{total - len(rows)} more clients (alive) not shown: "
            f'<a href="status.json?limit={MAX_LIMIT}&amp;offset=0">status.json?limit={MAX_LIMIT}&amp;offset=0</a> pages through all.</p>'
        )
    return html_page("netlab-heartbeat", "\n".join(parts), _STYLE, refresh_seconds)


def render_json(monitor: HeartbeatMonitor, now: float, offset: int, limit: int) -> Dict[str, Any]:
    """
    The summary, and with C{limit} > 0 the rows C{offset} to C{offset +
    limit} in the order clients were first heard.
    """
    document = status_summary(monitor, now)
    if limit:
        document["offset"] = offset
        document["limit"] = limit
        document["clients"] = [client_json(row) for row in monitor.page(now, offset, limit)]
    return document


class _SweepCache:
    """
    Renderings kept until the monitor's next sweep.
    """

    def __init__(self, monitor: HeartbeatMonitor) -> None:
        self.monitor = monitor
        self.sweep = -1
        self.entries: Dict[Any, Any] = {}

    def get(self, key: Any, render: Any) -> Any:
        if self.monitor.sweeps != self.sweep:
            self.sweep = self.monitor.sweeps
            self.entries.clear()
        if key in self.entries:
            return self.entries[key]
        value = render()
        if len(self.entries) < MAX_CACHED:
            self.entries[key] = value
        return value


class StatusJSON(Resource):
    """
    C{/status.json}: the summary; C{?limit=N&offset=M} adds N rows (at most
    L{MAX_LIMIT}) from the M-th client on.
    """

    isLeaf = True

    def __init__(self, monitor: HeartbeatMonitor, reactor: Any, cache: _SweepCache) -> None:
        Resource.__init__(self)
        self.monitor = monitor
        self.reactor = reactor
        self.cache = cache

    def render_GET(self, request: Request) -> bytes:
        limit = query_int(request, b"limit", 0, 0, MAX_LIMIT)
        offset = query_int(request, b"offset", 0, 0, 2**31)
        if limit is None or offset is None:
            return error_body(request, 400, f"limit must be 0-{MAX_LIMIT} and offset >= 0")
        body = self.cache.get(
            ("json", offset, limit), lambda: json_bytes(render_json(self.monitor, self.reactor.seconds(), offset, limit))
        )
        set_security_headers(request, b"application/json")
        return body  # type: ignore[no-any-return]


class StatusPage(Resource):
    """
    C{/}: the HTML overview; C{/status.json}: the JSON document.
    """

    def __init__(
        self, monitor: HeartbeatMonitor, reactor: Any, refresh_seconds: int = 2, history: Optional[HistoryBook] = None
    ) -> None:
        Resource.__init__(self)
        self.monitor = monitor
        self.history = history
        self.reactor = reactor
        self.refresh_seconds = refresh_seconds
        self.cache = _SweepCache(monitor)
        self.putChild(b"status.json", StatusJSON(monitor, reactor, self.cache))

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self
        return Resource.getChild(self, path, request)  # type: ignore[no-any-return]

    def render_GET(self, request: Request) -> bytes:
        page = self.cache.get(
            ("html",), lambda: render_html(self.monitor, self.reactor.seconds(), self.refresh_seconds, self.history)
        )
        return html_body(request, page)


def status_site(
    monitor: HeartbeatMonitor, reactor: Any = None, refresh_seconds: int = 2, allowed_hosts: Iterable[str] = (),
    history: Optional[HistoryBook] = None,
) -> Site:
    """
    The status site.  C{reactor} (L{None}: the global one, looked up now)
    gives the time; C{allowed_hosts} are host names the page answers to
    besides IP literals and localhost names (the Host rule); C{history}
    (fed as a monitor observer and by L{sample_phi}) adds the per-client
    pictures.
    """
    reactor = default_reactor(reactor)
    return StatusSite(StatusPage(monitor, reactor, refresh_seconds, history), allowed_hosts, reactor=reactor)
