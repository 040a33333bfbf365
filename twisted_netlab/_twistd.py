# -*- test-case-name: tests.test_plugins -*-
"""
The start-up layer between twistd and each family's ``tap`` module (used by
``twisted/plugins/netlab.py``): netlab's ``--version`` and ``-h``, one-line
usage errors with exit status 2, and listening before twistd daemonizes so
that a taken port is reported by the launching command, not lost in a log.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Type

from twisted.application.service import IService, MultiService
from twisted.python import usage

from twisted_netlab._options import print_version

USAGE_ERROR = 2


def plugin_options(tapname: str, base: Type[usage.Options]) -> Type[usage.Options]:
    """
    C{base} (a family tap's Options) as twistd's sub-command C{tapname}:
    a usage error prints one line and C{Try 'twistd TAPNAME --help'} on
    stderr and exits 2 (twistd itself prints the whole help, then the
    error, and exits 1); C{--version} names netlab and Twisted; C{-h} is
    C{--help}.
    """

    def parseOptions(self: usage.Options, options: Any = None) -> None:
        try:
            base.parseOptions(self, options)
        except usage.UsageError as error:
            sys.stderr.write(
                f"twistd {tapname}: error: {error}\nTry 'twistd {tapname} --help' for more information.\n"
            )
            sys.stderr.flush()
            raise SystemExit(USAGE_ERROR)

    def opt_version(self: usage.Options) -> None:
        """
        Print netlab's version and Twisted's, and exit.
        """
        print_version(tapname)

    namespace = {"parseOptions": parseOptions, "opt_version": opt_version, "__module__": base.__module__}
    if not hasattr(base, "opt_h") and not any(
        len(entry) > 1 and entry[1] == "h" for entry in getattr(base, "optParameters", []) + getattr(base, "optFlags", [])
    ):
        namespace["opt_h"] = usage.Options.opt_help
    return type(base.__name__, (base,), namespace)


class StartupFailed(Exception):
    """
    A service could not start in a daemon.  twistd reports an L{Exception}
    from starting services to the waiting launcher (which then exits 1 and
    removes the pid file); a L{SystemExit} there would leave the launcher
    waiting for ever.
    """


class DaemonSafeService(MultiService):
    """
    The root of a daemonized netlab service: turn a L{SystemExit} raised
    while starting into L{StartupFailed}.  L{bind_early} already reports
    listening failures from the launcher; this is the net under anything
    else.
    """

    def startService(self) -> None:
        try:
            MultiService.startService(self)
        except SystemExit as reason:
            raise StartupFailed(str(reason)) from None


def make_service(module_name: str, options: Any) -> IService:
    """
    Build the service of the tap C{module_name} and bind its listeners
    now, in the process that twistd will fork into a daemon: a taken port
    or a missing key file is then one line on the launcher's stderr, exit
    status 1, and no pid file (twistd writes it after forking).
    """
    from twisted_netlab._listening import bind_early

    service = importlib.import_module(module_name).makeService(options)
    bind_early(service)
    parent = getattr(options, "parent", None)
    daemonizing = parent is not None and not parent.get("nodaemon", True)  # type: ignore[union-attr]
    if not daemonizing:
        return service
    root = DaemonSafeService()
    service.setServiceParent(root)
    return root


__all__ = ["DaemonSafeService", "StartupFailed", "make_service", "plugin_options"]
