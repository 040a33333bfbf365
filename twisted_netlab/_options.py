# -*- test-case-name: tests.test_options -*-
"""
Shared command-line layer of every ``netlab`` sub-command: one option
parser with GNU habits (L{CommandOptions}) and one ``HOST[:PORT]`` rule for
every client (L{parse_host_port}).  Imports only the standard library and
L{twisted.python.usage}, so ``--help`` and usage errors stay fast.
"""

from __future__ import annotations

import getopt
import ipaddress
import re
import sys
from typing import List, Optional, Tuple

from twisted.python import usage


def print_version(program: str = "netlab") -> None:
    """
    Print netlab's version and Twisted's, then exit 0.
    """
    import twisted

    from twisted_netlab import __version__

    sys.stdout.write(f"{program} {__version__}\nTwisted {twisted.__version__}\n")
    sys.stdout.flush()
    raise SystemExit(0)


def gnu_order(options: usage.Options, argv: List[str]) -> List[str]:
    """
    Put C{argv} in the order L{usage.Options} parses: every option first,
    then C{--}, then the positional arguments in their own order.  Options
    may appear before, between and after positional arguments (GNU
    C{getopt_long} permutation); C{--} ends the options, so a positional
    argument may start with C{-}.

    @raise usage.UsageError: for an unknown option or a missing value.
    """
    try:
        pairs, rest = getopt.gnu_getopt(argv, options.shortOpt, options.longOpt)
    except getopt.error as error:
        raise usage.UsageError(str(error))
    tokens: List[str] = []
    for name, value in pairs:
        if name.startswith("--"):
            takes_value = (name[2:] + "=") in options.longOpt
        else:
            position = options.shortOpt.find(name[1])
            takes_value = options.shortOpt[position + 1 : position + 2] == ":"
        # Separate tokens: a value may be empty or start with '-'.
        tokens += [name, value] if takes_value else [name]
    return tokens + ["--"] + rest


class CommandOptions(usage.Options):
    """
    Base of every ``netlab`` sub-command's options: GNU-style permutation
    (L{gnu_order}), C{-h} as C{--help}, C{--version} naming netlab's
    version, and L{single_valued} options that refuse to be given twice
    (the last of two C{-o} silently winning loses the first file).
    """

    #: Long names of parameters that may be given only once.
    single_valued: Tuple[str, ...] = ()

    def parseOptions(self, options: Optional[List[str]] = None) -> None:
        argv = sys.argv[1:] if options is None else list(options)
        ordered = gnu_order(self, argv)
        self._refuse_repeats(ordered)
        usage.Options.parseOptions(self, ordered)

    def _refuse_repeats(self, ordered: List[str]) -> None:
        if not self.single_valued:
            return
        seen = set()
        index = 0
        while index < len(ordered) and ordered[index] != "--":
            token = ordered[index]
            name = token[2:] if token.startswith("--") else self.synonyms.get(token[1:], token[1:])
            name = self.synonyms.get(name, name)
            if name in self.single_valued:
                if name in seen:
                    raise usage.UsageError(f"--{name} given twice; give it once")
                seen.add(name)
            takes_value = (name + "=") in self.longOpt
            index += 2 if takes_value else 1

    # The same function: usage.Options shows "-h, --help".
    opt_h = usage.Options.opt_help

    def opt_version(self) -> None:
        """
        Print netlab's version and Twisted's, and exit.
        """
        print_version()


# -- HOST[:PORT] ------------------------------------------------------------------

_BRACKETED = re.compile(r"\[([^\[\]]*)\](?::([^:]*))?")


def parse_host_port(text: str, default_port: Optional[int], what: str = "HOST") -> Tuple[str, Optional[int]]:
    """
    The one C{HOST[:PORT]} rule of every netlab client: C{host},
    C{host:port}, C{192.0.2.1:port}, C{[2001:db8::1]:port}, C{[::1]}, and a
    bare IPv6 address (more than one colon: no port can be told apart, so
    none is taken).  Returns C{(host, port)}, the port being
    C{default_port} when absent; the host never keeps its brackets.

    @raise usage.UsageError: naming C{what} for an empty host, a bad port,
        brackets around something that is not an IPv6 address, or
        characters no host name has.
    """
    value = text.strip()
    port_text: Optional[str] = None
    match = _BRACKETED.fullmatch(value)
    if match:
        host, port_text = match.group(1), match.group(2)
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise usage.UsageError(f"{what} {text!r}: only an IPv6 address goes inside [ ]")
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    else:
        host = value
        if ":" in host:
            try:
                ipaddress.IPv6Address(host.split("%", 1)[0])
            except ValueError:
                raise usage.UsageError(f"{what} {text!r} is neither host:port nor an IPv6 address")
    if not host or host.startswith("-") or any(c.isspace() or c in "/@[]" for c in host):
        raise usage.UsageError(f"{what} wants a host name or address (HOST, HOST:PORT or [IPv6]:PORT), not {text!r}")
    port = default_port
    if port_text is not None:
        port = parse_port(port_text, f"{what} {text!r}")
    return host, port


def parse_port(text: str, what: str = "PORT") -> int:
    """
    A port number a client can connect to: 1 to 65535.
    """
    try:
        port = int(text, 10)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535 or not text.strip().isdigit():
        raise usage.UsageError(f"{what}: port must be a number from 1 to 65535, not {text!r}")
    return port


def host_and_port(arguments: Tuple[str, ...], default_port: int, what: str = "HOST") -> Tuple[str, int]:
    """
    The positional C{HOST[:PORT] [PORT]} of ``netlab ping`` and ``netlab
    beat``: the port comes from HOST:PORT or from the second argument (both
    given must agree), else C{default_port}.
    """
    if not 1 <= len(arguments) <= 2:
        raise usage.UsageError(
            f"expected {what}[:PORT] [PORT], got {len(arguments)} arguments"
            + (f": {' '.join(arguments)}" if arguments else "")
        )
    host, port = parse_host_port(arguments[0], None, what)
    if len(arguments) == 2:
        second = parse_port(arguments[1])
        if port is not None and port != second:
            raise usage.UsageError(f"{arguments[0]} and port {arguments[1]} disagree")
        port = second
    return host, (default_port if port is None else port)


__all__ = ["CommandOptions", "gnu_order", "host_and_port", "parse_host_port", "parse_port", "print_version"]
