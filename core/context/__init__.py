"""Dialogue context: the config switch (config.py), the per-item context inputs taken from the
feature store or a live conversation (table.py), and the stream the model attends to (stream.py)."""

from .config import ContextConfig
from .table import ContextInputs, ContextTable, pool_turn

__all__ = ["ContextConfig", "ContextInputs", "ContextTable", "pool_turn"]
