"""
Tests for L{twisted_netlab._options}: the GNU option order every ``netlab``
sub-command accepts, C{-h}, options given twice, and the one
C{HOST[:PORT]} rule of the clients.
"""

from __future__ import annotations

import itertools
from typing import Dict, List, Sequence, Tuple

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab._options import CommandOptions, host_and_port, parse_host_port
from twisted_netlab.heartbeat import cli as beat_cli
from twisted_netlab.mail import cli as mail_cli
from twisted_netlab.ping import cli as ping_cli
from twisted_netlab.web import cli as get_cli

#: Each sub-command's documented examples (docs/*.rst, README), as units:
#: an option with its value is one unit, positional arguments are units
#: whose relative order is kept.  Options that read files or stdin are
#: left out: the order is what is tested here.
EXAMPLES: Dict[str, Tuple[type, List[List[Sequence[str]]]]] = {
    "get": (get_cli.Options, [
        [["-v"], ["http://127.0.0.1:8080/hello.txt"], ["http://127.0.0.1:8080/hello.txt"]],
        [["--timing"], ["-o", "copy.bin"], ["http://127.0.0.1:8080/100m.bin"]],
        [["--fail"], ["http://127.0.0.1:8080/missing"]],
        [["-O"], ["http://127.0.0.1:8080/"]],
        [["-k"], ["https://127.0.0.1:8443/hello.txt"]],
        [["-s"], ["--max-filesize", "10M"], ["--speed-limit", "1000"], ["--speed-time", "5"], ["http://127.0.0.1:8080/big"]],
        [["-L"], ["--max-redirs", "3"], ["-H", "X-A: 1"], ["http://127.0.0.1:8080/old"], ["http://127.0.0.1:8080/new"]],
    ]),
    "ping": (ping_cli.Options, [
        [["-c", "10"], ["-i", "0.2"], ["127.0.0.1"]],
        [["-c", "20"], ["-i", "0.01"], ["--format", "seq"], ["127.0.0.1"], ["12001"]],
        [["-c", "200"], ["-i", "0.01"], ["-q"], ["127.0.0.1"], ["12077"]],
        [["-c", "5"], ["127.0.0.1"], ["12000"]],
        [["-c", "3"], ["-i", "0.2"], ["127.0.0.1:12000"]],
    ]),
    "beat": (beat_cli.Options, [
        [["127.0.0.1"], ["13000"], ["--interval", "5"], ["--id", "alpha"]],
        [["127.0.0.1"], ["13555"], ["--interval", "1"], ["--id", "alpha"], ["--count", "3"]],
        [["[::1]:13000"], ["-c", "2"], ["-q"]],
    ]),
    "mail": (mail_cli.Options, [
        [["--from", "alice@example.com"], ["--to", "bob@example.com"], ["--body", "hi"], ["--server", "127.0.0.1:2525"], ["--tls", "none"]],
        [["-v"], ["--port", "2525"], ["--from", "teacher@example.com"], ["--to", "a@example.com"], ["--tls", "none"]],
    ]),
}


def parsed(options_class: type, argv: List[str]) -> Dict[str, object]:
    options = options_class()
    if hasattr(options, "stdin"):
        options.stdin = None  # mail: never read the test runner's stdin
    options.parseOptions(argv)
    return {key: value for key, value in options.items() if key != "message"}


def orders(units: List[Sequence[str]]) -> List[List[str]]:
    """
    Every interleaving of the units that keeps positional arguments in
    their own order.
    """
    positional = [unit for unit in units if not unit[0].startswith("-")]
    found = []
    for permutation in itertools.permutations(units):
        if [unit for unit in permutation if not unit[0].startswith("-")] == positional:
            found.append([word for unit in permutation for word in unit])
    return found


