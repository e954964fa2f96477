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

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ..config import write_resolved
from ..errors import RunError
from ..model import ModelConfig, SseftModel, build_model
from . import checkpoint as ck
from . import tracking
from .config import ExperimentConfig
from .data import (
    EpochSetter,
    check_label_values,
    check_specs_match,
    item_labels,
    make_loader,
    modality_specs,
    open_store,
    resolve_split_ids,
    standardized,
    store_task,
)
from .evaluate import EvalResult, evaluate_loader, prediction_records, scalar_metrics
from .optim import drop_modalities, lr_lambda, make_optimizer, param_groups, step_seed
from .report import confusion_matrix, plot_confusion, plot_curves, write_json, write_jsonl
from .rundir import claim_run_dir, release
from .state import TrainResult, TrainState

__all__ = ["TrainResult", "TrainState", "drop_modalities", "lr_lambda", "param_groups", "train"]

EpochCallback = Callable[[int, dict[str, Any]], bool]


@dataclass
class Run:
    """What setup() builds and fit()/finish() use."""

    cfg: ExperimentConfig
    out: Path
    accelerator: Any
    store: Any
    mcfg: ModelConfig
    model: Any
    optimizer: Any
    scheduler: Any
    loaders: dict[str, Any]  # train, valid, test (prepared)
    sampler: EpochSetter  # the train loader's own batch sampler (Accelerate wraps the loader)
    ids: dict[str, list[str]]  # role -> item ids, in loader order
    state: TrainState
    custom_ids: bool = False  # split_ids replaced the store's splits
    lock: Any = None
    started_at: tuple[int, int] = (0, 0)
    resumed_from: str | None = None
    batches_run: int = 0
    steps_run: int = 0
    bar: Any = None
    t0: float = field(default_factory=time.perf_counter)

    @property
    def head(self) -> Any:
        return self.accelerator.unwrap_model(self.model).head

    @property
    def best_path(self) -> Path:
        return self.out / "best" / "model.safetensors"

    def say(self, msg: str) -> None:
        self.accelerator.print(msg)


