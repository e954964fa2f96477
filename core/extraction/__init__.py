"""Feature extraction: dataset items -> frozen modality encoders -> feature store.

    from sseft.core.extraction import extract_items as extract_items
    summary = extract_items(items, task, {"text": {"model": "minilm-offline"}}, "store/")

One process (`sseft extract`) or many (`accelerate launch ... -m sseft extract`); see `engine.py`.
Imports torch lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .distributed import DistContext, dist_context, threads_per_process  # noqa: F401
    from .engine import ExtractionSummary, extract_items, record_failure, run_batch  # noqa: F401
    from .job import extract_dataset, resolve_dataset  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        ".engine": ("extract_items", "ExtractionSummary", "run_batch", "record_failure"),
        ".job": ("extract_dataset", "resolve_dataset"),
        ".distributed": ("DistContext", "dist_context", "threads_per_process"),
    },
)
