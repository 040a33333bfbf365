# -*- test-case-name: tests.web.test_package -*-
"""
netlab-http and ``netlab get``: the static-file server (L{server}, over
the sans-IO request parser L{_server_core}, the pure planner L{_plan} and
the filesystem side L{_files}), its twistd glue (L{tap}), and the client
(L{client} over the sans-IO response parser L{_client_core}).
"""

from twisted_netlab._lazy import lazy_exports

_SERVER_CORE = "twisted_netlab.web._server_core"
_PLAN = "twisted_netlab.web._plan"
_CLIENT_CORE = "twisted_netlab.web._client_core"

#: Every public name and the module defining it, imported on first use
#: (PEP 562): importing a pure module (``_server_core``, ``_plan``,
#: ``_client_core``) runs this file first and must not load the reactor
#: machinery.  As h11 does, the sans-IO names are public too.  The two
#: cores' ``Limits`` and ``ConnectionClosed`` differ: import them from
#: their module.
_EXPORTS = {
    # adapters
    "StaticFileFactory": "twisted_netlab.web.server",
    "StaticFileProtocol": "twisted_netlab.web.server",
    "get": "twisted_netlab.web.client",
    "HTTPClient": "twisted_netlab.web.client",
    "GetError": "twisted_netlab.web.client",
    "Response": "twisted_netlab.web.client",
    "ResponseSink": "twisted_netlab.web.client",
    "TLSPolicy": "twisted_netlab.web.client",
    # the server's sans-IO request parser
    "NEED_DATA": _SERVER_CORE,
    "Rejection": _SERVER_CORE,
    "Request": _SERVER_CORE,
    "RequestParser": _SERVER_CORE,
    "UnsafePath": _SERVER_CORE,
    "target_segments": _SERVER_CORE,
    # the server's pure planner
    "Folder": _PLAN,
    "HeadContext": _PLAN,
    "Listing": _PLAN,
    "NotFound": _PLAN,
    "Plan": _PLAN,
    "Representation": _PLAN,
    "Unavailable": _PLAN,
    "error_page": _PLAN,
    "plan_method": _PLAN,
    "plan_target": _PLAN,
    # the client's sans-IO response parser
    "BodyData": _CLIENT_CORE,
    "InformationalResponse": _CLIENT_CORE,
    "LocalProtocolError": _CLIENT_CORE,
    "PeerProtocolError": _CLIENT_CORE,
    "ResponseEnd": _CLIENT_CORE,
    "ResponseHead": _CLIENT_CORE,
    "ResponseParser": _CLIENT_CORE,
    "parse_url": _CLIENT_CORE,
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS)
