"""What every built-in head shares: the authors' layers, label checks, metric bookkeeping.

A built head is an nn.Module with everything task-shaped (see core/protocols.py HeadModule):
forward(fused) -> outputs, validate_labels / collate_labels of the store's plain JSON labels,
loss(outputs, labels), predict(outputs) -> dict of plain lists, records(outputs, ids) -> one
prediction record per item, csv_columns / csv_row / describe / table of a record, metrics over a
whole split, report (pictures) and summary (one line) of a split's results, primary_metric,
greater_is_better, metric_names. `label_dtype` stays for callers that predate `collate_labels`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from sseft.core.errors import ConfigError, DataError
from sseft.core.head import HeadDefaults, aligned

from .configs import LOWER_IS_BETTER, HeadConfig
from .metrics import check_not_empty, to_numpy
from .resample import Resampled, item_count, scores


class BaseHead(nn.Module, HeadDefaults):
    """dropout -> Linear(D, H) -> tanh -> dropout -> Linear(H, out_dim) (fairseq's
    RobertaClassificationHead, which the SSE-FT authors used), with H = config.hidden_dim or D."""

    task: str = ""
    label_dtype: torch.dtype = torch.float32
    metric_names: tuple[str, ...] = ()
    summary_metrics: tuple[str, ...] = ()  # shown by `summary` after the primary metric

    def __init__(self, in_dim: int, label_names: Sequence[str], config: HeadConfig, out_dim: int) -> None:
        super().__init__()
        if in_dim < 1:
            raise ConfigError(f"head {self.task}: input width must be >= 1, got {in_dim}")
        if not label_names:
            raise ConfigError(f"head {self.task}: needs at least one label name")
        self.in_dim = int(in_dim)
        self.label_names: tuple[str, ...] = tuple(str(n) for n in label_names)
        self.config = config
        self.compat = config.compat
        hidden = config.hidden_dim or self.in_dim
        self.dropout = nn.Dropout(config.dropout)
        self.dense = nn.Linear(self.in_dim, hidden)
        self.out_proj = nn.Linear(hidden, out_dim)
        self._init_weights()

    def _init_weights(self) -> None:
        # BERT-style init as in the authors' fairseq code: N(0, 0.02) weights, zero biases.
        for lin in (self.dense, self.out_proj):
            nn.init.normal_(lin.weight, mean=0.0, std=0.02)
            nn.init.zeros_(lin.bias)

    def project(self, fused: torch.Tensor) -> torch.Tensor:
        """fused (B, D) -> (B, out_dim)."""
        if fused.dim() != 2 or fused.shape[-1] != self.in_dim:
            raise ValueError(
                f"head {self.task}: expected fused input (B, {self.in_dim}), got {tuple(fused.shape)}"
            )
        x = self.dropout(fused)
        x = torch.tanh(self.dense(x))  # (B, H)
        x = self.dropout(x)
        return self.out_proj(x)  # (B, out_dim)

    # -- model selection -------------------------------------------------------------------------
    @property
    def primary_metric(self) -> str:
        return str(self.config.primary_metric)  # type: ignore[attr-defined]

    @property
    def greater_is_better(self) -> bool:
        return self.primary_metric not in LOWER_IS_BETTER

    # -- helpers for subclasses ------------------------------------------------------------------
    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def _labels_numpy(self, labels: Any) -> np.ndarray:
        try:
            a = to_numpy(labels)
        except (TypeError, ValueError) as e:  # ragged lists and the like
            raise DataError(f"head {self.task}: labels are not a rectangular array of numbers: {e}") from None
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise DataError(f"head {self.task}: labels must be numbers, got dtype {a.dtype}")
        if a.ndim == 0:
            raise DataError(f"head {self.task}: expected one label per item, got a scalar")
        check_not_empty(len(a))
        return a

    def _metric_outputs(self, outputs: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        """Both as numpy, labels validated, one output per label."""
        self.validate_labels(labels)
        out, lab = to_numpy(outputs), self._labels_numpy(labels)
        if len(out) != len(lab):
            raise DataError(
                f"head {self.task}: {len(out)} outputs but {len(lab)} labels; gather both over the split"
            )
        return out, lab

    def validate_labels(self, labels: Any) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def collate_labels(self, labels: Sequence[Any]) -> torch.Tensor:
        """A batch's plain JSON labels -> a `label_dtype` tensor, (B,) or (B, K)."""
        try:
            return torch.as_tensor(np.asarray(list(labels), dtype=np.float64)).to(self.label_dtype)
        except (TypeError, ValueError) as e:
            raise DataError(
                f"head {self.task}: labels of a batch are not numbers of one shape: {e}"
            ) from None

    def greater_is_better_for(self, metric: str) -> bool:
        """Larger is better except for LOWER_IS_BETTER metrics (also per label: 'mae/valence') and the loss."""
        return metric.split("/")[0] not in LOWER_IS_BETTER and metric != "loss"

    def resample_scorers(self, outputs: np.ndarray, labels: np.ndarray) -> dict[str, Resampled]:
        """This head's metrics over many resamples at once (resample.py), from validated numpy
        outputs and labels of the whole split; each subclass lists every scalar metric it reports."""
        return {}

    def score_resamples(
        self, outputs: Any, labels: Any, index: Any, names: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """{metric: (R,) values} for the (R, n) item positions `index` (see core/head.py); a name
        the head has no vectorised form of goes through `metrics` once per resample."""
        out, lab = self._metric_outputs(outputs, labels)
        fast = {**self.resample_scorers(out, lab), "n": item_count}
        wanted = list(names) if names is not None else list(fast)
        found = scores(fast, index, [n for n in wanted if n in fast])
        slow = [n for n in wanted if n not in fast]
        if slow:
            found.update(HeadDefaults.score_resamples(self, outputs, labels, index, slow))
        return {n: found[n] for n in wanted}

    def summary(self, metrics: dict[str, Any]) -> str:
        """'weighted_f1 0.6123  accuracy 0.6400  macro_f1 0.5012  (n=1280)'."""
        names = [self.primary_metric] + [m for m in self.summary_metrics if m != self.primary_metric]
        parts = [f"{m} {fmt_metric(metrics[m])}" for m in names if m in metrics]
        n = metrics.get("n_items", metrics.get("n"))
        return "  ".join(parts) + (f"  (n={n})" if n is not None else "")

    def extra_repr(self) -> str:
        return f"task={self.task}, labels={list(self.label_names)}, compat={self.compat}"


class ProbabilityHead(BaseHead):
    """A head with a probability per label name (multiclass, multilabel): a record is {"id", the
    predicted label(s), "probabilities": {name: p}}; the CSV has "prediction" and a "prob_<name>"
    column per label; the table a row per label with its probability, the predicted ones starred."""

    probability_header = "probability"  # the table's title of the probability column

    def predicted_fields(self, pred: dict[str, Any], b: int) -> dict[str, Any]:  # pragma: no cover
        """The record fields of item `b` of `predict()` naming what was predicted."""
        raise NotImplementedError

    def prediction_cell(self, record: dict[str, Any]) -> str:  # pragma: no cover
        raise NotImplementedError

    def is_predicted(self, record: dict[str, Any], name: str) -> bool:  # pragma: no cover
        raise NotImplementedError

    def records(self, outputs: torch.Tensor, ids: Sequence[str]) -> list[dict[str, Any]]:
        pred = self.predict(outputs)
        return [
            {
                "id": str(i),
                **self.predicted_fields(pred, b),
                "probabilities": probabilities(self.label_names, pred["probabilities"][b]),
            }
            for b, i in enumerate(ids)
        ]

    def csv_columns(self) -> list[str]:
        return ["prediction", *(f"prob_{n}" for n in self.label_names)]

    def csv_row(self, record: dict[str, Any]) -> dict[str, Any]:
        probs = record["probabilities"]
        return {
            "prediction": self.prediction_cell(record),
            **{f"prob_{n}": f"{probs[n]:.6f}" for n in self.label_names},
        }

    def table(self, record: dict[str, Any]) -> str:
        rows = [
            (n, f"{p:.4f}", "*" if self.is_predicted(record, n) else "")
            for n, p in record["probabilities"].items()
        ]
        return aligned([("label", self.probability_header, "predicted"), *rows])


def fmt_metric(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    return str(v) if isinstance(v, int) else ("nan" if v != v else f"{v:.4f}")


def probabilities(names: Sequence[str], values: Sequence[float]) -> dict[str, float]:
    return {n: float(x) for n, x in zip(names, values, strict=True)}


def first_bad(mask: np.ndarray) -> tuple[int, ...] | None:
    """Index (as a tuple) of the first True in `mask`, or None."""
    idx = np.argwhere(mask)
    return tuple(int(i) for i in idx[0]) if len(idx) else None


def position(idx: tuple[int, ...]) -> str:
    """'item 3' or 'item 3, label 1' for error messages."""
    return f"item {idx[0]}" + (f", label {idx[1]}" if len(idx) > 1 else "")
