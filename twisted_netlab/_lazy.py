# -*- test-case-name: tests.test_lazy -*-
"""
Lazy public names for the family packages (PEP 562): a family's
``__init__`` re-exports its Twisted adapters without importing them, so
importing a pure ``_core`` never loads the reactor machinery.
"""

from __future__ import annotations

import importlib
from typing import Any, Callable, List, Mapping, Tuple


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> Tuple[Callable[[str], Any], Callable[[], List[str]]]:
    """
    Build a package's module-level C{__getattr__} and C{__dir__} from
    C{exports}, a map of public name to the module that defines it; the
    module is imported on first use of one of its names.
    """

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(module), name)

    def __dir__() -> List[str]:
        return sorted(set(exports) | set(vars(importlib.import_module(package))))

    return __getattr__, __dir__
