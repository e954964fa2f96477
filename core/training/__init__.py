"""Training, evaluation and ablations with HuggingFace Accelerate (docs/python-api.md).

    from sseft.core.training import ExperimentConfig as ExperimentConfig, train as train, evaluate_model as evaluate_model

The names are imported lazily, so importing a submodule (the config models) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .config import DataConfig, ExperimentConfig, TrainConfig  # noqa: F401
    from .experiment import load_experiment  # noqa: F401
    from .run_eval import evaluate_model  # noqa: F401
    from .state import TrainResult  # noqa: F401
    from .trainer import train  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        ".config": ("ExperimentConfig", "DataConfig", "TrainConfig"),
        ".experiment": ("load_experiment",),
        ".trainer": ("train",),
        ".state": ("TrainResult",),
        ".run_eval": ("evaluate_model",),
    },
)
