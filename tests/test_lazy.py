"""
Tests for L{twisted_netlab._lazy}: the families' lazy public names.
"""

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env


class LazyExportsTests(SynchronousTestCase):
    def test_cores_load_no_twisted_yet_names_resolve(self):
        """
        Importing every family's pure core loads no twisted.internet; the
        packages' public adapter names still resolve on first use, and an
        unknown name is an AttributeError.
        """
        probe = (
            "import sys\n"
            "import twisted_netlab.web._server_core, twisted_netlab.web._client_core\n"
            "import twisted_netlab.heartbeat._monitor_core, twisted_netlab.mail._client_core, twisted_netlab.mail._sink_core\n"
            "assert 'twisted.internet' not in sys.modules, 'a core loaded twisted.internet'\n"
            "import twisted_netlab.web as w, twisted_netlab.mail as m, twisted_netlab.heartbeat as h\n"
            "assert w.StaticFileFactory.__module__ == 'twisted_netlab.web.server'\n"
            "assert m.sendmail.__module__ == 'twisted_netlab.mail.client'\n"
            "assert h.HeartbeatSender.__module__ == 'twisted_netlab.heartbeat.sender'\n"
            "assert 'get' in dir(w) and 'sendmail' in dir(m)\n"
            "try:\n    w.nothing_here\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit('no AttributeError')\n"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_ping_cores_load_no_twisted(self):
        """
        Each of the ping family's pure modules (the probe format, the echo's
        impairment model and datagram fates, the pinger's session and its ICMP
        errors) imports no Twisted module at
        all, even through the package; every name in C{twisted_netlab.ping.__all__}
        still resolves, the adapters from their own modules on first use.
        """
        for core in ("_probe", "_echo_core", "_fates", "_pinger_core", "_icmp"):
            probe = (
                "import sys\n"
                f"import twisted_netlab.ping.{core}\n"
                "loaded = sorted(m for m in sys.modules if m == 'twisted' or m.startswith('twisted.'))\n"
                "assert not loaded, loaded\n"
                "import twisted_netlab.ping as p\n"
                "missing = [name for name in p.__all__ if not hasattr(p, name)]\n"
                "assert not missing, missing\n"
                "assert p.ping.__module__ == 'twisted_netlab.ping.pinger'\n"
                "assert p.LossyEchoProtocol.__module__ == 'twisted_netlab.ping.echo'\n"
            )
            result = subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=child_env()
            )
            self.assertEqual(result.returncode, 0, f"{core}: {result.stderr}")
