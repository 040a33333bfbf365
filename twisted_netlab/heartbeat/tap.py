# -*- test-case-name: tests.heartbeat.test_tap -*-
"""
twistd glue for ``twistd netlab-heartbeat`` (the monitor): L{Options} and
L{makeService}.
"""

from __future__ import annotations

from typing import Any, Optional, cast

from twisted.application.internet import TimerService
from twisted.application.service import IService, MultiService
from twisted.internet.endpoints import serverFromString
from twisted.python import usage

from twisted_netlab._endpoints import (
    DatagramListeningService,
    StreamListeningService,
    default_reactor,
    parse_duration,
    parse_interface,
    parse_udp_port,
)
from twisted_netlab.heartbeat._beat import LocalProtocolError
from twisted_netlab.heartbeat._monitor_core import HeartbeatMonitor, KeyBy, MonitorSettings
from twisted_netlab.heartbeat.keyfile import read_key_file
from twisted_netlab.heartbeat.monitor import (
    DEFAULT_READ_PAUSE,
    MAX_READ_PAUSE,
    LoggingObserver,
    MonitorProtocol,
    default_sweep_interval,
)
from twisted_netlab import _metrics
from twisted_netlab._metrics import metrics_service
from twisted_netlab.heartbeat._monitor_metrics import DEFAULT_CLIENT_SERIES, MonitorCollector
from twisted_netlab.heartbeat._history import HistoryBook
from twisted_netlab.heartbeat.status import sample_phi, status_site


