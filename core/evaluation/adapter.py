"""The one seam between the evaluation protocols and the trainer.

Everything in core/evaluation trains through `train_run` and reads runs through the files a run
writes (INTERFACES.md "Trainer"): `train(cfg, out, *, resume, split_ids, on_epoch, plots, progress)`
returns a TrainResult, and every run writes `test_predictions.jsonl` (the head's record, `truth`
and the raw `outputs` per test item, which the paired bootstrap recomputes metrics from). When the
trainer changes, only this module follows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError
from .io import PREDICTIONS, read_jsonl

OnEpoch = Callable[[int, dict[str, Any]], bool]  # (epoch 1-based, valid metrics) -> True: stop


@dataclass
class RunRecord:
    """What the protocols need from one finished training run."""

    output_dir: Path
    best_epoch: int
    best_valid: dict[str, Any]
    test_metrics: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)


def state() -> Any:
    """Accelerate's process state, set up as the trainer's Accelerator will be: it is a singleton,
    so a plain PartialState() first would leave a CPU `accelerate launch` undistributed."""
    from accelerate import PartialState

    from ..training.trainer import distributed_cpu

    return PartialState(cpu=True) if distributed_cpu() else PartialState()


def _is_main() -> bool:
    return bool(state().is_main_process)


def barrier() -> None:
    """Wait for every process (a no-op in one process)."""
    state().wait_for_everyone()


def prepare_store(cfg: Any) -> None:
    """Generate the configured store when it is generated data and absent (all processes call)."""
    from ..training.trainer import ensure_store

    ensure_store(cfg, state())


def open_store(cfg: Any) -> Any:
    from ..training.data import open_store as open_

    return open_(cfg.data.store)


def train_run(
    cfg: Any,
    output_dir: Path,
    *,
    split_ids: dict[str, list[str]] | None = None,
    on_epoch: OnEpoch | None = None,
    progress: bool | None = None,
    plots: bool = True,
    resume: bool = False,
) -> RunRecord:
    """Train one run of `cfg` into `output_dir` (collective under `accelerate launch`); `split_ids`
    replaces the store's splits (a fold), `on_epoch` may stop it after an epoch (pruning), `resume`
    continues an interrupted run from its checkpoint."""
    from ..training.trainer import train

    res = train(cfg, output_dir, resume=resume, progress=progress, split_ids=split_ids, on_epoch=on_epoch,
                plots=plots)  # fmt: skip
    has_test = split_ids.get("test") if split_ids is not None else cfg.data.test_split
    if has_test and _is_main():
        check_predictions(Path(res.output_dir))
    return RunRecord(
        output_dir=Path(res.output_dir),
        best_epoch=int(res.best_epoch),
        best_valid=dict(res.best_valid or {}),
        test_metrics=dict(res.test_metrics) if res.test_metrics is not None else None,
        history=list(res.history or []),
    )


def check_predictions(run_dir: Path) -> None:
    """A finished run must leave per-item test predictions with outputs (the paired tests need them)."""
    path = run_dir / PREDICTIONS
    rows = read_jsonl(path) if path.is_file() else []
    if not rows or not all("outputs" in r and "truth" in r for r in rows):
        raise DataError(f'{path}: missing or without per-item "outputs"/"truth"; the trainer must write them')


def load_run_model(run_dir: Path) -> Any:
    """The run's SseftModel with its best weights (model_config.json + best/model.safetensors)."""
    from ..model import ModelConfig, build_model
    from ..training import checkpoint as ck

    mcfg = ModelConfig.model_validate_json((run_dir / "model_config.json").read_text(encoding="utf-8"))
    model = build_model(mcfg)
    model.load_state_dict(ck.load_weights(run_dir / "best" / "model.safetensors"))
    return model.eval()
