"""Paired bootstrap over items of the difference of two models' curve areas (FORMATS.md "Paired
comparison"): resample the item indices with replacement (the same resamples for both models and
every level), recompute each level's metric for A and for B, take the trapezoid areas' difference.

The head's metric is recomputed for every resample and level. For the common metrics (accuracy,
weighted/macro F1 of a single-label head; MAE and Pearson correlation of a regression head) a
vectorised version computes all resamples at once; it is used only after it reproduced the head's
own value on the full item set at every level (else, and for any other metric, the head's
`metrics` is called per resample).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .evaluate import Scorer
from .summary import trapezoid

CHUNK = 256  # resamples per vectorised step (bounds the (chunk, N) index arrays)


def _classification(
    outputs: torch.Tensor, labels: np.ndarray, metric: str, c: int
) -> Callable[[np.ndarray], np.ndarray] | None:
    if metric not in ("accuracy", "weighted_f1", "macro_f1") or outputs.ndim != 2 or outputs.shape[1] != c:
        return None
    p = outputs.argmax(dim=-1).numpy().astype(np.int64)
    t = labels.astype(np.int64).reshape(-1)

    def fn(idx: np.ndarray) -> np.ndarray:
        b, n = idx.shape
        flat = (np.arange(b)[:, None] * c * c + t[idx] * c + p[idx]).ravel()
        cm = np.bincount(flat, minlength=b * c * c).reshape(b, c, c).astype(np.float64)
        tp = np.einsum("bii->bi", cm)
        support, predicted = cm.sum(axis=2), cm.sum(axis=1)
        if metric == "accuracy":
            return tp.sum(axis=1) / n
        denom = support + predicted
        f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
        if metric == "weighted_f1":
            return (f1 * support).sum(axis=1) / n
        present = denom > 0
        return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)

    return fn


def _regression(
    outputs: torch.Tensor, labels: np.ndarray, metric: str
) -> Callable[[np.ndarray], np.ndarray] | None:
    if metric not in ("mae", "corr"):
        return None
    p = outputs.double().numpy().reshape(-1)
    t = labels.astype(np.float64).reshape(-1)
    if len(p) != len(t):
        return None

    def fn(idx: np.ndarray) -> np.ndarray:
        pb, tb = p[idx], t[idx]
        if metric == "mae":
            return np.abs(pb - tb).mean(axis=1)
        pc, tc = pb - pb.mean(axis=1, keepdims=True), tb - tb.mean(axis=1, keepdims=True)
        den = np.sqrt((pc * pc).sum(axis=1) * (tc * tc).sum(axis=1))
        return np.divide((pc * tc).sum(axis=1), den, out=np.zeros(len(idx)), where=den > 0)

    return fn


def level_scorer(scorer: Scorer, outputs: torch.Tensor) -> Callable[[np.ndarray], np.ndarray]:
    """(B, N) resample indices -> (B,) metric values of `outputs` (one level of one model)."""
    labels = scorer.labels.numpy()
    c = len(getattr(scorer.model, "label_names", []) or [])
    fast = _classification(outputs, labels, scorer.metric, c) or _regression(outputs, labels, scorer.metric)
    if fast is not None:
        full = fast(np.arange(len(outputs))[None, :])[0]
        if abs(float(full) - scorer(outputs)) <= 1e-9:
            return fast

    def slow(idx: np.ndarray) -> np.ndarray:
        return np.array([scorer(outputs, torch.from_numpy(row)) for row in idx])

    return slow


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
