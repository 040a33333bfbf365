# -*- test-case-name: tests.test_startup -*-
"""
Shared helper: the start-up of the ``netlab`` console command, arranged so
that a sub-command that fails at once (a refused connection) also exits at
once.  Only the console script calls L{run}; importing L{twisted_netlab.cli}
(a library user, the tests) changes nothing in the process.

Two measured costs are cut, neither of which changes what a command does:

  - modules that Twisted imports at start-up only to bind a name
    (L{DEFERRED_MODULES}) are run on first use instead
    (L{defer_imports}), and the few names Twisted takes from asyncio come
    from the small submodules that define them (L{DEFERRED_NAMES});
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
import threading
from importlib import import_module
from importlib.machinery import PathFinder
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Set, Tuple

#: Loaded when first used, not when imported.  Each one is imported at
#: start-up by Twisted only to bind a name, and costs enough to matter:
#:   - C{http.cookiejar}: L{twisted.python.compat} aliases it (C{cookielib},
#:     deprecated); it pulls in urllib.request, http.client and the email
#:     parser, about 35 ms of a 270 ms start;
#:   - C{twisted.internet.unix}: the reactor binds it for its UNIX-socket
#:     methods, which no netlab client calls (about 2.5 ms);
#:   - C{asyncio}: L{twisted.internet.defer} takes three names from it
#:     (L{DEFERRED_NAMES}); the whole package loads the C{ssl} module, the
#:     event loops, streams, subprocesses and more, about 35 ms;
#:   - small ones, about 1-2.5 ms each and 13 ms together, that a module
#:     of the start-up imports for a function no command calls before its
#:     connection fails: C{pickle} (L{twisted.python.reflect}),
#:     C{textwrap} (L{twisted.python.usage}, for --help), C{tokenize}
#:     (linecache, for tracebacks), C{http} (its status enum; compat's
#:     C{from http import cookiejar} needs only the submodule),
#:     C{locale} (subprocess), C{ipaddress} (urllib.parse), C{random}
#:     (L{twisted.internet.protocol}) and C{twisted.internet.udp} (the
#:     reactor, for listenUDP).  A command that uses one runs it then.
DEFERRED_MODULES = (
    "http.cookiejar", "twisted.internet.unix", "asyncio",
    "pickle", "textwrap", "tokenize", "http", "locale", "ipaddress", "random", "twisted.internet.udp",
)

#: Names that a deferred module hands out without running: each is taken
#: from the first module of its list that imports, one that defines the
#: very object the deferred module itself binds when it runs.  Any other
#: name runs the module.  For C{from asyncio import AbstractEventLoop,
#: Future, iscoroutine} (L{twisted.internet.defer}): asyncio's C
#: accelerator defines the C{Future} class that C{asyncio.futures} binds
#: when the accelerator is there (CPython), and loads the small submodules
#: that define the other two; the pure C{asyncio.futures} is the fallback.
DEFERRED_NAMES: Dict[str, Dict[str, Tuple[str, ...]]] = {
    "asyncio": {
        "AbstractEventLoop": ("asyncio.events",),
        "Future": ("_asyncio", "asyncio.futures"),
        "iscoroutine": ("asyncio.coroutines",),
    },
}

#: One lock for every deferred module's first run: a module run in one
#: thread may touch another deferred module, and a second thread waits
#: until the run is over.
_RUNNING = threading.RLock()

#: The deferred modules being run now (by the thread holding L{_RUNNING}):
#: while its own code runs, a module answers like any module being
#: imported, with the names bound so far.
_IN_PROGRESS: Set[ModuleType] = set()


class _DeferredModule(ModuleType):
    """
    A module bound by an import but not run yet.  Only names missing from
    its namespace reach L{__getattr__}; the import system's own attributes
    (C{__spec__}, C{__path__}, ...) are there from the start, so importing
    it again does not run it.  A package's submodule is imported on its
    own, as C{from . import submodule} inside it expects, and names of
    L{DEFERRED_NAMES} are taken from their submodule; any other name runs
    the module.
    """

    def __getattr__(self, name: str) -> Any:
        sources = DEFERRED_NAMES.get(self.__name__, {}).get(name, ())
        for source in sources:
            try:
                value = getattr(import_module(source), name)
            except ImportError:
                continue
            setattr(self, name, value)
            return value
        if not name.startswith("__") and _is_submodule(self, name):
            return import_module(f"{self.__name__}.{name}")
        with _RUNNING:
            if type(self) is _DeferredModule and self not in _IN_PROGRESS:
                _IN_PROGRESS.add(self)
                try:
                    _run(self)
                finally:
                    _IN_PROGRESS.discard(self)
                    self.__class__ = ModuleType  # type: ignore[assignment]
        return ModuleType.__getattribute__(self, name)


def _is_submodule(module: ModuleType, name: str) -> bool:
    """
    Whether the package C{module} has a submodule C{name} on its path.
    """
    path = module.__dict__.get("__path__")  # not getattr: that would run it
    return path is not None and PathFinder.find_spec(f"{module.__name__}.{name}", path) is not None


def _run(module: ModuleType) -> None:
    """
    Run the deferred C{module} now, in its own namespace, with the loader
    that found it (the caller holds L{_RUNNING}).
    """
    spec: Any = module.__spec__
    loader = spec.loader.loader
    spec.loader = module.__loader__ = loader
    loader.exec_module(module)


class _DeferringLoader:
    """
    The loader of a deferred module: it makes the module as C{loader}
    would, and runs it on first use (L{_DeferredModule}).
    """

    def __init__(self, loader: Any) -> None:
        self.loader = loader

    def create_module(self, spec: Any) -> Optional[ModuleType]:
        module: Optional[ModuleType] = self.loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__class__ = _DeferredModule


class _DeferringFinder:
    """
    A meta path finder that finds the modules of C{names} as the other
    finders do, but with a loader that binds them without running them
    (L{_DeferringLoader}).
    """

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if isinstance(finder, _DeferringFinder) or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                loader = spec.loader
                if loader is not None and hasattr(loader, "exec_module"):
                    spec.loader = _DeferringLoader(loader)
                return spec
        return None


def defer_imports(names: Iterable[str]) -> List[str]:
    """
    From now on, the first import of each module of C{names} that is not
    loaded yet binds it without running it (L{_DeferredModule}); return
    those names.  Nothing is imported here, not even their packages.

    The first name looked up on such a module runs it (except the names
    of L{DEFERRED_NAMES}), so C{from module import name} runs it then,
    correctly, just without the saving.  Only for modules that the
    start-up imports and does not use.
    """
    pending = [name for name in names if name not in sys.modules]
    if pending:
        sys.meta_path.insert(0, _DeferringFinder(pending))
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
        command(argv, started=heap.end, defer_modules=defer_imports)
    finally:
        heap.end()
