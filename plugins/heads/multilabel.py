"""Multi-label head, each label a 2-way softmax (IEMOCAP 4 emotions as MulT/SSE-FT; MOSEI 6
emotions present/absent).

outputs: (B, K, 2) logits (index 1 = present). Loss: cross-entropy over the B*K two-way
decisions (MulT's CrossEntropyLoss on outputs.view(-1, 2)). Metrics: per label, binary accuracy
and weighted F1 of the argmax of its two logits, and their means over the labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from sseft.core.errors import DataError

from .common import ProbabilityHead, first_bad, position
from .configs import MultilabelConfig
from .metrics import multilabel_metrics
from .resample import Resampled, class_scorers, mean_over


class MultilabelBinaryHead(ProbabilityHead):
    task = "multilabel"
    label_dtype = torch.long
    metric_names = ("accuracy", "weighted_f1", "per_label_accuracy", "per_label_weighted_f1", "n")
    summary_metrics = ("weighted_f1", "accuracy")

    def __init__(self, in_dim: int, label_names: Sequence[str], config: MultilabelConfig) -> None:
        super().__init__(in_dim, label_names, config, out_dim=2 * len(label_names))
        self.config: MultilabelConfig

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        """fused (B, D) -> logits (B, K, 2)."""
        return self.project(fused).view(fused.shape[0], self.num_labels, 2)

    def loss(self, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """outputs (B, K, 2), labels (B, K) 0/1 -> scalar mean cross-entropy over the B*K decisions."""
        return F.cross_entropy(
            outputs.float().reshape(-1, 2),
            labels.to(outputs.device).reshape(-1).long(),
            label_smoothing=self.config.label_smoothing,
        )

    def predict(self, outputs: torch.Tensor) -> dict[str, Any]:
        """{"present": (B, K) 0/1, "labels": names present per item, "probabilities": (B, K) P(present)}."""
        probs = torch.softmax(outputs.detach().float(), dim=-1)[..., 1].cpu()  # (B, K)
        present = (outputs.detach().argmax(dim=-1)).cpu().tolist()  # argmax, as the metrics use
        return {
            "present": present,
            "labels": [[n for n, v in zip(self.label_names, row, strict=True) if v] for row in present],
            "probabilities": probs.tolist(),
        }

    def collate_labels(self, labels: Sequence[Any]) -> torch.Tensor:
        """0/1 vectors of a batch -> (B, K) long."""
        return super().collate_labels(labels).reshape(len(labels), self.num_labels)

    # -- records: {"id", "label": names present, "labels": the same, "probabilities": {name: P}} ----
    probability_header = "P(present)"

    def predicted_fields(self, pred: dict[str, Any], b: int) -> dict[str, Any]:
        return {"label": list(pred["labels"][b]), "labels": list(pred["labels"][b])}

    def prediction_cell(self, record: dict[str, Any]) -> str:
        return ";".join(record["labels"])

    def is_predicted(self, record: dict[str, Any], name: str) -> bool:
        return name in record["labels"]

    def describe(self, record: dict[str, Any]) -> str:
        return "labels: " + (", ".join(record["labels"]) or "(none)")

    def report(self, outputs: Any, labels: Any, out_dir: Path) -> list[Path]:
        """confusion_matrices.png: an absent/present 2 x 2 matrix per label."""
        from sklearn.metrics import confusion_matrix

        from .metrics import to_numpy
        from .plots import plot_binary_confusions

        out, lab = self._metric_outputs(outputs, labels)
        pred = to_numpy(out).argmax(axis=-1) if out.ndim == 3 else out
        cms = [
            confusion_matrix(lab[:, k], pred[:, k], labels=[0, 1]).tolist() for k in range(self.num_labels)
        ]
        return [plot_binary_confusions(cms, self.label_names, Path(out_dir) / "confusion_matrices.png")]

    def validate_labels(self, labels: Any) -> None:
        """Shape (N, K) with every value 0 or 1."""
        a = self._labels_numpy(labels)
        k = self.num_labels
        if a.ndim != 2 or a.shape[1] != k:
            raise DataError(
                f"multilabel labels have shape {tuple(a.shape)}; expected (N, {k}) 0/1 values for "
                f"labels {list(self.label_names)}"
            )
        af = a.astype(np.float64)
        bad = first_bad((af != 0) & (af != 1))
        if bad is not None:
            name = self.label_names[bad[1]]
            raise DataError(
                f"multilabel label of {position(bad)} ({name!r}) is {a[bad].item()!r}; values must be 0 or 1"
            )

    def metrics(self, outputs: Any, labels: Any) -> dict[str, Any]:
        """Every metric over a whole split; outputs (N, K, 2) logits (or (N, K) 0/1), labels (N, K)."""
        out, lab = self._metric_outputs(outputs, labels)
        return multilabel_metrics(out, lab, self.label_names, self.compat)

    def resample_scorers(self, outputs: np.ndarray, labels: np.ndarray) -> dict[str, Resampled]:
        """accuracy and weighted_f1: each label's over the argmax of its two logits, averaged."""
        pred = outputs.argmax(axis=-1) if outputs.ndim == 3 else outputs
        truth = labels.astype(np.int64)
        per = [class_scorers(pred[:, k].astype(np.int64), truth[:, k], 2, self.compat)
               for k in range(self.num_labels)]  # fmt: skip
        return mean_over(per, ("accuracy", "weighted_f1"))
