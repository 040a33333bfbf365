"""
Tests for ``netlab check`` and ``netlab check http`` on the command line:
options, the loopback rule, and the exit codes scripts rely on (2 usage,
7 unreachable, 1 a --run command that exits at once).
"""

import json
import os
import signal
import subprocess
import sys
import time

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab import cli as netlab_cli
from twisted_netlab.check import cli
from twisted_netlab.check import http as check_http
from twisted_netlab.check.runner import free_port

from tests.helpers import child_env, executable


def parse(*argv):
    return netlab_cli.parse(["check", "http", *argv]).subOptions.subOptions


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def netlab(*argv, timeout=60):
    return subprocess.run([executable("netlab"), *argv], capture_output=True, text=True, timeout=timeout,
                          env=child_env(), stdin=subprocess.DEVNULL)


class OptionsTests(SynchronousTestCase):
    def test_url_and_options_in_any_order(self):
        """
        Options may follow the URL; the path is made to end in '/'.
        """
        options = parse("http://127.0.0.1:8080/www", "--root", ".", "--profile", "lab", "--only", "get.file,get.")
        self.assertEqual(options["target"], check_http.Target("http", "127.0.0.1", 8080, "/www/"))
        self.assertEqual(options["only"], ["get.file", "get."])
        self.assertEqual(options["timeout"], 5.0)

    def test_usage_errors(self):
        """
        Each of these is refused with a message before anything runs.
        """
        table = [
            ("ftp://127.0.0.1/",),
            ("http://127.0.0.1:99999/",),
            ("http:///nohost",),
            (),
            ("http://127.0.0.1/", "--run", "python3 s.py {port}"),
            ("--run", "python3 s.py {port}", "--root", "."),
            ("http://127.0.0.1/", "--profile", "labs"),
            ("http://127.0.0.1/", "--timeout", "soon"),
            ("http://127.0.0.1/", "--root", "/nonexistent/folder"),
            ("http://192.0.2.1/",),
            ("http://example.com/",),
        ]
        for argv in table:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_allow_remote(self):
        """
        --allow-remote lifts the loopback rule.
        """
        self.assertEqual(parse("http://192.0.2.1/", "--allow-remote")["target"].host, "192.0.2.1")

    def test_loopback(self):
        """
        localhost, *.localhost, 127.0.0.0/8 and ::1 are loopback; others not.
        """
        for host in ["localhost", "LOCALHOST.", "app.localhost", "127.0.0.1", "127.9.9.9", "::1", "[::1]"]:
            self.assertTrue(cli.is_loopback(host), host)
        for host in ["10.0.0.1", "example.com", "localhost.example.com", "0.0.0.0", "::"]:
            self.assertFalse(cli.is_loopback(host), host)


