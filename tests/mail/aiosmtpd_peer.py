"""
A real third-party SMTP server for the mail client's integration tests and
benchmark: aiosmtpd, on its own asyncio loop in a thread, listening on a
socket we bind to 127.0.0.1 port 0 ourselves (so no port race), with
STARTTLS and AUTH PLAIN/LOGIN, strict (no AUTH or MAIL before STARTTLS).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import logging
import threading
import warnings
from typing import Any, Dict, List, Optional

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

# aiosmtpd itself still sets its deprecated Session.login_data.
warnings.filterwarnings("ignore", message="Session.login_data is deprecated")
# Its log shows expected failures (a client refusing our test CA) as tracebacks.
logging.getLogger("mail.log").setLevel(logging.CRITICAL)


class StoringHandler:
    """
    Keeps every delivered envelope; recipients whose local part starts with
    ``nobody`` are refused with 550 5.1.1, ``busy`` with 451 4.3.0.
    """

    def __init__(self) -> None:
        self.envelopes: List[Dict[str, Any]] = []
        self.delivered = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 5.1.1 <%s>: no such user" % address
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(
            {
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": envelope.original_content,
                "tls": session.ssl is not None,
                "login": session.auth_data,
            }
        )
        self.delivered.set()
        return "250 2.0.0 OK queued"


class AiosmtpdPeer:
    """
    Start with L{start}, stop with L{stop}; C{port} is the bound port.
    """

    def __init__(
        self,
        certificate: Optional[str] = None,
        key: Optional[str] = None,
        users: Optional[Dict[str, str]] = None,
        strict: bool = True,
        implicit_tls: bool = False,
        **smtp_options: Any,
    ) -> None:
        self.handler = StoringHandler()
        self.users = users or {}
        self.tls_context = None
        if certificate is not None:
            self.tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.tls_context.load_cert_chain(certificate, key)
        self.implicit_tls = implicit_tls
        self.smtp_options = dict(smtp_options)
        if strict:
            self.smtp_options.update(require_starttls=True, auth_required=True, auth_require_tls=True)
        self.loop = asyncio.new_event_loop()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread: Optional[threading.Thread] = None
        self._server: Any = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8")
            if self.users.get(login) == auth_data.password.decode("utf-8"):
                return AuthResult(success=True, auth_data=login)
        return AuthResult(success=False, handled=False)

    def _factory(self) -> SMTP:
        return SMTP(
            self.handler,
            hostname="127.0.0.1",
            tls_context=None if self.implicit_tls else self.tls_context,
            authenticator=self._authenticate,
            loop=self.loop,
            **self.smtp_options,
        )

    def start(self) -> "AiosmtpdPeer":
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.sock.listen(64)
            self._server = self.loop.run_until_complete(
                self.loop.create_server(
                    self._factory, sock=self.sock, ssl=self.tls_context if self.implicit_tls else None
                )
            )
            ready.set()
            self.loop.run_forever()
            self._server.close()
            self.loop.run_until_complete(self._server.wait_closed())
            self.loop.close()

        self._thread = threading.Thread(target=run, name="aiosmtpd", daemon=True)
        self._thread.start()
        if not ready.wait(20):
            raise RuntimeError("aiosmtpd did not start within 20 s")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(20)
        self._thread = None
