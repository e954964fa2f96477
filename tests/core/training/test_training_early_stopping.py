"""Early stopping on a scripted validation curve: it stops at the right epoch, the returned model
holds the best epoch's weights, and a stop decision survives a resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from trainhelpers import Crash, crash_after_checkpoint, tiny_experiment, write_store

from sseft.core.training import finish, loop
from sseft.core.training.trainer import train

# The primary metric per validation (epoch 1..6); patience 2: best at epoch 2, stop after epoch 4.
CURVE = [0.5, 0.7, 0.6, 0.65, 0.4, 0.9]


class ScriptedValidation:
    """Wraps evaluate_loader: the validation primary metric follows CURVE; snapshots the weights
    each time validation runs (the last call is the test split)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.real = loop.evaluate_loader
        self.calls = 0
        self.weights: list[dict[str, torch.Tensor]] = []
        monkeypatch.setattr(loop, "evaluate_loader", self)  # validation
        monkeypatch.setattr(finish, "evaluate_loader", self)  # the test split

    def __call__(self, accelerator: Any, model: Any, head: Any, loader: Any) -> Any:
        res = self.real(accelerator, model, head, loader)
        if self.calls < len(CURVE):
            res.metrics[head.primary_metric] = CURVE[self.calls]
        self.weights.append(
            {k: v.detach().clone() for k, v in accelerator.unwrap_model(model).state_dict().items()}
        )
        self.calls += 1
        return res


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_stops_at_the_right_epoch_with_the_best_weights(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 6, "early_stopping_patience": 2})
    script = ScriptedValidation(monkeypatch)
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    assert [r["epoch"] for r in res.history] == [1, 2, 3, 4]  # epochs 3 and 4 did not improve on 2
    assert res.stopped_early and res.best_epoch == 2 and res.test_metrics["best_epoch"] == 2
    assert script.calls == 5  # 4 validations + the test split
    model = res.model.state_dict()
    assert same(model, script.weights[1])  # epoch 2's weights ...
    assert not same(model, script.weights[3])  # ... not the last epoch's


def test_lower_is_better_metric_and_no_patience_runs_every_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = write_store(tmp_path / "reg", task="regression")
    cfg = tiny_experiment(tmp_path, store, head={"name": "regression"}, train={"epochs": 6})  # primary: mae
    ScriptedValidation(monkeypatch)
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    assert len(res.history) == 6 and not res.stopped_early
    assert res.best_epoch == 5  # the lowest value of CURVE


def test_stop_decision_survives_a_resume(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 6, "early_stopping_patience": 2})
    with monkeypatch.context() as m:
        ScriptedValidation(m)
        crash_after_checkpoint(m, "ckpt-e0004-b0000000")  # killed right after deciding to stop
        with pytest.raises(Crash):
            train(cfg, tmp_path / "run", progress=False, plots=False)
    script = ScriptedValidation(monkeypatch)
    script.calls = len(CURVE)  # a validation in the resumed run would keep its real metric
    res = train(cfg, tmp_path / "run", resume=True, progress=False, plots=False)
    assert res.started_at == (4, 0) and res.batches_run == 0  # no further epoch
    assert [r["epoch"] for r in res.history] == [1, 2, 3, 4]
    assert res.stopped_early and res.best_epoch == 2 and script.calls == len(CURVE) + 1  # the test split only
