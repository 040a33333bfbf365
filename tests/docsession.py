"""
Executable sample sessions in the manual (docs/*.rst), in the manner of
cram and doctest files: the docs can never show output the programs no
longer print.

The convention, for a page author:

- A comment line ``.. session:`` right before a paragraph that ends in
  ``::`` marks the literal block after it as a session.  Words after the
  colon: ``files=NAME`` (build fixture NAME, from tests/test_docs_sessions.py,
  in the session's temporary folder, which is the current folder of every
  command), ``same`` (continue the previous session of the page: same
  folder, same servers), ``log=SERVICE`` (the block is not commands but
  lines the running SERVICE logged, e.g. ``log=netlab-http``), ``stop``
  (with ``log=``: stop the service with SIGTERM first, so its shutdown
  lines can be shown), ``write=FILE`` (the block is not a session but
  the contents of FILE, e.g. an example program the next session runs;
  port numbers in it are mapped like those of commands).
- In a session, ``$ command`` runs the command with bash (a line ending in
  a backslash continues on the next line); the lines up to the next
  ``$`` line are its output, stdout and stderr together.  ``$ twistd -n
  netlab-X ...`` starts that service in the background instead (on free
  ports, see below) and its lines are matched against what it logs.
- A line ``...`` stands for any number of lines; ``...`` inside a line for
  any text.  Dates, durations, ETags, epoch times, boot ids, queue ids,
  Message-IDs, MIME boundaries, client ports and User-Agent versions are
  masked on both sides (L{MASKS}), so the page shows real values.
- ``$ command &`` starts a program of your own (a student's server) in
  the background; the runner waits until the ports of the session it
  names accept TCP connections.  ``ports=6789,13000/udp`` in the mark maps
  those port numbers of the page to free ports too.
- Ports: a service is started on a free port in place of the port the
  page names (or its default: 8080, 12000, 13000, 2525); the page's port
  numbers are replaced by the real ones in commands, and back in output.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from tests.helpers import BIN, RunningServer, _lines, child_env, start_process

#: (pattern, replacement) applied in order to expected and actual lines.
MASKS: List[Tuple[re.Pattern, str]] = [
    (re.compile(p), r) for p, r in [
        (r"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} (?:GMT|[+-]\d{4})", "<DATE>"),
        (r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]", "<DATE>"),
        (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:?\d{2}|Z)?", "<DATE>"),
        (r'"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"', "<ETAG>"),
        (r"\b\d{9,10}\.M\d+P\d+Q\d+R[0-9a-f]+\.[\w.-]+", "<QUEUEID>"),
        (r"<[0-9a-f]{32}@", "<MESSAGEID@"),
        (r"=_netlab_[0-9a-f]+", "=_netlab_<BOUNDARY>"),
        (r"\b1\d{9}\.\d+", "<EPOCH>"),
        (r"\b(boot[= ])[0-9a-f]{16}\b", r"\1<BOOT>"),
        (r"\d+\.\d+(?:/\d+\.\d+)+", "<TIMES>"),
        (r"[+-]?\d+(?:\.\d+)?\s?(?:ms|s|µs|MB/s)\b", "<TIME>"),
        (r"\b(phi) \d+(?:\.\d+)?", r"\1 <PHI>"),
        (r"(?<=[:\] ])(?:3[2-9]\d{3}|[4-6]\d{4})\b", "<PORT>"),
        (r"\b(curl|aiosmtpd|Python)/[\d.]+", r"\1/<VERSION>"),
    ]
]

#: The port each service listens on when its command names none, and the
#: option that sets it (a Twisted endpoint or a port number).
DEFAULT_PORTS = {
    "netlab-http": ("--listen", "tcp:{port}:interface=127.0.0.1", 8080, "tcp"),
    "netlab-echo": ("--port", "{port}", 12000, "udp"),
    "netlab-heartbeat": ("--port", "{port}", 13000, "udp"),
    "netlab-mailsink": ("--listen", "tcp:{port}:interface=127.0.0.1", 2525, "tcp"),
}


@dataclass
class Block:
    """
    One session block of a page.
    """

    page: str
    line: int
    options: Dict[str, str]
    lines: List[str]


@dataclass
class Command:
    text: str
    line: int
    expected: List[str] = field(default_factory=list)


def blocks(path: str) -> List[Block]:
    """
    The session blocks of one .rst page, in order.
    """
    with open(path, encoding="utf-8") as handle:
        source = handle.read().split("\n")
    found = []
    index = 0
    while index < len(source):
        line = source[index]
        match = re.match(r"\.\. session:(.*)$", line)
        index += 1
        if not match:
            continue
        options = {}
        for word in match.group(1).split():
            key, _, value = word.partition("=")
            options[key] = value
        # The block starts after the next line ending in "::".
        while index < len(source) and not source[index].rstrip().endswith("::"):
            index += 1
        index += 1
        while index < len(source) and not source[index].strip():
            index += 1
        start = index
        body = []
        while index < len(source) and (not source[index].strip() or source[index].startswith((" ", "\t"))):
            body.append(source[index])
            index += 1
        while body and not body[-1].strip():
            body.pop()
        indent = min(len(l) - len(l.lstrip()) for l in body if l.strip())
        found.append(Block(os.path.basename(path), start + 1, options, [l[indent:] for l in body]))
    return found


def commands(block: Block) -> List[Command]:
    """
    The C{$} commands of a session block with their expected output.
    """
    result: List[Command] = []
    lines = iter(enumerate(block.lines, block.line))
    for number, line in lines:
        if line.startswith("$ "):
            text = line[2:]
            while text.endswith("\\"):
                text = text[:-1] + " " + next(lines)[1].strip()
            result.append(Command(text, number))
        elif result:
            result[-1].expected.append(line)
        elif line.strip():
            raise AssertionError(f"{block.page}:{number}: output before the first $ command")
    for command in result:
        while command.expected and not command.expected[-1].strip():
            command.expected.pop()
    return result


def mask(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def _line_pattern(expected: str) -> re.Pattern:
    parts = [re.escape(part) for part in mask(expected).split("...")]
    return re.compile(".*?".join(parts) + r"\Z", re.S)


def match_lines(expected: List[str], actual: List[str]) -> bool:
    """
    Whether C{actual} (masked) is C{expected}, a line C{...} standing for
    any number of lines and C{...} in a line for any text.
    """
    actual = [mask(line) for line in actual]
    patterns = [None if line.strip() == "..." else _line_pattern(line) for line in expected]
    memo: Dict[Tuple[int, int], bool] = {}

    def go(i: int, j: int) -> bool:
        key = (i, j)
        if key not in memo:
            if i == len(patterns):
                memo[key] = j == len(actual)
            elif patterns[i] is None:
                memo[key] = any(go(i + 1, k) for k in range(j, len(actual) + 1))
            else:
                memo[key] = j < len(actual) and bool(patterns[i].match(actual[j])) and go(i + 1, j + 1)
        return memo[key]

    return go(0, 0)


def free_port(kind: str) -> int:
    """
    A port of C{kind} ("tcp" or "udp") free on 127.0.0.1 right now.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    try:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
    finally:
        sock.close()


