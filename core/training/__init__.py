"""Training, evaluation and ablations with HuggingFace Accelerate (docs/python-api.md).

    from sseft.core.training import ExperimentConfig as ExperimentConfig, train as train, evaluate_model as evaluate_model

The names are imported lazily, so importing a submodule (the config models) stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy
    from .config import DataConfig as DataConfig
    from .config import ExperimentConfig as ExperimentConfig
    from .config import TrainConfig as TrainConfig
    from .experiment import load_experiment as load_experiment
    from .run_eval import evaluate_model as evaluate_model
    from .state import TrainResult as TrainResult
    from .trainer import train as train

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ExperimentConfig": ".config",
        "DataConfig": ".config",
        "TrainConfig": ".config",
        "load_experiment": ".experiment",
        "train": ".trainer",
        "TrainResult": ".state",
        "evaluate_model": ".run_eval",
    },
)
