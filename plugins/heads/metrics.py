"""Evaluation metrics, as the SSE-FT paper and the CMU-MOSI protocol define them (each function says how); usable outside training.

Every function takes numpy arrays, torch tensors (any device/dtype) or nested lists, and works on a
WHOLE split at once (never average these per batch). scikit-learn does the counting where its
definitions match (accuracy_score, f1_score, confusion_matrix); it is imported inside the functions
so that importing this module stays cheap.

Sentiment conventions (MOSI/MOSEI, scores in [-3, 3]):
- `acc7` / `acc5`: clip to [-3, 3] / [-2, 2], then `numpy.round` (half to even: 0.5 -> 0, 1.5 -> 2,
  2.5 -> 2), as MulT and MMSA do.
- `acc7_cmu` / `acc5_cmu`: the CMU SDK binning, away from zero to the next integer: 0 -> 0,
  (0, 1] -> 1, (1, 2] -> 2, [-1, 0) -> -1, ..., then clipped to +-3 / +-2.
- `acc2_has0` / `f1_has0`: negative vs non-negative, (x >= 0), over every item.
- `acc2_non0` / `f1_non0`: items whose label is exactly 0 are dropped, then (x > 0).
- F1 is weighted F1 with sklearn's argument order (truth, prediction). `compat="mult"` swaps it to
  (prediction, truth) as MulT's code does (support weights then come from the predictions).

Degenerate splits (documented choices, never a crash):
- An empty split raises DataError.
- `corr` is NaN when either side is constant (or fewer than 2 items): Pearson's r is undefined
  there, and 0 would read as "uncorrelated". Model selection should not use `corr` on tiny splits.
- `acc2_non0` / `f1_non0` are NaN when every label is exactly 0 (nothing left after dropping).
- A single class present: accuracy and weighted F1 are computed over the classes that occur in
  truth or prediction (sklearn's default), with zero_division=0 (no warnings), e.g. all-positive
  truth and all-positive predictions give 1.0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from sseft.core.errors import DataError

Compat = Literal["none", "mult"]
Rounding = Literal["half_even", "cmu"]


# -- input handling ----------------------------------------------------------------------------
def to_numpy(x: Any) -> np.ndarray:
    """A numpy array from a numpy array, a torch tensor (any device, bf16 included) or a list."""
    if hasattr(x, "detach"):  # torch.Tensor, without importing torch here
        x = x.detach().cpu()
        # Only half precision is widened: bf16 has no numpy dtype and fp16 loses precision in sums.
        # float64 stays float64 (casting it down moves 2.5000001 onto the rounding boundary 2.5).
        if str(x.dtype) in ("torch.float16", "torch.bfloat16"):
            x = x.float()
        return x.numpy()
    return np.asarray(x)


def check_not_empty(n: int, what: str = "split") -> None:
    if n == 0:
        raise DataError(
            f"cannot compute metrics on an empty {what} (0 items); check that the split exists and has labelled items"
        )


def _pair(pred: Any, truth: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    p, t = to_numpy(pred), to_numpy(truth)
    if p.ndim == 0 or t.ndim == 0:
        raise DataError(f"{what}: expected arrays with one entry per item, got a scalar")
    check_not_empty(len(t))
    if len(p) != len(t):
        raise DataError(f"{what}: {len(p)} predictions but {len(t)} labels; pass one prediction per label")
    return p, t


def _f1(
    y_true: np.ndarray, y_pred: np.ndarray, average: str | None, compat: Compat, labels: Any = None
) -> Any:
    from sklearn.metrics import f1_score

    a, b = (y_pred, y_true) if compat == "mult" else (y_true, y_pred)
    return f1_score(a, b, average=average, labels=labels, zero_division=0)


def _compat_record(out: dict[str, Any], compat: Compat) -> dict[str, Any]:
    if compat == "mult":
        out["compat"] = "mult"  # results computed this way must say so
    return out


# -- sentiment binning -------------------------------------------------------------------------
def sentiment_classes(x: Any, bound: int = 3, rounding: Rounding = "half_even") -> np.ndarray:
    """Integer sentiment classes in [-bound, bound] (7 classes for bound 3, 5 for bound 2)."""
    v = to_numpy(x).astype(np.float64)
    if rounding == "half_even":
        # clip first, then round half to even, exactly as MulT/MMSA (np.clip + np.round)
        out = np.round(np.clip(v, -bound, bound))
    elif rounding == "cmu":
        # away from zero to the next integer: ceil(|x|) with the sign of x, then clip
        out = np.clip(np.sign(v) * np.ceil(np.abs(v)), -bound, bound)
    else:
        raise ValueError(f"unknown rounding {rounding!r}; use 'half_even' or 'cmu'")
    return out.astype(np.int64)


def multiclass_acc(pred_classes: Any, true_classes: Any) -> float:
    """Fraction of equal entries (MMSA's `__multiclass_acc` on already-binned values)."""
    p, t = _pair(pred_classes, true_classes, "multiclass_acc")
    return float(np.mean(p == t))


def sentiment_acc(pred: Any, truth: Any, bound: int = 3, rounding: Rounding = "half_even") -> float:
    """Acc7 (bound 3) or Acc5 (bound 2) under the given rounding convention."""
    p, t = _pair(pred, truth, "sentiment_acc")
    return multiclass_acc(sentiment_classes(p, bound, rounding), sentiment_classes(t, bound, rounding))


def pearson(pred: Any, truth: Any) -> float:
    """Pearson correlation; NaN (no warning) when either side is constant or n < 2."""
    p, t = _pair(pred, truth, "pearson")
    p, t = p.astype(np.float64).ravel(), t.astype(np.float64).ravel()
    if len(p) < 2 or np.all(p == p[0]) or np.all(t == t[0]):
        return math.nan
    return float(np.corrcoef(p, t)[0, 1])


def binary_sentiment(
    pred: Any, truth: Any, mode: Literal["has0", "non0"], compat: Compat = "none"
) -> tuple[float, float]:
    """(Acc2, weighted F1) for negative vs non-negative ("has0") or negative vs positive ("non0")."""
    p, t = _pair(pred, truth, "binary_sentiment")
    yt, yp, keep = binary_targets(p.astype(np.float64).ravel(), t.astype(np.float64).ravel(), mode)
    if not keep.any():  # non0 with every label exactly 0: nothing to score
        return math.nan, math.nan
    yt, yp = yt[keep], yp[keep]
    return float(np.mean(yt == yp)), float(_f1(yt, yp, "weighted", compat))


def binary_targets(
    pred: np.ndarray, truth: np.ndarray, mode: Literal["has0", "non0"]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(true class, predicted class, items scored) of Acc2: "has0" x >= 0 over every item, "non0"
    x > 0 over the items whose label is not exactly 0."""
    if mode == "has0":
        return truth >= 0, pred >= 0, np.ones(len(truth), dtype=bool)
    if mode == "non0":
        return truth > 0, pred > 0, truth != 0
    raise ValueError(f"unknown mode {mode!r}; use 'has0' or 'non0'")


def regression_metrics(predictions: Any, labels: Any, compat: Compat = "none") -> dict[str, Any]:
    """All sentiment metrics of one score column over a whole split (see the module docstring)."""
    p, t = _pair(predictions, labels, "regression_metrics")
    p, t = p.astype(np.float64).ravel(), t.astype(np.float64).ravel()
    if len(p) != len(t):
        raise DataError(f"regression_metrics: {len(p)} predictions but {len(t)} labels after flattening")
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise DataError(
            f"regression label at position {int(bad[0])} is {t[bad[0]]}; labels must be finite numbers"
        )
    acc2_has0, f1_has0 = binary_sentiment(p, t, "has0", compat)
    acc2_non0, f1_non0 = binary_sentiment(p, t, "non0", compat)
    out: dict[str, Any] = {
        "mae": float(np.mean(np.abs(p - t))),
        "corr": pearson(p, t),
        "acc7": sentiment_acc(p, t, 3, "half_even"),
        "acc7_cmu": sentiment_acc(p, t, 3, "cmu"),
        "acc5": sentiment_acc(p, t, 2, "half_even"),
        "acc5_cmu": sentiment_acc(p, t, 2, "cmu"),
        "acc2_has0": acc2_has0,
        "f1_has0": f1_has0,
        "acc2_non0": acc2_non0,
        "f1_non0": f1_non0,
        "n": len(t),
    }
    return _compat_record(out, compat)


# -- single-label and multi-label classification -----------------------------------------------
def class_indices(x: Any, what: str) -> np.ndarray:
    """(N,) indices from (N,) indices or (N, C) scores/logits (argmax)."""
    a = to_numpy(x)
    if a.ndim == 2:
        return a.argmax(axis=1)
    if a.ndim != 1:
        raise DataError(f"{what}: expected (N,) class indices or (N, C) logits, got shape {tuple(a.shape)}")
    return a.astype(np.int64)


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of exact matches (sklearn accuracy_score)."""
    from sklearn.metrics import accuracy_score

    p, t = _pair(y_pred, y_true, "accuracy")
    return float(accuracy_score(t, p))


def weighted_f1(y_true: Any, y_pred: Any, compat: Compat = "none") -> float:
    """Support-weighted F1 over the classes present in truth or prediction (sklearn average='weighted')."""
    p, t = _pair(y_pred, y_true, "weighted_f1")
    return float(_f1(t, p, "weighted", compat))


def macro_f1(y_true: Any, y_pred: Any, compat: Compat = "none") -> float:
    """Unweighted mean F1 over the classes present in truth or prediction (sklearn average='macro')."""
    p, t = _pair(y_pred, y_true, "macro_f1")
    return float(_f1(t, p, "macro", compat))


def classification_metrics(
    predictions: Any, labels: Any, label_names: Sequence[str], compat: Compat = "none"
) -> dict[str, Any]:
    """accuracy, weighted_f1, macro_f1, per_class_f1 {name: f1} and confusion_matrix for one
    single-label task. `predictions`: (N,) indices or (N, C) logits; `labels`: (N,) indices.

    confusion_matrix[i][j] counts items of true class i predicted as j, over all C classes.
    per_class_f1 lists every class; a class absent from both truth and predictions gets 0.0 there
    but, like sklearn's macro average, does not count in macro_f1.
    """
    from sklearn.metrics import confusion_matrix

    p, t = _pair(class_indices(predictions, "classification_metrics"), labels, "classification_metrics")
    t = t.astype(np.int64)
    c = len(label_names)
    per_class = _f1(t, p, None, compat, labels=list(range(c)))
    out: dict[str, Any] = {
        "accuracy": accuracy(t, p),
        "weighted_f1": weighted_f1(t, p, compat),
        "macro_f1": macro_f1(t, p, compat),
        "per_class_f1": {name: float(v) for name, v in zip(label_names, per_class, strict=True)},
        "confusion_matrix": confusion_matrix(t, p, labels=list(range(c))).tolist(),
        "n": len(t),
    }
    return _compat_record(out, compat)


def multilabel_metrics(
    predictions: Any, labels: Any, label_names: Sequence[str], compat: Compat = "none"
) -> dict[str, Any]:
    """Per label: binary accuracy and weighted F1 (as MulT/SSE-FT on IEMOCAP), and their means.

    `predictions`: (N, K, 2) logits (argmax of each label's two logits) or (N, K) 0/1;
    `labels`: (N, K) 0/1. Keys: accuracy, weighted_f1 (means over the K labels),
    per_label_accuracy {name: acc}, per_label_weighted_f1 {name: f1}, n.
    """
    a = to_numpy(predictions)
    p = a.argmax(axis=-1) if a.ndim == 3 else a
    p, t = _pair(p, labels, "multilabel_metrics")
    k = len(label_names)
    if p.ndim != 2 or t.ndim != 2 or p.shape[1] != k or t.shape[1] != k:
        raise DataError(
            f"multilabel_metrics: expected predictions (N, {k}[, 2]) and labels (N, {k}) for labels "
            f"{list(label_names)}, got {tuple(a.shape)} and {tuple(t.shape)}"
        )
    t = t.astype(np.int64)
    accs = {name: accuracy(t[:, i], p[:, i]) for i, name in enumerate(label_names)}
    f1s = {name: weighted_f1(t[:, i], p[:, i], compat) for i, name in enumerate(label_names)}
    out: dict[str, Any] = {
        "accuracy": float(np.mean(list(accs.values()))),
        "weighted_f1": float(np.mean(list(f1s.values()))),
        "per_label_accuracy": accs,
        "per_label_weighted_f1": f1s,
        "n": len(t),
    }
    return _compat_record(out, compat)
