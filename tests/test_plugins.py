"""
Tests for the twistd plugins (L{twisted_netlab._twistd} and
``twisted/plugins/netlab.py``): run as a user runs them, through a real
``twistd`` on loopback, with and without daemonizing.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env, executable

PLUGINS = ["netlab-http", "netlab-echo", "netlab-heartbeat", "netlab-mailsink", "netlab-all"]


def twistd(*args: str, cwd: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [executable("twistd"), *args], capture_output=True, text=True, timeout=timeout, env=child_env(), cwd=cwd
    )


class PluginOptionTests(SynchronousTestCase):
    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def test_usage_error_is_one_line_and_exit_2(self):
        """
        A plugin's usage error prints the error and where to get help, on
        stderr, and exits 2, not the whole help followed by the error.
        """
        for plugin in PLUGINS:
            result = twistd(plugin, "--no-such-flag", cwd=self.folder)
            self.assertEqual(
                (result.returncode, result.stdout, result.stderr),
                (
                    2,
                    "",
                    f"twistd {plugin}: error: option --no-such-flag not recognized\n"
                    f"Try 'twistd {plugin} --help' for more information.\n",
                ),
            )

    def test_version_names_netlab_and_twisted(self):
        """
        C{twistd netlab-X --version} names netlab's version and Twisted's.
        """
        import twisted

        from twisted_netlab import __version__

        for plugin in ("netlab-http", "netlab-all"):
            result = twistd(plugin, "--version", cwd=self.folder)
            self.assertEqual(
                (result.returncode, result.stdout), (0, f"{plugin} {__version__}\nTwisted {twisted.__version__}\n")
            )

    def test_h_is_help(self):
        """
        C{-h} shows the plugin's help, as C{--help} does.
        """
        short, long = (twistd("netlab-echo", flag, cwd=self.folder) for flag in ("-h", "--help"))
        self.assertEqual((short.returncode, short.stdout), (0, long.stdout))
        self.assertIn("--loss", short.stdout)


class StartupFailureTests(SynchronousTestCase):
    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        self.pidfile = os.path.join(self.folder, "twistd.pid")
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(1)
        self.addCleanup(self.tcp.close)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.addCleanup(self.udp.close)

    def daemon(self, *args: str) -> subprocess.CompletedProcess:
        return twistd(f"--pidfile={self.pidfile}", f"--logfile={os.path.join(self.folder, 'log')}", *args, cwd=self.folder)

    def test_daemon_with_taken_port_exits_with_the_reason(self):
        """
        Without -n, every plugin whose port is taken makes the launching
        twistd exit 1 at once with the one-line reason on stderr, and
        leaves no pid file (the listener is bound before twistd forks; a
        daemon could no longer tell the shell, and the launcher used to
        wait for ever).
        """
        tcp = f"tcp:{self.tcp.getsockname()[1]}:interface=127.0.0.1"
        udp = str(self.udp.getsockname()[1])
        cases = [
            (["netlab-http", "--listen", tcp], "netlab-http: error: cannot listen on " + tcp),
            (["netlab-echo", "--port", udp], f"netlab-echo: error: cannot listen on udp 127.0.0.1 port {udp}"),
            (["netlab-heartbeat", "--port", udp], f"netlab-heartbeat: error: cannot listen on udp 127.0.0.1 port {udp}"),
            (["netlab-mailsink", "--listen", tcp], "netlab-mailsink: error: cannot listen on " + tcp),
            (["netlab-all", "--http", tcp], "netlab-http: error: cannot listen on " + tcp),
        ]
        for argv, reason in cases:
            started = time.monotonic()
            result = self.daemon(*argv)
            self.assertEqual(result.returncode, 1, (argv, result.stderr))
            [line] = result.stderr.splitlines()
            self.assertTrue(line.startswith(reason), line)
            self.assertIn("Address already in use", line)
            self.assertFalse(os.path.exists(self.pidfile), argv)
            self.assertLess(time.monotonic() - started, 30)
        self.assertIn("(choose another with --http)", line)

    def test_daemon_that_can_listen_serves_after_the_fork(self):
        """
        A port bound before twistd daemonizes is served by the daemon; the
        launcher exits 0 and the pid file names the daemon until it stops.
        """
        result = self.daemon("netlab-echo", "--port", "0", "--loss", "0")
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        with open(self.pidfile) as handle:
            pid = int(handle.read())
        self.addCleanup(_kill, pid)
        deadline = time.monotonic() + 30
        port = None
        while port is None and time.monotonic() < deadline:
            with open(os.path.join(self.folder, "log")) as handle:
                found = re.search(r"netlab-echo listening on udp \S+ (\d+)", handle.read())
            port = int(found.group(1)) if found else None
            if port is None:
                time.sleep(0.05)  # polling a log file the daemon writes, not synchronising
        self.assertIsNotNone(port)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
            client.settimeout(20)
            client.sendto(b"Ping 1 0", ("127.0.0.1", port))
            self.assertEqual(client.recvfrom(100)[0].lower(), b"ping 1 0")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while os.path.exists(self.pidfile) and time.monotonic() < deadline:
            time.sleep(0.05)  # polling for the daemon's own clean-up
        self.assertFalse(os.path.exists(self.pidfile))

    def test_missing_key_file_is_one_line_with_a_remedy(self):
        """
        C{--listen ssl:PORT} without a key file names the missing file and
        says how to make a test certificate, in one line.
        """
        result = twistd("-n", "--pidfile=", "netlab-http", "--listen", "ssl:0:interface=127.0.0.1", cwd=self.folder)
        self.assertEqual(result.returncode, 1)
        [line] = result.stderr.splitlines()
        self.assertIn("server.pem", line)
        self.assertIn("No such file or directory", line)
        self.assertIn("openssl req -x509", line)

    def test_unescaped_ipv6_interface_gets_a_hint(self):
        """
        C{interface=::1} in an endpoint string is answered with the escaped
        spelling to use.
        """
        result = twistd("-n", "--pidfile=", "netlab-http", "--listen", "tcp:0:interface=::1", cwd=self.folder)
        self.assertEqual(result.returncode, 1)
        [line] = result.stderr.splitlines()
        self.assertIn(r"interface=\:\:1", line)


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


class MakeServiceTests(SynchronousTestCase):
    def test_daemon_start_failure_reaches_the_launcher(self):
        """
        When twistd daemonizes, a SystemExit while starting (which twistd's
        launcher would wait on for ever) becomes StartupFailed, an Exception
        twistd reports through its pipe; in the foreground it stays as it is.
        """
        import sys
        import types

        from twisted.application.service import Service

        from twisted_netlab._twistd import DaemonSafeService, StartupFailed, make_service

        class Failing(Service):
            def startService(self):
                raise SystemExit("probe: error: cannot start")

        module = types.ModuleType("netlab_probe_tap")
        module.makeService = lambda options: Failing()
        self.patch(sys, "modules", dict(sys.modules, netlab_probe_tap=module))

        class Options(dict):
            pass

        daemon = Options()
        daemon.parent = {"nodaemon": False}
        root = make_service("netlab_probe_tap", daemon)
        self.assertIsInstance(root, DaemonSafeService)
        error = self.assertRaises(StartupFailed, root.startService)
        self.assertEqual(str(error), "probe: error: cannot start")
        foreground = Options()
        foreground.parent = {"nodaemon": True}
        service = make_service("netlab_probe_tap", foreground)
        self.assertNotIsInstance(service, DaemonSafeService)
        self.assertRaises(SystemExit, service.startService)