def distributed_cpu() -> bool:
    """Launched as several processes (torchrun / accelerate launch) on a machine without CUDA.

    Accelerate only sets up gloo DDP on CPU when asked for the CPU explicitly; without this, a
    `--multi_gpu` launch on a CPU machine would run N independent single-process trainings.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def make_accelerator(cfg: ExperimentConfig | None = None, run_dir: Path | None = None) -> Any:
    from accelerate import Accelerator

    kwargs: dict[str, Any] = {"cpu": True} if distributed_cpu() else {}
    if cfg is None:
        return Accelerator(**kwargs)
    kwargs["gradient_accumulation_steps"] = cfg.train.grad_accum
    if cfg.train.mixed_precision is not None:  # otherwise: the launch config decides
        kwargs["mixed_precision"] = cfg.train.mixed_precision
    if cfg.train.log_with:
        kwargs |= {"log_with": list(cfg.train.log_with), "project_dir": str(run_dir)}
    return Accelerator(**kwargs)


def ensure_store(cfg: ExperimentConfig, accelerator: Any) -> None:
    """Generate the configured store when absent (`data.generate`), through the producer seam:
    the dataset plugin found by the plugin manager and the extraction engine (no plugin import here)."""
    from ..extraction.generate import ensure_store as generate

    generate(cfg.data, accelerator)


# -- setup ---------------------------------------------------------------------------------------
def setup(
    cfg: ExperimentConfig,
    output_dir: str | Path | None,
    *,
    resume: bool,
    overwrite: bool,
    split_ids: dict[str, Sequence[str]] | None,
    progress: bool | None,
) -> Run:
    """Check everything that can be checked from the store's index, build model/optimizer/loaders,
    claim the run directory, restore a checkpoint when resuming. Nothing is written to the run
    directory before every check has passed."""
    from accelerate.utils import set_seed

    out = Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)
    tc = cfg.train
    if tc.num_threads is not None:
        torch.set_num_threads(tc.num_threads)
    accelerator = make_accelerator(cfg, out)
    ensure_store(cfg, accelerator)
    store = open_store(cfg.data.store)
    ids = resolve_split_ids(cfg, store, split_ids)
    mcfg = model_config(cfg, store)
    mcfg = mcfg.model_copy(update={"modalities": standardized(cfg, store, mcfg.modalities, ids["train"])})
    if resume and (out / "model_config.json").is_file():
        # The features must still be the ones the interrupted run trained on.
        saved = ModelConfig.model_validate_json((out / "model_config.json").read_text(encoding="utf-8"))
        check_specs_match(saved.modalities, store, f"the run in {out}")
    set_seed(tc.seed)  # the same initial weights on every process
    model = build_model(mcfg)
    check_roles(cfg, store, model.head, ids, split_ids is not None)
    loaders = make_loaders(cfg, store, model, ids)
    sampler = cast(EpochSetter, loaders["train"].batch_sampler)
    optimizer, scheduler = make_optimizer(model, tc, len(loaders["train"]))
    state = TrainState()
    model, optimizer, loaders["train"], loaders["valid"], scheduler = accelerator.prepare(
        model, optimizer, loaders["train"], loaders["valid"], scheduler
    )
    if "test" in loaders:
        loaders["test"] = accelerator.prepare(loaders["test"])
    accelerator.register_for_checkpointing(state)
    run = Run(cfg, out, accelerator, store, mcfg, model, optimizer, scheduler, loaders, sampler, ids, state)
    run.custom_ids = split_ids is not None
    run.lock = claim_run_dir(accelerator, out, resume=resume, overwrite=overwrite)
    try:
        if resume:
            restore(run)
        if accelerator.is_main_process:
            write_resolved(cfg, out / "config.yaml")
            (out / "model_config.json").write_text(mcfg.model_dump_json(indent=1), encoding="utf-8")
        tracking.start(accelerator, cfg, out)
    except BaseException:
        release(run.lock)
        raise
    run.bar = progress_bar(run, progress)
    return run


def model_config(cfg: ExperimentConfig, store: Any) -> ModelConfig:
    """The network to train, with what prediction needs to know: which modalities may be missing
    (all of them after modality dropout) and which raw inputs feed each (from its plugin)."""
    task = store_task(store, cfg.data.labels)
    specs = modality_specs(cfg, store)
    return ModelConfig(
        modalities=specs,
        fusion=cfg.fusion,
        head=cfg.head,
        task=task.type,
        label_names=list(task.label_names),
        missing_ok=[s.name for s in specs] if cfg.train.modality_dropout > 0 else [],
        input_kinds={s.name: list(raw_input_kinds(s)) for s in specs},
    )


def raw_input_kinds(spec: Any) -> tuple[str, ...]:
    """The raw input kinds of the plugin that extracted `spec` (via the plugin manager)."""
    from ..inference.inputs import input_kinds
    from ..plugins import get_manager

    name = (spec.fingerprint or {}).get("modality")
    pm = get_manager()
    plugin = pm.get("modality", name) if name and name in pm.names("modality") else None
    return input_kinds(spec, plugin)


def check_roles(
    cfg: ExperimentConfig, store: Any, head: Any, ids: dict[str, list[str]], custom: bool
) -> None:
    """The head's own label check over every role's items (train, valid, test)."""
    splits = {"train": cfg.data.train_split, "valid": cfg.data.valid_split, "test": cfg.data.test_split}
    for role, items in ids.items():
        where = f"{store.root} split_ids[{role!r}]" if custom else f"{store.root} split {splits[role]!r}"
        check_label_values(head, item_labels(store, items, cfg.data.labels), where)


def make_loaders(
    cfg: ExperimentConfig, store: Any, model: SseftModel, ids: dict[str, list[str]]
) -> dict[str, Any]:
    tc, mods, head = cfg.train, model.modality_names, model.head
    common = {"head": head, "label_set": cfg.data.labels, "num_workers": tc.num_workers}
    loaders = {
        "train": make_loader(
            store,
            ids["train"],
            mods,
            tc.batch_size,
            seed=tc.seed,
            shuffle=True,
            bucket=tc.bucket_by_length,
            **common,
        )
    }
    for role in ("valid", "test"):
        if role in ids:
            loaders[role] = make_loader(store, ids[role], mods, tc.eval_batch_size or tc.batch_size, **common)
    return loaders


def restore(run: Run) -> None:
    """Load the latest checkpoint (model, optimizer, scheduler, RNG, TrainState) and its best weights."""
    root = run.out / "checkpoints"
    if run.accelerator.is_main_process:
        ck.clean_temp(root)
    run.accelerator.wait_for_everyone()
    last = ck.latest_checkpoint(root)
    if last is None:
        run.say(f"--resume: no checkpoint in {root}; starting from scratch")
        return
    ck.load_checkpoint(run.accelerator, last)
    st = run.state
    if not run.accelerator.is_main_process:  # the checkpointed sums are the main process's share
        st.loss_sum, st.loss_count = 0.0, 0
    if run.accelerator.is_main_process:
        ck.restore_best(last, run.best_path)
    run.accelerator.wait_for_everyone()
    run.started_at, run.resumed_from = st.position(), last.name
    run.say(f"resumed from {last.name} (epoch {st.epoch}, batch {st.batches_done})")


def progress_bar(run: Run, progress: bool | None) -> Any:
    from tqdm.auto import tqdm

    show = progress if progress is not None else sys.stderr.isatty()
    n = len(run.loaders["train"])
    return tqdm(
        total=n * run.cfg.train.epochs,
        initial=n * run.state.epoch + run.state.batches_done,
        disable=not (run.accelerator.is_main_process and show),
        desc=run.cfg.name,
        unit="batch",
        dynamic_ncols=True,
    )


# -- fit -----------------------------------------------------------------------------------------
def fit(run: Run, on_epoch: EpochCallback | None = None) -> None:
    """Epochs from the state's position to the end, or until early stopping."""
    st = run.state
    for epoch in range(st.epoch, run.cfg.train.epochs):
        if st.stopped_early:
            break
        train_epoch(run, epoch)
        end_epoch(run, epoch, on_epoch)
    run.bar.close()


