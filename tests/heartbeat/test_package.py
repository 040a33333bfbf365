"""
Tests for the L{twisted_netlab.heartbeat} package face: one C{__all__},
every name resolvable, pure modules free of Twisted.
"""

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env
import twisted_netlab.heartbeat as heartbeat


class PackageTests(SynchronousTestCase):
    def test_pure_modules_import_no_twisted(self):
        """
        The sans-IO modules are pure: importing them (and every sans-IO name
        of the package) loads nothing from Twisted.
        """
        code = (
            "import sys, twisted_netlab.heartbeat as h\n"
            "import twisted_netlab.heartbeat._beat, twisted_netlab.heartbeat._phi, twisted_netlab.heartbeat._events, twisted_netlab.heartbeat._monitor_core\n"
            "[getattr(h, n) for n in h.__all__ if n[0] != 'I' and n not in ('LoggingObserver', 'MonitorProtocol', 'BeatLoop', 'HeartbeatSender', 'status_site')]\n"
            "print([m for m in sys.modules if m.startswith('twisted.')])"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=child_env(), timeout=60)
        self.assertEqual(result.stdout.strip(), "[]", result.stderr)

    def test_every_public_name_resolves(self):
        """
        Every name in C{__all__} resolves to an object defined in a
        heartbeat module, and C{dir()} lists it.
        """
        for name in heartbeat.__all__:
            value = getattr(heartbeat, name)
            self.assertTrue(value.__module__.startswith("twisted_netlab.heartbeat."), name)
            self.assertIn(name, dir(heartbeat))
        self.assertIn("HeartbeatMonitor", heartbeat.__all__)
        self.assertIn("decode_beat", heartbeat.__all__)
        self.assertRaises(AttributeError, getattr, heartbeat, "nothing_here")
