"""Lazy package attributes: the one helper every `__init__.py` uses to export names without
importing their (heavy) modules until first use.

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"train": ".trainer", ...})
    __getattr__, __dir__, __all__ = lazy_exports(__name__, {".trainer": ("train", "TrainResult")})

The table maps an exported name to its module (a string value), or a module to the names it
exports (a tuple value); both spellings may be mixed.

A name the package already defines itself (a constant, a light class imported at the top) goes in
`eager`, so that `__all__` and `dir()` list it too. Type checkers do not follow `__getattr__`: a
package that wants its lazy names typed imports them under `if TYPE_CHECKING:` as well.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def lazy_exports(
    package: str, names: Mapping[str, str | tuple[str, ...]], eager: Iterable[str] = ()
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """`(__getattr__, __dir__, __all__)` for `package`: `names` maps an exported name to the
    module that defines it, or a module to a tuple of its exported names (modules relative to
    `package` or absolute); a module is imported on first access only. `eager` names are defined
    by the package already and are only listed."""
    table: dict[str, str] = {}
    for key, value in names.items():
        if isinstance(value, str):
            table[key] = value
        else:
            table.update(dict.fromkeys(value, key))
    exported = sorted({*table, *eager})

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name], package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        # The module's own dunders (__name__, __version__ ...) and every exported name.
        own = vars(sys.modules[package]) if package in sys.modules else {}
        return sorted({*(n for n in own if n.startswith("__")), *exported})

    return __getattr__, __dir__, exported
