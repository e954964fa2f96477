"""Single-label classification head (MELD emotion or sentiment; any one-of-C task).

outputs: (B, C) logits. Loss: cross-entropy with optional class weights and label smoothing.
Metrics: accuracy, weighted_f1, macro_f1, per_class_f1 {name: f1}, confusion_matrix (C x C,
rows = truth, columns = prediction), n.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sseft.core.errors import ConfigError, DataError

from .common import ProbabilityHead, first_bad, position
from .configs import MulticlassConfig
from .metrics import class_indices, classification_metrics
from .resample import Resampled, class_scorers


class MulticlassHead(ProbabilityHead):
    task = "multiclass"
    label_dtype = torch.long
    metric_names = ("accuracy", "weighted_f1", "macro_f1", "per_class_f1", "confusion_matrix", "n")
    summary_metrics = ("weighted_f1", "accuracy", "macro_f1")
    class_weights: torch.Tensor | None  # (C,) buffer, or None

    def __init__(self, in_dim: int, label_names: Sequence[str], config: MulticlassConfig) -> None:
        if len(label_names) < 2:
            raise ConfigError(f"head multiclass needs at least 2 label names, got {list(label_names)}")
        super().__init__(in_dim, label_names, config, out_dim=len(label_names))
        self.config: MulticlassConfig
        w = config.class_weights
        if w is not None and (len(w) != len(label_names) or not any(x > 0 for x in w)):
            raise ConfigError(
                f"head.config.class_weights: expected {len(label_names)} weights >= 0 (not all 0), one per label "
                f"{list(label_names)}, got {w}"
            )
        # Not persistent: the weights come from the config, so artifacts hold only the layers.
        weight = torch.tensor(w, dtype=torch.float32) if w is not None else None
        self.register_buffer("class_weights", weight, persistent=False)

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """fused (B, D) -> logits (B, C)."""
        return self.project(fused)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """outputs (B, C) logits, labels (B,) class indices -> scalar mean cross-entropy (float32)."""
        return F.cross_entropy(
            outputs.float(),
            labels.to(outputs.device).reshape(-1).long(),
            weight=self.class_weights,
            label_smoothing=self.config.label_smoothing,
        )

    def predict(self, outputs: torch.Tensor) -> dict[str, Any]:
        """{"label": names, "index": ints, "probabilities": (B, C) softmax}."""
        probs = torch.softmax(outputs.detach().float(), dim=-1)
        idx = probs.argmax(dim=-1).tolist()
        return {
            "label": [self.label_names[i] for i in idx],
            "index": idx,
            "probabilities": probs.cpu().tolist(),
        }

    def collate_labels(self, labels: Sequence[Any]) -> torch.Tensor:
        """Class indices (or class names, as some prediction files hold them) of a batch -> (B,) long."""
        if any(isinstance(v, str) for v in labels):
            index = {n: k for k, n in enumerate(self.label_names)}
            unknown = next((v for v in labels if isinstance(v, str) and v not in index), None)
            if unknown is not None:
                raise DataError(
                    f"multiclass label {unknown!r} is not one of the classes {list(self.label_names)}"
                )
            labels = [index[v] if isinstance(v, str) else v for v in labels]
        return super().collate_labels(labels).reshape(-1)

    # -- records: {"id", "label": class name, "probabilities": {name: p}} ---------------------------
    def predicted_fields(self, pred: dict[str, Any], b: int) -> dict[str, Any]:
        return {"label": pred["label"][b]}

    def prediction_cell(self, record: dict[str, Any]) -> str:
        return str(record["label"])

    def is_predicted(self, record: dict[str, Any], name: str) -> bool:
        return bool(name == record["label"])

    def describe(self, record: dict[str, Any]) -> str:
        return f"{record['label']} (p={record['probabilities'].get(record['label'], 0.0):.2f})"

    def report(self, outputs: Any, labels: Any, out_dir: Path) -> list[Path]:
        """confusion_matrix.png (rows: truth, columns: prediction)."""
        from .plots import plot_confusion

        cm = self.metrics(outputs, labels)["confusion_matrix"]
        return [plot_confusion(cm, self.label_names, Path(out_dir) / "confusion_matrix.png")]

    def validate_labels(self, labels: Any) -> None:
        """Integer class indices in [0, C), shape (N,) (or (N, 1))."""
        a = self._labels_numpy(labels)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        if a.ndim != 1:
            raise DataError(f"multiclass labels have shape {tuple(a.shape)}; expected (N,) class indices")
        c = self.num_labels
        af = a.astype(np.float64)
        bad = first_bad(~np.isfinite(af) | (af != np.round(af)) | (af < 0) | (af >= c))
        if bad is not None:
            v = a[bad].item()
            names = ", ".join(f"{i}={n}" for i, n in enumerate(self.label_names))
            raise DataError(
                f"multiclass label of {position(bad)} is {v!r}: not a class index for {c} classes ({names})"
            )

    def metrics(self, outputs: Any, labels: Any) -> dict[str, Any]:
        """Every metric over a whole split; outputs (N, C) logits (or (N,) indices), labels (N,)."""
        out, lab = self._metric_outputs(outputs, labels)
        if out.ndim == 2 and out.shape[1] != self.num_labels:
            raise DataError(f"multiclass outputs have {out.shape[1]} columns; expected {self.num_labels}")
        return classification_metrics(out, lab.reshape(-1), self.label_names, self.compat)

    def resample_scorers(self, outputs: np.ndarray, labels: np.ndarray) -> dict[str, Resampled]:
        """accuracy, weighted_f1 and macro_f1 of the argmax."""
        pred = class_indices(outputs, "multiclass outputs")
        if (outputs.ndim == 2 and outputs.shape[1] != self.num_labels) or not np.isin(
            pred, range(self.num_labels)
        ).all():
            return {}  # `metrics` names the problem
        return class_scorers(pred, labels.reshape(-1).astype(np.int64), self.num_labels, self.compat)
