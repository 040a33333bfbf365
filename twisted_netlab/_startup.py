# -*- test-case-name: tests.test_startup -*-
"""
Shared helper: the start-up of the ``netlab`` console command, arranged so
that a sub-command that fails at once (a refused connection) also exits at
once.  Only the console script calls L{run}; importing L{twisted_netlab.cli}
(a library user, the tests) changes nothing in the process.

Two measured costs are cut, neither of which changes what a command does:

  - standard-library modules that Twisted imports at start-up only to bind
    a name (L{DEFERRED_MODULES}) are loaded on first use instead
    (L{defer_imports});
  - the cyclic garbage collector is off while modules are imported (every
    object made then lives until exit: collections find nothing), and the
    start-up heap is then frozen (C{gc.freeze}), so that neither later
    collections nor the interpreter's collections at exit walk it again.
    Objects made after start-up are collected, at exit too, as usual.
"""

from __future__ import annotations

import gc
import sys
from importlib.util import LazyLoader, find_spec, module_from_spec
from typing import Callable, Iterable, List, Optional, Sequence

#: Loaded when first used, not when imported.  Each one is imported at
#: start-up by Twisted only to bind a name (C{from package import module}),
#: and costs enough to matter:
#:   - C{http.cookiejar}: L{twisted.python.compat} aliases it (C{cookielib},
#:     deprecated); it pulls in urllib.request, http.client and the email
#:     parser, about 35 ms of a 270 ms start;
#:   - C{twisted.internet.unix}: the reactor binds it for its UNIX-socket
#:     methods, which no netlab client calls (about 2.5 ms).
DEFERRED_MODULES = ("http.cookiejar", "twisted.internet.unix")


def defer_imports(names: Iterable[str]) -> List[str]:
    """
    Make each module of C{names} that is not loaded yet a lazy module
    (L{importlib.util.LazyLoader}) bound in its package: C{from package
    import module} (how Twisted imports them) binds it without running
    it; the first attribute looked up on it runs it.  Return the names
    deferred (not those already loaded or not found).

    Only for modules that the start-up binds and does not use: C{from
    module import name} looks the name up at once, and (CPython 3.11) so
    does C{import package.module}, which reads the module's C{__spec__};
    either runs the module then, correctly, just without the saving.  A
    lazy module runs in whichever thread first touches it; the modules
    listed are touched by no netlab code, in no thread.
    """
    deferred = []
    for name in names:
        if name in sys.modules:
            continue
        spec = find_spec(name)  # imports the packages above it first
        if spec is None or spec.loader is None or name in sys.modules:
            continue
        spec.loader = LazyLoader(spec.loader)
        module = module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        # What the import system does after loading a submodule: bind it
        # in its package, so that "from http import cookiejar" finds it.
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)
        deferred.append(name)
    return deferred


class _StartupHeap:
    """
    The collector's state across start-up: off from L{begin} until
    L{end}, which freezes what start-up made and turns it back on.
    """

    def __init__(self) -> None:
        self.ended = False

    def begin(self) -> None:
        gc.disable()

    def end(self) -> None:
        """
        Freeze the start-up heap and collect as usual from now on (a
        command that runs for hours makes garbage).  Idempotent: a second
        call must not freeze what the command made since.
        """
        if self.ended:
            return
        self.ended = True
        gc.freeze()
        gc.enable()


def run(argv: Optional[Sequence[str]] = None, command: Optional[Callable[..., None]] = None) -> None:
    """
    The ``netlab`` console script: L{twisted_netlab.cli.run} (or
    C{command}, for tests), started as described above.  The start-up
    ends when the sub-command has started, just before the reactor runs,
    or, for C{--help} and usage errors, at exit.
    """
    heap = _StartupHeap()
    heap.begin()
    try:
        defer_imports(DEFERRED_MODULES)
        if command is None:
            from twisted_netlab import cli

            command = cli.run
        command(argv, started=heap.end)
    finally:
        heap.end()
