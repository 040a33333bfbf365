# -*- test-case-name: tests.ping.test_tap -*-
"""
twistd glue for ``twistd netlab-echo``: L{Options} (validation raises
L{usage.UsageError}) and L{makeService}.
"""

from __future__ import annotations

import random
from typing import Any, Optional

from twisted.application.service import IService, MultiService
from twisted.python import usage

from twisted_netlab import _metrics
from twisted_netlab._metrics import metrics_service
from twisted_netlab._endpoints import DatagramListeningService, parse_duration, parse_interface, parse_udp_port
from twisted_netlab.ping._echo_core import AbuseLimits, DelayDistribution, GilbertElliott, ImpairmentConfig
from twisted_netlab.ping._probe import MAX_UDP_PAYLOAD
from twisted_netlab.ping._echo_metrics import EchoCollector
from twisted_netlab.ping.echo import SERVICE_NAME, LossyEchoProtocol


def parse_probability(value: str) -> float:
    """
    A probability as ``0.3`` or ``30%``.
    """
    text = value.strip()
    scale = 1.0
    if text.endswith("%"):
        text, scale = text[:-1], 0.01
    try:
        number = float(text) * scale
    except ValueError:
        raise usage.UsageError(f"not a probability: {value!r} (try 0.3 or 30%)")
    if not 0.0 <= number <= 1.0:
        raise usage.UsageError(f"not a probability: {value!r} (must be from 0 to 1, or 0% to 100%)")
    return number


_RATE_UNITS = [
    ("gbit", 1e9 / 8), ("mbit", 1e6 / 8), ("kbit", 1e3 / 8), ("bit", 1 / 8),
    ("gbps", 1e9), ("mbps", 1e6), ("kbps", 1e3), ("bps", 1.0),
]


def parse_rate(value: str) -> float:
    """
    A link rate in tc's words (``1mbit``, ``100kbit``, ``64kbps``; bare
    numbers are bytes per second), returned in bytes per second.
    """
    text = value.strip().lower()
    scale = 1.0
    for suffix, factor in _RATE_UNITS:
        if text.endswith(suffix):
            text, scale = text[: -len(suffix)], factor
            break
    try:
        rate = float(text) * scale
    except ValueError:
        raise usage.UsageError(f"not a rate: {value!r} (try 1mbit, 100kbit, 64kbps)")
    if not 0 < rate < float("inf"):
        raise usage.UsageError(f"not a rate: {value!r} (must be > 0)")
    return rate


def parse_gemodel(value: str) -> GilbertElliott:
    """
    netem's ``gemodel p [r [1-h [1-k]]]`` as ``p[,r[,1-h[,1-k]]]``.
    """
    parts = [part for part in value.replace(" ", ",").split(",") if part]
    if not 1 <= len(parts) <= 4:
        raise usage.UsageError(f"--burst-loss takes p[,r[,1-h[,1-k]]], not {value!r}")
    numbers = [parse_probability(part) for part in parts]
    p = numbers[0]
    r = numbers[1] if len(numbers) > 1 else None
    bad_loss = numbers[2] if len(numbers) > 2 else 1.0
    good_loss = numbers[3] if len(numbers) > 3 else 0.0
    try:
        return GilbertElliott(p, r, bad_loss, good_loss)
    except ValueError as error:
        raise usage.UsageError(str(error))


#: The impairments that also exist per direction, as
#: (name, parser, default, what it does).
_DIRECTIONAL = [
    ("loss", parse_probability, 0.0, "random loss probability"),
    ("burst-loss", parse_gemodel, None, "Gilbert-Elliott loss p[,r[,1-h[,1-k]]]"),
    ("delay", parse_duration, 0.0, "mean added delay"),
    ("jitter", parse_duration, 0.0, "delay spread"),
    ("duplicate", parse_probability, 0.0, "duplication probability"),
    ("reorder", parse_probability, 0.0, "reorder probability (needs the same direction's delay)"),
    ("corrupt", parse_probability, 0.0, "one-bit corruption probability"),
    ("rate", parse_rate, None, "link rate"),
]

#: Option prefix -> what the direction is, for help and error messages.
_DIRECTIONS = {
    "": "round trip, applied once to each echo",
    "in-": "client to server, applied to each request as it arrives",
    "out-": "server to client, applied to each echo as it leaves",
}


