"""What a prediction looks like to users: a `Prediction` per item, as text, a dict (JSON) or a CSV row.

A `Prediction` is built from the head's own `predict()` output for one item, whatever the task:

* multiclass: `label` and `probabilities` (softmax over `label_names`);
* regression: `scores` per label name and the Acc7 class of each (`acc7`, rounded and clipped to
  [-3, 3] as the CMU-MOSI/MOSEI metrics do); `score` / `acc7_class` for the usual single label;
* multilabel: `labels` (the names predicted present) and `probabilities` (P(present) per label).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Prediction:
    """One item's prediction, plus which modalities it was made from."""

    task: str
    label_names: list[str]
    label: str | None = None
    probabilities: dict[str, float] = field(default_factory=dict)
    labels: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)
    acc7: dict[str, int] = field(default_factory=dict)
    modalities_used: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    id: str | None = None

    @property
    def score(self) -> float | None:
        """The regression score of the first (usually only) label name."""
        return self.scores.get(self.label_names[0]) if self.scores else None

    @property
    def acc7_class(self) -> int | None:
        return self.acc7.get(self.label_names[0]) if self.acc7 else None

    def summary(self) -> str:
        """One short line: 'joy (p=0.61)', 'score 1.24 (Acc7 class 1)', 'labels: happy, sad'."""
        if self.task == "multiclass":
            return f"{self.label} (p={self.probabilities.get(self.label or '', 0.0):.2f})"
        if self.task == "regression":
            return ", ".join(
                f"{'' if len(self.scores) == 1 else n + ' '}score {s:+.3f} (Acc7 class {self.acc7[n]:+d})"
                for n, s in self.scores.items()
            )
        return "labels: " + (", ".join(self.labels) or "(none)")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data; only the fields meaningful for the task."""
        d = asdict(self)
        keep = {"multiclass": ("label", "probabilities"), "regression": ("scores", "acc7"),
                "multilabel": ("labels", "probabilities")}[self.task]  # fmt: skip
        for k in ("label", "probabilities", "labels", "scores", "acc7"):
            if k not in keep:
                d.pop(k)
        if self.task == "regression" and len(self.label_names) == 1:
            d["score"], d["acc7_class"] = self.score, self.acc7_class
        return d

    def table(self) -> str:
        """A small aligned table of the per-label numbers."""
        if self.task == "regression":
            rows = [(n, f"{s:+.4f}", f"{self.acc7[n]:+d}") for n, s in self.scores.items()]
            head = ("label", "score", "Acc7 class")
        else:
            rows = [
                (n, f"{p:.4f}", "*" if (n == self.label or n in self.labels) else "")
                for n, p in self.probabilities.items()
            ]
            head = ("label", "P(present)" if self.task == "multilabel" else "probability", "predicted")
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(3)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        return "\n".join(fmt.format(*r).rstrip() for r in [head, *rows])

    def csv_row(self) -> dict[str, Any]:
        """Flat columns for batch output (see `csv_columns`)."""
        row: dict[str, Any] = {"id": self.id or "", "prediction": self.summary_value()}
        if self.task == "regression":
            for n in self.label_names:
                row[f"score_{n}"] = f"{self.scores[n]:.6f}"
                row[f"acc7_{n}"] = self.acc7[n]
        else:
            for n in self.label_names:
                row[f"prob_{n}"] = f"{self.probabilities[n]:.6f}"
        row["modalities_used"] = ";".join(self.modalities_used)
        row["missing"] = ";".join(self.missing)
        return row

    def summary_value(self) -> str:
        """The 'prediction' column: class name, score, or ';'-joined present labels."""
        if self.task == "multiclass":
            return self.label or ""
        if self.task == "regression":
            return ";".join(f"{self.scores[n]:.6f}" for n in self.label_names)
        return ";".join(self.labels)


def csv_columns(task: str, label_names: list[str]) -> list[str]:
    """Header of a batch prediction CSV for a model with this task and these labels."""
    cols = ["id", "prediction"]
    if task == "regression":
        for n in label_names:
            cols += [f"score_{n}", f"acc7_{n}"]
    else:
        cols += [f"prob_{n}" for n in label_names]
    return [*cols, "modalities_used", "missing"]


def from_head_output(
    task: str, label_names: list[str], pred: dict[str, Any], b: int, **extra: Any
) -> Prediction:
    """Item `b` of a head's `predict()` dict -> Prediction."""
    p = Prediction(task=task, label_names=list(label_names), **extra)
    if task == "multiclass":
        p.label = pred["label"][b]
        p.probabilities = {n: float(x) for n, x in zip(label_names, pred["probabilities"][b], strict=True)}
    elif task == "regression":
        s, c = pred["score"][b], pred["acc7_class"][b]
        s, c = (s, c) if isinstance(s, list) else ([s], [c])
        p.scores = {n: float(x) for n, x in zip(label_names, s, strict=True)}
        p.acc7 = {n: int(x) for n, x in zip(label_names, c, strict=True)}
    else:
        p.labels = list(pred["labels"][b])
        p.probabilities = {n: float(x) for n, x in zip(label_names, pred["probabilities"][b], strict=True)}
    return p
