"""
Tests for L{twisted_netlab._startup}: the ``netlab`` console script's
start-up (lazy modules, the collector off during start-up, then the
start-up heap frozen).
"""

import configparser
import gc
import os
import subprocess
import sys

from twisted.trial.unittest import SynchronousTestCase

from tests.helpers import REPO, child_env
from twisted_netlab import _startup


class DeferImportsTests(SynchronousTestCase):
    """
    L{_startup.defer_imports} on a package made for the test: every module
    appends its name to C{trace} (a list in the package) when it runs.
    """

    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        self.package = "startup_probe_" + str(abs(hash(self.folder)))
        root = os.path.join(self.folder, self.package)
        os.makedirs(root)
        with open(os.path.join(root, "__init__.py"), "w") as handle:
            handle.write("trace = []\n")
        with open(os.path.join(root, "heavy.py"), "w") as handle:
            handle.write(f"from {self.package} import trace\ntrace.append('heavy')\nVALUE = 42\n")
        sys.path.insert(0, self.folder)
        self.addCleanup(sys.path.remove, self.folder)
        finders = list(sys.meta_path)
        self.addCleanup(sys.meta_path.__setitem__, slice(None), finders)
        self.addCleanup(self.forget)

    def forget(self):
        for name in list(sys.modules):
            if name == self.package or name.startswith(self.package + "."):
                del sys.modules[name]

    def test_module_runs_on_first_attribute_not_on_import(self):
        """
        Deferring imports nothing, not even the package; then a deferred
        module is bound by C{import package.module} and C{from package
        import module} without running; the first attribute looked up
        runs it, once, and it then works as if imported normally.
        """
        name = self.package + ".heavy"
        self.assertEqual(_startup.defer_imports([name]), [name])
        self.assertNotIn(self.package, sys.modules)
        namespace = {}
        exec(f"import {name}\nfrom {self.package} import heavy", namespace)
        heavy = namespace["heavy"]
        self.assertIs(heavy, sys.modules[name])
        package = sys.modules[self.package]
        self.assertEqual(package.trace, [])
        self.assertEqual(heavy.VALUE, 42)
        self.assertEqual(package.trace, ["heavy"])
        self.assertEqual(heavy.VALUE, 42)
        self.assertEqual(package.trace, ["heavy"])

    def test_from_import_of_a_name_loads_it(self):
        """
        C{from module import name} needs the name at once: the module runs
        then, and the name is the right one.
        """
        name = self.package + ".heavy"
        _startup.defer_imports([name])
        namespace = {}
        exec(f"from {name} import VALUE", namespace)
        self.assertEqual((namespace["VALUE"], sys.modules[self.package].trace), (42, ["heavy"]))

    def test_deferring_twice(self):
        """
        Modules deferred by two calls are each found once, lazily (the
        second finder does not ask the first, nor the first the second).
        """
        with open(os.path.join(self.folder, self.package, "other.py"), "w") as handle:
            handle.write(f"from {self.package} import trace\ntrace.append('other')\n")
        _startup.defer_imports([self.package + ".heavy"])
        _startup.defer_imports([self.package + ".other"])
        namespace = {}
        exec(f"from {self.package} import heavy, other", namespace)
        package = sys.modules[self.package]
        self.assertEqual(package.trace, [])
        self.assertEqual(namespace["heavy"].VALUE, 42)
        self.assertEqual(package.trace, ["heavy"])

    def test_second_import_and_submodules_do_not_run_it(self):
        """
        Importing a deferred package again, importing its submodules
        (from outside, and with C{from . import} inside another submodule)
        and looking those submodules up on it do not run the package; a
        name it defines itself runs it, once.
        """
        root = os.path.join(self.folder, self.package)
        with open(os.path.join(root, "__init__.py"), "w") as handle:
            handle.write(f"trace = [] if 'trace' not in globals() else trace\ntrace.append('package')\nOWN = 7\n")
        with open(os.path.join(root, "leaf.py"), "w") as handle:
            handle.write("VALUE = 42\n")
        with open(os.path.join(root, "part.py"), "w") as handle:
            handle.write("from . import leaf\nPART = leaf.VALUE + 1\n")
        _startup.defer_imports([self.package])
        namespace = {}
        exec(f"import {self.package}\nimport {self.package}\nimport {self.package}.part\n", namespace)
        package = sys.modules[self.package]
        self.assertIs(type(package), _startup._DeferredModule)
        self.assertEqual(package.part.PART, 43)
        self.assertIs(package.leaf, sys.modules[self.package + ".leaf"])
        self.assertIs(type(package), _startup._DeferredModule)
        self.assertEqual((package.OWN, package.trace), (7, ["package"]))
        self.assertEqual((package.OWN, package.trace), (7, ["package"]))
        self.assertIsNot(type(package), _startup._DeferredModule)

    def test_deferred_names_come_from_their_source(self):
        """
        A name listed in L{_startup.DEFERRED_NAMES} is taken from the
        first of its sources that imports, without running the module;
        the object is the one the module binds when it runs later.
        """
        root = os.path.join(self.folder, self.package)
        with open(os.path.join(root, "__init__.py"), "w") as handle:
            handle.write("trace = ['package']\nfrom .leaf import VALUE\n")
        with open(os.path.join(root, "leaf.py"), "w") as handle:
            handle.write("VALUE = 42\n")
        sources = (self.package + "._absent", self.package + ".leaf")
        self.patch(_startup, "DEFERRED_NAMES", {self.package: {"VALUE": sources}})
        _startup.defer_imports([self.package])
        namespace = {}
        exec(f"from {self.package} import VALUE", namespace)
        package = sys.modules[self.package]
        self.assertEqual(namespace["VALUE"], 42)
        self.assertIs(type(package), _startup._DeferredModule)
        self.assertEqual(package.trace, ["package"])
        self.assertIsNot(type(package), _startup._DeferredModule)
        self.assertEqual(package.VALUE, 42)

    def test_other_thread_waits_for_the_run(self):
        """
        While one thread runs a deferred module, another thread looking up
        one of its names waits for the run to end and gets the name (it
        does not see the half-run module); the module ran once.
        """
        import threading

        gate = self.package + ".gate"
        root = os.path.join(self.folder, self.package)
        with open(os.path.join(root, "gate.py"), "w") as handle:
            handle.write("import threading\nstarted, release = threading.Event(), threading.Event()\n")
        with open(os.path.join(root, "slow.py"), "w") as handle:
            handle.write(
                f"from {gate} import started, release\nfrom {self.package} import trace\ntrace.append('slow')\n"
                "started.set()\nrelease.wait(30)\nVALUE = 42\n"
            )
        _startup.defer_imports([self.package + ".slow"])
        gates = __import__(gate, fromlist=["started"])
        namespace = {}
        exec(f"from {self.package} import slow", namespace)
        slow = namespace["slow"]
        seen = {}

        def look(who):
            try:
                seen[who] = slow.VALUE
            except Exception as error:
                seen[who] = error

        first = threading.Thread(target=look, args=("first",))
        first.start()
        self.assertTrue(gates.started.wait(30))
        second = threading.Thread(target=look, args=("second",))
        second.start()
        second.join(0.5)  # time to reach the module while it runs
        gates.release.set()
        first.join(30)
        second.join(30)
        self.assertEqual(seen, {"first": 42, "second": 42})
        self.assertEqual(sys.modules[self.package].trace, ["slow"])

    def test_loaded_or_missing_modules(self):
        """
        A module already loaded keeps its module object and is not
        reported as deferred; a module that does not exist still fails to
        import as usual.
        """
        name = self.package + ".heavy"
        __import__(name)
        loaded = sys.modules[name]
        missing = self.package + ".missing"
        self.assertEqual(_startup.defer_imports([name, missing]), [missing])
        self.assertIs(sys.modules[name], loaded)
        self.assertEqual(sys.modules[self.package].trace, ["heavy"])
        self.assertRaises(ModuleNotFoundError, __import__, missing)


