"""
The check family's case model, cases and report, and the web family's
response checks, are pure: importing them loads no twisted.internet.
"""

import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import child_env

PURE = [
    "twisted_netlab.check._case",
    "twisted_netlab.check._cases_http",
    "twisted_netlab.check._cases_http_rfc",
    "twisted_netlab.check._cases_http_hardening",
    "twisted_netlab.check._report",
    "twisted_netlab.web._response_checks",
]


class PurityTests(SynchronousTestCase):
    def test_pure_modules_load_no_reactor(self):
        """
        Importing every pure check module (and building every case list)
        leaves twisted.internet unloaded.
        """
        code = "".join(f"import {name}\n" for name in PURE) + (
            "import sys\n"
            "twisted_netlab.check._cases_http.all_cases()\n"
            "assert 'twisted.internet' not in sys.modules, sorted(m for m in sys.modules if m.startswith('twisted'))\n"
        )
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual(result.returncode, 0, result.stderr)
