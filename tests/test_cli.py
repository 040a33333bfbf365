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
