"""
Tests for L{twisted_netlab.web} itself: it exports the server and client
API, and importing a pure core through it loads no Twisted.
"""

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

import twisted_netlab.web as web
from tests.helpers import child_env


class ExportTests(SynchronousTestCase):
    def test_exports_are_the_adapters_objects(self):
        """
        Every name in C{__all__} resolves to the very object of the module
        that defines it, so C{from twisted_netlab.web import get} is the
        client's C{get}.
        """
        from twisted_netlab.web import client, server

        for name in ("get", "HTTPClient", "GetError", "Response", "ResponseSink", "TLSPolicy"):
            self.assertIs(getattr(web, name), getattr(client, name))
        for name in ("StaticFileFactory", "StaticFileProtocol"):
            self.assertIs(getattr(web, name), getattr(server, name))
        self.assertEqual(sorted(web.__all__), sorted(web._EXPORTS))
        import importlib

        for name in web.__all__:
            self.assertIs(getattr(web, name), getattr(importlib.import_module(web._EXPORTS[name]), name), name)

    def test_sans_io_names_exported(self):
        """
        As h11 does, the sans-IO names are public: the request parser, the
        planner and the response parser.
        """
        for name in ("RequestParser", "Request", "Rejection", "NEED_DATA", "plan_target", "Plan", "ResponseParser"):
            self.assertIn(name, web.__all__)

    def test_unknown_name_is_attribute_error(self):
        """
        A name that is not exported raises AttributeError (so hasattr and
        C{from ... import} report it normally).
        """
        self.assertFalse(hasattr(web, "no_such_name"))


class PurityTests(SynchronousTestCase):
    def test_importing_cores_loads_no_twisted(self):
        """
        C{import twisted_netlab.web._server_core} (which runs the package's
        C{__init__} first) and C{_client_core} leave C{twisted.internet}
        unloaded; the exported adapters load it only when first used.
        """
        code = (
            "import sys\n"
            "import twisted_netlab.web._server_core, twisted_netlab.web._client_core, twisted_netlab.web._plan\n"
            "from twisted_netlab.web import RequestParser, plan_target, ResponseParser\n"
            "print('twisted.internet' in sys.modules)\n"
            "from twisted_netlab.web import get\n"
            "print('twisted.internet' in sys.modules)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env()
        )
        self.assertEqual(result.stdout.split(), ["False", "True"], result.stderr)
