# -*- test-case-name: tests.web.test_client -*-
"""
How ``netlab get`` connects (the Twisted side of the web client;
re-exported by L{twisted_netlab.web.client}): L{TLSPolicy} and CA files,
L{default_endpoint} with L{AddressEndpoint} for address literals, and
L{TLSEndpoint}, which imports TLS only when a connection uses it (for
the default trust, only once the TCP connection is up: a refused https://
costs no TLS import).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IOpenSSLClientConnectionCreator
from twisted.python.failure import Failure
from zope.interface import implementer

from twisted_netlab._address_endpoint import AddressEndpoint
from twisted_netlab._endpoints import allow_tls
from twisted_netlab.web._client_core import Target
from twisted_netlab.web._client_errors import GetError

@dataclass(frozen=True)
class TLSPolicy:
    """
    How https peers are verified: the platform's trust store by default,
    the certificates in C{cafile} instead when given, or not at all with
    C{insecure} (the CLI warns).
    """

    cafile: Optional[str] = None
    insecure: bool = False

    def creator(self, hostname: str) -> Any:
        allow_tls()
        from twisted.internet import ssl

        if self.insecure:
            return _UnverifiedTLS(hostname)
        trust = None
        if self.cafile is not None:
            trust = ssl.trustRootFromCertificates(load_certificates(self.cafile))
        return ssl.optionsForClientTLS(hostname, trustRoot=trust)


def load_certificates(path: str) -> List[Any]:
    """
    Every PEM certificate in C{path}.

    @raise GetError: (exit 77, curl's "problem reading the CA cert") when
        the file cannot be read or holds no certificate.
    """
    allow_tls()
    from twisted.internet import ssl

    try:
        with open(path, "rb") as handle:
            text = handle.read(4 * 1024 * 1024)
    except OSError as error:
        raise GetError(f"cannot read CA file {path!r}: {error.strerror}", 77)
    blocks = re.findall(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", text, re.S)
    try:
        certificates = [ssl.Certificate.loadPEM(block) for block in blocks]
    except Exception as error:
        raise GetError(f"cannot parse CA file {path!r}: {error}", 77)
    if not certificates:
        raise GetError(f"no PEM certificate in CA file {path!r}", 77)
    return certificates


@implementer(IOpenSSLClientConnectionCreator)
class _UnverifiedTLS:
    """
    ``--insecure``: TLS with SNI but without any certificate check.
    """

    def __init__(self, hostname: str) -> None:
        allow_tls()
        from twisted.internet import ssl
        from twisted.internet.abstract import isIPAddress, isIPv6Address

        self._context = ssl.CertificateOptions(verify=False).getContext()
        self._server_name = None if isIPAddress(hostname) or isIPv6Address(hostname) else hostname.encode("idna")

    def clientConnectionForTLS(self, tlsProtocol: Any) -> Any:
        from OpenSSL import SSL

        connection = SSL.Connection(self._context, None)
        if self._server_name:
            connection.set_tlsext_host_name(self._server_name)
        return connection


def default_endpoint(reactor: Any, target: Target, tls: TLSPolicy, timeout: float) -> Any:
    """
    A HostnameEndpoint (resolution, IPv4/IPv6 happy eyeballs), wrapped in
    TLS for https.  An address literal is connected to directly: a
    HostnameEndpoint would still start a thread for getaddrinfo.
    """
    from twisted.internet.abstract import isIPAddress, isIPv6Address

    endpoint: Any
    if isIPAddress(target.host) or isIPv6Address(target.host):
        endpoint = AddressEndpoint(reactor, target.host, target.port, timeout)
    else:
        from twisted.internet.endpoints import HostnameEndpoint

        endpoint = HostnameEndpoint(reactor, target.host, target.port, timeout=timeout)
    if target.scheme == "https":
        if tls.cafile is None:
            # Nothing to read or report before connecting: TLS is
            # imported (about 40 ms) only once the TCP connection is up.
            host = target.host
            return TLSEndpoint.on_connect(lambda: tls.creator(host), endpoint)
        # A CA file is read and checked first (exit 77 before connecting).
        return TLSEndpoint(tls.creator(target.host), endpoint)
    return endpoint


class TLSEndpoint:
    """
    C{endpoint} with TLS on top (what L{twisted.internet.endpoints.wrapClientTLS}
    does), importing TLS only when used: the ``netlab`` command may have
    loaded the reactor and the endpoints module without TLS support (see
    L{twisted_netlab._endpoints.defer_tls}).
    """

    def __init__(self, creator: Any, endpoint: Any) -> None:
        self.creator = creator
        self.endpoint = endpoint
        self._make_creator: Optional[Callable[[], Any]] = None

    @classmethod
    def on_connect(cls, make_creator: Callable[[], Any], endpoint: Any) -> "TLSEndpoint":
        """
        TLS whose connection creator, and TLS itself, are made only once
        C{endpoint} has connected: a connection that fails costs no TLS
        import.  If C{make_creator} raises, the connection is closed and
        the attempt fails with that error.
        """
        late = cls(None, endpoint)
        late._make_creator = make_creator
        return late

    def connect(self, factory: Any) -> Deferred:
        if self._make_creator is None:
            allow_tls()
            from twisted.protocols.tls import TLSMemoryBIOFactory

            connecting: Deferred = self.endpoint.connect(TLSMemoryBIOFactory(self.creator, True, factory))
            return connecting.addCallback(lambda protocol: protocol.wrappedProtocol)
        late = _TLSOnConnect(self._make_creator, factory)

        def unwrap(protocol: Any) -> Any:
            if late.error is not None:
                raise late.error
            return protocol.wrappedProtocol

        def failed(reason: Failure) -> Failure:
            return Failure(late.error) if late.error is not None else reason

        return self.endpoint.connect(late).addCallbacks(unwrap, failed)


class _TLSOnConnect:
    """
    A protocol factory that becomes C{TLSMemoryBIOFactory(creator, True,
    factory)} when its first protocol is built, that is once the TCP
    connection is up.  It starts and stops C{factory} as that wrapper
    would.
    """

    def __init__(self, make_creator: Callable[[], Any], factory: Any) -> None:
        self._make_creator = make_creator
        self.factory = factory
        self.error: Optional[Exception] = None

    def doStart(self) -> None:
        self.factory.doStart()

    def doStop(self) -> None:
        self.factory.doStop()

    def buildProtocol(self, addr: Any) -> Any:
        try:
            allow_tls()
            from twisted.protocols.tls import TLSMemoryBIOFactory

            tls = TLSMemoryBIOFactory(self._make_creator(), True, self.factory)
        except Exception as error:
            self.error = error
            return None  # Twisted closes the connection
        return tls.buildProtocol(addr)


__all__ = ["AddressEndpoint", "TLSEndpoint", "TLSPolicy", "default_endpoint", "load_certificates"]
