# -*- test-case-name: tests.web.test_tap -*-
"""
twistd glue for ``twistd netlab-http``: L{Options}, L{makeService}, the
graceful-stop service and the ``--workers`` process model.

Run as ``python -m twisted_netlab.web.tap WORKER-JSON`` it is one worker
child: it adopts the listening socket(s) its parent passed as fds 3, 4,
... and serves until its stdin (a pipe from the parent) closes.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from typing import Any, Callable, Dict, Optional, Tuple, cast

from twisted.application.service import IService, MultiService
from twisted.internet import protocol
from twisted.internet.defer import Deferred, DeferredList, maybeDeferred
from twisted.internet.interfaces import IFileDescriptor
from twisted.logger import Logger
from twisted.python import usage

from twisted_netlab import _metrics
from twisted_netlab._metrics import metrics_service
from twisted_netlab._endpoints import StreamListeningService, default_reactor, graceful_exit, parse_duration
from twisted_netlab.web._manual import built_site
from twisted_netlab.web._server_metrics import ServerCollector
from twisted_netlab.web.server import (
    StaticFileFactory,
    file_access_log,
    twisted_access_log,
)

log = Logger()

#: nginx's default listen backlog on Linux: a burst of connects waits in
#: the kernel's accept queue instead of overflowing Twisted's 50.
DEFAULT_BACKLOG = 511
DEFAULT_MAX_CONNECTIONS = 4096

_DURATIONS = ("request-timeout", "idle-timeout", "send-timeout", "shutdown-timeout", "file-cache-seconds")


class Options(usage.Options):
    synopsis = "[--listen ENDPOINT]... [--path DIR] [options]"
    longdesc = (
        "Serve the files below DIR over HTTP/1.1 (GET, HEAD, OPTIONS; conditional "
        "requests, byte ranges, directory listings). Without --path, serves the "
        "small site bundled with netlab. Durations accept 1.5, 250ms, 2s, 1m."
    )
    optParameters = [
        ["path", "p", None, "Folder to serve (default: the bundled site)."],
        ["max-age", None, None, "Send Cache-Control: max-age=N instead of no-cache.", int],
        ["request-timeout", None, "20s", "Time a client has to send a whole request head (slowloris guard)."],
        ["idle-timeout", None, "60s", "Close keep-alive connections idle this long."],
        ["send-timeout", None, "60s", "Abort a connection whose client reads nothing for this long."],
        ["shutdown-timeout", None, "10s", "On SIGTERM/SIGINT, wait this long for responses in flight."],
        ["file-cache-seconds", None, "1", "Reuse path lookups (and small files' bytes) this long; 0 disables."],
        ["access-log", None, None, "Combined Log Format access log: a FILE, or - for the twistd log."],
        ["workers", None, 1, "Number of processes sharing the listening socket(s) (tcp:/unix: endpoints).", int],
        _metrics.OPTION,
        ["backlog", None, DEFAULT_BACKLOG, "Listen backlog of every listener (as nginx: 511; the kernel caps it at "
         "net.core.somaxconn).", int],
        ["max-connections", None, DEFAULT_MAX_CONNECTIONS, "Connections served at once (keep-alive and streaming "
         "alike); over it a new connection is accepted and closed at once.", int],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        """
        Endpoint to listen on, e.g. tcp:8080 or ssl:8443:privateKey=key.pem:certKey=cert.pem (repeatable; default tcp:8080:interface=127.0.0.1).
        """
        self["listen"].append(endpoint)

    def postOptions(self) -> None:
        _metrics.check_endpoint("metrics", self["metrics"])
        if self["metrics"] and self["workers"] > 1:
            raise usage.UsageError("--metrics counts one process: use it without --workers")
        if not self["listen"]:
            self["listen"] = ["tcp:8080:interface=127.0.0.1"]
        if self["path"] is None:
            self["path"] = built_site()
        if not os.path.isdir(self["path"]):
            raise usage.UsageError(f"--path {self['path']!r} is not a folder")
        if self["max-age"] is not None and self["max-age"] < 0:
            raise usage.UsageError("--max-age must be >= 0")
        for name in _DURATIONS:
            value = self[name]
            self[name] = value if isinstance(value, float) else parse_duration(str(value))
        for name in ("request-timeout", "idle-timeout", "send-timeout"):
            if self[name] <= 0:
                raise usage.UsageError(f"--{name} must be more than 0")
        if not 1 <= self["backlog"] <= 65535:
            raise usage.UsageError("--backlog must be from 1 to 65535")
        if not 1 <= self["max-connections"] <= 1_000_000:
            raise usage.UsageError("--max-connections must be from 1 to 1000000")
        if not 1 <= self["workers"] <= 64:
            raise usage.UsageError("--workers must be from 1 to 64")
        if self["workers"] > 1:
            for description in self["listen"]:
                if description.split(":", 1)[0] not in ("tcp", "tcp6", "unix"):
                    raise usage.UsageError(
                        f"--workers needs tcp:, tcp6: or unix: endpoints (got {description!r}); "
                        "run one process per ssl: listener"
                    )
        access_log = self["access-log"]
        if access_log not in (None, "-"):
            folder = os.path.dirname(os.path.abspath(access_log))
            if not os.path.isdir(folder):
                raise usage.UsageError(f"--access-log: folder {folder!r} does not exist")
            if os.path.isdir(access_log):
                raise usage.UsageError(f"--access-log: {access_log!r} is a folder")
            target = access_log if os.path.exists(access_log) else folder
            if not os.access(target, os.W_OK):
                raise usage.UsageError(f"--access-log: cannot write to {target!r}")


def with_backlog(description: str, backlog: int) -> str:
    """
    C{description} with C{backlog=N} added for the stream endpoints that
    take one (tcp, tcp6, ssl, unix), unless it names a backlog already.
    """
    kind = description.split(":", 1)[0]
    if kind not in ("tcp", "tcp6", "ssl", "unix") or "backlog=" in description:
        return description
    return f"{description}:backlog={backlog}"


def factory_settings(config: Any) -> Dict[str, Any]:
    """
    The plain values a factory is built from (also sent to workers).
    """
    return {
        "path": config["path"],
        "max_age": config["max-age"],
        "request_timeout": config["request-timeout"],
        "idle_timeout": config["idle-timeout"],
        "send_timeout": config["send-timeout"],
        "shutdown_timeout": config["shutdown-timeout"],
        "file_cache_seconds": config["file-cache-seconds"],
        "access_log": config["access-log"],
        "max_connections": config["max-connections"],
    }


class HTTPService(MultiService):
    """
    The listening services plus a graceful stop: first stop accepting,
    then let responses in flight finish (bounded by C{shutdown_timeout}),
    close idle connections, flush the access log.
    """

    def __init__(self, settings: Dict[str, Any], reactor: Any = None) -> None:
        MultiService.__init__(self)
        self.settings = settings
        self.reactor = default_reactor(reactor)
        self.factory: Optional[StaticFileFactory] = None
        self._close_log: Optional[Callable[[], None]] = None

    def build_factory(self) -> StaticFileFactory:
        settings = self.settings
        access_log = None
        if settings["access_log"] == "-":
            access_log = twisted_access_log(self.reactor)
            self._close_log = access_log.close
        elif settings["access_log"]:
            access_log, self._close_log = file_access_log(settings["access_log"], self.reactor)
        self.factory = StaticFileFactory(
            settings["path"],
            max_age=settings["max_age"],
            reactor=self.reactor,
            file_cache_seconds=settings["file_cache_seconds"],
            request_timeout=settings["request_timeout"],
            idle_timeout=settings["idle_timeout"],
            send_timeout=settings["send_timeout"],
            access_log=access_log,
            max_connections=settings.get("max_connections", DEFAULT_MAX_CONNECTIONS),
        )
        return self.factory

    def stopService(self) -> Deferred:
        stopped = MultiService.stopService(self)

        def drain(_: Any) -> Any:
            if self.factory is None:
                return None
            return self.factory.shutdown(self.settings["shutdown_timeout"])

        def close_log(result: Any) -> Any:
            if self._close_log is not None:
                self._close_log()
            log.info("netlab-http stopped")
            # A graceful stop is a normal end: exit 0, not "killed".
            graceful_exit(self.reactor)
            return result

        return stopped.addCallback(drain).addBoth(close_log)


class HTTPListeningService(StreamListeningService):
    """
    L{StreamListeningService} named netlab-http.  A failure to listen is
    one clear line and exit status 1 (see the base class).
    """

    def __init__(self, description: str, factory: Any, reactor: Any = None) -> None:
        StreamListeningService.__init__(self, "netlab-http", description, factory, reactor)


class _WorkerProcess(protocol.ProcessProtocol):
    """
    The parent's end of one worker: relays its output to our log and
    tells C{on_end} when it ended.
    """

    def __init__(self, number: int, on_end: Any) -> None:
        self.number = number
        self.ended: Deferred = Deferred()
        self._on_end = on_end
        self._partial = b""

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            log.info("worker {number}: {line}", number=self.number, line=line.decode("utf-8", "replace"))

    def processEnded(self, reason: Any) -> None:
        self._on_end(self, reason)
        self.ended.callback(None)


class WorkerParentService(HTTPListeningService):
    """
    Listen like L{StreamListeningService}, then start C{workers - 1} child
    processes that adopt the same listening socket, so the kernel spreads
    connections over all processes.  Children read their stdin from us:
    when we exit for any reason (even SIGKILL) it closes and they stop.
    A child that dies while we run is restarted after
    C{RESTART_DELAY} seconds, as nginx's master restarts its workers.
    """

    RESTART_DELAY = 1.0

    def __init__(self, description: str, factory: Any, workers: int, settings: Dict[str, Any], reactor: Any = None) -> None:
        HTTPListeningService.__init__(self, description, factory, reactor)
        self.workers = workers
        self.settings = settings
        self.children: Dict[int, Tuple[_WorkerProcess, Any]] = {}
        self._restarts: Dict[int, Any] = {}
        self._stopping = False
        self._payload = ""

    def startService(self) -> None:
        HTTPListeningService.startService(self)
        assert self._listening is not None
        self._listening.addCallback(self._spawn_all)

    def _spawn_all(self, port: Any) -> Any:
        if port is None:
            return port
        host = getattr(port.getHost(), "host", None)
        if host is None:
            family = socket.AF_UNIX
        else:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._payload = json.dumps({"settings": self.settings, "family": int(family)})
        for number in range(1, self.workers):
            self._spawn(number)
        log.info("netlab-http started {count} worker process(es)", count=self.workers - 1)
        return port

    def _spawn(self, number: int) -> None:
        self._restarts.pop(number, None)
        if self._stopping or self.port is None:
            return
        child = _WorkerProcess(number, self._child_ended)
        transport = default_reactor(self._reactor).spawnProcess(
            child,
            sys.executable,
            [sys.executable, "-m", "twisted_netlab.web.tap", self._payload],
            env=dict(os.environ),
            # A stream listening port (tcp.Port, unix.Port) is a file
            # descriptor, though IListeningPort does not say so.
            childFDs={0: "w", 1: "r", 2: "r", 3: cast(IFileDescriptor, self.port).fileno()},
        )
        self.children[number] = (child, transport)

    def _child_ended(self, child: _WorkerProcess, reason: Any) -> None:
        if self.children.get(child.number, (None,))[0] is child:
            del self.children[child.number]
        if not self._stopping:
            log.warn(
                "netlab-http worker {number} ended unexpectedly ({reason}); restarting in {delay} s",
                number=child.number,
                reason=reason.getErrorMessage(),
                delay=self.RESTART_DELAY,
            )
            self._restarts[child.number] = default_reactor(self._reactor).callLater(
                self.RESTART_DELAY, self._spawn, child.number
            )

    def stopService(self) -> Any:
        self._stopping = True
        for pending in self._restarts.values():
            if pending.active():
                pending.cancel()
        self._restarts.clear()
        children = list(self.children.values())
        stopped = maybeDeferred(StreamListeningService.stopService, self)
        reactor = default_reactor(self._reactor)
        grace = self.settings["shutdown_timeout"] + 5.0
        for _, transport in children:
            try:
                transport.closeStdin()  # the child's signal to stop gracefully
            except Exception:
                pass

        def kill_late(transport: Any) -> None:
            try:
                transport.signalProcess("KILL")
            except Exception:
                pass

        timers = [reactor.callLater(grace, kill_late, transport) for _, transport in children]

        def cancel(result: Any) -> Any:
            for timer in timers:
                if timer.active():
                    timer.cancel()
            return result

        ended = DeferredList([stopped] + [child.ended for child, _ in children])
        return ended.addBoth(cancel)


def makeService(config: Any) -> IService:
    settings = factory_settings(config)
    service = HTTPService(settings)
    factory = service.build_factory()
    for description in config["listen"]:
        description = with_backlog(description, config["backlog"])
        if config["workers"] > 1:
            WorkerParentService(description, factory, config["workers"], settings).setServiceParent(service)
        else:
            HTTPListeningService(description, factory).setServiceParent(service)
    collectors = [ServerCollector(factory)]
    if config["metrics"]:
        metrics_service("netlab-http-metrics", config["metrics"], collectors, ["http"]).setServiceParent(service)
    # netlab-all serves every family's collectors on its own --metrics.
    service.collectors = collectors  # type: ignore[attr-defined]
    service.factory = factory  # type: ignore[attr-defined]
    return service


class _ParentWatch(protocol.Protocol):
    """
    The worker's stdin: EOF means the parent wants us gone (or is gone).
    """

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor

    def connectionLost(self, reason: Any = None) -> None:
        if self.reactor.running:
            self.reactor.stop()


def worker_main(payload: str) -> None:
    """
    Body of one worker process: adopt fd 3, serve, stop gracefully when
    stdin closes or on SIGTERM/SIGINT.
    """
    from twisted.internet import reactor
    from twisted.internet.stdio import StandardIO
    from twisted.logger import FileLogObserver, formatEvent, globalLogBeginner

    message = json.loads(payload)
    # The parent prefixes and timestamps our lines in its own log.
    observer = FileLogObserver(sys.stdout, lambda event: (formatEvent(event) or "") + "\n")
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    service = HTTPService(message["settings"], reactor)
    factory = service.build_factory()
    # Stub gap: the global reactor is typed without IReactorSocket.
    port = reactor.adoptStreamPort(3, message["family"], factory)  # type: ignore[attr-defined]
    os.close(3)  # adoptStreamPort duplicated it
    # Stub gap: mypy sees the Windows StandardIO, without stdin/stdout.
    StandardIO(_ParentWatch(reactor), stdin=0, stdout=os.open(os.devnull, os.O_WRONLY), reactor=reactor)  # type: ignore[call-arg]

    def stop() -> Deferred:
        stopped = maybeDeferred(port.stopListening)
        return stopped.addCallback(lambda _: service.stopService())

    service.running = True
    reactor.addSystemEventTrigger("before", "shutdown", stop)
    log.info("serving on the inherited socket, pid {pid}", pid=os.getpid())
    reactor.run()


if __name__ == "__main__":
    worker_main(sys.argv[1])