class Session:
    """
    The state shared by the session blocks of one page that follow each
    other with C{same}: a folder, the services started, the port map.
    """

    def __init__(self, testcase, folder: str, fixtures: Dict[str, Callable[[str], None]]) -> None:
        self.testcase = testcase
        self.folder = folder
        self.fixtures = fixtures
        self.home = os.path.join(folder, ".home")
        os.makedirs(self.home, exist_ok=True)
        self.ports: Dict[int, int] = {}
        self.servers: Dict[str, RunningServer] = {}
        self.status = 0
        self.files: Dict[str, str] = {}
        self.env = {
            "HOME": self.home,
            "XDG_DATA_HOME": os.path.join(self.home, ".local", "share"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
            "LC_ALL": "C.UTF-8",
            "COLUMNS": "80",
        }

    # Ports -----------------------------------------------------------

    def to_real(self, text: str) -> str:
        for doc, real in self.ports.items():
            text = re.sub(rf"\b{doc}\b", str(real), text)
        return text

    def to_doc(self, text: str) -> str:
        for doc, real in self.ports.items():
            text = re.sub(rf"\b{real}\b", str(doc), text)
        return text.replace(self.home, "/home/me").replace(self.folder, "/home/me/lab")

    # Running ---------------------------------------------------------

    def run_block(self, block: Block) -> None:
        where = f"{block.page}:{block.line}"
        for name in filter(None, block.options.get("files", "").split(",")):
            self.fixtures[name](self.folder)
        if "write" in block.options:
            # The block is a file the next commands use (an example program).
            # Written just before each command runs, with the ports known then.
            self.files[block.options["write"]] = "\n".join(block.lines) + "\n"
            return
        if "log" in block.options:
            self.check_log(block, where)
            return
        for spec in filter(None, block.options.get("ports", "").split(",")):
            number, _, kind = spec.partition("/")
            self.ports.setdefault(int(number), free_port(kind or "tcp"))
        for command in commands(block):
            if command.text.endswith(" &"):
                self.background(command, f"{block.page}:{command.line}")
            elif command.text.startswith("twistd "):
                self.start(command, f"{block.page}:{command.line}")
            else:
                self.run(command, f"{block.page}:{command.line}")

    def start(self, command: Command, where: str) -> None:
        args = shlex.split(command.text)[1:]
        if args[:1] != ["-n"] or len(args) < 2 or args[1] not in DEFAULT_PORTS:
            raise AssertionError(f"{where}: a session starts services as 'twistd -n netlab-X ...'")
        service = args[1]
        option, template, default, kind = DEFAULT_PORTS[service]
        text = " ".join(shlex.quote(a) for a in args[2:])
        named = re.findall(r"(?:tcp6?|ssl|udp):(\d+)|--(?:port|echo-port|heartbeat-port)[ =](\d+)", text)
        listening = 0
        for endpoint, number in named:
            doc = int(endpoint or number)
            if doc not in self.ports:
                self.ports[doc] = free_port("tcp" if endpoint else kind)
            listening += 1
        if not any(re.match(rf"{option}\b", a) for a in args[2:]):
            self.ports.setdefault(default, free_port(kind))
            text += " " + option + " " + template.format(port=self.ports[default])
            listening += 1
        real = shlex.split(self.to_real(text))
        launch = ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", self.folder, os.path.join(BIN, "twistd"), "-n", "--pidfile=", "--logfile=-", service] + real
        server = start_process(self.testcase, launch, expect=listening, env=self.env)
        self._quick_stop(server)
        self.servers[service] = server
        server._cursor = 0
        self.expect_log(server, command.expected, where)

    def background(self, command: Command, where: str) -> None:
        """
        Start C{command} (ending in C{&}) and wait until every TCP port
        mapped for this session that it names accepts connections.
        """
        if command.expected:
            raise AssertionError(f"{where}: a background command shows no output")
        for name, text in self.files.items():
            with open(os.path.join(self.folder, name), "w", encoding="utf-8") as handle:
                handle.write(self.to_real(text))
        real = self.to_real(command.text[:-2])
        launch = ["sh", "-c", 'cd "$1" && exec bash -c "exec $2"', "sh", self.folder, real]
        self.servers[command.text] = start_process(self.testcase, launch, expect=0, env=self.env)
        self._quick_stop(self.servers[command.text])
        deadline = time.monotonic() + 20
        for doc, port in self.ports.items():
            if not re.search(rf"\b{doc}\b", command.text):
                continue
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{where}: nothing listens on port {doc} after 20 s")
                    time.sleep(0.05)  # a student's program announces nothing: poll, bounded

    def _quick_stop(self, server: RunningServer) -> None:
        """
        At cleanup, discard the output still to come instead of reading it
        for two seconds (runs before the stop that start_process registered).
        """

        def drain() -> None:
            if server.process.stdout is not None and not server.process.stdout.closed:
                server.drain()

        self.testcase.addCleanup(drain)

    def expect_log(self, server: RunningServer, expected: List[str], where: str) -> None:
        """
        Each expected line (not C{...}) appears in the service's output, in
        order; waits at most 20 s for each.
        """
        for line in expected:
            if line.strip() in ("", "..."):
                continue
            pattern = _line_pattern(re.sub(r"^\s+", " ", line))
            deadline = time.monotonic() + 20
            while True:
                if server._cursor < len(server.output):
                    got = server.output[server._cursor].rstrip("\n")
                    server._cursor += 1
                    if pattern.match(re.sub(r"^\s+", " ", mask(self.to_doc(got)))):
                        break
                    continue
                more = next(_lines(server.process, deadline), None)
                if more is None:
                    raise AssertionError(f"{where}: the service never logged:\n  {line}\nit logged:\n" + self.to_doc(server.text))
                server.output.append(more)

    def check_log(self, block: Block, where: str) -> None:
        service = block.options["log"]
        server = self.servers[service]
        if "stop" in block.options:
            code = server.stop(signal.SIGTERM, idle=5.0)
            if code != 0:
                raise AssertionError(f"{where}: {service} exited with {code} on SIGTERM:\n{server.text}")
        server._cursor = 0
        if os.environ.get("NETLAB_DOCS_RECORD"):
            if server.process.stdout is not None and not server.process.stdout.closed:
                server.output.extend(_lines(server.process, time.monotonic() + 8, idle=8))
            with open(os.environ["NETLAB_DOCS_RECORD"], "a", encoding="utf-8") as record:
                record.write(f"@@@@ {where} log\n" + self.to_doc(server.text))
            return
        self.expect_log(server, block.lines, where)

    def run(self, command: Command, where: str) -> None:
        for name, text in self.files.items():
            with open(os.path.join(self.folder, name), "w", encoding="utf-8") as handle:
                handle.write(self.to_real(text))
        # Each command runs in its own bash; $? is carried over so that
        # "$ echo $?" shows the previous command's exit status.
        result = subprocess.run(
            ["bash", "-c", f"(exit {self.status}); " + self.to_real(command.text)],
            cwd=self.folder,
            env=child_env(self.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
        )
        self.status = result.returncode
        actual = self.to_doc(result.stdout.decode("utf-8", "replace")).split("\n")
        if actual and actual[-1] == "":
            actual.pop()
        actual = [line.rstrip() for line in actual]
        while actual and not actual[-1]:
            actual.pop()  # a page cannot show trailing empty lines either
        if os.environ.get("NETLAB_DOCS_RECORD"):
            # For page authors: print what the commands print now, check nothing.
            with open(os.environ["NETLAB_DOCS_RECORD"], "a", encoding="utf-8") as record:
                record.write(f"@@@@ {where}\n$ {command.text}\n" + "\n".join(actual) + "\n")
            return
        if not match_lines(command.expected, actual):
            raise AssertionError(
                f"{where}: $ {command.text}\n--- the page shows:\n" + "\n".join(command.expected)
                + "\n--- the program printed (ports and paths as on the page):\n" + "\n".join(actual)
            )

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
