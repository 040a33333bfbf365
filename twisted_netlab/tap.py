# -*- test-case-name: tests.test_tap -*-
"""
``twistd netlab-all``: every netlab server on its default loopback
address in one process, for README command 1 and for classrooms.

netlab-http is the main job: if its endpoint cannot be had the process
exits 1 with one clear line.  Each other service is optional here: if its
port is taken it is skipped with one error line and the rest run on.
"""

from __future__ import annotations

import importlib
from typing import Any, List, Tuple

from twisted.application.service import IService, IServiceCollection, MultiService, Service
from twisted.logger import Logger
from twisted.python import usage

log = Logger()

#: (family tap module, fixed arguments); the ports and endpoints come from
#: L{Options.family_arguments}.
FAMILIES: List[Tuple[str, List[str]]] = [
    ("twisted_netlab.web.tap", []),
    # The lab's server: UDP 127.0.0.1:12000, 30% random loss.
    ("twisted_netlab.ping.tap", ["--loss", "0.3"]),
    ("twisted_netlab.heartbeat.tap", ["--interface", "127.0.0.1"]),
    # Maildir and generated certificate under $XDG_DATA_HOME/netlab/mailsink
    # (or ~/.local/share/netlab/mailsink): no files needed beforehand.
    ("twisted_netlab.mail.tap", []),
]


class Options(usage.Options):
    synopsis = "[--http ENDPOINT] [--echo-port N] [--heartbeat-port N] [--mail ENDPOINT] ..."
    longdesc = (
        "Run netlab-http with the bundled site and the other netlab services, on 127.0.0.1. "
        "A service other than netlab-http whose port is taken is skipped with one log line."
    )
    optParameters = [
        ["http", None, "tcp:8080:interface=127.0.0.1", "Endpoint for netlab-http."],
        ["echo-port", None, "12000", "UDP port of netlab-echo on 127.0.0.1."],
        ["heartbeat-port", None, "13000", "UDP port of netlab-heartbeat on 127.0.0.1."],
        ["heartbeat-status", None, "tcp:8090:interface=127.0.0.1", "Endpoint of the heartbeat status page."],
        ["mail", None, "tcp:2525:interface=127.0.0.1", "Endpoint of netlab-mailsink."],
        ["mail-status", None, "tcp:8025:interface=127.0.0.1", "Endpoint of the mail sink's status page."],
        ["metrics", None, "tcp:9101:interface=127.0.0.1", "Endpoint of /metrics (Prometheus) for every service; 'none' turns it off."],
    ]

    def postOptions(self) -> None:
        if self["metrics"] != "none":
            from twisted_netlab._metrics import check_endpoint

            check_endpoint("metrics", self["metrics"])

    def family_arguments(self, module_name: str) -> List[str]:
        """
        The command-line arguments netlab-all gives one family's tap.
        """
        return {
            "twisted_netlab.web.tap": ["--listen", self["http"]],
            "twisted_netlab.ping.tap": ["--port", self["echo-port"]],
            "twisted_netlab.heartbeat.tap": [
                "--port", self["heartbeat-port"], "--status", self["heartbeat-status"],
            ],
            "twisted_netlab.mail.tap": ["--listen", self["mail"], "--status", self["mail-status"]],
        }.get(module_name, [])


def family_argv(module_name: str, config: "Options | None" = None) -> List[str]:
    """
    The whole argument list netlab-all gives the family tap C{module_name}
    (its fixed arguments, then its ports and endpoints from C{config}, or
    the defaults).
    """
    if config is None:
        config = Options()
        config.parseOptions([])
    [fixed] = [argv for module, argv in FAMILIES if module == module_name]
    return fixed + config.family_arguments(module_name)


#: The flag of netlab-all that chose each service's address, by service
#: name: its error lines name these, not the family's own --port/--listen.
FLAGS = {
    "netlab-http": "--http",
    "netlab-echo": "--echo-port",
    "netlab-heartbeat": "--heartbeat-port",
    "netlab-heartbeat-status": "--heartbeat-status",
    "netlab-mailsink": "--mail",
    "netlab-mailsink-status": "--mail-status",
    "netlab-all-metrics": "--metrics",
}


def name_flags(service: Any) -> None:
    """
    Make the listening services under C{service} name netlab-all's flags
    in their errors (C{port_option} for UDP, C{option} for streams).
    """
    name = getattr(service, "service_name", None)
    if name in FLAGS:
        if hasattr(service, "port_option"):
            service.port_option = FLAGS[name]
        else:
            service.option = FLAGS[name]
    collection = IServiceCollection(service, None)
    if collection is not None:
        for child in collection:
            name_flags(child)


class OptionalService(MultiService):
    """
    Start each child; one that cannot start (it raises L{SystemExit} with
    its reason, as netlab's listening services do) is logged and left out
    rather than ending the process.  L{bind} does the same at bind time
    (before twistd daemonizes).
    """

    def __init__(self, name: str) -> None:
        MultiService.__init__(self)
        self.label = name
        self._left_out: List[IService] = []

    def _try(self, child: IService, step: Any) -> None:
        if child in self._left_out:
            return
        try:
            step(child)
        except SystemExit as reason:
            log.error("{name} not started: {reason}", name=self.label, reason=reason)
            self._left_out.append(child)
            child.running = 0  # type: ignore[attr-defined]

    def bind(self) -> None:
        from twisted_netlab._listening import bind_early

        for child in list(self):
            self._try(child, bind_early)

    def startService(self) -> None:
        Service.startService(self)
        for child in list(self):
            self._try(child, lambda service: service.startService())


def makeService(config: Any) -> IService:
    service = MultiService()
    collectors: List[Any] = []
    for module_name, argv in FAMILIES:
        module = importlib.import_module(module_name)
        options = module.Options()
        options.parseOptions(family_argv(module_name, config))
        family = module.makeService(options)
        collectors.extend(getattr(family, "collectors", []))
        name_flags(family)
        if module_name == "twisted_netlab.web.tap":
            family.setServiceParent(service)
        else:
            wrapper = OptionalService(module_name.split(".")[1])
            family.setServiceParent(wrapper)
            wrapper.setServiceParent(service)
    if config["metrics"] != "none":
        # One /metrics for every service of the process; like the other
        # side services, skipped with one line if its port is taken.
        from twisted_netlab._metrics import metrics_service

        wrapper = OptionalService("metrics")
        metrics = metrics_service("netlab-all-metrics", config["metrics"], collectors, ["http", "echo", "heartbeat", "mailsink"])
        name_flags(metrics)
        metrics.setServiceParent(wrapper)
        wrapper.setServiceParent(service)
    return service
