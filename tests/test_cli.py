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
