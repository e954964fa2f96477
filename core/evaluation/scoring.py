"""Metrics of many bootstrap resamples at once: (R, n) item indices -> (R,) values.

The paired bootstrap recomputes a metric 10,000 times per model; calling the head's `metrics` that
often takes minutes, so the built-in heads' metrics are computed here vectorised from per-resample
confusion counts, with exactly the head's definitions (sklearn's F1 conventions: classes present in
truth or prediction, weighted by true support, or by predicted support under compat "mult").
tests/evaluation/test_scoring.py checks each against the head's own `metrics` on resamples.
Any other head or metric falls back to calling `head.metrics` once per resample.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .stats import Scorer

CLASS_METRICS = ("accuracy", "weighted_f1", "macro_f1")
MULTILABEL_METRICS = ("accuracy", "weighted_f1")
REGRESSION_FAST = ("mae", "corr", "acc7", "acc7_cmu", "acc5", "acc5_cmu", "acc2_has0", "f1_has0",
                   "acc2_non0", "f1_non0")  # fmt: skip


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


def class_metric(pred: np.ndarray, truth: np.ndarray, c: int, metric: str, compat: str) -> Scorer:
    """Scorer of accuracy / weighted_f1 / macro_f1 for (n,) predicted and true class indices."""

    def score(idx: np.ndarray) -> np.ndarray:
        p, t = pred[idx], truth[idx]
        if metric == "accuracy":
            return (p == t).mean(axis=1)
        return f1_from_counts(
            confusion_counts(p, t, c), "weighted" if metric == "weighted_f1" else "macro", compat
        )

    return score


def _sentiment_bins(x: np.ndarray, bound: int, rounding: str) -> np.ndarray:
    if rounding == "half_even":
        return np.round(np.clip(x, -bound, bound)).astype(np.int64)
    return np.clip(np.sign(x) * np.ceil(np.abs(x)), -bound, bound).astype(np.int64)


def regression_metric(pred: np.ndarray, truth: np.ndarray, metric: str, compat: str) -> Scorer:
    """Scorer of one of the regression head's metrics for (n,) scores and (n,) labels."""
    if metric in ("acc7", "acc7_cmu", "acc5", "acc5_cmu"):
        bound = 3 if metric.startswith("acc7") else 2
        rounding = "cmu" if metric.endswith("_cmu") else "half_even"
        pb, tb = _sentiment_bins(pred, bound, rounding), _sentiment_bins(truth, bound, rounding)
        return lambda idx: (pb[idx] == tb[idx]).mean(axis=1)
    if metric == "mae":
        err = np.abs(pred - truth)
        return lambda idx: err[idx].mean(axis=1)
    if metric == "corr":

        def corr(idx: np.ndarray) -> np.ndarray:
            p, t = pred[idx], truth[idx]
            p, t = p - p.mean(axis=1, keepdims=True), t - t.mean(axis=1, keepdims=True)
            den = np.sqrt((p * p).sum(axis=1) * (t * t).sum(axis=1))
            return np.divide((p * t).sum(axis=1), den, out=np.full(len(den), np.nan), where=den > 0)

        return corr
    has0 = metric.endswith("has0")
    yt = (truth >= 0 if has0 else truth > 0).astype(np.int64)
    yp = (pred >= 0 if has0 else pred > 0).astype(np.int64)
    keep = np.ones(len(truth)) if has0 else (truth != 0).astype(np.float64)

    def binary(idx: np.ndarray) -> np.ndarray:
        k = keep[idx]
        n = k.sum(axis=1)
        if metric.startswith("acc2"):
            hits = ((yp[idx] == yt[idx]) * k).sum(axis=1)
            return np.divide(hits, n, out=np.full(len(n), np.nan), where=n > 0)
        f1 = f1_from_counts(confusion_counts(yp[idx], yt[idx], 2, k), "weighted", compat)
        return np.where(n > 0, f1, np.nan)

    return binary


def make_scorer(head: Any, metric: str, outputs: np.ndarray, truth: np.ndarray) -> Scorer:
    """The scorer of `metric` for one run's test outputs (N, ...) and truth (N, ...) under `head`."""
    task = getattr(head, "task", "")
    compat = str(getattr(head, "compat", "none"))
    if truth.dtype.kind in "US" and hasattr(head, "label_names"):  # labels stored as class names
        index = {str(n): k for k, n in enumerate(head.label_names)}
        truth = np.vectorize(index.__getitem__, otypes=[np.int64])(truth)
    if task == "multiclass" and metric in CLASS_METRICS and outputs.ndim == 2:
        return class_metric(outputs.argmax(axis=1), truth.reshape(-1).astype(np.int64), outputs.shape[1],
                            metric, compat)  # fmt: skip
    if task == "multilabel" and metric in MULTILABEL_METRICS and outputs.ndim == 3:
        pred, t = outputs.argmax(axis=-1), truth.astype(np.int64)
        per_label = [class_metric(pred[:, k], t[:, k], 2, metric, compat) for k in range(t.shape[1])]
        return lambda idx: np.mean([f(idx) for f in per_label], axis=0)
    if task == "regression" and metric in REGRESSION_FAST and outputs.reshape(len(outputs), -1).shape[1] == 1:
        return regression_metric(outputs.reshape(-1).astype(np.float64), truth.reshape(-1).astype(np.float64),
                                 metric, compat)  # fmt: skip
    return generic_scorer(head, metric, outputs, truth)


def generic_scorer(head: Any, metric: str, outputs: np.ndarray, truth: np.ndarray) -> Scorer:
    """`head.metrics` once per resample (any head, any scalar metric; slow for 10,000 resamples)."""
    import torch

    out_t, truth_t = torch.as_tensor(outputs), torch.as_tensor(truth)

    def score(idx: np.ndarray) -> np.ndarray:
        vals = []
        for row in idx:
            sel = torch.as_tensor(row)
            vals.append(float(head.metrics(out_t[sel], truth_t[sel])[metric]))
        return np.asarray(vals)

    return score
