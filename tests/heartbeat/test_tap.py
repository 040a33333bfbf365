"""
Tests for ``twistd netlab-heartbeat`` options and service assembly
(L{twisted_netlab.heartbeat.tap}) and for the key file rules.
"""

import os

from twisted.application.service import IServiceCollection
from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab import tap as netlab_all
from twisted_netlab._endpoints import DatagramListeningService, StreamListeningService
from twisted_netlab.heartbeat import KeyBy
from twisted_netlab.heartbeat.keyfile import read_key_file
from twisted_netlab.heartbeat.tap import Options, makeService


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        """
        Port 13000 on 127.0.0.1, period 5 s, timeout 10 periods (the lab's
        server), sweep 1 s, phi threshold 8, no status page, unsigned.
        """
        options = parse()
        settings = options["settings"]
        self.assertEqual((options["port"], options["interface"], options["status"]), (13000, "127.0.0.1", None))
        self.assertEqual((settings.period, settings.timeout, settings.phi_threshold, settings.key), (5.0, 50.0, 8.0, None))
        self.assertEqual(options["sweep-seconds"], 1.0)

    def test_short_period(self):
        """
        Durations take units; the sweep follows a short period and timeout.
        """
        options = parse("--period", "200ms", "--timeout", "1s", "--key-by", "host", "--forget-after", "10m")
        settings = options["settings"]
        self.assertEqual((settings.period, settings.timeout, settings.key_by, settings.forget_after),
                         (0.2, 1.0, KeyBy.HOST, 600.0))
        self.assertEqual(options["sweep-seconds"], 0.1)

    def test_usage_errors(self):
        """
        Bad values are usage errors, reported before anything starts.
        """
        for argv in (
            ["--period", "0"], ["--period", "x"], ["--timeout", "0"], ["--port", "70000"],
            ["--interface", "localhost"], ["--phi-threshold", "0"], ["--key-by", "name"],
            ["--status", "nonsense:1"], ["--status", "tcp:notaport"], ["--key-file", "/nonexistent"],
            ["--max-clients", "0"], ["--min-std-deviation", "0"], ["--sweep", "0"],
            ["--period", "5", "--timeout", "5"], ["--timeout", "10", "--sweep", "11"],
            ["--verbose", "--quiet"], ["--summary-interval", "x"],
        ):
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_read_pause(self):
        """
        The monitor pauses 5 ms after a read unless told; --read-pause takes
        a duration up to 50 ms and a tenth of the period (0: no pause), and
        the default shrinks with a very short period.
        """
        self.assertEqual(makeService(parse("--port", "0"), reactor=Clock()).protocol.read_pause, 0.005)
        self.assertEqual(makeService(parse("--port", "0", "--read-pause", "0"), reactor=Clock()).protocol.read_pause, 0.0)
        self.assertEqual(parse("--read-pause", "20ms")["read-pause-seconds"], 0.02)
        self.assertEqual(parse("--period", "20ms", "--timeout", "1")["read-pause-seconds"], 0.002)
        for argv in (["--read-pause", "51ms"], ["--period", "0.2", "--read-pause", "21ms"], ["--read-pause", "-1"],
                     ["--read-pause", "x"]):
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_make_service(self):
        """
        makeService assembles the UDP monitor and, with --status, the status
        page, sharing one monitor.
        """
        service = makeService(parse("--port", "0", "--status", "tcp:0:interface=127.0.0.1"), reactor=Clock())
        children = list(IServiceCollection(service))
        self.assertIsInstance(children[0], DatagramListeningService)
        self.assertEqual((children[0].port_number, children[0].interface), (0, "127.0.0.1"))
        self.assertIsInstance(children[1], StreamListeningService)
        self.assertIs(children[0].protocol.monitor, service.monitor)
        self.assertIs(children[1].factory.resource.monitor, service.monitor)

    def test_logging_and_status_host_options(self):
        """
        Per-beat lines are off unless --verbose (--quiet is the default and
        still accepted); --summary-interval sets the summary's period (0:
        none); --status-host names the hosts the page answers to besides
        IP literals and localhost.
        """
        options = parse()
        self.assertEqual((options["verbose"], options["settings"].summary_interval, options["status-hosts"]), (0, 60.0, []))
        service = makeService(parse("--port", "0", "--status", "tcp:0", "--status-host", "mon.lab.test, other.test"), reactor=Clock())
        self.assertFalse(service.protocol.observers[0].all_beats)
        self.assertEqual(list(IServiceCollection(service))[1].factory.allowed_hosts, ["mon.lab.test", "other.test"])
        service = makeService(parse("--port", "0", "--verbose", "--summary-interval", "0"), reactor=Clock())
        self.assertTrue(service.protocol.observers[0].all_beats)
        self.assertEqual(service.monitor.settings.summary_interval, 0.0)
        self.assertFalse(makeService(parse("--port", "0", "--quiet"), reactor=Clock()).protocol.observers[0].all_beats)

    def test_in_netlab_all(self):
        """
        netlab-all runs the monitor on 127.0.0.1:13000 with its status page
        on 127.0.0.1:8090.
        """
        options = parse(*netlab_all.family_argv("twisted_netlab.heartbeat.tap"))
        self.assertEqual((options["port"], options["interface"], options["status"]),
                         (13000, "127.0.0.1", "tcp:8090:interface=127.0.0.1"))


class KeyFileTests(SynchronousTestCase):
    def write(self, content, mode=0o600):
        path = self.mktemp()
        with open(path, "wb") as handle:
            handle.write(content)
        os.chmod(path, mode)
        return path

    def test_good_key(self):
        """
        Surrounding whitespace is not part of the key.
        """
        self.assertEqual(read_key_file(self.write(b"  s3cret-s3cret-s3cret\n")), b"s3cret-s3cret-s3cret")

    def test_refusals(self):
        """
        Missing, shared (group/other bits), short, huge and non-regular key
        files are refused with a message saying what to do.
        """
        with self.assertRaises(usage.UsageError) as caught:
            read_key_file(self.write(b"x" * 32, mode=0o640))
        self.assertIn("chmod 600", str(caught.exception))
        for path in (self.write(b"short"), self.write(b"x" * 5000), "/nonexistent/key"):
            self.assertRaises(usage.UsageError, read_key_file, path)
        directory = self.mktemp()
        os.mkdir(directory, 0o700)
        self.assertRaises(usage.UsageError, read_key_file, directory)