def train_epoch(run: Run, epoch: int) -> None:
    acc, st, tc = run.accelerator, run.state, run.cfg.train
    loader = run.loaders["train"]
    run.model.train()
    loader.set_epoch(epoch)
    run.sampler.set_epoch(epoch)
    skip = st.batches_done if epoch == st.epoch else 0
    st.epoch = epoch
    batches = acc.skip_first_batches(loader, skip) if skip else loader
    for i, batch in enumerate(batches, start=skip):
        loss = train_step(run, epoch, i, batch)
        st.loss_sum += loss
        st.loss_count += 1
        st.batches_done = i + 1
        run.batches_run += 1
        run.bar.update(1)
        if acc.sync_gradients:
            st.global_step += 1
            run.steps_run += 1
            every = tc.checkpoint_every
            if every and st.global_step % every == 0 and i + 1 < len(loader):
                checkpoint(run)
        if tc.log_every and (i + 1) % tc.log_every == 0:
            run.bar.set_postfix(loss=f"{loss:.4f}")


def train_step(run: Run, epoch: int, i: int, batch: Any) -> float:
    """One batch: forward, loss, backward, (at the end of an accumulation) clip and step."""
    acc, tc, model = run.accelerator, run.cfg.train, run.model
    torch.manual_seed(step_seed(tc.seed, acc.process_index, epoch, i))
    with acc.accumulate(model):
        lengths = drop_modalities(batch.lengths, tc.modality_dropout)
        with acc.autocast():
            outputs = model(batch.features, lengths)
        loss = run.head.loss(outputs.float(), batch.labels)
        acc.backward(loss)
        if acc.sync_gradients and tc.clip_grad_norm:
            acc.clip_grad_norm_(model.parameters(), tc.clip_grad_norm)
        run.optimizer.step()
        run.scheduler.step()
        run.optimizer.zero_grad()
    value = float(loss.detach())
    if not math.isfinite(value):
        raise RunError(
            f"epoch {epoch + 1} batch {i + 1}: the loss became {value}; lower train.lr or check the data"
        )
    return value


