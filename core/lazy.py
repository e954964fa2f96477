"""Lazy package attributes: the one helper every `__init__.py` uses to export names without
importing their (heavy) modules until first use.

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"train": ".trainer", ...})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`(__getattr__, __dir__, __all__)` for `package`: `names` maps an exported name to the
    relative module that defines it; the module is imported on first access only."""
    table = dict(names)

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(table)

    return __getattr__, __dir__, sorted(table)
