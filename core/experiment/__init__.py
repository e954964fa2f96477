"""Experiments: the one place that runs one (runner.py), over presets x folds x seeds (plan.py),
with its summary and reports (report.py, tables.py) and the published model (publish.py).

    from sseft.core.experiment import ExperimentOptions, run_experiment
    result = run_experiment(cfg, options=ExperimentOptions(seeds=[0, 1, 2]))

The names are imported lazily, so importing the package stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy
    from .plan import parse_seeds as parse_seeds
    from .runner import ExperimentOptions as ExperimentOptions
    from .runner import ExperimentResult as ExperimentResult
    from .runner import run_best_over_seeds as run_best_over_seeds
    from .runner import run_experiment as run_experiment

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "ExperimentOptions": ".runner",
        "ExperimentResult": ".runner",
        "run_experiment": ".runner",
        "run_best_over_seeds": ".runner",
        "parse_seeds": ".plan",
    },
)
