"""The task seam from core's side: core renders any head's records, the registry takes any task type."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from sseft.core.errors import IntegrityError, UnknownNameError
from sseft.core.inference.prediction import Prediction, csv_columns
from sseft.registry.integrity import check_config


class BareHead(torch.nn.Module):
    """A head that implements only forward/loss/predict/metrics (no HeadDefaults)."""

    task, label_names, primary_metric, greater_is_better = "pairwise-rank", ("better",), "acc", True

    def forward(self, fused: torch.Tensor) -> torch.Tensor:
        return fused[:, :1]

    def predict(self, outputs: torch.Tensor) -> dict[str, Any]:
        return {"label": (outputs[:, 0] > 0).tolist(), "margin": outputs[:, 0].tolist()}


def test_core_renders_a_head_without_any_rendering_methods() -> None:
    from sseft.core.head import method

    head = BareHead()
    recs = method(head, "records")(torch.tensor([[0.5], [-2.0]]), ["p", "q"])
    assert recs == [{"id": "p", "label": True, "margin": 0.5}, {"id": "q", "label": False, "margin": -2.0}]
    p = Prediction.from_record(head, recs[0], modalities_used=["a"])
    assert p.id == "p" and p.label is True and p.margin == 0.5 and p.summary() == "true"
    assert csv_columns(head) == ["id", "prediction", "record", "modalities_used", "missing"]
    assert p.csv_row() == {"id": "p", "prediction": "true", "record": '{"margin": 0.5}', "modalities_used": "a",
                           "missing": ""}  # fmt: skip
    assert p.to_dict()["task"] == "pairwise-rank" and p.to_dict()["margin"] == 0.5
    with pytest.raises(AttributeError, match="no 'probabilities'.*label, margin"):
        _ = p.probabilities
    assert method(head, "report")(None, None, Path(".")) == []
    assert method(head, "summary")({"acc": 0.75, "n_items": 4}) == "acc 0.7500 (n=4)"


def test_registry_takes_any_task_type_but_not_garbage(tmp_path: Path) -> None:
    model = {
        "modalities": [{"name": "a", "dim": 4}],
        "head": {"name": "ordinal"},
        "label_names": ["lo", "hi"],
    }
    check_config({"format_version": 1, "model": {**model, "task": "ordinal"}}, tmp_path / "config.json")
    for bad in ("", "  ", 3, None):
        with pytest.raises(IntegrityError, match="model.task must be a non-empty string"):
            check_config({"format_version": 1, "model": {**model, "task": bad}}, tmp_path / "config.json")


def test_csv_columns_by_task_name_needs_an_installed_head() -> None:
    assert csv_columns("multiclass", ["a", "b"]) == ["id", "prediction", "prob_a", "prob_b", "modalities_used",
                                                     "missing"]  # fmt: skip
    with pytest.raises(UnknownNameError, match="no installed head declares the task 'ordinal'"):
        csv_columns("ordinal", ["lo", "hi"])
