"""Regression head (CMU-MOSI/MOSEI sentiment in [-3, 3]; any K real-valued labels).

outputs: (B, K) floats, K = number of label names (1 for sentiment). Loss: L1 (MulT/MMSA) or MSE.
Metrics (defined in metrics.py): mae, corr, acc7, acc7_cmu, acc5, acc5_cmu,
acc2_has0, f1_has0, acc2_non0, f1_non0, n. With K > 1 the plain keys are means over the labels
and `<metric>/<label name>` holds each label's own value.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sseft.core.errors import DataError
from sseft.core.head import aligned

from .common import BaseHead, first_bad, position
from .configs import REGRESSION_METRICS, RegressionConfig
from .metrics import regression_metrics, sentiment_classes, to_numpy
from .resample import Resampled, mean_over, regression_scorers


class RegressionHead(BaseHead):
    task = "regression"
    label_dtype = torch.float32
    summary_metrics = ("mae", "corr", "acc7", "acc2_non0", "f1_non0")

    def __init__(self, in_dim: int, label_names: Sequence[str], config: RegressionConfig) -> None:
        super().__init__(in_dim, label_names, config, out_dim=len(label_names))
        self.config: RegressionConfig
        names = [*REGRESSION_METRICS, "n"]
        if self.num_labels > 1:
            names += [f"{m}/{label}" for label in self.label_names for m in REGRESSION_METRICS]
        self.metric_names = tuple(names)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """fused (B, D) -> scores (B, K)."""
        return self.project(fused)

    def _as_2d(self, labels: torch.Tensor) -> torch.Tensor:
        # (B,) labels of a single-label task -> (B, 1)
        return labels.reshape(labels.shape[0], -1).to(torch.float32)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """outputs (B, K), labels (B,) or (B, K) -> scalar mean loss (computed in float32)."""
        target = self._as_2d(labels.to(outputs.device))
        pred = outputs.float()
        if target.shape != pred.shape:  # never let (B, 1) vs (B, K) broadcast silently
            raise DataError(
                f"regression labels of shape {tuple(labels.shape)} do not match outputs {tuple(outputs.shape)} "
                f"for labels {list(self.label_names)}"
            )
        if self.config.loss == "mse":
            return F.mse_loss(pred, target)
        return F.l1_loss(pred, target)

    def predict(self, outputs: torch.Tensor) -> dict[str, Any]:
        """{"score": scores, "acc7_class": half-to-even 7-class bins}; (B,) lists for K = 1, (B, K) otherwise."""
        s = to_numpy(outputs).astype(np.float64).reshape(len(outputs), -1)  # (B, K)
        cls = sentiment_classes(s, 3, "half_even")
        if self.num_labels == 1:
            return {"score": s[:, 0].tolist(), "acc7_class": cls[:, 0].tolist()}
        return {"score": s.tolist(), "acc7_class": cls.tolist()}

    # -- records: {"id", "label", "scores": {name: s}, "acc7": {name: class}} (+ score, acc7_class) --
    def records(self, outputs: torch.Tensor, ids: Sequence[str]) -> list[dict[str, Any]]:
        """`label` is the score (a list of scores for several label names); a single label name also
        gets `score` and `acc7_class`."""
        pred = self.predict(outputs)
        out = []
        for b, i in enumerate(ids):
            s, c = pred["score"][b], pred["acc7_class"][b]
            s, c = (s, c) if isinstance(s, list) else ([s], [c])
            rec: dict[str, Any] = {
                "id": str(i),
                "label": float(s[0]) if self.num_labels == 1 else [float(x) for x in s],
                "scores": {n: float(x) for n, x in zip(self.label_names, s, strict=True)},
                "acc7": {n: int(x) for n, x in zip(self.label_names, c, strict=True)},
            }
            if self.num_labels == 1:
                rec["score"], rec["acc7_class"] = float(s[0]), int(c[0])
            out.append(rec)
        return out

    def csv_columns(self) -> list[str]:
        return ["prediction", *(c for n in self.label_names for c in (f"score_{n}", f"acc7_{n}"))]

    def csv_row(self, record: dict[str, Any]) -> dict[str, Any]:
        sc, a7 = record["scores"], record["acc7"]
        row: dict[str, Any] = {"prediction": ";".join(f"{sc[n]:.6f}" for n in self.label_names)}
        for n in self.label_names:
            row[f"score_{n}"], row[f"acc7_{n}"] = f"{sc[n]:.6f}", a7[n]
        return row

    def describe(self, record: dict[str, Any]) -> str:
        sc, a7 = record["scores"], record["acc7"]
        return ", ".join(
            f"{'' if len(sc) == 1 else n + ' '}score {s:+.3f} (Acc7 class {a7[n]:+d})" for n, s in sc.items()
        )

    def table(self, record: dict[str, Any]) -> str:
        rows = [(n, f"{s:+.4f}", f"{record['acc7'][n]:+d}") for n, s in record["scores"].items()]
        return aligned([("label", "score", "Acc7 class"), *rows])

    def report(self, outputs: Any, labels: Any, out_dir: Path) -> list[Path]:
        """scatter.png: predicted against true score per label name."""
        from .plots import plot_scatter

        out, lab = self._metric_outputs(outputs, labels)
        n = len(lab)
        return [
            plot_scatter(
                out.reshape(n, -1), lab.reshape(n, -1), self.label_names, Path(out_dir) / "scatter.png"
            )
        ]

    def validate_labels(self, labels: Any) -> None:
        """Finite numbers, shape (B,) or (B, 1) for one label name, (B, K) for K."""
        a = self._labels_numpy(labels).astype(np.float64)
        k = self.num_labels
        ok_shape = a.ndim == 2 and a.shape[1] == k or (k == 1 and a.ndim == 1)
        if not ok_shape:
            raise DataError(
                f"regression labels have shape {tuple(a.shape)}; expected (N,{' ' + str(k) if k > 1 else ''}) "
                f"for labels {list(self.label_names)}"
            )
        bad = first_bad(~np.isfinite(a))
        if bad is not None:
            raise DataError(
                f"regression label of {position(bad)} is {a[bad].item()}; labels must be finite numbers"
            )

    def metrics(self, outputs: Any, labels: Any) -> dict[str, Any]:
        """Every metric over a whole split; outputs (N, K) or (N,), labels (N,) or (N, K)."""
        out, lab = self._metric_outputs(outputs, labels)
        n = len(lab)
        out, lab = out.reshape(n, -1), lab.reshape(n, -1)
        if out.shape[1] != self.num_labels:
            raise DataError(f"regression outputs have {out.shape[1]} columns; expected {self.num_labels}")
        per = [regression_metrics(out[:, i], lab[:, i], self.compat) for i in range(self.num_labels)]
        if self.num_labels == 1:
            return per[0]
        res: dict[str, Any] = {m: float(np.mean([p[m] for p in per])) for m in REGRESSION_METRICS}
        res["n"] = n
        for label, p in zip(self.label_names, per, strict=True):
            res.update({f"{m}/{label}": p[m] for m in REGRESSION_METRICS})
        if self.compat == "mult":
            res["compat"] = "mult"
        return res

    def resample_scorers(self, outputs: np.ndarray, labels: np.ndarray) -> dict[str, Resampled]:
        """Every metric of `metrics`: per label, and for several labels their means."""
        n = len(labels)
        out, lab = outputs.astype(np.float64).reshape(n, -1), labels.astype(np.float64).reshape(n, -1)
        if out.shape[1] != self.num_labels or lab.shape[1] != self.num_labels:
            return {}  # `metrics` names the mismatch
        per = [regression_scorers(out[:, i], lab[:, i], self.compat) for i in range(self.num_labels)]
        if self.num_labels == 1:
            return per[0]
        found = mean_over(per, REGRESSION_METRICS)
        for label, part in zip(self.label_names, per, strict=True):
            found.update({f"{m}/{label}": part[m] for m in REGRESSION_METRICS})
        return found
