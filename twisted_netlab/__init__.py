"""
twisted-netlab: the socket-programming labs as Twisted services and clients.

This module holds the version only; import the families you need
(``twisted_netlab.web``, ``.ping``, ``.heartbeat``, ``.mail``).
"""

__version__ = "0.1.0"
