"""Dialogue context: the config switch (config.py), the per-item context inputs taken from the
feature store or a live conversation (table.py), and the stream the model attends to (stream.py).

`ContextConfig` imports without torch (listings and cards describe a model with it); the rest is
imported on first use."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .config import ContextConfig as ContextConfig

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .table import ContextInputs, ContextTable, pool_turn  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__, {".table": ("ContextInputs", "ContextTable", "pool_turn")}, eager=("ContextConfig",)
)
