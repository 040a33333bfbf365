# -*- test-case-name: tests.test_typing -*-
"""
Static typing: mypy (with the zope plugin configured in setup.cfg) finds no
error in C{twisted_netlab}, so the annotations stay true as the code grows.
"""

import importlib.util
import os
import subprocess
import sys

from twisted.trial.unittest import SkipTest, SynchronousTestCase

from tests.helpers import REPO, child_env


class MypyTests(SynchronousTestCase):
    def test_package_type_checks_clean(self):
        """
        C{python -m mypy twisted_netlab}, run from the source tree with its
        setup.cfg, exits 0 and reports no issues.  The cache goes to this
        test's temporary folder: every run checks from scratch (about 3 s
        on an idle 2-core machine) and never writes into the tree.
        """
        if importlib.util.find_spec("mypy") is None:
            raise SkipTest("mypy is not installed (pip install -e '.[test]' installs it)")
        cache = os.path.abspath(self.mktemp())
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mypy",
                "--config-file",
                os.path.join(REPO, "setup.cfg"),
                "--cache-dir",
                cache,
                "twisted_netlab",
            ],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=300,
            env=child_env(),
        )
        report = result.stdout + result.stderr
        self.assertEqual(result.returncode, 0, report)
        self.assertIn("Success: no issues found", result.stdout, report)