class Options(usage.Options):
    synopsis = "[--port 12000] [--interface 127.0.0.1] [--loss 0.3] [--delay 50ms] ..."
    longdesc = (
        "A UDP echo server (RFC 862) with network impairments, for the UDP "
        "pinger lab.  Each impairment is independent and reproducible with "
        "--seed.  --loss, --delay, ... act once per echo (the round trip); "
        "--in-<impairment> acts on requests as they arrive, "
        "--out-<impairment> on echoes as they leave; all of them compose.  "
        "Listens on 127.0.0.1 unless told otherwise."
    )
    optFlags = [
        ["upper", None, "Echo upper-cased, like the lab's reference server."],
        ["allow-low-ports", None, "Also echo to source ports below 1024 (never to known service ports: echo, DNS, NTP, ...)."],
        ["debug-datagrams", None, "Log one line per datagram: its sequence and fate (refused, dropped by which stage, delay, duplicated, corrupted, echoed)."],
    ]
    optParameters = [
        ["port", "p", 12000, "UDP port (0: any free port).", parse_udp_port],
        ["interface", "i", "127.0.0.1", "Address to listen on (:: or 0.0.0.0 listen widely).", parse_interface],
        _metrics.OPTION,
        ["loss", None, 0.0, "Random loss probability, e.g. 0.3 or 30%.", parse_probability],
        ["burst-loss", None, None, "Gilbert-Elliott loss as netem's gemodel: p[,r[,1-h[,1-k]]].", parse_gemodel],
        ["delay", None, 0.0, "Mean added delay, e.g. 50ms.", parse_duration],
        ["jitter", None, 0.0, "Delay spread: half-width (uniform) or sd (normal, pareto).", parse_duration],
        ["distribution", None, "uniform", "Jitter distribution: uniform, normal or pareto."],
        ["duplicate", None, 0.0, "Probability of echoing twice.", parse_probability],
        ["reorder", None, 0.0, "Probability that an echo skips the delay (needs --delay).", parse_probability],
        ["corrupt", None, 0.0, "Probability of flipping one bit of an echo.", parse_probability],
        ["rate", None, None, "Link rate, e.g. 1mbit, 100kbit, 64kbps (bytes/s if bare).", parse_rate],
        ["limit", None, 1000, "Most echoes held (delayed or queued) at once; more are dropped.", int],
        ["seed", None, None, "Seed of the impairments' random source (reproducible runs).", int],
        ["max-size", None, 8192, "Largest datagram echoed, in bytes.", int],
        ["source-rate", None, 1000.0, "Packets per second echoed to one source address (0: no cap).", float],
        ["global-rate", None, 10000.0, "Packets per second echoed to all sources together (0: only --source-rate bounds the total).", float],
        ["summary-interval", None, 60.0, "Seconds between info summaries (0: none).", parse_duration],
    ] + [
        [f"{prefix}{name}", None, default, f"{what.capitalize()}, {direction}.", parser]
        for prefix, direction in _DIRECTIONS.items()
        if prefix
        for name, parser, default, what in _DIRECTIONAL
    ]

    def postOptions(self) -> None:
        _metrics.check_endpoint("metrics", self["metrics"])
        try:
            self["distribution"] = DelayDistribution(self["distribution"].lower())
        except ValueError:
            raise usage.UsageError(
                f"--distribution must be uniform, normal or pareto, not {self['distribution']!r}"
            )
        if not 1 <= self["max-size"] <= MAX_UDP_PAYLOAD:
            raise usage.UsageError(f"--max-size must be from 1 to {MAX_UDP_PAYLOAD}")
        for name in ("source-rate", "global-rate"):
            if not self[name] >= 0 or self[name] == float("inf"):
                raise usage.UsageError(f"--{name} must be a number >= 0")
        if self["limit"] < 1:
            raise usage.UsageError("--limit must be >= 1")
        self.impairments = self._impairment_config("")
        self.inbound = self._impairment_config("in-")
        self.outbound = self._impairment_config("out-")
        self.limits = AbuseLimits(
            max_datagram=self["max-size"],
            source_rate=self["source-rate"],
            source_burst=max(1.0, self["source-rate"]),
            allow_low_ports=self["allow-low-ports"],
            global_rate=self["global-rate"],
        )

    def _impairment_config(self, prefix: str) -> ImpairmentConfig:
        """
        One stage's impairments from the options named C{prefix}C{name};
        the distribution and the queue limit are shared by every stage.
        """
        if self[f"{prefix}burst-loss"] is not None and self[f"{prefix}loss"]:
            raise usage.UsageError(f"use --{prefix}loss or --{prefix}burst-loss, not both")
        if self[f"{prefix}reorder"] and not self[f"{prefix}delay"]:
            raise usage.UsageError(
                f"--{prefix}reorder needs --{prefix}delay: reordered datagrams skip the delay, as with netem"
            )
        return ImpairmentConfig(
            loss=self[f"{prefix}loss"],
            burst=self[f"{prefix}burst-loss"],
            delay_seconds=self[f"{prefix}delay"],
            jitter_seconds=self[f"{prefix}jitter"],
            distribution=self["distribution"],
            duplicate=self[f"{prefix}duplicate"],
            reorder=self[f"{prefix}reorder"],
            corrupt=self[f"{prefix}corrupt"],
            rate_bytes_per_second=self[f"{prefix}rate"],
            limit=self["limit"],
        )


def make_protocol(config: Any, reactor: Any = None) -> LossyEchoProtocol:
    seed: Optional[int] = config["seed"]
    return LossyEchoProtocol(
        reactor,
        impairments=config.impairments,
        limits=config.limits,
        inbound=config.inbound,
        outbound=config.outbound,
        rng=random.Random(seed),
        upper=config["upper"],
        summary_interval=config["summary-interval"],
        log_datagrams=config["debug-datagrams"],
    )


def makeService(config: Any, reactor: Any = None) -> IService:
    """
    The UDP service.  It reads one byte more than the largest datagram
    echoed: the kernel truncates silently, so a read of max+1 bytes is how
    an oversize datagram shows (and is refused, never echoed cut).  A taken
    port is one clear error line (netlab-all keeps its other services
    running on its own).
    """
    protocol = make_protocol(config, reactor)
    echo = DatagramListeningService(
        SERVICE_NAME,
        protocol,
        config["port"],
        config["interface"],
        reactor=reactor,
        max_packet_size=config["max-size"] + 1,
    )
    collectors = [EchoCollector(protocol)]
    service: Any = echo
    if config["metrics"]:
        service = MultiService()
        echo.setServiceParent(service)
        metrics_service(SERVICE_NAME + "-metrics", config["metrics"], collectors, ["echo"], reactor).setServiceParent(service)
    # netlab-all serves every family's collectors on its own --metrics.
    service.collectors = collectors
    return service
