"""
The pure modules of the lab checks (ping-client, beat-client, beat-monitor,
smtp-client, smtp) load no reactor: importing them, and building every
case list and scenario, leaves twisted.internet unloaded.
"""

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env

PURE = [
    "twisted_netlab.check._session",
    "twisted_netlab.check._student_output",
    "twisted_netlab.check._cases_ping",
    "twisted_netlab.check._cases_beat",
    "twisted_netlab.check._smtp_dialogue",
    "twisted_netlab.check._cases_smtp",
    "twisted_netlab.check._cases_smtp_client",
]


class PurityTests(SynchronousTestCase):
    def test_pure_modules_load_no_reactor(self):
        """
        Importing the lab checks' pure modules and building their cases
        loads nothing of twisted.internet.
        """
        code = "".join(f"import {name}\n" for name in PURE) + (
            "import random, sys\n"
            "twisted_netlab.check._cases_ping.all_cases()\n"
            "twisted_netlab.check._cases_ping.plan_scenario(10, 0.3, random.Random(1))\n"
            "twisted_netlab.check._cases_beat.beat_client_cases(); twisted_netlab.check._cases_beat.monitor_cases()\n"
            "twisted_netlab.check._cases_smtp.all_cases(); twisted_netlab.check._cases_smtp_client.all_cases()\n"
            "assert 'twisted.internet' not in sys.modules, sorted(m for m in sys.modules if m.startswith('twisted'))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)