def reduced_loss(run: Run) -> tuple[float, int]:
    """The epoch's loss sum and count over every process (float64)."""
    st, acc = run.state, run.accelerator
    t = torch.tensor([st.loss_sum, float(st.loss_count)], dtype=torch.float64, device=acc.device)
    sums = acc.reduce(t, "sum") if acc.num_processes > 1 else t
    return float(sums[0]), int(sums[1])


def end_epoch(run: Run, epoch: int, on_epoch: EpochCallback | None) -> None:
    """Validation decides model selection and early stopping only; then history and checkpoint."""
    st, tc = run.state, run.cfg.train
    loss_sum, count = reduced_loss(run)
    valid = evaluate_loader(run.accelerator, run.model, run.head, run.loaders["valid"])
    row = {
        "epoch": epoch + 1,
        "global_step": st.global_step,
        "train_loss": loss_sum / max(1, count),
        "lr": run.scheduler.get_last_lr()[0],
        "valid": valid.metrics,
    }
    st.history.append(row)
    primary = run.head.primary_metric
    value = float(valid.metrics[primary])
    if is_better(value, st.best_metric, run.head.greater_is_better):
        st.best_metric, st.best_epoch, st.bad_epochs = value, epoch + 1, 0
        save_best(run, valid)
    else:
        st.bad_epochs += 1
    patience = tc.early_stopping_patience
    stop = bool(patience and st.bad_epochs >= patience)
    if callback_stops(run, on_epoch, epoch + 1, valid.metrics):
        stop = True
    run.say(
        f"epoch {epoch + 1}/{tc.epochs}: train loss {row['train_loss']:.4f}, valid {primary} {value:.4f} "
        f"(best {st.best_metric:.4f} @ {st.best_epoch})"
    )
    st.epoch, st.batches_done, st.loss_sum, st.loss_count = epoch + 1, 0, 0.0, 0
    st.stopped_early = stop
    if run.accelerator.is_main_process:
        write_jsonl(run.out / "metrics.jsonl", st.history)
    tracking.log_epoch(run.accelerator, run.cfg, row)
    checkpoint(run)
    if stop:
        run.say(
            f"early stopping after epoch {epoch + 1}: no better valid {primary} for {st.bad_epochs} epochs"
        )


def is_better(new: float, old: float | None, greater: bool) -> bool:
    if old is None:
        return True
    return new > old if greater else new < old


def callback_stops(run: Run, on_epoch: EpochCallback | None, epoch: int, metrics: dict[str, Any]) -> bool:
    """The caller's per-epoch hook (a sweep's pruner) runs on the main process; its decision is
    broadcast so every process stops together."""
    if on_epoch is None:
        return False
    from accelerate.utils import broadcast_object_list

    box = [bool(on_epoch(epoch, metrics)) if run.accelerator.is_main_process else False]
    if run.accelerator.num_processes > 1:
        broadcast_object_list(box)
    return bool(box[0])


def save_best(run: Run, valid: EvalResult) -> None:
    """Best weights (safetensors) and that epoch's validation predictions (main process)."""
    if not run.accelerator.is_main_process:
        return
    raw = run.accelerator.unwrap_model(run.model)
    ck.save_weights(raw.state_dict(), run.best_path, {"epoch": run.state.best_epoch, "valid": valid.metrics})
    write_predictions(run, "valid", valid)


def checkpoint(run: Run) -> None:
    """Save at the state's position. The loss sums of every process are folded into the main
    process's share first, so the checkpoint holds the whole sum and nothing counts twice."""
    st, acc = run.state, run.accelerator
    total, count = reduced_loss(run)
    st.loss_sum, st.loss_count = (total, count) if acc.is_main_process else (0.0, 0)
    name = ck.checkpoint_name(st.epoch, st.batches_done)
    best = run.best_path if run.best_path.is_file() else None
    ck.save_checkpoint(
        acc, run.out / "checkpoints", name, st.state_dict(), run.cfg.train.keep_checkpoints, best
    )