class ExitCodeTests(SynchronousTestCase):
    def test_not_http(self):
        """
        A URL that is not http(s) exits 2 with one line on stderr.
        """
        result = netlab("check", "http", "ftp://127.0.0.1/")
        self.assertEqual(result.returncode, 2)
        self.assertIn("not an http or https URL", result.stderr)

    def test_kind_required(self):
        """
        'netlab check' alone is a usage error naming the kinds.
        """
        result = netlab("check")
        self.assertEqual(result.returncode, 2)
        self.assertIn("http", result.stderr)

    def test_unreachable(self):
        """
        Nothing listening: exit 7, one line saying why, nothing on stdout.
        """
        port = free_port()
        result = netlab("check", "http", f"http://127.0.0.1:{port}/")
        self.assertEqual(result.returncode, 7, result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertEqual(len(result.stderr.splitlines()), 1)
        self.assertIn("refused", result.stderr)

    def test_unknown_only(self):
        """
        --only with an id that does not exist exits 2 before connecting.
        """
        result = netlab("check", "http", "http://127.0.0.1:9/", "--only", "get.flie")
        self.assertEqual(result.returncode, 2)
        self.assertIn("no case called 'get.flie'", result.stderr)

    def test_run_exits_at_once(self):
        """
        A --run command that exits before listening: exit 1, its output
        shown on stderr.
        """
        script = os.path.abspath(self.mktemp())
        with open(script, "w") as handle:
            handle.write("import sys\nprint('Usage: server.py PORT ROOT', file=sys.stderr)\nsys.exit(1)\n")
        result = netlab("check", "http", "--run", f"{sys.executable} {script} {{port}}")
        self.assertEqual(result.returncode, 1)
        self.assertIn("exited with status 1 before accepting connections", result.stderr)
        self.assertIn("Usage: server.py PORT ROOT", result.stderr)

    def test_help_and_version(self):
        """
        'netlab check http --help' names the command as typed and exits 0;
        --version is netlab's.
        """
        result = netlab("check", "http", "--help")
        self.assertEqual(result.returncode, 0)
        self.assertTrue(result.stdout.startswith("Usage: netlab check http [options] [URL]\n"), result.stdout[:80])
        result = netlab("check", "http", "--version")
        self.assertEqual((result.returncode, result.stdout.split()[0]), (0, "netlab"))

    def test_list(self):
        """
        --list prints every case id and exits 0 without a target.
        """
        result = netlab("check", "http", "--list")
        self.assertEqual(result.returncode, 0)
        self.assertIn("get.missing", result.stdout)
        self.assertIn("hardening.slowloris", result.stdout)

    def test_server_that_closes_at_once(self):
        """
        A server that closes every connection at once: the run completes,
        every case has a verdict saying what came, exit 1.
        """
        script = os.path.abspath(self.mktemp())
        with open(script, "w") as handle:
            handle.write(
                "import socket, sys\n"
                "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)\n"
                "while True:\n"
                "    c, _ = s.accept(); c.close()\n"
            )
        result = netlab("check", "http", "--run", f"{sys.executable} {script} {{port}}", "--json",
                        "--only", "get.,status-line.form,keepalive.reuse", "--timeout", "2s", timeout=120)
        self.assertEqual(result.returncode, 1, result.stderr)
        cases = json.loads(result.stdout)["cases"]
        self.assertEqual({c["verdict"] for c in cases}, {"fail"})
        for case in cases:
            self.assertIn("closed", case["detail"], case)

    def test_interrupted_run_leaves_nothing_behind(self):
        """
        SIGTERM to a running check stops the --run server and removes the
        fixture folder before netlab exits.
        """
        script = os.path.abspath(self.mktemp())
        facts = os.path.abspath(self.mktemp())
        with open(script, "w") as handle:
            handle.write(
                "import os, socket, sys\n"
                "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)\n"
                "open(sys.argv[2], 'w').write(f'{os.getpid()} {os.getcwd()}')\n"
                "while True:\n"
                "    c, _ = s.accept()\n"  # accepts and never answers: every case waits
            )
        netlab_process = subprocess.Popen(
            [executable("netlab"), "check", "http", "--run", f"{sys.executable} {script} {{port}} {facts}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=child_env(),
        )
        self.addCleanup(netlab_process.kill)
        deadline = time.monotonic() + 30
        while not (os.path.exists(facts) and os.path.getsize(facts)):
            self.assertLess(time.monotonic(), deadline, "the --run server never started")
            time.sleep(0.05)
        with open(facts) as handle:
            pid, cwd = handle.read().split(" ", 1)
        self.assertTrue(os.path.isdir(cwd))
        netlab_process.send_signal(signal.SIGTERM)
        netlab_process.wait(30)
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{pid}") and _state(pid) != "Z":
            self.assertLess(time.monotonic(), deadline, "the --run server outlived netlab")
            time.sleep(0.05)
        self.assertFalse(os.path.exists(cwd))

    def test_garbage_server(self):
        """
        A server that answers every connection with garbage and closes:
        every case completes with a verdict, the fixture cases fail with
        what came, and the exit code is 1; the JSON and JUnit files are
        written; the fixture folder is removed afterwards.
        """
        script = os.path.abspath(self.mktemp())
        with open(script, "w") as handle:
            handle.write(
                "import socket, sys, os\n"
                "s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(64)\n"
                "open(sys.argv[2], 'w').write(os.getcwd())\n"
                "while True:\n"
                "    c, _ = s.accept(); c.sendall(b'\\x00\\xffgarbage\\r\\n'); c.close()\n"
            )
        junit = os.path.abspath(self.mktemp())
        facts = os.path.abspath(self.mktemp())
        result = netlab("check", "http", "--run", f"{sys.executable} {script} {{port}} {facts}", "--json", "--junit",
                        junit, "--profile", "lab", "--timeout", "2s", timeout=120)
        self.assertEqual(result.returncode, 1, result.stderr)
        document = json.loads(result.stdout)
        verdicts = {case["id"]: case["verdict"] for case in document["cases"]}
        self.assertEqual(len(verdicts), 15)
        self.assertEqual(verdicts["get.file"], "fail")
        self.assertIn("no status line", [c for c in document["cases"] if c["id"] == "get.file"][0]["detail"])
        self.assertEqual(document["failed"] + document["passed"] + document["warned"] + document["skipped"], 15)
        with open(junit) as handle:
            self.assertIn("<testcase", handle.read())
        with open(facts) as handle:
            cwd = handle.read()
        self.assertTrue(os.path.basename(os.path.dirname(cwd)).startswith("netlab-check-"), cwd)
        self.assertFalse(os.path.exists(os.path.dirname(cwd)))