#: Defers the listed modules as the console script does, then imports the
#: reactor and Twisted's compat module, and checks that they were not run
#: yet and that they work when used.
_PROBE_DEFERRED = """
import sys
from twisted_netlab import _startup
deferred = _startup.defer_imports(_startup.DEFERRED_MODULES)
assert deferred == list(_startup.DEFERRED_MODULES), deferred
sys.modules["OpenSSL"] = None
from twisted.internet import reactor, defer, task
import twisted.python.compat as compat
heavy = ["urllib.request", "http.client", "email.parser"]
loaded = [name for name in heavy if name in sys.modules]
assert not loaded, loaded
lazy = [name for name in _startup.DEFERRED_MODULES if type(sys.modules[name]) is _startup._DeferredModule]
assert lazy == deferred, lazy
from http.cookiejar import CookieJar, DefaultCookiePolicy
jar = CookieJar(DefaultCookiePolicy())
assert len(jar) == 0
assert compat.cookielib.CookieJar is CookieJar
import urllib.request
assert "email.parser" in sys.modules
import os, shutil, tempfile
from twisted.internet.protocol import Factory
folder = tempfile.mkdtemp()
port = reactor.listenUNIX(os.path.join(folder, "socket"), Factory())
assert os.path.exists(os.path.join(folder, "socket"))
port.stopListening()
shutil.rmtree(folder)
print("ok")
"""


#: Defers asyncio as the console script does, imports the reactor, and
#: checks what of asyncio ran; then uses asyncio and Twisted's bridges to it.
_PROBE_ASYNCIO = """
import sys
from twisted_netlab import _startup
_startup.defer_imports(_startup.DEFERRED_MODULES)
sys.modules["OpenSSL"] = None
from twisted.internet import reactor, defer, task
heavy = ["ssl", "concurrent.futures", "asyncio.base_events", "asyncio.futures", "asyncio.tasks"]
loaded = [name for name in heavy if name in sys.modules]
assert not loaded, loaded
assert type(sys.modules["asyncio"]) is _startup._DeferredModule
import asyncio
assert type(asyncio) is _startup._DeferredModule
async def answer():
    return 42
assert asyncio.run(answer()) == 42
assert type(asyncio) is not _startup._DeferredModule
assert (defer.Future, defer.AbstractEventLoop, defer.iscoroutine) == (asyncio.Future, asyncio.AbstractEventLoop, asyncio.iscoroutine)
import asyncio.futures
assert asyncio.Future is asyncio.futures.Future
loop = asyncio.new_event_loop()
future = defer.succeed(7).asFuture(loop)
assert loop.run_until_complete(future) == 7
back = defer.Deferred.fromFuture(loop.create_future())
assert defer.ensureDeferred(answer()).result == 42
loop.close()
print("ok")
"""


