"""
Tests for L{twisted_netlab.ping.tap}: option validation and the service.
"""

from __future__ import annotations

import socket

from twisted.internet.task import Clock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.udp_fakes import FakeUDPPort
from twisted_netlab.ping._echo_core import DelayDistribution, GilbertElliott
from twisted_netlab._endpoints import DatagramListeningService
from twisted_netlab.ping.tap import Options, make_protocol, makeService, parse_rate


def parse(*argv):
    options = Options()
    options.parseOptions(list(argv))
    return options


class OptionsTests(SynchronousTestCase):
    def test_defaults(self):
        """
        By default: port 12000 on 127.0.0.1, no impairment, plain echo.
        """
        options = parse()
        self.assertEqual((options["port"], options["interface"]), (12000, "127.0.0.1"))
        self.assertTrue(options.impairments.is_transparent)
        self.assertFalse(options["upper"])
        self.assertFalse(options.limits.allow_low_ports)

    def test_echo_budgets(self):
        """
        --source-rate caps each source (burst: one second's worth) and
        --global-rate all of them together; by default 1,000 and 10,000
        echoes per second.
        """
        limits = parse().limits
        self.assertEqual((limits.source_rate, limits.global_rate, limits.global_budget), (1000.0, 10000.0, 10000.0))
        limits = parse("--source-rate", "2", "--global-rate", "0").limits
        self.assertEqual((limits.source_rate, limits.source_burst, limits.global_budget), (2.0, 2.0, 8192.0))

    def test_impairments(self):
        """
        Each impairment option lands in the configuration, in its units.
        """
        options = parse(
            "--loss", "30%", "--delay", "50ms", "--jitter", "5ms", "--distribution", "Normal",
            "--duplicate", "0.01", "--reorder", "0.02", "--corrupt", "0.001", "--rate", "1mbit",
            "--limit", "50", "--seed", "4",
        )
        config = options.impairments
        self.assertEqual(config.loss, 0.3)
        self.assertAlmostEqual(config.delay_seconds, 0.05)
        self.assertAlmostEqual(config.jitter_seconds, 0.005)
        self.assertEqual(config.distribution, DelayDistribution.NORMAL)
        self.assertEqual((config.duplicate, config.reorder, config.corrupt), (0.01, 0.02, 0.001))
        self.assertEqual(config.rate_bytes_per_second, 125000.0)
        self.assertEqual((config.limit, options["seed"]), (50, 4))

    def test_per_direction_impairments(self):
        """
        --in-<impairment> and --out-<impairment> configure the inbound and
        outbound stages; the plain flags stay the round-trip stage, and the
        distribution and limit are shared.
        """
        options = parse(
            "--loss", "0.1", "--in-loss", "20%", "--out-delay", "30ms", "--out-jitter", "2ms",
            "--distribution", "normal", "--out-duplicate", "0.5", "--in-corrupt", "0.01",
            "--out-rate", "1mbit", "--limit", "7", "--out-reorder", "0.1",
        )
        self.assertEqual(options.impairments.loss, 0.1)
        self.assertEqual((options.inbound.loss, options.inbound.corrupt), (0.2, 0.01))
        self.assertEqual(options.inbound.delay_seconds, 0.0)
        self.assertAlmostEqual(options.outbound.delay_seconds, 0.03)
        self.assertAlmostEqual(options.outbound.jitter_seconds, 0.002)
        self.assertEqual((options.outbound.duplicate, options.outbound.reorder), (0.5, 0.1))
        self.assertEqual(options.outbound.rate_bytes_per_second, 125000.0)
        self.assertEqual(options.outbound.distribution, DelayDistribution.NORMAL)
        self.assertEqual((options.inbound.limit, options.outbound.limit), (7, 7))
        self.assertEqual(options.outbound.loss, 0.0)
        self.assertEqual(parse("--out-burst-loss", "5%,25%").outbound.burst, GilbertElliott(0.05, 0.25))

    def test_per_direction_rejections(self):
        """
        Each direction is validated on its own, naming its own flags.
        """
        for argv, message in [
            (["--in-loss", "2"], "not a probability"),
            (["--out-loss", "0.1", "--out-burst-loss", "0.1"], "--out-loss or --out-burst-loss"),
            (["--in-reorder", "0.1"], "--in-reorder needs --in-delay"),
            (["--in-reorder", "0.1", "--delay", "10ms"], "--in-reorder needs --in-delay"),
            (["--out-rate", "0"], "not a rate"),
        ]:
            with self.assertRaises(usage.UsageError) as raised:
                parse(*argv)
            self.assertIn(message, str(raised.exception), argv)

    def test_protocol_gets_every_stage(self):
        """
        The service's protocol runs the inbound and outbound stages the
        options describe, seeded by --seed.
        """
        def echoes(seed):
            protocol = make_protocol(parse("--in-loss", "0.5", "--out-duplicate", "1", "--seed", seed), Clock())
            transport = FakeUDPPort(protocol)
            protocol.makeConnection(transport)
            for index in range(40):
                protocol.datagramReceived(b"%d" % index, ("127.0.0.1", 40000))
            return transport.payloads()

        first = echoes("3")
        self.assertEqual(first, echoes("3"))
        self.assertEqual(first[::2], first[1::2])
        self.assertTrue(5 < len(first) // 2 < 35, len(first))

    def test_burst_loss_as_netem(self):
        """
        --burst-loss takes netem's gemodel parameters.
        """
        self.assertEqual(parse("--burst-loss", "5%,25%").impairments.burst, GilbertElliott(0.05, 0.25))
        self.assertEqual(parse("--burst-loss", "0.1").impairments.burst, GilbertElliott(0.1, 0.9))

    def test_rates(self):
        """
        Rates follow tc's units.
        """
        self.assertEqual(parse_rate("100kbit"), 12500.0)
        self.assertEqual(parse_rate("64kbps"), 64000.0)
        self.assertEqual(parse_rate("500"), 500.0)

    def test_rejections(self):
        """
        Bad values are usage errors with a clear message.
        """
        for argv in [
            ["--loss", "1.5"],
            ["--loss", "lots"],
            ["--delay", "-1"],
            ["--distribution", "cauchy"],
            ["--loss", "0.1", "--burst-loss", "0.1"],
            ["--reorder", "0.1"],
            ["--burst-loss", "1,2,3,4,5"],
            ["--rate", "fast"],
            ["--port", "70000"],
            ["--interface", "localhost"],
            ["--max-size", "0"],
            ["--limit", "0"],
            ["--source-rate", "-1"],
            ["--global-rate", "-1"],
            ["--global-rate", "nan"],
        ]:
            self.assertRaises(usage.UsageError, parse, *argv)

    def test_ipv6_interface(self):
        """
        IPv6 addresses are accepted as interfaces.
        """
        self.assertEqual(parse("--interface", "::1")["interface"], "::1")


class ServiceTests(SynchronousTestCase):
    def taken_port(self):
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        return holder.getsockname()[1]

    def test_port_taken_is_a_clear_error(self):
        """
        A port in use stops twistd with one clear line, not a traceback.
        """
        service = makeService(parse("--port", str(self.taken_port())))
        self.assertIsInstance(service, DatagramListeningService)
        error = self.assertRaises(SystemExit, service.startService)
        self.assertIn("cannot listen on udp 127.0.0.1 port", str(error))
        self.assertIn("choose another with --port", str(error))

    def test_no_skip_flag(self):
        """
        netlab-all leaves out a family whose port is taken on its own, so
        netlab-echo has no flag of its own for it.
        """
        self.assertRaises(usage.UsageError, parse, "--skip-if-port-taken")

    def test_listens_and_stops(self):
        """
        The service binds the asked interface and port, and releases it.
        """
        service = makeService(parse("--port", "0", "--max-size", "100"))
        service.startService()
        self.assertEqual(service.port.getHost().host, "127.0.0.1")
        # One byte more than the largest echo, so oversize shows as oversize.
        self.assertEqual(service.port.maxPacketSize, 101)
        self.assertNotEqual(service.port.getHost().port, 0)
        service.stopService()
        self.assertIsNone(service.port)


class RegistrationTests(SynchronousTestCase):
    def test_twistd_plugin(self):
        """
        twistd finds the netlab-echo plugin, naming this tap module.
        """
        from twisted.application.service import IServiceMaker
        from twisted.plugin import getPlugins

        makers = {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
        self.assertEqual(makers["netlab-echo"].module, "twisted_netlab.ping.tap")

    def test_netlab_all_runs_the_lab_server(self):
        """
        netlab-all runs the lab's server: 127.0.0.1:12000, 30% loss, and a
        taken port does not take the other services down.
        """
        from twisted_netlab.tap import family_argv

        options = parse(*family_argv("twisted_netlab.ping.tap"))
        self.assertEqual((options["interface"], options["port"]), ("127.0.0.1", 12000))
        self.assertEqual(options.impairments.loss, 0.3)
