# -*- test-case-name: tests.test_statuspage -*-
"""
Shared helpers for netlab's small read-only status pages (twisted.web): the
security headers, the Host rule against DNS rebinding, HTML/JSON rendering
with escaping.  Used by the heartbeat monitor's and the mail sink's pages.
"""

from __future__ import annotations

import html
import ipaddress
import json
from typing import Any, Dict, Iterable, List, Optional, Sequence

from twisted.web.resource import Resource
from twisted.web.server import Request, Site

#: No scripts, no outside resources, no framing, no forms, no base
#: rewriting.  Inline styles are all the pages use (inline SVG needs
#: nothing more); images only from this origin (the mail sink's sandboxed
#: image route).
PAGE_POLICY = (
    b"default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
    b"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
#: For anything that is not a page (JSON, raw text, images): nothing may run
#: or load, and a browser that opens it directly sandboxes it.
DOCUMENT_POLICY = b"default-src 'none'; frame-ancestors 'none'; sandbox"

FORBIDDEN_HOST_TEXT = "Forbidden: this page answers only to an IP address, localhost or its configured name"


def set_security_headers(request: Request, content_type: bytes, policy: bytes = DOCUMENT_POLICY) -> None:
    """
    The headers of every status response: its type (never sniffed), no
    caching, no referrer, and C{policy} as the Content-Security-Policy
    (L{PAGE_POLICY} for HTML pages).
    """
    request.setHeader(b"content-type", content_type)
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"x-content-type-options", b"nosniff")
    request.setHeader(b"referrer-policy", b"no-referrer")
    request.setHeader(b"x-frame-options", b"DENY")
    request.setHeader(b"cross-origin-resource-policy", b"same-origin")
    request.setHeader(b"content-security-policy", policy)


def host_allowed(host_header: Optional[bytes], extra_names: Iterable[str] = ()) -> bool:
    """
    Whether a Host header names this machine directly: an IP literal,
    ``localhost``, a ``*.localhost`` name, or one of C{extra_names} (the
    configured host name).  Anything else may be a DNS-rebinding attack: a
    page on evil.example whose name now resolves to 127.0.0.1.
    """
    if host_header is None:
        return True  # HTTP/1.0 without Host: no browser sends that.
    try:
        host = host_header.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return False
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or not (end + 1 == len(host) or host[end + 1] == ":"):
            return False
        name = host[1:end]
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.rstrip(".")
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    if not name:
        return False
    return name == "localhost" or name.endswith(".localhost") or name in {n.lower().rstrip(".") for n in extra_names}


def error_body(request: Request, code: int, text: str) -> bytes:
    """
    A short plain-text error response.
    """
    request.setResponseCode(code)
    set_security_headers(request, b"text/plain; charset=utf-8")
    return text.encode("utf-8") + b"\n"


def refuse_foreign_host(request: Request, extra_names: Iterable[str] = ()) -> Optional[bytes]:
    """
    The 403 body if C{request}'s Host is not allowed (L{host_allowed}),
    else L{None}.
    """
    if host_allowed(request.getHeader(b"host"), extra_names):
        return None
    return error_body(request, 403, FORBIDDEN_HOST_TEXT)


def json_bytes(document: Any, indent: Optional[int] = None) -> bytes:
    """
    C{document} as UTF-8 JSON (compact unless C{indent}; no NaN or infinity).
    """
    if indent is None:
        return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    return json.dumps(document, indent=indent, ensure_ascii=False, allow_nan=False).encode("utf-8") + b"\n"


def json_body(request: Request, document: Any, indent: Optional[int] = None) -> bytes:
    """
    C{document} as JSON (L{json_bytes}), with the headers.
    """
    set_security_headers(request, b"application/json")
    return json_bytes(document, indent)


def escape(value: Any) -> str:
    """
    Any value as HTML text (quotes too, so it is safe in attributes).
    """
    return html.escape(str(value), quote=True)


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str, attributes: str = "") -> str:
    """
    An HTML table.  C{headers} and C{empty} are escaped here; each row's
    cells are HTML already (escape them with L{escape}).  With no rows, one
    row spanning the table says C{empty}, so an empty page says so.
    """
    head = "".join(f"<th>{escape(header)}</th>" for header in headers)
    body: List[str] = ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    if not body:
        body.append(f'<tr class="empty"><td colspan="{len(headers)}">{escape(empty)}</td></tr>')
    return f"<table{attributes}><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(body) + "\n</tbody></table>"


_BASE_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums}"
    "th,td{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}code,pre{font-size:90%}p.summary{color:#555}"
)


def html_page(title: str, body: str, style: str = "", refresh_seconds: Optional[int] = None) -> bytes:
    """
    A whole HTML document: C{title} is escaped, C{body} is HTML already,
    C{style} is added to the shared style sheet (inline: allowed by
    L{PAGE_POLICY}).
    """
    refresh = f'<meta http-equiv="refresh" content="{int(refresh_seconds)}">' if refresh_seconds else ""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="referrer" content="no-referrer">{refresh}'
        f"<title>{escape(title)}</title><style>{_BASE_STYLE}{style}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    ).encode("utf-8")


def html_body(request: Request, page: bytes) -> bytes:
    """
    Set the headers of an HTML page and return it.
    """
    set_security_headers(request, b"text/html; charset=utf-8", PAGE_POLICY)
    return page


class _Forbidden(Resource):
    isLeaf = True

    def render(self, request: Request) -> bytes:  # type: ignore[override]
        return error_body(request, 403, FORBIDDEN_HOST_TEXT)


class StatusSite(Site):
    """
    A L{Site} for a status page: every request whose Host is not allowed
    (L{host_allowed}) gets 403 whatever its path, and no access log is
    written (pages reload themselves every few seconds).
    """

    noisy = False
    displayTracebacks = False

    def __init__(self, resource: Resource, allowed_hosts: Iterable[str] = (), reactor: Any = None) -> None:
        Site.__init__(self, resource, reactor=reactor)
        self.allowed_hosts = list(allowed_hosts)

    def getResourceFor(self, request: Request) -> Resource:  # type: ignore[override]
        if not host_allowed(request.getHeader(b"host"), self.allowed_hosts):
            return _Forbidden()
        return Site.getResourceFor(self, request)  # type: ignore[no-any-return]

    def log(self, request: Any) -> None:
        """
        No access log.
        """


def query_int(request: Request, name: bytes, default: int, low: int, high: int) -> Optional[int]:
    """
    The integer query argument C{name} (C{default} when absent), or L{None}
    when it is not a number from C{low} to C{high}.
    """
    arguments: Dict[bytes, List[bytes]] = request.args or {}
    values = arguments.get(name)
    if not values:
        return default
    try:
        value = int(values[0])
    except ValueError:
        return None
    return value if low <= value <= high else None
