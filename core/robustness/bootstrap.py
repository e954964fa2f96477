"""Paired bootstrap over items of the difference of two models' curve areas (docs/robustness.md "Paired
comparison"): resample the item indices with replacement (the same resamples for both models and
every level), recompute each level's metric for A and for B, take the trapezoid areas' difference.

Each model's head recomputes its metric for every resample and level (`score_resamples`,
core/head.py): the built-in heads do all resamples at once, any other head may, and by default its
`metrics` is called once per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from ..head import resample_scorer
from .evaluate import Scorer
from .summary import trapezoid

CHUNK = 256  # resamples per step (bounds the (chunk, N) index arrays)


def level_scorer(scorer: Scorer, outputs: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """(B, N) resample indices -> (B,) metric values of `outputs` (one level of one model)."""
    return resample_scorer(scorer.head, scorer.metric, outputs, scorer.labels)


def paired_bootstrap_area(
    outputs_a: Sequence[torch.Tensor],
    outputs_b: Sequence[torch.Tensor],
    scorer_a: Scorer,
    scorer_b: Scorer,
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Observed area difference A - B, the mean over resamples, the 2.5-97.5 percentile interval
    and the share of resamples with difference <= 0 (a one-sided p-value for A > B)."""
    n = len(outputs_a[0])
    fa = [level_scorer(scorer_a, o) for o in outputs_a]
    fb = [level_scorer(scorer_b, o) for o in outputs_b]
    observed = trapezoid([scorer_a(o) for o in outputs_a]) - trapezoid([scorer_b(o) for o in outputs_b])
    g = np.random.default_rng(int(seed))
    diffs = np.empty(n_boot)
    step_a, step_b = 1.0 / len(outputs_a), 1.0 / len(outputs_b)
    for k in range(0, n_boot, CHUNK):
        idx = g.integers(0, n, (min(CHUNK, n_boot - k), n))
        va = np.stack([f(idx) for f in fa], axis=1)  # (B, levels)
        vb = np.stack([f(idx) for f in fb], axis=1)
        area_a = (step_a * (va[:, :-1] + va[:, 1:]) / 2).sum(axis=1)
        area_b = (step_b * (vb[:, :-1] + vb[:, 1:]) / 2).sum(axis=1)
        diffs[k : k + len(idx)] = area_a - area_b
    lo, hi = np.percentile(diffs, [2.5, 97.5]) if n_boot else (float("nan"), float("nan"))
    return {
        "observed": float(observed),
        "mean": float(diffs.mean()) if n_boot else float("nan"),
        "ci95": [float(lo), float(hi)],
        "p_le_0": float((diffs <= 0).mean()) if n_boot else float("nan"),
        "n_boot": int(n_boot),
        "seed": int(seed),
    }


def compare_curves(
    outputs_a: Mapping[str, Mapping[str, Sequence[torch.Tensor]]],
    outputs_b: Mapping[str, Mapping[str, Sequence[torch.Tensor]]],
    scorer_a: Scorer,
    scorer_b: Scorer,
    *,
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """The paired bootstrap of A - B for every kind and target both models have curves for."""
    out: dict[str, Any] = {}
    for kind, per_target in outputs_a.items():
        for target, outs in per_target.items():
            other = outputs_b.get(kind, {}).get(target)
            if other is not None:
                out.setdefault(kind, {})[target] = paired_bootstrap_area(
                    outs, other, scorer_a, scorer_b, n_boot=n_boot, seed=seed
                )
    return out