class DeferredModulesTests(SynchronousTestCase):
    def test_asyncio_names_without_the_package_then_the_package(self):
        """
        With asyncio deferred, importing the reactor loads neither the
        ssl module nor asyncio's event loops and futures; asyncio then
        works when used, Twisted's names from it are asyncio's own, and
        Deferreds still convert to and from asyncio futures.
        """
        result = subprocess.run(
            [sys.executable, "-c", _PROBE_ASYNCIO], capture_output=True, text=True, timeout=60, env=child_env()
        )
        self.assertEqual((result.returncode, result.stdout), (0, "ok\n"), result.stderr)

    def test_deferred_modules_are_not_run_by_twisted_and_work_when_used(self):
        """
        With L{_startup.DEFERRED_MODULES} deferred, importing the reactor
        (and L{twisted.python.compat}, which binds http.cookiejar) runs
        none of them, nor what http.cookiejar would load; used afterwards,
        http.cookiejar and Twisted's alias of it work, and so does the
        reactor's listenUNIX (twisted.internet.unix).
        """
        result = subprocess.run(
            [sys.executable, "-c", _PROBE_DEFERRED], capture_output=True, text=True, timeout=60, env=child_env()
        )
        self.assertEqual((result.returncode, result.stdout), (0, "ok\n"), result.stderr)


class RunTests(SynchronousTestCase):
    """
    L{_startup.run} with a stand-in for L{twisted_netlab.cli.run} that
    records the collector's state.
    """

    def setUp(self):
        # Nothing deferred in the test process itself.
        self.patch(_startup, "DEFERRED_MODULES", ())
        finders = list(sys.meta_path)
        self.addCleanup(sys.meta_path.__setitem__, slice(None), finders)
        was_enabled = gc.isenabled()

        def restore():
            gc.unfreeze()
            if was_enabled:
                gc.enable()
            else:
                gc.disable()

        self.addCleanup(restore)
        gc.unfreeze()
        gc.enable()

    def test_collector_off_until_started_then_heap_frozen(self):
        """
        The command starts with the collector off, and is given
        L{_startup.defer_imports} for what it defers itself; once it says it has
        started, what exists is frozen and the collector is on again, so
        that a long-running command collects its garbage.
        """
        seen = []

        def command(argv, started, defer_modules):
            seen.append(("argv", argv))
            seen.append(("defers with", defer_modules))
            seen.append(("running", gc.isenabled(), gc.get_freeze_count() > 0))
            started()
            seen.append(("started", gc.isenabled(), gc.get_freeze_count() > 0))
            frozen = gc.get_freeze_count()
            started()  # a second call freezes nothing new
            seen.append(("again", gc.get_freeze_count() == frozen))

        _startup.run(["ping", "-c", "1"], command)
        self.assertEqual(
            seen,
            [
                ("argv", ["ping", "-c", "1"]),
                ("defers with", _startup.defer_imports),
                ("running", False, False),
                ("started", True, True),
                ("again", True),
            ],
        )
        self.assertTrue(gc.isenabled())

    def test_usage_error_exit_turns_collector_back_on(self):
        """
        A command that exits before it starts (--help, a usage error)
        leaves with its exit code and the collector on.
        """

        def command(argv, started, defer_modules):
            raise SystemExit(2)

        error = self.assertRaises(SystemExit, _startup.run, ["ping", "--bogus"], command)
        self.assertEqual(error.code, 2)
        self.assertTrue(gc.isenabled())


class ConsoleScriptTests(SynchronousTestCase):
    def test_netlab_script_starts_through_startup(self):
        """
        The installed ``netlab`` command is L{_startup.run}: only the
        console script changes the process, not an import of
        L{twisted_netlab.cli}.
        """
        config = configparser.ConfigParser()
        config.read(os.path.join(REPO, "setup.cfg"))
        scripts = config.get("options.entry_points", "console_scripts")
        self.assertIn("netlab = twisted_netlab._startup:run", [line.strip() for line in scripts.splitlines()])

    def test_importing_cli_changes_nothing(self):
        """
        Importing L{twisted_netlab.cli} (as a library user or a test does)
        leaves the collector on and http.cookiejar an ordinary module.
        """
        probe = (
            "import gc, sys, types\n"
            "import twisted_netlab.cli\n"
            "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
            "assert type(sys.modules['http.cookiejar']) is types.ModuleType\n"
            "print('ok')\n"
        )
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=child_env())
        self.assertEqual((result.returncode, result.stdout), (0, "ok\n"), result.stderr)
