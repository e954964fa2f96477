"""The built-in heads' metrics over many bootstrap resamples at once: (R, n) item positions -> (R,).

The definitions are metrics.py's; these compute them for every resample in
one pass instead of calling `metrics` 10,000 times: per-resample confusion counts give accuracy
and F1 with sklearn's conventions (classes present in truth or prediction, zero_division=0,
weighted by true support, or by predicted support under compat "mult"); the sentiment bins and the
Acc2 targets are metrics.py's own functions. tests/plugins/heads/test_heads_resamples.py checks
every one against the head's `metrics` on resamples, ties and degenerate splits included.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np

from .metrics import Rounding, binary_targets, sentiment_classes

Resampled = Callable[[np.ndarray], np.ndarray]  # (R, n) item positions -> (R,) values


def confusion_counts(
    pred: np.ndarray, truth: np.ndarray, c: int, weight: np.ndarray | None = None
) -> np.ndarray:
    """pred, truth (R, n) ints in [0, c) -> (R, c, c) counts, rows truth; `weight` (R, n) 0/1 keeps items."""
    r = pred.shape[0]
    flat = (np.arange(r)[:, None] * (c * c) + truth * c + pred).ravel()
    w = None if weight is None else weight.ravel().astype(np.float64)
    return np.bincount(flat, weights=w, minlength=r * c * c).reshape(r, c, c)


def f1_from_counts(cm: np.ndarray, average: str, compat: str = "none") -> np.ndarray:
    """(R, c, c) -> (R,) F1 as sklearn's f1_score(average=..., zero_division=0) over present classes."""
    tp = np.diagonal(cm, axis1=1, axis2=2)
    t_sup, p_sup = cm.sum(axis=2), cm.sum(axis=1)
    denom = t_sup + p_sup
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(denom, dtype=np.float64), where=denom > 0)
    if average == "macro":
        present = denom > 0
        return (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    w = p_sup if compat == "mult" else t_sup  # MulT's f1_score(pred, truth) weights by predictions
    tot = w.sum(axis=1)
    return np.divide((f1 * w).sum(axis=1), tot, out=np.zeros(len(tot)), where=tot > 0)


def item_count(idx: np.ndarray) -> np.ndarray:
    return np.full(len(idx), float(idx.shape[1]))


def class_scorers(pred: np.ndarray, truth: np.ndarray, c: int, compat: str) -> dict[str, Resampled]:
    """accuracy, weighted_f1, macro_f1 of (n,) predicted and true class indices in [0, c)."""

    def f1(average: str) -> Resampled:
        return lambda idx: f1_from_counts(confusion_counts(pred[idx], truth[idx], c), average, compat)

    return {
        "accuracy": lambda idx: (pred[idx] == truth[idx]).mean(axis=1),
        "weighted_f1": f1("weighted"),
        "macro_f1": f1("macro"),
    }


def _pearson(pred: np.ndarray, truth: np.ndarray) -> Resampled:
    def corr(idx: np.ndarray) -> np.ndarray:
        p, t = pred[idx], truth[idx]
        p, t = p - p.mean(axis=1, keepdims=True), t - t.mean(axis=1, keepdims=True)
        den = np.sqrt((p * p).sum(axis=1) * (t * t).sum(axis=1))
        # NaN where a side is constant, as metrics.pearson
        return np.divide((p * t).sum(axis=1), den, out=np.full(len(den), np.nan), where=den > 0)

    return corr


def _binary(
    pred: np.ndarray, truth: np.ndarray, mode: Literal["has0", "non0"], compat: str
) -> dict[str, Resampled]:
    yt, yp, keep = binary_targets(pred, truth, mode)
    yt, yp, k = yt.astype(np.int64), yp.astype(np.int64), keep.astype(np.float64)

    def acc(idx: np.ndarray) -> np.ndarray:
        n = k[idx].sum(axis=1)
        hits = ((yp[idx] == yt[idx]) * k[idx]).sum(axis=1)
        return np.divide(hits, n, out=np.full(len(n), np.nan), where=n > 0)

    def f1(idx: np.ndarray) -> np.ndarray:
        n = k[idx].sum(axis=1)
        values = f1_from_counts(confusion_counts(yp[idx], yt[idx], 2, k[idx]), "weighted", compat)
        return np.where(n > 0, values, np.nan)

    return {f"acc2_{mode}": acc, f"f1_{mode}": f1}


def _binned(pred: np.ndarray, truth: np.ndarray, bound: int, rounding: Rounding) -> Resampled:
    pb, tb = sentiment_classes(pred, bound, rounding), sentiment_classes(truth, bound, rounding)
    return lambda idx: (pb[idx] == tb[idx]).mean(axis=1)


def regression_scorers(pred: np.ndarray, truth: np.ndarray, compat: str) -> dict[str, Resampled]:
    """Every metric of metrics.regression_metrics for (n,) float64 scores and labels."""
    err = np.abs(pred - truth)
    out: dict[str, Resampled] = {"mae": lambda idx: err[idx].mean(axis=1), "corr": _pearson(pred, truth)}
    out["acc7"], out["acc7_cmu"] = _binned(pred, truth, 3, "half_even"), _binned(pred, truth, 3, "cmu")
    out["acc5"], out["acc5_cmu"] = _binned(pred, truth, 2, "half_even"), _binned(pred, truth, 2, "cmu")
    out.update(_binary(pred, truth, "has0", compat))
    out.update(_binary(pred, truth, "non0", compat))
    return out


def mean_over(parts: Sequence[Mapping[str, Resampled]], names: Sequence[str]) -> dict[str, Resampled]:
    """Each of `names` averaged over several labels' scorers (multi-label heads' plain keys)."""

    def mean(name: str) -> Resampled:
        return lambda idx: np.mean([part[name](idx) for part in parts], axis=0)

    return {name: mean(name) for name in names}


def scores(
    scorers: Mapping[str, Resampled], index: np.ndarray, names: Sequence[str]
) -> dict[str, np.ndarray]:
    """{name: (R,) float64} of the scorers named (every name must be one of `scorers`)."""
    idx = np.asarray(index, dtype=np.int64)
    return {name: np.asarray(scorers[name](idx), dtype=np.float64) for name in names}
