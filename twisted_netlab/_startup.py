# -*- test-case-name: tests.test_startup -*-
"""
Shared helper: the start-up of the ``netlab`` console command, arranged so
that a sub-command that fails at once (a refused connection) also exits at
once.  Only the console script calls L{run}; importing L{twisted_netlab.cli}
(a library user, the tests) changes nothing in the process.

Two measured costs are cut, neither of which changes what a command does:

  - modules that Twisted imports at start-up only to bind a name
    (L{DEFERRED_MODULES}) are loaded on first use instead
    (L{defer_imports});
  - the cyclic garbage collector is off while modules are imported (what
    is made then, classes, functions and their cycles, lives until exit),
    and the start-up heap is then frozen (C{gc.freeze}), so that neither
    later collections nor the interpreter's collections at exit walk it
    again.  Objects made after start-up are collected, at exit too, as
    usual.  The start-up's own cyclic garbage is frozen with it, never
    collected (for ``netlab get``: about 1,250 objects of 31,000, from
    import-time cycles such as caught ImportErrors' tracebacks).
"""

from __future__ import annotations

import gc
import sys
from importlib.util import LazyLoader
from typing import Any, Callable, Iterable, List, Optional, Sequence

#: Loaded when first used, not when imported.  Each one is imported at
#: start-up by Twisted only to bind a name, and costs enough to matter:
#:   - C{http.cookiejar}: L{twisted.python.compat} aliases it (C{cookielib},
#:     deprecated); it pulls in urllib.request, http.client and the email
#:     parser, about 35 ms of a 270 ms start;
#:   - C{twisted.internet.unix}: the reactor binds it for its UNIX-socket
#:     methods, which no netlab client calls (about 2.5 ms).
DEFERRED_MODULES = ("http.cookiejar", "twisted.internet.unix")


class _LazyFinder:
    """
    A meta path finder that finds the modules of C{names} as the other
    finders do, but with their loader wrapped in L{LazyLoader}: importing
    one binds a module object (in C{sys.modules} and in its package)
    without running it; the first attribute looked up on it runs it.
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if isinstance(finder, _LazyFinder) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = LazyLoader(spec.loader)
                return spec
        return None


def defer_imports(names: Iterable[str]) -> List[str]:
    """
    From now on, the first import of each module of C{names} that is not
    loaded yet makes it a lazy module (see L{_LazyFinder}); return those
    names.  Nothing is imported here, not even their packages.

    Only for modules that the start-up imports and does not use: once a
    lazy module is bound, C{from module import name} looks the name up
    and so runs it, and (CPython 3.11) so does a second C{import module}
    statement, which reads the module's C{__spec__}; either runs it then,
    correctly, just without the saving.  A lazy module runs in whichever
    thread first touches it; the modules listed are touched by no netlab
    code, in no thread.
    """
    pending = [name for name in names if name not in sys.modules]
    if pending:
        sys.meta_path.insert(0, _LazyFinder(pending))
    return pending


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
