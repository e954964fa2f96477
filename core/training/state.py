"""What a training run carries from batch to batch (TrainState, checkpointed) and what it returns
(TrainResult)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunError


@dataclass
class TrainState:
    """Position and bookkeeping of a run; registered with `accelerator.register_for_checkpointing`,
    so `save_state` / `load_state` carry it beside the model, optimizer and scheduler.

    `loss_sum` is a Python float (float64): a float32 running sum would round differently once a
    resumed run restarts it from the checkpointed value, and metrics.jsonl would no longer be
    byte-identical to an uninterrupted run's.
    """

    epoch: int = 0  # the epoch to continue in (0-based)
    batches_done: int = 0  # batches of `epoch` already trained
    global_step: int = 0  # optimizer steps so far
    loss_sum: float = 0.0  # this epoch's summed batch losses (float64)
    loss_count: int = 0
    best_metric: float | None = None
    best_epoch: int = -1  # 1-based; -1: no finished epoch yet
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    stopped_early: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)

    def state_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        names = {f.name for f in dataclasses.fields(self)}
        if not isinstance(state, dict) or set(state) != names:
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise RunError(f"the checkpoint's training state has fields {got}, expected {sorted(names)}")
        for k, v in state.items():
            setattr(self, k, v)
        self.loss_sum = float(self.loss_sum)

    def position(self) -> tuple[int, int]:
        return self.epoch, self.batches_done


@dataclass
class TrainResult:
    """What `train()` returns. `model` is the trained SseftModel holding the best epoch's weights
    (on the main process; every process has the same weights). Publishing is the caller's:

        res = train(cfg)
        sseft.publish(res.model, "my-model", res.artifact_metrics, res.training)
    """

    model: Any
    output_dir: Path
    best_epoch: int
    best_valid: dict[str, Any]
    test_metrics: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    world_size: int = 1
    # Where this invocation started ((epoch, batch) of the checkpoint it resumed from, or (0, 0)),
    # how many training batches it consumed and how many optimizer steps it made.
    started_at: tuple[int, int] = (0, 0)
    resumed_from: str | None = None
    batches_run: int = 0
    steps_run: int = 0
    stopped_early: bool = False
    config: dict[str, Any] = field(default_factory=dict)  # the experiment config as JSON

    @property
    def artifact_metrics(self) -> dict[str, Any]:
        """The metrics an artifact records ({"test": {name: number}})."""
        from .evaluate import scalar_metrics

        return {"test": scalar_metrics(self.test_metrics or {})}

    @property
    def training(self) -> dict[str, Any]:
        """The training record an artifact keeps (experiment name and resolved config)."""
        return {"experiment": self.config.get("name"), "config": self.config}
