"""
Packaging: the twistd plugins are found after install, a stale or
unwritable dropin.cache does not hide them, and a plain wheel ships the
plugin file and the default site.
"""

import os
import subprocess
import sys
import zipfile

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import REPO, child_env, executable


class PluginTests(SynchronousTestCase):
    def test_twistd_lists_plugins(self):
        """
        twistd --help lists netlab-http.
        """
        result = subprocess.run([executable("twistd"), "--help"], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertIn("netlab-http", result.stdout)
        self.assertIn("netlab-all", result.stdout)

    def test_wheel_ships_plugin_and_site(self):
        """
        A wheel built from the tree contains twisted/plugins/netlab.py
        (and no twisted/plugins/__init__.py) and the bundled site with its
        docs pages, and setuptools does not warn that a shipped folder is
        absent from the packages configuration.
        """
        out = self.mktemp()
        build = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", out, REPO],
            check=True, timeout=300, capture_output=True, text=True,
        )
        warnings = [line for line in (build.stdout + build.stderr).splitlines() if "absent from" in line]
        self.assertEqual(warnings, [])
        [wheel] = [f for f in os.listdir(out) if f.endswith(".whl")]
        names = zipfile.ZipFile(os.path.join(out, wheel)).namelist()
        self.assertIn("twisted/plugins/netlab.py", names)
        self.assertNotIn("twisted/plugins/__init__.py", names)
        self.assertIn("twisted_netlab/web/site/index.html", names)
        self.assertIn("twisted_netlab/web/site/style.css", names)
        for page in ("http", "get", "ping", "heartbeat", "mail"):
            self.assertIn(f"twisted_netlab/web/site/docs/{page}.html", names)
