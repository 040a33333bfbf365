"""
netlab-http: a static-file HTTP/1.1 responder (L{server}) over a sans-IO
request parser (L{_core}), its twistd glue (L{tap}) and the ``netlab get``
client.
"""

from twisted_netlab.web.server import StaticFileFactory, StaticFileProtocol

__all__ = ["StaticFileFactory", "StaticFileProtocol"]