class GNUOrderTests(SynchronousTestCase):
    def test_documented_examples_in_every_order(self):
        """
        Every documented example of get, ping, beat and mail means the same
        whatever the order of its options: before, between and after the
        positional arguments (GNU getopt_long), as curl, ping and swaks
        users type them.
        """
        checked = 0
        for name, (options_class, examples) in EXAMPLES.items():
            for units in examples:
                every = orders(units)
                expected = parsed(options_class, every[0])
                for argv in every[1:]:
                    self.assertEqual(parsed(options_class, argv), expected, f"netlab {name} {' '.join(argv)}")
                    checked += 1
        self.assertGreater(checked, 500)

    def test_double_dash_ends_options(self):
        """
        After C{--} an argument that starts with '-' is positional.
        """
        self.assertRaises(usage.UsageError, parsed, ping_cli.Options, ["-c", "1", "--", "-c"])
        self.assertEqual(parsed(get_cli.Options, ["-s", "--", "http://h/-x"])["urls"], ["http://h/-x"])

    def test_value_that_looks_like_an_option(self):
        """
        A value is taken whole even when it starts with '-' (C{-o -} is stdout).
        """
        self.assertEqual(parsed(get_cli.Options, ["http://h/", "-o", "-"])["output"], "-")

    def test_option_given_twice_is_refused(self):
        """
        C{-o a -o b} is refused (the first file would be silently
        forgotten); repeatable options such as -H stay repeatable.
        """
        for argv in (["-o", "a", "-o", "b", "http://h/"], ["--output", "a", "http://h/", "-o", "b"]):
            with self.assertRaises(usage.UsageError) as caught:
                parsed(get_cli.Options, argv)
            self.assertIn("--output given twice", str(caught.exception))
        self.assertEqual(len(parsed(get_cli.Options, ["-H", "A: 1", "-H", "B: 2", "http://h/"])["header"]), 2)

    def test_h_is_help(self):
        """
        C{-h} prints the same help as C{--help}, in every sub-command.
        """
        import io

        for options_class, _ in EXAMPLES.values():
            texts = []
            for flag in ("-h", "--help"):
                stdout = io.StringIO()
                self.patch(__import__("sys"), "stdout", stdout)
                self.assertRaises(SystemExit, options_class().parseOptions, [flag])
                texts.append(stdout.getvalue())
            self.assertEqual(texts[0], texts[1])
            self.assertIn("-h, --help", texts[0])

    def test_unknown_option_is_a_usage_error(self):
        """
        An unknown option, wherever it is, is a usage error naming it.
        """
        with self.assertRaises(usage.UsageError) as caught:
            parsed(ping_cli.Options, ["127.0.0.1", "--frobnicate"])
        self.assertIn("frobnicate", str(caught.exception))

    def test_base_class_alone(self):
        """
        A bare CommandOptions permutes too (the helper families build on).
        """

        class Example(CommandOptions):
            optFlags = [["quiet", "q", ""]]

            def parseArgs(self, *words):
                self["words"] = words

        options = Example()
        options.parseOptions(["a", "-q", "b"])
        self.assertEqual((options["quiet"], options["words"]), (True, ("a", "b")))


class HostPortTests(SynchronousTestCase):
    CASES = [
        ("127.0.0.1", ("127.0.0.1", None)),
        ("127.0.0.1:12000", ("127.0.0.1", 12000)),
        ("example.org:587", ("example.org", 587)),
        ("localhost", ("localhost", None)),
        ("::1", ("::1", None)),
        ("[::1]", ("::1", None)),
        ("[::1]:2525", ("::1", 2525)),
        ("[2001:db8::1]:80", ("2001:db8::1", 80)),
        ("fe80::1%eth0", ("fe80::1%eth0", None)),
        (" 10.0.0.1:1 ", ("10.0.0.1", 1)),
    ]
    REFUSED = [
        "", ":80", "host:", "host:0", "host:65536", "host:x", "[host]:80", "[::1]:", "[::1]x",
        "a:b:c", "smtp://a.example", "user@host", "-c", "host name", "[::1]:+80",
    ]

    def test_table(self):
        """
        HOST, HOST:PORT, [IPv6]:PORT and a bare IPv6 address are understood
        alike by every client; brackets never stay on the host.
        """
        for text, expected in self.CASES:
            self.assertEqual(parse_host_port(text, None), expected, text)

    def test_refused(self):
        """
        Anything else is a usage error that quotes what was given.
        """
        for text in self.REFUSED:
            with self.assertRaises(usage.UsageError, msg=text) as caught:
                parse_host_port(text, None)
            self.assertIn(repr(text), str(caught.exception))

    def test_positional_port(self):
        """
        ping and beat take the port from HOST:PORT or a second argument,
        which must agree when both are given.
        """
        self.assertEqual(host_and_port(("h",), 12000), ("h", 12000))
        self.assertEqual(host_and_port(("h", "9"), 12000), ("h", 9))
        self.assertEqual(host_and_port(("h:9",), 12000), ("h", 9))
        self.assertEqual(host_and_port(("[::1]:9", "9"), 12000), ("::1", 9))
        for arguments in [(), ("h:9", "10"), ("h", "1", "2"), ("h", "0")]:
            self.assertRaises(usage.UsageError, host_and_port, arguments, 12000)

    def test_every_client_shares_the_rule(self):
        """
        ping, beat and mail accept the same host forms (get takes URLs).
        """
        self.assertEqual((parsed(ping_cli.Options, ["[::1]:7"])["host"], parsed(ping_cli.Options, ["[::1]:7"])["port"]), ("::1", 7))
        beat = parsed(beat_cli.Options, ["127.0.0.1:13001"])
        self.assertEqual((beat["host"], beat["port"]), ("127.0.0.1", 13001))
        mail = parsed(mail_cli.Options, ["--from", "a@example.com", "--to", "b@example.com", "--body", "x", "--server", "[::1]:2525"])
        self.assertEqual((mail["server"], mail["port"]), ("::1", 2525))
