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
        (and no twisted/plugins/__init__.py), the bundled site and the
        manual its docs pages are built from (no hand-kept HTML copy), and
        setuptools does not warn that a shipped folder is
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
        for page in ("index", "http", "get", "ping", "heartbeat", "mail"):
            self.assertIn(f"twisted_netlab/manual/{page}.rst", names)
        for image in ("ping-report", "heartbeat-status", "check-report"):  # the pages' screenshots
            self.assertIn(f"twisted_netlab/manual/images/{image}.png", names)
        self.assertEqual([n for n in names if n.startswith("twisted_netlab/web/site/docs/")], [])
        pictures = [n for n in names if n.startswith("twisted_netlab/manual/images/")]
        self.assertTrue([n for n in pictures if n.endswith(".png")], pictures)

        # Installed from the wheel alone (unpacked, as an installer does;
        # python -S so the editable install of the tree is not on the path),
        # twistd lists every plugin and the bundled site is found.
        import sysconfig

        installed = self.mktemp()
        zipfile.ZipFile(os.path.join(out, wheel)).extractall(installed)
        env = dict(os.environ, PYTHONPATH=installed + os.pathsep + sysconfig.get_paths()["purelib"])
        probe = (
            "import sys; from twisted.scripts.twistd import run; sys.argv = ['twistd', '--help']\n"
            "import twisted_netlab.web.server as s, os; assert s.default_site().startswith(%r), s.default_site()\n"
            "assert os.path.isfile(os.path.join(s.default_site(), 'index.html'))\n"
            "import twisted_netlab.web._manual as m; assert m.manual_folder().startswith(%r), m.manual_folder()\n"
            "assert os.path.isfile(os.path.join(m.built_site(), 'docs', 'ping.html'))\n"
            "run()\n"
        ) % (os.path.abspath(installed), os.path.abspath(installed))
        env["XDG_CACHE_HOME"] = os.path.abspath(self.mktemp())
        result = subprocess.run([sys.executable, "-S", "-c", probe], capture_output=True, text=True, timeout=60, env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        for name in ["netlab-http", "netlab-echo", "netlab-heartbeat", "netlab-mailsink", "netlab-all"]:
            self.assertIn(name, result.stdout)


class DropinCacheTests(SynchronousTestCase):
    """
    twistd finds plugins through Twisted's dropin.cache; a cache it cannot
    write, or one written before the plugin file changed, must not hide
    netlab's plugins.  Each test runs twistd on a copy of the plugin file.
    """

    def plugin_tree(self, upto=None):
        """
        A plugin folder holding a copy of netlab's plugin file under another
        module name whose tapnames say "probe-" instead of "netlab-", so the
        real plugins on sys.path cannot stand in for it.  With C{upto}, the
        copy ends before that ServiceMaker (an older plugin file).
        """
        root = os.path.abspath(self.mktemp())
        plugins = os.path.join(root, "twisted", "plugins")
        os.makedirs(plugins)
        with open(os.path.join(REPO, "twisted", "plugins", "netlab.py")) as handle:
            text = handle.read().replace('"netlab-', '"probe-')
        if upto is not None:
            text = text.split(upto)[0]
        with open(os.path.join(plugins, "netlab_probe.py"), "w") as handle:
            handle.write(text)
        return root, plugins

    def listed(self, root):
        env = child_env()
        env["PYTHONPATH"] = root + os.pathsep + env["PYTHONPATH"]
        result = subprocess.run(
            [executable("twistd"), "--help"], capture_output=True, text=True, timeout=60, env=env, cwd=root
        )
        return result.stdout

    def test_unwritable_cache(self):
        """
        A dropin.cache that cannot be read or written (here a folder in its
        place) only costs a re-scan: every plugin is listed.
        """
        root, plugins = self.plugin_tree()
        os.makedirs(os.path.join(plugins, "dropin.cache"))
        output = self.listed(root)
        for name in ["probe-http", "probe-echo", "probe-heartbeat", "probe-mailsink", "probe-all"]:
            self.assertIn(name, output)

    def test_cache_older_than_the_plugin_file(self):
        """
        A cache written for an older plugin file that named only
        netlab-http is rebuilt once the file is newer.
        """
        import time

        full_root, full_plugins = self.plugin_tree()
        root, plugins = self.plugin_tree(upto="netlab_echo = ")
        path = os.path.join(plugins, "netlab_probe.py")
        self.assertIn("probe-http", self.listed(root))
        self.assertNotIn("probe-echo", self.listed(root))
        self.assertTrue(os.path.isfile(os.path.join(plugins, "dropin.cache")))
        with open(os.path.join(full_plugins, "netlab_probe.py")) as source, open(path, "w") as target:
            target.write(source.read())
        later = time.time() + 5
        os.utime(path, (later, later))
        output = self.listed(root)
        self.assertIn("probe-echo", output)
        self.assertIn("probe-all", output)
