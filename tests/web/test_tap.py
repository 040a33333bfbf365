"""
Tests for L{twisted_netlab.web.tap}: option validation and the service
tree ``twistd netlab-http`` runs.
"""

import os

from twisted.application.service import IServiceCollection
from twisted.internet.defer import fail
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab import _endpoints as endpoints_module
from twisted_netlab.web._manual import built_site
from twisted_netlab.web.server import AccessLog
from twisted_netlab.web.tap import HTTPListeningService, HTTPService, Options, WorkerParentService, factory_settings, makeService, with_backlog


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        """
        Without options: loopback port 8080, the bundled site, no-cache,
        20 s request / 60 s idle / 60 s send / 10 s shutdown timeouts, a
        1 s file cache, no access log, one process.
        """
        options = parse()
        self.assertEqual(options["listen"], ["tcp:8080:interface=127.0.0.1"])
        self.assertEqual(options["path"], built_site())
        self.assertIsNone(options["max-age"])
        self.assertEqual(
            [options[n] for n in ("request-timeout", "idle-timeout", "send-timeout", "shutdown-timeout", "file-cache-seconds")],
            [20.0, 60.0, 60.0, 10.0, 1.0],
        )
        self.assertIsNone(options["access-log"])
        self.assertEqual(options["workers"], 1)

    def test_durations_parsed(self):
        """
        Durations accept units; 0 disables the file cache.
        """
        options = parse("--request-timeout", "500ms", "--idle-timeout", "2m", "--file-cache-seconds", "0")
        self.assertEqual((options["request-timeout"], options["idle-timeout"], options["file-cache-seconds"]), (0.5, 120.0, 0.0))

    def test_rejections(self):
        """
        Bad values are usage errors with a clear message.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        for argv in [
            ["--path", os.path.join(folder, "missing")],
            ["--max-age", "-1"],
            ["--request-timeout", "soon"],
            ["--idle-timeout", "0"],
            ["--workers", "0"],
            ["--workers", "2", "--listen", "ssl:8443:privateKey=k:certKey=c"],
            ["--access-log", os.path.join(folder, "no", "such", "access.log")],
            ["--access-log", folder],
        ]:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_repeatable_listen(self):
        """
        --listen may be given several times.
        """
        options = parse("--listen", "tcp:0", "--listen", "tcp6:0")
        self.assertEqual(options["listen"], ["tcp:0", "tcp6:0"])


class MakeServiceTests(SynchronousTestCase):
    def test_one_listener_per_endpoint(self):
        """
        makeService builds an HTTPService with one listening service per
        --listen, all sharing one configured factory.
        """
        service = makeService(parse("--listen", "tcp:0", "--listen", "tcp:0", "--max-age", "5"))
        self.assertIsInstance(service, HTTPService)
        self.assertTrue(IServiceCollection.providedBy(service))
        children = list(service)
        self.assertEqual(len(children), 2)
        self.assertTrue(all(type(child) is HTTPListeningService for child in children))
        self.assertIs(children[0].factory, children[1].factory)
        self.assertEqual(children[0].factory.cache_control, "max-age=5")

    def test_workers_use_parent_service(self):
        """
        With --workers N the listener is the worker parent, which knows N.
        """
        service = makeService(parse("--listen", "tcp:0", "--workers", "3"))
        [child] = list(service)
        self.assertIsInstance(child, WorkerParentService)
        self.assertEqual(child.workers, 3)
        unix = makeService(parse("--listen", "unix:" + self.mktemp(), "--workers", "2"))
        self.assertIsInstance(list(unix)[0], WorkerParentService)

    def test_access_log_file(self):
        """
        --access-log FILE gives the factory a buffered file access log that
        is flushed when the service stops.
        """
        path = self.mktemp()
        clock = Clock()
        service = HTTPService(factory_settings(parse("--access-log", path)), reactor=clock)
        factory = service.build_factory()
        self.assertIsInstance(factory.access_log, AccessLog)
        factory.access_log.add("a line")
        self.assertEqual(open(path).read(), "")
        self.successResultOf(service.stopService())
        self.assertEqual(open(path).read(), "a line\n")


class ListenFailureTests(SynchronousTestCase):
    def test_failed_listen_is_one_clear_exit(self):
        """
        If the endpoint cannot listen (as under twistd, before the reactor
        runs), starting raises SystemExit with one line naming netlab-http,
        the endpoint and the reason: twistd prints it and exits 1 instead of
        running on without a listener.
        """
        service = HTTPListeningService("tcp:0", None, reactor=MemoryReactorClock())

        class FailingEndpoint:
            def listen(self, factory):
                return fail(CannotListenError("127.0.0.1", 80, OSError("in use")))

        self.patch(endpoints_module, "serverFromString", lambda reactor, description: FailingEndpoint())
        error = self.assertRaises(SystemExit, service.startService)
        self.assertEqual(str(error), "netlab-http: error: cannot listen on tcp:0: in use")


class GracefulStopTests(SynchronousTestCase):
    def test_stop_waits_for_connections_and_clears_exit_signal(self):
        """
        stopService fires only once the factory's connections are gone, and
        then clears the SIGTERM twistd would otherwise re-raise, so a
        graceful stop exits 0.
        """
        import signal

        from twisted.internet.testing import StringTransport

        clock = Clock()
        clock._exitSignal = signal.SIGTERM
        service = HTTPService(factory_settings(parse()), reactor=clock)
        factory = service.build_factory()
        protocol = factory.buildProtocol(None)
        protocol.makeConnection(StringTransport())
        stopped = service.stopService()
        self.assertNoResult(stopped)
        self.assertEqual(clock._exitSignal, signal.SIGTERM)
        protocol.connectionLost(None)
        self.successResultOf(stopped)
        self.assertIsNone(clock._exitSignal)


class BacklogTests(SynchronousTestCase):
    def test_every_listener_gets_a_backlog_of_511(self):
        """
        Every stream listener (and so the socket workers adopt) listens with
        a backlog of 511, as nginx, unless --backlog or the endpoint says
        otherwise; Twisted's default of 50 overflowed under a burst.
        """
        service = makeService(
            parse("--listen", "tcp:0", "--listen", "tcp6:0:interface=\\:\\:1", "--listen", "tcp:0:backlog=7")
        )
        self.assertEqual(
            [child.description for child in service],
            ["tcp:0:backlog=511", "tcp6:0:interface=\\:\\:1:backlog=511", "tcp:0:backlog=7"],
        )
        [custom] = list(makeService(parse("--backlog", "4096")))
        self.assertEqual(custom.description, "tcp:8080:interface=127.0.0.1:backlog=4096")
        reactor = MemoryReactorClock()
        HTTPListeningService(with_backlog("tcp:0", 511), None, reactor=reactor).startService()
        self.assertEqual(reactor.tcpServers[0][2], 511)
        [parent] = list(makeService(parse("--listen", "tcp:0", "--workers", "2")))
        self.assertEqual(parent.description, "tcp:0:backlog=511")
        self.assertRaises(usage.UsageError, parse, "--backlog", "0")
