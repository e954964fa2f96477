"""Training, evaluation and ablations with HuggingFace Accelerate (docs/python-api.md).

    from sseft.core.training import ExperimentConfig, train, evaluate_model

The names are imported lazily, so importing a submodule (the config models) stays light.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "ExperimentConfig": ".config",
    "DataConfig": ".config",
    "TrainConfig": ".config",
    "load_experiment": ".experiment",
    "train": ".trainer",
    "TrainResult": ".state",
    "evaluate_model": ".run_eval",
}
__all__ = list(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
