"""
``--metrics`` on every listening service's twistd plugin: a usable endpoint
adds a listening service that serves the family's collectors; a bad one is
a usage error; netlab-all serves every family on one endpoint by default.
"""

from __future__ import annotations

import importlib

from twisted.application.service import IServiceCollection
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab import tap as all_tap

FAMILIES = {
    "twisted_netlab.web.tap": ["--path", "."],
    "twisted_netlab.ping.tap": ["--port", "0"],
    "twisted_netlab.heartbeat.tap": ["--port", "0"],
    "twisted_netlab.mail.tap": ["--listen", "tcp:0:interface=127.0.0.1"],
}


def names(service):
    found = [getattr(service, "service_name", None)]
    collection = IServiceCollection(service, None)
    if collection is not None:
        for child in collection:
            found.extend(names(child))
    return [name for name in found if name]


class MetricsOptionTests(SynchronousTestCase):
    def options(self, module_name, *extra):
        module = importlib.import_module(module_name)
        options = module.Options()
        argv = list(FAMILIES[module_name]) + list(extra)
        if module_name == "twisted_netlab.mail.tap":
            argv += ["--maildir", self.mktemp(), "--no-tls"]
        options.parseOptions(argv)
        return module, options

    def test_each_family_serves_its_collectors(self):
        """
        With --metrics, each family's service gains a ``...-metrics``
        listener; without it, none; the collectors are there either way
        (netlab-all reads them).
        """
        for module_name in FAMILIES:
            module, options = self.options(module_name, "--metrics", "tcp:0:interface=127.0.0.1")
            service = module.makeService(options)
            self.assertTrue(any(name.endswith("-metrics") for name in names(service)), (module_name, names(service)))
            self.assertTrue(service.collectors, module_name)
            module, options = self.options(module_name)
            plain = module.makeService(options)
            self.assertFalse(any(name.endswith("-metrics") for name in names(plain)), module_name)
            self.assertTrue(plain.collectors, module_name)

    def test_bad_endpoint_is_a_usage_error(self):
        """
        A --metrics value that is no endpoint is refused, naming the option.
        """
        for module_name in FAMILIES:
            module = importlib.import_module(module_name)
            error = self.assertRaises(
                usage.UsageError, module.Options().parseOptions, FAMILIES[module_name] + ["--metrics", "nonsense:9"]
            )
            self.assertIn("--metrics", str(error))

    def test_http_metrics_and_workers_conflict(self):
        """
        netlab-http refuses --metrics with --workers: each worker process
        would count alone.
        """
        from twisted_netlab.web.tap import Options

        error = self.assertRaises(
            usage.UsageError, Options().parseOptions, ["--workers", "2", "--metrics", "tcp:0:interface=127.0.0.1"]
        )
        self.assertIn("--workers", str(error))

    def test_netlab_all_one_endpoint(self):
        """
        netlab-all serves /metrics on 127.0.0.1:9101 by default, one
        listener for every family's collectors; --metrics none turns it off.
        """
        options = all_tap.Options()
        options.parseOptions([])
        self.assertEqual(options["metrics"], "tcp:9101:interface=127.0.0.1")
        service = all_tap.makeService(options)
        self.assertEqual([name for name in names(service) if name.endswith("-metrics")], ["netlab-all-metrics"])
        options = all_tap.Options()
        options.parseOptions(["--metrics", "none"])
        self.assertEqual([name for name in names(all_tap.makeService(options)) if name.endswith("-metrics")], [])
