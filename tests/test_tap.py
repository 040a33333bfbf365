"""
Tests for ``twistd netlab-all`` (L{twisted_netlab.tap}).
"""

from twisted.application.service import Service
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab import tap


class Recording(Service):
    def __init__(self, fail=False):
        self.fail = fail

    def startService(self):
        Service.startService(self)
        if self.fail:
            raise SystemExit("recording: error: cannot listen on udp 127.0.0.1 port 1: taken")


class OptionalServiceTests(SynchronousTestCase):
    def test_failed_child_is_skipped_and_logged(self):
        """
        A family whose port is taken is left out with one error line; the
        process (and the other children) go on.
        """
        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        wrapper = tap.OptionalService("echo")
        failing, working = Recording(fail=True), Recording()
        failing.setServiceParent(wrapper)
        working.setServiceParent(wrapper)
        wrapper.startService()
        self.assertFalse(failing.running)
        self.assertTrue(working.running)
        [error] = [e for e in events if e.get("log_format", "").startswith("{name} not started")]
        self.assertIn("cannot listen", str(error["reason"]))


class OptionsTests(SynchronousTestCase):
    def test_ports_reach_families(self):
        """
        --echo-port, --heartbeat-port and --mail go to the family taps.
        """
        config = tap.Options()
        config.parseOptions(["--echo-port", "12001", "--heartbeat-port", "13001", "--mail", "tcp:2526"])
        self.assertEqual(tap.family_argv("twisted_netlab.ping.tap", config)[-2:], ["--port", "12001"])
        self.assertIn("13001", tap.family_argv("twisted_netlab.heartbeat.tap", config))
        self.assertIn("tcp:2526", tap.family_argv("twisted_netlab.mail.tap", config))

    def test_every_family_parses(self):
        """
        Every family's default netlab-all arguments pass its own Options,
        and each family gets netlab-all's addresses.
        """
        import importlib

        expected = {
            "twisted_netlab.web.tap": ("listen", ["tcp:8080:interface=127.0.0.1"]),
            "twisted_netlab.ping.tap": ("port", 12000),
            "twisted_netlab.heartbeat.tap": ("port", 13000),
            "twisted_netlab.mail.tap": ("status", "tcp:8025:interface=127.0.0.1"),
        }
        for module_name, _ in tap.FAMILIES:
            options = importlib.import_module(module_name).Options()
            options.parseOptions(tap.family_argv(module_name))
            key, value = expected[module_name]
            self.assertEqual(options[key], value, module_name)


class FlagNamingTests(SynchronousTestCase):
    def test_services_name_netlab_all_flags(self):
        """
        In netlab-all, a listening service's error names netlab-all's flag
        (--echo-port), not the family's own (--port).
        """
        from twisted.application.service import MultiService
        from twisted.internet.protocol import DatagramProtocol, Factory

        from twisted_netlab._endpoints import DatagramListeningService, StreamListeningService

        root = MultiService()
        echo = DatagramListeningService("netlab-echo", DatagramProtocol(), 12000, "127.0.0.1")
        echo.setServiceParent(root)
        status = StreamListeningService("netlab-mailsink-status", "tcp:0", Factory())
        status.setServiceParent(root)
        tap.name_flags(root)
        self.assertEqual((echo.port_option, status.option), ("--echo-port", "--mail-status"))

    def test_optional_service_skips_a_child_that_cannot_bind(self):
        """
        Binding early (before twistd forks), an optional family whose port
        is taken is logged and left out; starting later skips it too.
        """

        class Binding(Recording):
            def bind(self):
                if self.fail:
                    raise SystemExit("binding: error: taken")

        events = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)
        wrapper = tap.OptionalService("mail")
        failing, working = Binding(fail=True), Binding()
        failing.setServiceParent(wrapper)
        working.setServiceParent(wrapper)
        wrapper.bind()
        failing.fail = False  # would start now: it must stay left out
        wrapper.startService()
        self.assertEqual((failing.running, working.running), (0, True))
        self.assertEqual(len([e for e in events if e.get("log_format", "").startswith("{name} not started")]), 1)