def _positive_duration(name: str, value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    seconds = parse_duration(value)
    if seconds <= 0:
        raise usage.UsageError(f"--{name} must be > 0, not {value!r}")
    return seconds


class Options(usage.Options):
    synopsis = "[--port 13000] [--interface 127.0.0.1] [--period 5] [--timeout 50] [--status ENDPOINT] [--verbose]"
    longdesc = (
        "Monitor UDP heartbeats ('<seq> - <epoch>', optionally with id=, boot=, mac=) from many "
        "clients: report each beat (lost, late, duplicate, reordered, restarted, clock offset, "
        "jitter) and each client's state (alive, suspect by phi accrual, stopped after --timeout "
        "of silence, recovered)."
    )
    optFlags = [
        ["verbose", "v", "Also log each accepted beat (by default: state changes, restarts, rejections and a periodic summary)."],
        ["quiet", "q", "The default since per-beat lines moved behind --verbose; accepted for old scripts."],
    ]
    optParameters = [
        ["port", "p", 13000, "UDP port to listen on (0: any free port).", parse_udp_port],
        ["interface", "i", "127.0.0.1", "Address to listen on (0.0.0.0 or :: for all).", parse_interface],
        ["period", None, "5", "Interval the senders beat at (e.g. 5, 0.2, 250ms)."],
        ["timeout", None, None, "Silence after which a client is stopped (default: 10 periods)."],
        ["tolerance", None, None, "How much after the expected time a beat counts as late (default: period/2)."],
        ["sweep", None, None, "How often all clients are checked (default: min(1 s, period/2, timeout/10))."],
        ["read-pause", None, None, "After a read, leave the socket this long, so one wake-up reads many beats (default: 5 ms; at most 50 ms and a tenth of the period; 0: read each beat as it comes)."],
        ["phi-threshold", None, 8.0, "Phi at which a client becomes suspect.", float],
        ["min-std-deviation", None, None, "Phi detector's floor for the interval deviation (default: period/10)."],
        ["acceptable-pause", None, None, "Pause the phi detector tolerates on top of the mean (default: 3 periods, at most timeout/3)."],
        ["key-file", "k", None, "Shared key: accept only beats signed with it (HMAC-SHA256)."],
        ["max-skew", None, None, "Refuse beats whose timestamp is further from our clock (default: 300 s with a key, else 1 day)."],
        ["max-clients", None, 100000, "Most clients tracked at once.", int],
        ["forget-after", None, "1h", "Forget stopped clients after this much silence."],
        ["key-by", None, "address", "Group beats without id= by 'address' (host and port) or 'host'."],
        ["summary-interval", None, "1m", "Log a summary line this often (0: never)."],
        _metrics.OPTION,
        ["metrics-clients", None, DEFAULT_CLIENT_SERIES, "Per-client metric series for at most this many (most recently heard) clients.", int],
        ["status", None, None, "Serve the status page (HTML and /status.json) on this endpoint, e.g. tcp:8090:interface=127.0.0.1."],
        ["status-host", None, None, "A host name the status page answers to besides IP addresses and localhost (comma-separated)."],
    ]

    def postOptions(self) -> None:
        period = _positive_duration("period", self["period"])
        assert period is not None
        key = read_key_file(self["key-file"]) if self["key-file"] else None
        if self["key-by"] not in ("address", "host"):
            raise usage.UsageError("--key-by must be 'address' or 'host'")
        max_skew = None
        if self["max-skew"] is not None:
            max_skew = _positive_duration("max-skew", self["max-skew"])
        if not 0 < self["phi-threshold"] < 1000:
            raise usage.UsageError("--phi-threshold must be between 0 and 1000")
        min_std = _positive_duration("min-std-deviation", self["min-std-deviation"])
        pause = None if self["acceptable-pause"] is None else parse_duration(self["acceptable-pause"])
        tolerance = None if self["tolerance"] is None else parse_duration(self["tolerance"])
        if self["verbose"] and self["quiet"]:
            raise usage.UsageError("--verbose and --quiet contradict each other")
        summary_interval = parse_duration(self["summary-interval"])
        if summary_interval < 0:
            raise usage.UsageError("--summary-interval must be >= 0")
        self["status-hosts"] = [name.strip() for name in (self["status-host"] or "").split(",") if name.strip()]
        try:
            self["settings"] = MonitorSettings(
                period=period,
                timeout=_positive_duration("timeout", self["timeout"]),
                tolerance=tolerance,
                phi_threshold=self["phi-threshold"],
                min_std_deviation=min_std,
                acceptable_pause=pause,
                key=key,
                max_skew=max_skew,
                max_clients=self["max-clients"],
                forget_after=_positive_duration("forget-after", self["forget-after"]),  # type: ignore[arg-type]
                key_by=KeyBy(self["key-by"]),
                summary_interval=summary_interval,
            )
        except LocalProtocolError as error:
            raise usage.UsageError(str(error))
        _metrics.check_endpoint("metrics", self["metrics"])
        if self["metrics-clients"] < 0:
            raise usage.UsageError("--metrics-clients must be 0 or more")
        if self["status"] is not None:
            try:
                serverFromString(None, self["status"])
            except Exception as error:  # ValueError, KeyError, TypeError, SSL errors...
                raise usage.UsageError(f"--status {self['status']!r} is not a usable endpoint: {error}")
        settings = self["settings"]
        sweep = _positive_duration("sweep", self["sweep"])
        if sweep is not None and sweep > settings.timeout:
            raise usage.UsageError("--sweep must not be longer than the timeout")
        self["sweep-seconds"] = sweep if sweep is not None else default_sweep_interval(settings.period, settings.timeout)
        longest_pause = min(MAX_READ_PAUSE, settings.period / 10)
        if self["read-pause"] is None:
            self["read-pause-seconds"] = min(DEFAULT_READ_PAUSE, longest_pause)
        else:
            self["read-pause-seconds"] = parse_duration(self["read-pause"])
            if self["read-pause-seconds"] > longest_pause:
                raise usage.UsageError(
                    f"--read-pause must be at most {longest_pause * 1000:g} ms (50 ms and a tenth of the period)"
                )


def makeService(config: Any, reactor: Any = None) -> IService:
    """
    The monitor on UDP, and the status page if C{--status} was given; both
    share one L{HeartbeatMonitor}.
    """
    reactor = default_reactor(reactor)
    settings: MonitorSettings = config["settings"]
    monitor = HeartbeatMonitor(settings)
    sweep = config["sweep-seconds"]
    observer = LoggingObserver(settings.timeout, sweep, all_beats=config["verbose"])  # type: ignore[arg-type]
    # The status page's pictures: a bounded history fed as an observer, phi sampled every sweep.
    history = HistoryBook() if config["status"] else None
    observers = [observer] if history is None else [observer, history]
    protocol = MonitorProtocol(
        monitor, sweep, observers, reactor=reactor, read_pause=config["read-pause-seconds"]  # type: ignore[arg-type]
    )
    service = MultiService()
    DatagramListeningService(
        "netlab-heartbeat", protocol, config["port"], config["interface"], reactor=reactor
    ).setServiceParent(service)
    if config["status"]:
        StreamListeningService(
            "netlab-heartbeat-status", config["status"], status_site(monitor, reactor, allowed_hosts=config["status-hosts"], history=history), reactor=reactor
        ).setServiceParent(service)
        sampler = TimerService(sweep, lambda: sample_phi(monitor, history, reactor.seconds()))  # type: ignore[arg-type]
        sampler.clock = reactor
        sampler.setServiceParent(service)
    collectors = [MonitorCollector(monitor, lambda: reactor.seconds(), config["metrics-clients"])]
    if config["metrics"]:
        metrics_service("netlab-heartbeat-metrics", config["metrics"], collectors, ["heartbeat"], reactor).setServiceParent(service)
    # netlab-all serves every family's collectors on its own --metrics.
    service.collectors = collectors  # type: ignore[attr-defined]
    service.monitor = monitor  # type: ignore[attr-defined]
    service.protocol = protocol  # type: ignore[attr-defined]
    return cast(IService, service)
