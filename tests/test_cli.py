"""
Tests for the ``netlab`` console command's shared behaviour.
"""

import subprocess

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env, executable


class NetlabCommandTests(SynchronousTestCase):
    def run_netlab(self, *args):
        return subprocess.run([executable("netlab"), *args], capture_output=True, text=True, timeout=60, env=child_env())

    def test_no_command(self):
        """
        Without a command, netlab says what is missing on stderr and exits 2.
        """
        result = self.run_netlab()
        self.assertEqual(result.returncode, 2)
        self.assertIn("a command is required", result.stderr)
        self.assertEqual(result.stdout, "")

    def test_wrong_flag(self):
        """
        An unknown flag is named on stderr, exit code 2.
        """
        result = self.run_netlab("--frobnicate")
        self.assertEqual(result.returncode, 2)
        self.assertIn("frobnicate", result.stderr)

    def test_subcommand_synopsis(self):
        """
        A sub-command's help starts with its own usage line, once.
        """
        result = self.run_netlab("ping", "--help")
        first = result.stdout.splitlines()[0]
        self.assertTrue(first.startswith("Usage: netlab ping "), first)
        self.assertEqual(result.stdout.count("Usage:"), 1)

    def test_version_everywhere(self):
        """
        --version names netlab's version and Twisted's, also after a
        sub-command, for every sub-command.
        """
        import twisted

        from twisted_netlab import __version__

        expected = f"netlab {__version__}\nTwisted {twisted.__version__}\n"
        for args in (["--version"], ["get", "--version"], ["ping", "--version"], ["beat", "--version"], ["mail", "--version"]):
            result = self.run_netlab(*args)
            self.assertEqual((result.returncode, result.stdout), (0, expected), args)

    def test_unknown_command(self):
        """
        An unknown command is named, and the hint points at netlab --help.
        """
        result = self.run_netlab("frob")
        self.assertEqual(result.returncode, 2)
        self.assertIn("frob", result.stderr)
        self.assertIn("Try 'netlab --help'", result.stderr)

    def test_closed_stdout_pipe(self):
        """
        When the reader of stdout goes away (netlab ... | head -1), the
        command ends quietly with 141 instead of a traceback or a hang.
        """
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("127.0.0.1", 0))
            port = sink.getsockname()[1]
            process = subprocess.Popen(
                [executable("netlab"), "beat", "127.0.0.1", str(port), "--interval", "0.02", "--count", "500"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
            )
            self.assertTrue(process.stdout.readline().startswith(b"beat 0 "))
            process.stdout.close()
            try:
                code = process.wait(30)
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
            stderr = process.stderr.read()
            process.stderr.close()
        self.assertEqual(code, 141)
        self.assertNotIn(b"Traceback", stderr)


#: Runs ``netlab`` in a child, started as the console script starts it,
#: and writes the names of the modules it had loaded when it exited
#: (sys.modules entries that are not None, nor deferred modules never run).
_RECORD_MODULES = """
import atexit, json, sys
def record():
    loaded = [
        name for name, module in sys.modules.items()
        if module is not None and type(module).__name__ != "_DeferredModule"
    ]
    with open(sys.argv[1], "w") as handle:
        json.dump(sorted(loaded), handle)
atexit.register(record)
from twisted_netlab._startup import run
run(sys.argv[2:])
"""

#: What no plain client needs before its connection fails: the modules
#: Twisted only binds (twisted_netlab._startup.DEFERRED_MODULES and what
#: they load) and, for ping, the echo server's impairment model.
UNNEEDED_MODULES = {"http.cookiejar", "urllib.request", "http.client"}

#: What a refused ``netlab mail`` does not need: the endpoints module (and
#: twisted.plugin and zipfile under it) for an address literal, the TOML
#: parser without a servers file, mimetypes without an attachment, getpass
#: without a prompt, the idna codec for an ASCII domain.
MAIL_UNNEEDED_MODULES = {
    "twisted.internet.endpoints", "twisted.plugin", "zipfile", "tomllib", "mimetypes", "getpass", "encodings.idna",
}

TLS_MODULES = {"OpenSSL", "service_identity", "cryptography", "twisted.internet.ssl", "twisted.protocols.tls"}

#: What a TLS client needs only to check a certificate.
TLS_CHECKING_MODULES = {"service_identity", "twisted.internet.ssl", "twisted.internet._sslverify", "cryptography.x509"}


class LoadedModulesTests(SynchronousTestCase):
    """
    What each command imports (not how long it takes: that is
    benchmarks/startup.py).
    """

    def loaded(self, *args):
        import json
        import os
        import sys

        path = os.path.abspath(self.mktemp())
        result = subprocess.run(
            [sys.executable, "-c", _RECORD_MODULES, path, *args],
            capture_output=True, text=True, timeout=60, env=child_env(),
        )
        with open(path) as handle:
            return result.returncode, set(json.load(handle))

    def closed_port(self, kind):
        import socket

        with socket.socket(socket.AF_INET, kind) as probe:
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def test_plain_clients_load_no_tls(self):
        """
        get http://, ping, beat, mail --tls none and check http with an
        http:// URL never import pyOpenSSL,
        cryptography or service_identity (the reactor is loaded without its
        TLS support), nor what Twisted only binds (http.cookiejar and the
        HTTP client under it), nor ping the echo's model; get https:// does
        load TLS only once connected (so not when refused); mail with
        STARTTLS loads the reactor's TLS first, certificate checking only
        when TLS starts.  A refused mail
        to an address literal, without a servers file or attachment, loads
        neither the endpoints module (nor twisted.plugin and zipfile under
        it), nor the TOML parser, mimetypes or (without AUTH) hmac.
        """
        import socket

        tcp, udp = self.closed_port(socket.SOCK_STREAM), self.closed_port(socket.SOCK_DGRAM)
        mail = ["--from", "a@example.com", "--to", "b@example.com", "--body", "x", "--server", f"127.0.0.1:{tcp}"]
        for args, code in [
            (["get", "-s", f"http://127.0.0.1:{tcp}/"], 7),
            (["get", "-s", f"http://localhost:{tcp}/"], 7),
            (["ping", "-c", "1", "-W", "0.05", "-q", "127.0.0.1", str(udp)], 1),
            (["beat", "-c", "1", "-q", "127.0.0.1", str(udp)], 0),
            (["mail", "--tls", "none", *mail], 3),
            (["check", "http", f"http://127.0.0.1:{tcp}/"], 7),
        ]:
            returncode, modules = self.loaded(*args)
            self.assertEqual(returncode, code, args)
            self.assertIn("twisted.internet.reactor", modules, args)
            self.assertEqual(modules & TLS_MODULES, set(), args)
            self.assertEqual(modules & UNNEEDED_MODULES, set(), args)
            if args[0] == "mail":
                self.assertEqual(modules & MAIL_UNNEEDED_MODULES, set(), args)
                self.assertNotIn("hmac", modules)  # CRAM-MD5 only
            if args[0] == "get":
                # The response checks run on a response; a refused get has none.
                self.assertNotIn("twisted_netlab.web._response_checks", modules)
            if args[0] == "beat":
                # The sender without its service (twisted.application, the plugin system).
                self.assertEqual(modules & {"twisted.application.service", "twisted.plugin"}, set())
            if args[0] == "ping":
                self.assertIn("twisted_netlab.ping._pinger_core", modules)
                self.assertNotIn("twisted_netlab.ping._echo_core", modules)
        # https:// with the default trust imports TLS only once connected.
        returncode, modules = self.loaded("get", "-s", f"https://127.0.0.1:{tcp}/")
        self.assertEqual(returncode, 7)
        self.assertEqual(modules & TLS_MODULES, set())
        # STARTTLS loads the reactor's TLS transports before connecting;
        # certificate checking (Twisted's TLS settings, service_identity,
        # cryptography's X.509 layer) only when TLS starts.
        returncode, modules = self.loaded("mail", *mail)
        self.assertEqual(returncode, 3)
        self.assertTrue({"OpenSSL", "twisted.protocols.tls"} <= modules)
        self.assertEqual(modules & TLS_CHECKING_MODULES, set())
        self.assertEqual(modules & MAIL_UNNEEDED_MODULES, set())

    def test_help_and_usage_errors_load_no_reactor(self):
        """
        --help and usage errors load no reactor, Deferreds or client code.
        """
        for args, code in [
            (["get", "--help"], 0), (["ping", "-h"], 0), (["beat", "--help"], 0), (["mail", "--help"], 0),
            (["get"], 2), (["ping", "--bogus"], 2), (["beat", "h", "0"], 2), (["--version"], 0),
        ]:
            returncode, modules = self.loaded(*args)
            self.assertEqual(returncode, code, args)
            self.assertEqual({m for m in modules if m.startswith("twisted.internet")}, set(), args)
