# -*- test-case-name: tests.test_tap -*-
"""
``twistd netlab-all``: every netlab server on its default loopback
address in one process, for README command 1 and for classrooms.
"""

from __future__ import annotations

import importlib
from typing import Any, List, Tuple

from twisted.application.service import IService, MultiService
from twisted.python import usage

#: (family tap module, arguments it gets); a family is added here when its
#: tap module lands.
FAMILIES: List[Tuple[str, List[str]]] = [
    ("twisted_netlab.web.tap", []),
    # Maildir and generated certificate under $XDG_DATA_HOME/netlab/mailsink
    # (or ~/.local/share/netlab/mailsink): no files needed beforehand.
    ("twisted_netlab.mail.tap", ["--listen", "tcp:2525:interface=127.0.0.1", "--status", "tcp:8025:interface=127.0.0.1"]),
]


class Options(usage.Options):
    synopsis = "[--http ENDPOINT]"
    longdesc = "Run netlab-http with the bundled site and the other netlab services, on 127.0.0.1."
    optParameters = [
        ["http", None, "tcp:8080:interface=127.0.0.1", "Endpoint for netlab-http."],
    ]


def makeService(config: Any) -> IService:
    service = MultiService()
    for module_name, argv in FAMILIES:
        module = importlib.import_module(module_name)
        options = module.Options()
        if module_name == "twisted_netlab.web.tap":
            argv = argv + ["--listen", config["http"]]
        options.parseOptions(argv)
        module.makeService(options).setServiceParent(service)
    return service
