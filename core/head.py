"""The task seam: what core asks of a built head, with defaults that fit any task.

Core moves tensors and plain JSON; everything task-shaped belongs to the head (see
`protocols.HeadModule`). `HeadDefaults` gives a head the parts it does not care to customise:
every label accepted, labels collated with `torch.as_tensor`, one record per item cut from
`predict()`, a CSV with the label and the rest of the record as JSON, no pictures, a one-line
summary from the primary metric. The built-in heads (plugins/heads/common.py) override them all.

A head that does not inherit from `HeadDefaults` still works: `method(head, name)` falls back to
these defaults for any method it lacks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .files import to_plain

if TYPE_CHECKING:
    import torch

# Columns of a prediction CSV that core adds around the head's own (`csv_columns`).
LEADING_COLUMNS = ("id",)
TRAILING_COLUMNS = ("modalities_used", "missing")


def cell(value: Any) -> str:
    """One CSV/table cell: strings as they are, numbers compactly, anything else as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6f}"
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ";".join(value)
    return json.dumps(to_plain(value, unknown=str), ensure_ascii=False, sort_keys=True)


def aligned(rows: Sequence[Sequence[str]]) -> str:
    """Rows of cells as left-aligned columns (the first row is the header)."""
    if not rows:
        return ""
    n = max(len(r) for r in rows)
    rows = [list(r) + [""] * (n - len(r)) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(n)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in rows)


class HeadDefaults:
    """Task-agnostic defaults of the head methods core calls (mix into an nn.Module subclass).

    A subclass sets `task` (a free-form task type), `label_names` and `primary_metric`, and
    implements `forward`, `loss`, `predict` and `metrics`.
    """

    task: str = ""
    label_names: Sequence[str] = ()
    # primary_metric and greater_is_better are the subclass's (attributes or properties).

    def validate_labels(self, labels: Sequence[Any]) -> None:
        """Accept every label (a head that can check its labels should)."""

    def collate_labels(self, labels: Sequence[Any]) -> torch.Tensor:
        """Plain JSON labels of a batch -> the tensor `loss` takes."""
        import torch

        return torch.as_tensor(list(labels))

    def predict(self, outputs: Any) -> dict[str, list[Any]]:  # pragma: no cover - every head has one
        raise NotImplementedError

    def records(self, outputs: Any, ids: Sequence[str]) -> list[dict[str, Any]]:
        """One record per item: {"id", **item b of every `predict()` field}."""
        pred = self.predict(outputs)
        return [{"id": str(i), **{k: to_plain(v[b]) for k, v in pred.items()}} for b, i in enumerate(ids)]

    def csv_columns(self) -> list[str]:
        """The head's columns of a prediction CSV (core adds id first, modalities last)."""
        return ["prediction", "record"]

    def csv_row(self, record: dict[str, Any]) -> dict[str, Any]:
        """One record -> the cells of `csv_columns()`."""
        rest = {k: v for k, v in record.items() if k not in ("id", "label")}
        return {"prediction": cell(record.get("label", "")), "record": cell(rest)}

    def describe(self, record: dict[str, Any]) -> str:
        """One short line for a person: the predicted label."""
        return cell(record.get("label", ""))

    def table(self, record: dict[str, Any]) -> str:
        """The record's fields, one per line."""
        return aligned([("field", "value")] + [(k, cell(v)) for k, v in record.items() if k != "id"])

    def report(self, outputs: Any, labels: Any, out_dir: Path) -> list[Path]:
        """Pictures of a split's results written under `out_dir` (none by default)."""
        return []

    def greater_is_better_for(self, metric: str) -> bool:
        """Whether a larger `metric` is better: `greater_is_better` for the primary metric; for any
        other, larger unless it is the loss (a head with more lower-is-better metrics says so)."""
        if metric == str(getattr(self, "primary_metric", "")):
            return bool(getattr(self, "greater_is_better", True))
        return metric != "loss"

    def score_resamples(
        self, outputs: Any, labels: Any, index: Any, names: Sequence[str] | None = None
    ) -> dict[str, Any]:
        """Scalar metrics of many resamples of one split at once (the paired bootstraps).

        `outputs` (N, ...) and collated `labels` (N, ...) of the whole split, `index` an (R, n)
        integer array of item positions (one resample per row) -> {metric: (R,) float64 array}
        for `names` (None: every number `metrics` reports). This default calls `metrics` once
        per resample; a head that can compute all resamples at once should (10,000 resamples).
        """
        import numpy as np

        rows = np.asarray(index, dtype=np.int64)
        found: dict[str, Any] = {}
        for r, row in enumerate(rows):
            values = self.metrics(outputs[row], labels[row])  # type: ignore[attr-defined]
            wanted = list(names) if names is not None else [k for k, v in values.items() if is_number(v)]
            for name in wanted:
                found.setdefault(name, np.full(len(rows), np.nan))[r] = metric_value(
                    values, name, "head metrics"
                )
        return {name: found.get(name, np.full(len(rows), np.nan)) for name in (names or found)}

    def summary(self, metrics: dict[str, Any]) -> str:
        """One line: the primary metric (and the item count when known)."""
        name = str(getattr(self, "primary_metric", "loss"))
        v = metrics.get(name)
        n = metrics.get("n_items", metrics.get("n"))
        text = f"{name} {v:.4f}" if isinstance(v, (int, float)) else f"{name} {v}"
        return text + (f" (n={n})" if n is not None else "")


def is_number(value: Any) -> bool:
    """A real number a metric can hold (bools and strings are not)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def metric_value(metrics: Mapping[str, Any], name: str, where: str) -> float:
    """metrics[name] as a float; ConfigError naming the numbers there are when it is not one."""
    value = metrics.get(name)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    have = sorted(k for k, v in metrics.items() if is_number(v))
    raise ConfigError(
        f"{where}: metric {name!r} is not a number the head reports; choose from {', '.join(have)}"
    )


def resample_scorer(head: Any, metric: str, outputs: Any, labels: Any) -> Callable[[Any], Any]:
    """(R, n) item positions -> (R,) values of `metric` under `head` (its `score_resamples`, or the
    default loop over its `metrics`)."""
    score = method(head, "score_resamples")

    def scorer(index: Any) -> Any:
        return score(outputs, labels, index, [metric])[metric]

    return scorer


def method(head: Any, name: str) -> Callable[..., Any]:
    """`head.<name>`, or the default of `HeadDefaults` bound to `head` when the head lacks it."""
    fn = getattr(head, name, None)
    if fn is not None:
        return fn  # type: ignore[no-any-return]
    default = getattr(HeadDefaults, name)
    return lambda *a, **k: default(head, *a, **k)


def head_for_task(task: str, label_names: list[str]) -> Any:
    """A built head (tiny input width) of the first registered head plugin declaring `task`."""
    from .errors import UnknownNameError
    from .plugins import get_manager

    pm = get_manager()
    for name in pm.names("head"):
        plugin = pm.get("head", name)
        if getattr(plugin, "task", None) == task:
            return plugin.build(1, list(label_names), plugin.config_model())
    raise UnknownNameError(f"no installed head declares the task {task!r}")
