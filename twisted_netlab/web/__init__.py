# -*- test-case-name: tests.web -*-
"""
netlab-http: a static-file HTTP/1.1 responder (L{server}) over a sans-IO
request parser (L{_server_core}), its twistd glue (L{tap}) and the ``netlab get``
client (L{client} over the sans-IO L{_client_core}).
"""

from twisted_netlab._lazy import lazy_exports

#: The adapters are imported on first use (PEP 562): importing a pure core
#: (``twisted_netlab.web._server_core`` or ``_client_core``) runs this file first,
#: and must not load the reactor machinery.
_ADAPTERS = {
    "StaticFileFactory": "twisted_netlab.web.server",
    "StaticFileProtocol": "twisted_netlab.web.server",
    "get": "twisted_netlab.web.client",
    "HTTPClient": "twisted_netlab.web.client",
    "GetError": "twisted_netlab.web.client",
    "Response": "twisted_netlab.web.client",
    "ResponseSink": "twisted_netlab.web.client",
    "TLSPolicy": "twisted_netlab.web.client",
}


__getattr__, __dir__ = lazy_exports(__name__, _ADAPTERS)

__all__ = [
    "GetError",
    "HTTPClient",
    "Response",
    "ResponseSink",
    "StaticFileFactory",
    "StaticFileProtocol",
    "TLSPolicy",
    "get",
]
