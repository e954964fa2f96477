"""Feature extraction: dataset items -> frozen modality encoders -> feature store.

    from sseft.core.extraction import extract_items as extract_items
    summary = extract_items(items, task, {"text": {"model": "minilm-offline"}}, "store/")

One process (`sseft extract`) or many (`accelerate launch ... -m sseft extract`); see `engine.py`.
Imports torch lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy
    from .distributed import DistContext as DistContext
    from .distributed import dist_context as dist_context
    from .distributed import threads_per_process as threads_per_process
    from .engine import ExtractionSummary as ExtractionSummary
    from .engine import extract_items as extract_items
    from .engine import record_failure as record_failure
    from .engine import run_batch as run_batch
    from .job import extract_dataset as extract_dataset
    from .job import resolve_dataset as resolve_dataset

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "extract_items": ".engine",
        "ExtractionSummary": ".engine",
        "run_batch": ".engine",
        "record_failure": ".engine",
        "extract_dataset": ".job",
        "resolve_dataset": ".job",
        "DistContext": ".distributed",
        "dist_context": ".distributed",
        "threads_per_process": ".distributed",
    },
)
