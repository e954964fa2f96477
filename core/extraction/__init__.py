"""Feature extraction: dataset items -> frozen modality encoders -> feature store.

    from sseft.core.extraction import extract_items
    summary = extract_items(items, task, {"text": {"model": "minilm-offline"}}, "store/")

One process (`sseft extract`) or many (`accelerate launch ... -m sseft extract`); see `engine.py`.
Imports torch lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "extract_items": ".engine",
    "ExtractionSummary": ".engine",
    "run_batch": ".engine",
    "record_failure": ".engine",
    "extract_dataset": ".job",
    "resolve_dataset": ".job",
    "DistContext": ".distributed",
    "dist_context": ".distributed",
    "threads_per_process": ".distributed",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
