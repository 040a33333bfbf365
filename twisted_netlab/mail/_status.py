# -*- test-case-name: tests.mail.test_sink_status -*-
"""
The mail sink's status page (twisted.web adapter, on the shared
twisted_netlab._statuspage): the stored messages as HTML and JSON, one
message with its MIME parts, its raw text, and its images, sandboxed.
"""

# Routes: / and /messages.json list the newest messages; /messages/<id>
# shows one (headers, then each MIME part: text as escaped text, HTML never
# rendered); /messages/<id>/raw is the stored file; /messages/<id>/parts/<n>
# serves an image part only if it is PNG, JPEG, GIF or WebP by label *and* by
# content, under a policy that lets nothing run.  Every route checks Host
# (DNS rebinding would otherwise let any web page read the mail).

from __future__ import annotations

import datetime
import email.message
import email.parser
import email.policy
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple
from urllib.parse import quote, unquote_to_bytes

from twisted.logger import Logger
from twisted.protocols.basic import FileSender
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

from twisted_netlab._statuspage import (
    DOCUMENT_POLICY,
    error_body,
    escape,
    host_allowed,
    html_body,
    html_page,
    json_body,
    query_int,
    refuse_foreign_host,
    set_security_headers,
    table,
)
from twisted_netlab.mail._maildir import Maildir, StoredMessage

__all__ = ["StatusResource", "host_allowed", "message_parts", "image_type"]

log = Logger(namespace="netlab-mailsink")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
#: Messages larger than this are not parsed for the message page (the
#: page runs on the reactor thread); their raw text is still linked.
MAX_PARSED_BYTES = 16 * 1024 * 1024
#: Text shown per text part; the rest is in the raw message.
MAX_TEXT_CHARS = 100_000

#: Image types shown inline, each with the first bytes its content must
#: start with.  SVG is never among them: it is a document that can run
#: scripts, not an image.
_IMAGE_MAGIC: Dict[str, Tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}

_STYLE = "pre{white-space:pre-wrap;background:#f8f8f8;padding:.5em;max-width:60em}img{max-width:100%;border:1px solid #ddd}"


def _iso(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc).isoformat(timespec="seconds")


def _link(name: str) -> str:
    return "/messages/" + quote(name, safe="")


def image_type(declared: str, content: bytes) -> Optional[str]:
    """
    C{declared} if it is one of the inline image types and C{content}
    really starts like one; else L{None} (never trust the label alone).
    """
    prefixes = _IMAGE_MAGIC.get(declared)
    if prefixes is None or not content.startswith(prefixes):
        return None
    if declared == "image/webp" and content[8:12] != b"WEBP":
        return None
    return declared


def message_parts(message: email.message.Message) -> List[email.message.Message]:
    """
    The leaf parts of C{message} in order (multipart containers and
    attached messages are walked through); part numbers in URLs index this.
    """
    return [part for part in message.walk() if not part.is_multipart()]


def _parse(path: str) -> Optional[email.message.Message]:
    try:
        with open(path, "rb") as handle:
            if os.fstat(handle.fileno()).st_size > MAX_PARSED_BYTES:
                return None
            return email.parser.BytesParser(policy=email.policy.default).parse(handle)
    except OSError:
        return None


def _text_of(part: email.message.Message) -> str:
    """
    A text part decoded by its charset (unknown charsets: replacement
    characters), cut at L{MAX_TEXT_CHARS}.
    """
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except LookupError:
        text = payload.decode("utf-8", "replace")
    if len(text) > MAX_TEXT_CHARS:
        text = text[:MAX_TEXT_CHARS] + f"\n[... {len(text) - MAX_TEXT_CHARS} more characters in the raw message]"
    return text


def render_json(maildir: Maildir, messages: List[StoredMessage], total: int) -> Dict[str, Any]:
    return {
        "maildir": maildir.root,
        "count": total,
        "shown": len(messages),
        "messages": [
            dict(
                message.as_json(),
                modified=_iso(message.modified),
                url=_link(message.name),
                raw_url=_link(message.name) + "/raw",
            )
            for message in messages
        ],
    }


def render_html(maildir: Maildir, messages: List[StoredMessage], total: int) -> bytes:
    rows = [
        (
            escape(_iso(message.modified)),
            escape(message.headers.get("From") or message.sender),
            escape(", ".join(message.recipients) or message.headers.get("To", "")),
            escape(message.headers.get("Subject", "")),
            str(message.size),
            f'<a href="{escape(_link(message.name))}"><code>{escape(message.name)}</code></a>',
        )
        for message in messages
    ]
    body = (
        f"<h1>netlab-mailsink</h1><p>{total} message(s) in <code>{escape(maildir.root)}</code>; "
        f'showing the newest {len(messages)}. <a href="/messages.json">JSON</a></p>\n'
        + table(("Received (UTC)", "From", "Envelope to", "Subject", "Bytes", "Id"), rows, "No messages yet.")
    )
    return html_page("netlab-mailsink", body)


