# -*- test-case-name: tests.web.test_server -*-
"""
The Twisted adapter of netlab-http: L{StaticFileProtocol} feeds received
bytes to the sans-IO L{RequestParser}, answers one request at a time in
order, and streams files to the transport through a producer.
"""

from __future__ import annotations

import html
import mimetypes
import os
import stat
from typing import Any, List, Optional, Tuple
from urllib.parse import quote

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.basic import FileSender

from twisted_netlab.web._core import (
    NEED_DATA,
    ConnectionClosed,
    Limits,
    Rejection,
    Request,
    RequestParser,
    UnsafePath,
    http_date,
    response_head,
    target_segments,
)

SERVER_NAME = "netlab-http"
ALLOW = "GET, HEAD, OPTIONS"


def default_site() -> str:
    """
    The folder of the small site bundled with the package.
    """
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "site")


class StaticFileFactory(Factory):
    """
    Serve the files below C{root}.

    @param root: the folder to serve; nothing outside it is ever read
        (symlinks leading out of it answer 404).
    @param max_age: L{None} for C{Cache-Control: no-cache}, else seconds.
    @param reactor: the reactor whose clock dates responses; default late.
    """

    protocol = None  # set below

    def __init__(
        self,
        root: str,
        max_age: Optional[int] = None,
        limits: Limits = Limits(),
        reactor: Any = None,
    ) -> None:
        self.root = os.path.realpath(root)
        self.max_age = max_age
        self.limits = limits
        if reactor is None:
            from twisted.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor

    def buildProtocol(self, addr: Any) -> "StaticFileProtocol":
        protocol = StaticFileProtocol(self)
        return protocol


class StaticFileProtocol(Protocol):
    """
    One HTTP/1.x connection: requests are parsed by the core and answered
    strictly in order, one at a time, so pipelined responses can never
    interleave or overtake each other.
    """

    log = Logger()

    def __init__(self, factory: StaticFileFactory) -> None:
        self.factory = factory
        self.parser = RequestParser(factory.limits)
        self._busy = False
        self._closing = False

    # -- receiving ------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        self.parser.receive_data(data)
        self._process()

    def connectionLost(self, reason: Any = None) -> None:
        self._closing = True

    def _process(self) -> None:
        while not self._busy and not self._closing:
            event = self.parser.next_event()
            if event is NEED_DATA:
                return
            if isinstance(event, ConnectionClosed):
                self._close()
                return
            if isinstance(event, Rejection):
                self._send_error(event.status, event.reason, close=True)
                return
            assert isinstance(event, Request)
            try:
                self._respond(event)
            except Exception:
                self.log.failure("error answering {target}", target=event.target)
                self._send_error(500, "internal server error", close=True)
                return

    # -- answering ------------------------------------------------------

    def _base_headers(self) -> List[Tuple[str, str]]:
        return [("Date", http_date(self.factory.reactor.seconds())), ("Server", SERVER_NAME)]

    def _send_error(self, status: int, message: str, close: bool = False, extra: List[Tuple[str, str]] = [], head: bool = False) -> None:
        body = (
            f"<!DOCTYPE html>\n<html><head><title>{status}</title></head>"
            f"<body><h1>{status}</h1><p>{html.escape(message)}</p></body></html>\n"
        ).encode("utf-8")
        headers = self._base_headers() + [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ] + list(extra)
        if close:
            headers.append(("Connection", "close"))
        self.transport.write(response_head(status, headers) + (b"" if head else body))
        if close:
            self._close()

    def _close(self) -> None:
        self._closing = True
        self.transport.loseConnection()

    def _respond(self, request: Request) -> None:
        head_only = request.method == "HEAD"
        keep = request.keep_alive
        connection = [] if keep else [("Connection", "close")]
        if request.version == (1, 0) and keep:
            connection = [("Connection", "keep-alive")]
        if request.method == "OPTIONS":
            headers = self._base_headers() + [("Allow", ALLOW), ("Content-Length", "0")] + connection
            self.transport.write(response_head(204, headers))
            self._after_response(keep)
            return
        if request.method not in ("GET", "HEAD"):
            from twisted_netlab.web._core import KNOWN_METHODS

            if request.method in KNOWN_METHODS:
                self._send_error(405, "method not allowed", extra=[("Allow", ALLOW)] + connection, close=not keep)
            else:
                self._send_error(501, "method not implemented", extra=connection, close=not keep)
            self._after_response(keep)
            return
        try:
            segments = target_segments(request.path)
        except UnsafePath:
            self._send_error(404, "not found", extra=connection, head=head_only, close=not keep)
            self._after_response(keep)
            return
        path = os.path.join(self.factory.root, *segments)
        real = os.path.realpath(path)
        if real != self.factory.root and not real.startswith(self.factory.root + os.sep):
            self._send_error(404, "not found", extra=connection, head=head_only, close=not keep)
            self._after_response(keep)
            return
        try:
            info = os.stat(real)
        except OSError:
            self._send_error(404, "not found", extra=connection, head=head_only, close=not keep)
            self._after_response(keep)
            return
        if stat.S_ISDIR(info.st_mode):
            if not request.path.endswith("/"):
                # Built from decoded segments, so it always starts with one
                # "/" and a non-empty segment: never "//host" or "/\host".
                location = "/" + "/".join(quote(s, safe="") for s in segments) + "/"
                if not segments:
                    location = "/"
                self._send_error(301, "moved", extra=[("Location", location)] + connection, head=head_only, close=not keep)
                self._after_response(keep)
                return
            index = os.path.join(real, "index.html")
            if os.path.isfile(index):
                real, info = index, os.stat(index)
            else:
                self._send_error(404, "not found", extra=connection, head=head_only, close=not keep)
                self._after_response(keep)
                return
        if not stat.S_ISREG(info.st_mode):
            self._send_error(404, "not found", extra=connection, head=head_only, close=not keep)
            self._after_response(keep)
            return
        content_type, _ = mimetypes.guess_type(real)
        content_type = content_type or "application/octet-stream"
        if content_type.startswith("text/"):
            content_type += "; charset=utf-8"
        cache = "no-cache" if self.factory.max_age is None else f"max-age={self.factory.max_age}"
        headers = self._base_headers() + [
            ("Content-Type", content_type),
            ("Content-Length", str(info.st_size)),
            ("Last-Modified", http_date(info.st_mtime)),
            ("ETag", f'"{info.st_ino:x}-{info.st_size:x}-{info.st_mtime_ns:x}"'),
            ("Cache-Control", cache),
            ("Accept-Ranges", "bytes"),
        ] + connection
        self.transport.write(response_head(200, headers))
        if head_only or info.st_size == 0:
            self._after_response(keep)
            return
        self._busy = True
        handle = open(real, "rb")
        sender = FileSender()
        done = sender.beginFileTransfer(handle, self.transport)

        def finished(_: Any) -> None:
            handle.close()
            self._busy = False
            self._after_response(keep)
            self._process()

        def failed(reason: Any) -> None:
            handle.close()
            self._close()

        done.addCallbacks(finished, failed)

    def _after_response(self, keep_alive: bool) -> None:
        if not keep_alive and not self._closing:
            self._close()


StaticFileFactory.protocol = StaticFileProtocol  # type: ignore[assignment]
