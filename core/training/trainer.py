"""`sseft train`: setup -> fit -> finish, in the shape of Accelerate's `complete_nlp_example.py`.

    accelerator = Accelerator(gradient_accumulation_steps=..., log_with=...)
    model, optimizer, train_dl, valid_dl, scheduler = accelerator.prepare(...)
    accelerator.register_for_checkpointing(state)          # TrainState: position, sums, history
    for epoch: for batch: with accelerator.accumulate(model): loss -> backward -> clip -> step
    evaluate with gather_for_metrics; save_state/load_state checkpoints; --resume skips batches

The same function runs in one process and in several (`accelerate launch -m sseft train`); only
the main process writes run files. Resuming is exact: the batch order of epoch e depends only on
(seed, e), dropout is re-seeded from (seed, process, epoch, batch) before each batch and the loss
sums are float64, so a resumed run's metrics.jsonl is byte-identical to an uninterrupted one's.
`train()` returns the trained model; publishing it is the caller's (`sseft.publish`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from .config import ExperimentConfig
from .finish import finish_run
from .loop import fit
from .optim import drop_modalities, lr_lambda, param_groups
from .run import EpochCallback
from .rundir import release
from .setup import distributed_cpu, make_accelerator, model_config, process_state, setup
from .state import TrainResult, TrainState

__all__ = [
    "TrainResult",
    "TrainState",
    "distributed_cpu",
    "drop_modalities",
    "lr_lambda",
    "make_accelerator",
    "model_config",
    "param_groups",
    "process_state",
    "train",
]


def train(
    cfg: ExperimentConfig,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    split_ids: Mapping[str, Sequence[str]] | None = None,
    on_epoch: EpochCallback | None = None,
    plots: bool = True,
) -> TrainResult:
    """Train `cfg` into its run directory and return the trained model (best validation epoch's
    weights) with its results. `split_ids` replaces the store's splits ({"train": [...], "valid":
    [...], "test": [...]}, e.g. a fold); `on_epoch(epoch, valid_metrics) -> True` stops early."""
    run = setup(cfg, output_dir, resume=resume, overwrite=overwrite, split_ids=split_ids, progress=progress)
    try:
        fit(run, on_epoch)
        return finish_run(run, plots)
    finally:
        release(run.lock)
