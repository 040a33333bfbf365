# -*- test-case-name: tests.mail.test_sink_status -*-
"""
The mail sink's status page (twisted.web): ``/`` lists the stored messages
as HTML (every value escaped), ``/messages.json`` as JSON, and
``/messages/<id>`` returns one message as text.  Read-only; requests whose
Host is not a loopback name or IP literal are refused (DNS rebinding would
otherwise let any web page read the mail).
"""

from __future__ import annotations

import datetime
import html
import ipaddress
import json
import os
from typing import Any, Dict, Iterable, List, Optional
from urllib.parse import quote, unquote_to_bytes

from twisted.protocols.basic import FileSender
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_netlab.mail._maildir import Maildir, StoredMessage

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}code{font-size:90%}"
)


def host_allowed(host_header: Optional[bytes], extra_names: Iterable[str] = ()) -> bool:
    """
    Whether a Host header names this machine directly: an IP literal,
    ``localhost``, a ``*.localhost`` name, or one of C{extra_names}.
    """
    if host_header is None:
        return True  # HTTP/1.0 without Host: no browser sends that.
    try:
        host = host_header.decode("ascii").strip().lower()
    except UnicodeDecodeError:
        return False
    if host.startswith("["):
        end = host.find("]")
        name = host[1:end] if end > 0 else host
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    return name == "localhost" or name.endswith(".localhost") or name in {n.lower() for n in extra_names}


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def render_json(maildir: Maildir, messages: List[StoredMessage], total: int) -> bytes:
    document: Dict[str, Any] = {
        "maildir": maildir.root,
        "count": total,
        "shown": len(messages),
        "messages": [
            dict(message.as_json(), modified=_iso(message.modified), url="/messages/" + quote(message.name, safe=""))
            for message in messages
        ],
    }
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8") + b"\n"


def render_html(maildir: Maildir, messages: List[StoredMessage], total: int) -> bytes:
    escape = html.escape
    rows = []
    for message in messages:
        rows.append(
            "<tr><td>{when}</td><td>{sender}</td><td>{to}</td><td>{subject}</td>"
            "<td>{size}</td><td><a href=\"/messages/{link}\"><code>{name}</code></a></td></tr>".format(
                when=escape(_iso(message.modified)),
                sender=escape(message.headers.get("From") or message.sender),
                to=escape(", ".join(message.recipients) or message.headers.get("To", "")),
                subject=escape(message.headers.get("Subject", "")),
                size=message.size,
                link=escape(quote(message.name, safe="")),
                name=escape(message.name),
            )
        )
    body = "\n".join(rows) or '<tr><td colspan="6">No messages yet.</td></tr>'
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>netlab-mailsink</title><style>{style}</style></head><body>"
        "<h1>netlab-mailsink</h1><p>{total} message(s) in <code>{root}</code>; showing the newest {shown}. "
        "<a href=\"/messages.json\">JSON</a></p>"
        "<table><thead><tr><th>Received (UTC)</th><th>From</th><th>Envelope to</th><th>Subject</th>"
        "<th>Bytes</th><th>Id</th></tr></thead><tbody>\n{body}\n</tbody></table></body></html>\n"
    ).format(style=_STYLE, total=total, root=escape(maildir.root), shown=len(messages), body=body)
    return page.encode("utf-8")


class StatusResource(Resource):
    """
    The whole status site as one leaf resource.
    """

    isLeaf = True

    def __init__(self, maildir: Maildir, allowed_hosts: Iterable[str] = ()) -> None:
        Resource.__init__(self)
        self.maildir = maildir
        self.allowed_hosts = list(allowed_hosts)

    def _headers(self, request: Request, content_type: bytes) -> None:
        request.setHeader(b"content-type", content_type)
        request.setHeader(b"cache-control", b"no-store")
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"referrer-policy", b"no-referrer")
        request.setHeader(b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'")

    def _error(self, request: Request, code: int, text: str) -> bytes:
        request.setResponseCode(code)
        self._headers(request, b"text/plain; charset=utf-8")
        return text.encode("utf-8") + b"\n"

    def _limit(self, request: Request) -> Optional[int]:
        arguments: Dict[bytes, List[bytes]] = request.args or {}
        values = arguments.get(b"limit")
        if not values:
            return DEFAULT_LIMIT
        try:
            limit = int(values[0])
        except ValueError:
            return None
        return limit if 1 <= limit <= MAX_LIMIT else None

    def _send_file(self, request: Request, path: str) -> Any:
        """
        Stream a stored message (it may be as large as --max-size) instead
        of reading it into memory.
        """
        try:
            handle = open(path, "rb")
        except OSError:
            return self._error(request, 404, "No such message")
        self._headers(request, b"text/plain; charset=utf-8")
        request.setHeader(b"content-length", str(os.fstat(handle.fileno()).st_size).encode("ascii"))
        if request.method == b"HEAD":
            handle.close()
            return b""
        sending = FileSender().beginFileTransfer(handle, request)

        def finished(result: Any) -> None:
            handle.close()
            if not request.finished:
                request.finish()

        sending.addBoth(finished)
        return NOT_DONE_YET

    def render_HEAD(self, request: Request) -> Any:
        return self.render_GET(request)

    def render_GET(self, request: Request) -> Any:
        if not host_allowed(request.getHeader(b"host"), self.allowed_hosts):
            return self._error(request, 403, "Forbidden: use http://127.0.0.1:<port>/ or http://localhost:<port>/")
        path = request.path
        if path in (b"/", b"/messages.json"):
            limit = self._limit(request)
            if limit is None:
                return self._error(request, 400, f"limit must be a number from 1 to {MAX_LIMIT}")
            messages = self.maildir.list_messages(limit)
            total = self.maildir.count()
            if path == b"/":
                self._headers(request, b"text/html; charset=utf-8")
                return render_html(self.maildir, messages, total)
            self._headers(request, b"application/json")
            return render_json(self.maildir, messages, total)
        if path.startswith(b"/messages/"):
            try:
                name = unquote_to_bytes(path[len(b"/messages/") :]).decode("utf-8")
            except UnicodeDecodeError:
                name = ""
            found = self.maildir.path_of(name) if name else None
            if found is None:
                return self._error(request, 404, "No such message")
            return self._send_file(request, found)
        return self._error(request, 404, "Not found: try / or /messages.json")
