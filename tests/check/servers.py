"""
The servers ``netlab check http`` is tested against, started for real on
loopback (netlab-http, ``twistd web``, nginx, or given to ``--run``:
``python -m http.server`` and the student programs in students/), and
one function that checks one of them and returns every case's verdict.
Shared by tests.check.test_servers and benchmarks/check_http.py.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

from twisted_netlab.check.runner import free_port, listening_on

from tests.helpers import REPO, child_env, executable, start_process

STUDENTS = os.path.join(REPO, "tests", "check", "students")

#: Per-case bound used by the tests (the default is 5 s): loopback answers
#: take milliseconds, and the cases that wait scale with it.
TEST_TIMEOUT = "3s"

NGINX_CONF = """\
{user}daemon off;
master_process on;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def check(args: Sequence[str], timeout: float = 240.0) -> Tuple[int, Dict[str, Any], str]:
    """
    Run ``netlab check http ARGS --json``: (exit code, document, stderr).
    """
    result = subprocess.run(
        [executable("netlab"), "check", "http", *args, "--json"],
        capture_output=True, text=True, timeout=timeout, env=child_env(), stdin=subprocess.DEVNULL,
    )
    try:
        document = json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"no JSON report (exit {result.returncode}); stderr:\n{result.stderr}")
    return result.returncode, document, result.stderr


def verdicts(document: Dict[str, Any]) -> Dict[str, str]:
    return {case["id"]: case["verdict"] for case in document["cases"]}


def _wait_listening(port: int, server: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not listening_on(port):
        if server.process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("server did not listen:\n" + server.finish(5))
        time.sleep(0.05)


def start_netlab_http(testcase: Any, root: str, extra: Sequence[str] = ()) -> str:
    command = [executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-http",
               "--listen", "tcp:0:interface=127.0.0.1", "--path", root, *extra]
    server = start_process(testcase, command, expect=0)
    testcase.addCleanup(lambda: server.stop(timeout=20, idle=5))
    found = server.read_until(r"netlab-http listening on \w+ \S+ (\d+)", 30)
    server.drain()
    return f"http://127.0.0.1:{found.group(1)}/"


def start_twistd_web(testcase: Any, root: str) -> str:
    command = [executable("twistd"), "-n", "--pidfile=", "--logfile=-", "web",
               "--listen", "tcp:0:interface=127.0.0.1", "--path", root]
    server = start_process(testcase, command, expect=0)
    found = server.read_until(r"Site starting on (\d+)", 30)
    server.drain()
    return f"http://127.0.0.1:{found.group(1)}/"


def nginx_program() -> Optional[str]:
    return shutil.which("nginx") or (os.path.exists("/usr/sbin/nginx") and "/usr/sbin/nginx") or None


def start_nginx(testcase: Any, root: str, workdir: str) -> str:
    """
    nginx in the foreground on a free loopback port, with its pid, log
    and temporary paths in C{workdir}; killed on cleanup.
    """
    program = nginx_program()
    assert program is not None
    port = free_port()
    config = os.path.join(workdir, "nginx.conf")
    with open(config, "w") as handle:
        # As root, nginx's workers would run as nobody, who cannot read a
        # test's temporary folder (mode 0700 up the path): keep them root.
        user = "user root root;\n" if os.getuid() == 0 else ""
        handle.write(NGINX_CONF.format(user=user, dir=workdir, port=port, root=os.path.abspath(root)))
    server = start_process(testcase, [program, "-c", config, "-p", workdir, "-e", os.path.join(workdir, "error.log")],
                           expect=0)
    _wait_listening(port, server)
    server.drain()
    return f"http://127.0.0.1:{port}/"


def start_http_server(testcase: Any, root: str) -> str:
    """
    ``python -m http.server`` serving C{root} on a free loopback port.
    """
    port = free_port()
    server = start_process(testcase, [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port),
                                      "--directory", os.path.abspath(root)], expect=0)
    _wait_listening(port, server)
    server.drain()
    return f"http://127.0.0.1:{port}/"


def http_server_command() -> str:
    return f"{sys.executable} -m http.server --bind 127.0.0.1 {{port}}"


def student_command(name: str) -> str:
    return f"{sys.executable} {os.path.join(STUDENTS, name + '.py')} {{port}}"


__all__: List[str] = [
    "check", "http_server_command", "start_http_server", "nginx_program", "start_netlab_http", "start_nginx", "start_twistd_web",
    "student_command", "verdicts", "TEST_TIMEOUT",
]