# -- finish --------------------------------------------------------------------------------------
def finish(run: Run, plots: bool = True) -> TrainResult:
    """Best weights back in the model, test metrics and predictions, summary, pictures."""
    acc, st = run.accelerator, run.state
    acc.wait_for_everyone()
    if not run.best_path.is_file():
        raise RunError(f"{run.best_path}: no best model was saved; the run has no finished epoch")
    raw: SseftModel = acc.unwrap_model(run.model)
    raw.load_state_dict(ck.load_weights(run.best_path))
    test_metrics = test(run, plots) if "test" in run.loaders else None
    best_valid = st.history[st.best_epoch - 1]["valid"] if st.history else {}
    result = TrainResult(
        model=raw,
        output_dir=run.out,
        best_epoch=st.best_epoch,
        best_valid=best_valid,
        test_metrics=test_metrics,
        history=list(st.history),
        world_size=acc.num_processes,
        started_at=run.started_at,
        resumed_from=run.resumed_from,
        batches_run=run.batches_run,
        steps_run=run.steps_run,
        stopped_early=st.stopped_early,
        config=run.cfg.model_dump(mode="json", by_alias=True),
    )
    if acc.is_main_process:
        if plots and st.history:
            plot_curves(st.history, run.head.primary_metric, run.out / "curves.png")
        write_json(run.out / "summary.json", summary(run, result))
    tracking.finish(acc, run.cfg, test_metrics, len(st.history))
    acc.wait_for_everyone()
    return result


def test(run: Run, plots: bool) -> dict[str, Any]:
    res = evaluate_loader(run.accelerator, run.model, run.head, run.loaders["test"])
    where = "split_ids" if run.custom_ids else run.cfg.data.test_split
    metrics = {**res.metrics, "best_epoch": run.state.best_epoch, "split": where}
    if run.accelerator.is_main_process:
        write_json(run.out / "test_metrics.json", metrics)
        write_predictions(run, "test", res)
        if plots:
            pictures(run, res)
    return metrics


def write_predictions(run: Run, role: str, res: EvalResult) -> None:
    truth = item_labels(run.store, run.ids[role], run.cfg.data.labels)
    write_jsonl(
        run.out / f"{role}_predictions.jsonl", prediction_records(run.head, res, run.ids[role], truth)
    )


def pictures(run: Run, res: EvalResult) -> None:
    """The head's own pictures (`head.report`); for heads without it, a multiclass confusion matrix."""
    head = run.head
    if hasattr(head, "report"):
        head.report(res.outputs, res.labels, run.out)
    elif run.mcfg.task == "multiclass":
        cm = confusion_matrix(res.outputs, res.labels, len(run.mcfg.label_names))
        plot_confusion(cm, run.mcfg.label_names, run.out / "confusion_matrix.png")


def summary(run: Run, result: TrainResult) -> dict[str, Any]:
    return {
        "name": run.cfg.name,
        "world_size": result.world_size,
        "best_epoch": result.best_epoch,
        "best_valid": scalar_metrics(result.best_valid),
        "test": result.test_metrics,
        "stopped_early": result.stopped_early,
        "train_time_s": round(time.perf_counter() - run.t0, 2),
        # What this invocation did (a resumed run starts at its checkpoint and runs the rest).
        "this_run": {
            "started_at": {"epoch": run.started_at[0], "batch": run.started_at[1]},
            "resumed_from": run.resumed_from,
            "batches": run.batches_run,
            "steps": run.steps_run,
        },
    }


def train(
    cfg: ExperimentConfig,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool | None = None,
    split_ids: dict[str, Sequence[str]] | None = None,
    on_epoch: EpochCallback | None = None,
    plots: bool = True,
) -> TrainResult:
    """Train `cfg` into its run directory and return the trained model (best validation epoch's
    weights) with its results. `split_ids` replaces the store's splits ({"train": [...], "valid":
    [...], "test": [...]}, e.g. a fold); `on_epoch(epoch, valid_metrics) -> True` stops early."""
    run = setup(cfg, output_dir, resume=resume, overwrite=overwrite, split_ids=split_ids, progress=progress)
    try:
        fit(run, on_epoch)
        return finish(run, plots)
    finally:
        release(run.lock)
