# -*- test-case-name: tests.web.test_tap -*-
"""
twistd glue for ``twistd netlab-http``: L{Options} and L{makeService}.
"""

from __future__ import annotations

import os
from typing import Any

from twisted.application.service import IService, MultiService
from twisted.python import usage

from twisted_netlab._endpoints import StreamListeningService
from twisted_netlab.web.server import StaticFileFactory, default_site


class Options(usage.Options):
    synopsis = "[--listen ENDPOINT]... [--path DIR]"
    longdesc = (
        "Serve the files below DIR over HTTP/1.1 (GET, HEAD, OPTIONS). "
        "Without --path, serves the small site bundled with netlab."
    )
    optParameters = [
        ["path", "p", None, "Folder to serve (default: the bundled site)."],
        ["max-age", None, None, "Send Cache-Control: max-age=N instead of no-cache.", int],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []

    def opt_listen(self, endpoint: str) -> None:
        """
        Endpoint to listen on, e.g. tcp:8080 or
        ssl:8443:privateKey=key.pem:certKey=cert.pem (repeatable;
        default tcp:8080:interface=127.0.0.1).
        """
        self["listen"].append(endpoint)

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = ["tcp:8080:interface=127.0.0.1"]
        if self["path"] is None:
            self["path"] = default_site()
        if not os.path.isdir(self["path"]):
            raise usage.UsageError(f"--path {self['path']!r} is not a folder")
        if self["max-age"] is not None and self["max-age"] < 0:
            raise usage.UsageError("--max-age must be >= 0")


def makeService(config: Any) -> IService:
    factory = StaticFileFactory(config["path"], max_age=config["max-age"])
    service = MultiService()
    for description in config["listen"]:
        StreamListeningService("netlab-http", description, factory).setServiceParent(service)
    return service