def render_message(
    name: str, message: Optional[email.message.Message], unavailable: str = "Too large to show here; see the raw message."
) -> bytes:
    """
    One message: its main headers, then each MIME part (type, name, size);
    text parts shown as escaped text (HTML parts as their source, never
    rendered), image parts inline from their sandboxed route.
    """
    link = escape(_link(name))
    parts: List[str] = [f"<h1>Message <code>{escape(name)}</code></h1>", f'<p><a href="{link}/raw">Raw message</a> · <a href="/">All messages</a></p>']
    if message is None:
        parts.append(f"<p>{escape(unavailable)}</p>")
        return html_page("netlab-mailsink: " + name, "\n".join(parts), _STYLE)
    headers = [(escape(field), escape(str(message.get(field, "")))) for field in ("From", "To", "Cc", "Subject", "Date") if field in message]
    parts.append(table(("Header", "Value"), headers, "No headers."))
    for number, part in enumerate(message_parts(message)):
        content_type = part.get_content_type()
        filename = part.get_filename()
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        title = f"Part {number}: {content_type}" + (f", {filename}" if filename else "") + f", {size} bytes"
        parts.append(f"<h2>{escape(title)}</h2>")
        if isinstance(payload, bytes) and image_type(content_type, payload):
            parts.append(f'<p><img src="{link}/parts/{number}" alt="{escape(filename or content_type)}"></p>')
        elif part.get_content_maintype() == "text":
            parts.append(f"<pre>{escape(_text_of(part))}</pre>")
        else:
            parts.append("<p>Not shown (not text, nor a PNG, JPEG, GIF or WebP image).</p>")
    return html_page("netlab-mailsink: " + name, "\n".join(parts), _STYLE)


class StatusResource(Resource):
    """
    The whole status site as one leaf resource.
    """

    isLeaf = True

    def __init__(self, maildir: Maildir, allowed_hosts: Iterable[str] = ()) -> None:
        Resource.__init__(self)
        self.maildir = maildir
        self.allowed_hosts = list(allowed_hosts)

    def _send_file(self, request: Request, path: str) -> Any:
        """
        Stream a stored message (it may be as large as --max-size) instead
        of reading it into memory.
        """
        try:
            handle = open(path, "rb")
        except OSError:
            return error_body(request, 404, "No such message")
        set_security_headers(request, b"text/plain; charset=utf-8")
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

    def _image(self, request: Request, path: str, number: int) -> bytes:
        """
        One image part, decoded, as its own verified type, under a policy
        that lets nothing run (and sandboxes it when opened directly).
        """
        message = _parse(path)
        parts = message_parts(message) if message is not None else []
        if not 0 <= number < len(parts):
            return error_body(request, 404, "No such part")
        part = parts[number]
        payload = part.get_payload(decode=True)
        content_type = image_type(part.get_content_type(), payload) if isinstance(payload, bytes) else None
        if content_type is None or not isinstance(payload, bytes):
            return error_body(request, 404, "That part is not a PNG, JPEG, GIF or WebP image")
        set_security_headers(request, content_type.encode("ascii"), DOCUMENT_POLICY)
        request.setHeader(b"content-disposition", b"inline")
        return payload

    def render_HEAD(self, request: Request) -> Any:
        return self.render_GET(request)

    def render_GET(self, request: Request) -> Any:
        refused = refuse_foreign_host(request, self.allowed_hosts)
        if refused is not None:
            return refused
        path = request.path
        if path in (b"/", b"/messages.json"):
            limit = query_int(request, b"limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
            if limit is None:
                return error_body(request, 400, f"limit must be a number from 1 to {MAX_LIMIT}")
            messages = self.maildir.list_messages(limit)
            total = self.maildir.count()
            if path == b"/":
                return html_body(request, render_html(self.maildir, messages, total))
            return json_body(request, render_json(self.maildir, messages, total), indent=1)
        if path.startswith(b"/messages/"):
            return self._message(request, path[len(b"/messages/") :].split(b"/"))
        return error_body(request, 404, "Not found: try / or /messages.json")

    def _message(self, request: Request, segments: List[bytes]) -> Any:
        try:
            name = unquote_to_bytes(segments[0]).decode("utf-8")
        except UnicodeDecodeError:
            name = ""
        found = self.maildir.path_of(name) if name else None
        if found is None:
            return error_body(request, 404, "No such message")
        rest = segments[1:]
        if not rest:
            try:
                page = render_message(name, _parse(found))
            except Exception:  # the email package on hostile input: say so, keep serving
                log.failure("message {name} could not be shown", name=name)
                page = render_message(name, None, "This message could not be parsed; see the raw message.")
            return html_body(request, page)
        if rest == [b"raw"]:
            return self._send_file(request, found)
        if len(rest) == 2 and rest[0] == b"parts" and rest[1].isdigit() and len(rest[1]) < 6:
            return self._image(request, found, int(rest[1]))
        return error_body(request, 404, "Not found")
