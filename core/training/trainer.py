"""`sseft train`: the training loop, in the shape of Accelerate's `complete_nlp_example.py`.

    accelerator = Accelerator(gradient_accumulation_steps=...)   # precision from the launch config
    model, optimizer, train_dl, valid_dl, test_dl, scheduler = accelerator.prepare(...)
    for epoch: for batch: with accelerator.accumulate(model): loss -> backward -> clip -> step
    evaluate with gather_for_metrics; save_state/load_state checkpoints; --resume skips batches

The same function runs in one process (`sseft train`) and in several (`accelerate launch -m sseft
train`); only the main process writes run files. Resuming is exact: the batch order of epoch e
depends only on (seed, e) and dropout is re-seeded from (seed, process, epoch, batch) before each
batch, so a resumed run replays the same computation as an uninterrupted one.
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import torch

from ..config import write_resolved
from ..errors import ConfigError, DataError, FeatureStoreError
from ..model import ModelConfig, SseftModel, build_model
from . import checkpoint as ck
from .config import ExperimentConfig
from .data import (
    EpochSetter,
    check_labels,
    check_specs_match,
    check_split,
    make_loader,
    modality_specs,
    open_store,
)
from .evaluate import evaluate_loader, scalar_metrics
from .report import confusion_matrix, plot_confusion, plot_curves, write_json, write_jsonl


@dataclass
class RunResult:
    output_dir: Path
    best_epoch: int
    best_valid: dict[str, Any]
    test_metrics: dict[str, Any] | None
    history: list[dict[str, Any]] = field(default_factory=list)
    artifact: Path | None = None
    registered: str | None = None
    world_size: int = 1


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Decoupled weight decay on weight matrices only: biases, LayerNorm, CLS vectors and
    positional embeddings are not decayed (as in BERT/RoBERTa fine-tuning)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        low = name.lower()
        if p.ndim < 2 or any(k in low for k in ("bias", "norm", "cls", "pos")):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_lambda(schedule: str, warmup: int, total: int):
    """Linear warmup to the peak, then linear/cosine decay to 0 (or constant)."""

    def f(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        if schedule == "constant":
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        if schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return max(0.0, 1.0 - progress)

    return f


def drop_modalities(lengths: dict[str, torch.Tensor], p: float) -> dict[str, torch.Tensor]:
    """Modality dropout: each (item, modality) is hidden with probability p by setting its length
    to 0 (the fusion model then relies on that modality's CLS); every item keeps at least one."""
    if p <= 0 or len(lengths) < 2:
        return lengths
    names = list(lengths)
    b = lengths[names[0]].shape[0]
    dev = lengths[names[0]].device
    drop = torch.rand(b, len(names), device=dev) < p  # (B, N)
    all_gone = drop.all(dim=1)
    keep = torch.randint(len(names), (b,), device=dev)
    drop[all_gone, keep[all_gone]] = False
    return {m: lengths[m].masked_fill(drop[:, k], 0) for k, m in enumerate(names)}


def _is_better(new: float, old: float | None, greater: bool) -> bool:
    if old is None:
        return True
    return new > old if greater else new < old


def _step_seed(seed: int, rank: int, epoch: int, batch: int) -> int:
    # Dropout masks are a function of position in training, not of RNG history (exact resume).
    return (seed * 1_000_003 + rank * 7_919 + epoch * 100_003 + batch) % (2**63 - 1)


def ensure_store(cfg: ExperimentConfig, accelerator: Any) -> None:
    """Generate the built-in synthetic store when configured (main process, then barrier).

    A finished store generated with the same options is used as is (several runs may share it);
    one generated with other options is refused; a missing or unfinished one is (re)generated,
    the writer resuming where an interrupted generation stopped.
    """
    root = Path(cfg.data.store)
    if cfg.data.synthetic is not None and accelerator.is_main_process:
        from sseft.plugins.datasets.synthetic import as_config, write_synthetic_store
        from sseft.plugins.datasets.synthetic_gen import fingerprint

        want = fingerprint(as_config(cfg.data.synthetic))
        if (root / "index.json").is_file():
            have = open_store(root).source
            if have != want:
                raise FeatureStoreError(
                    f"{root}: this synthetic store was generated with other options ({have}); delete it or "
                    "point data.store at a new directory"
                )
        else:
            write_synthetic_store(cfg.data.synthetic, root)
    accelerator.wait_for_everyone()


def distributed_cpu() -> bool:
    """Launched as several processes (torchrun / accelerate launch) on a machine without CUDA.

    Accelerate only sets up gloo DDP on CPU when asked for the CPU explicitly; without this, a
    `--multi_gpu` launch on a CPU machine would run N independent single-process trainings.
    """
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()


def make_accelerator(cfg: ExperimentConfig | None = None) -> Any:
    from accelerate import Accelerator

    kwargs: dict[str, Any] = {"cpu": True} if distributed_cpu() else {}
    if cfg is None:
        return Accelerator(**kwargs)
    kwargs["gradient_accumulation_steps"] = cfg.train.grad_accum
    if cfg.train.mixed_precision is not None:  # otherwise: the launch config decides
        kwargs["mixed_precision"] = cfg.train.mixed_precision
    return Accelerator(**kwargs)


def train(
    cfg: ExperimentConfig,
    output_dir: str | Path | None = None,
    *,
    resume: bool = False,
    register: str | None = None,
    export: bool = True,
    plots: bool = True,
    progress: bool | None = None,
) -> RunResult:
    """Train `cfg`; write the run directory; return the best validation and final test metrics."""
    from accelerate.utils import set_seed

    out = Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)
    tc = cfg.train
    if tc.num_threads is not None:
        torch.set_num_threads(tc.num_threads)
    accelerator = make_accelerator(cfg)
    main = accelerator.is_main_process
    say = accelerator.print

    # --- data -----------------------------------------------------------------------------
    ensure_store(cfg, accelerator)
    store = open_store(cfg.data.store)
    splits = {"data.train_split": cfg.data.train_split, "data.valid_split": cfg.data.valid_split}
    if cfg.data.test_split:
        splits["data.test_split"] = cfg.data.test_split
    for fld, split in splits.items():
        check_split(store, split, fld)
    specs = modality_specs(cfg, store)
    mods = [s.name for s in specs]
    mcfg = ModelConfig(
        modalities=specs,
        fusion=cfg.fusion,
        head=cfg.head,
        task=store.task.type,
        label_names=list(store.task.label_names),
    )
    ckpt_root = out / "checkpoints"
    if resume and (out / "model_config.json").is_file():
        # The features must still be the ones the interrupted run trained on.
        saved = ModelConfig.model_validate_json((out / "model_config.json").read_text(encoding="utf-8"))
        check_specs_match(saved.modalities, store, f"the run in {out}")

    # --- model, optimizer, schedule (same init on every process) ---------------------------
    set_seed(tc.seed)
    model = build_model(mcfg)
    head = model.head
    for split in splits.values():
        check_labels(head, store, split)
    eval_bs = tc.eval_batch_size or tc.batch_size
    train_dl = make_loader(
        store, cfg.data.train_split, mods, tc.batch_size, seed=tc.seed, shuffle=True,
        bucket=tc.bucket_by_length, num_workers=tc.num_workers,
    )  # fmt: skip
    valid_dl = make_loader(store, cfg.data.valid_split, mods, eval_bs, num_workers=tc.num_workers)
    test_dl = make_loader(store, cfg.data.test_split, mods, eval_bs) if cfg.data.test_split else None
    optimizer = torch.optim.AdamW(param_groups(model, tc.weight_decay), lr=tc.lr, betas=tc.betas, eps=tc.eps)
    # Counted on the unsharded loader: the prepared scheduler steps once per process per update.
    steps_per_epoch = math.ceil(len(train_dl) / tc.grad_accum)
    total = steps_per_epoch * tc.epochs
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lr_lambda(tc.schedule, int(tc.warmup_ratio * total), total)
    )
    # Accelerate wraps it; set_epoch goes to the original (make_loader's samplers all have it)
    train_sampler = cast(EpochSetter, train_dl.batch_sampler)
    prepared = accelerator.prepare(model, optimizer, train_dl, valid_dl, scheduler)
    model, optimizer, train_dl, valid_dl, scheduler = prepared
    if test_dl is not None:
        test_dl = accelerator.prepare(test_dl)

    # --- state (fresh or resumed) -----------------------------------------------------------
    st: dict[str, Any] = {
        "epoch": 0, "batches_done": 0, "global_step": 0, "loss_sum": 0.0, "loss_count": 0,
        "best_metric": None, "best_epoch": -1, "bad_epochs": 0, "history": [], "stopped_early": False,
    }  # fmt: skip
    if main:
        ck.clean_temp(ckpt_root)
    accelerator.wait_for_everyone()
    if resume:
        last = ck.latest_checkpoint(ckpt_root)
        if last is None:
            say(f"--resume: no checkpoint in {ckpt_root}; starting from scratch")
        else:
            st = ck.load_checkpoint(accelerator, last)
            say(f"resumed from {last.name} (epoch {st['epoch']}, batch {st['batches_done']})")
    if main:
        write_resolved(cfg, out / "config.yaml")
        (out / "model_config.json").write_text(mcfg.model_dump_json(indent=1), encoding="utf-8")
    primary, greater = head.primary_metric, head.greater_is_better

    def state_for_save() -> dict[str, Any]:
        # Per-process loss sums are summed into the main process's copy; others restart at 0.
        sums = accelerator.reduce(torch.tensor([st["loss_sum"], float(st["loss_count"])]), "sum")
        return {**st, "loss_sum": float(sums[0]), "loss_count": int(sums[1])}

    def checkpoint(epoch: int, batches_done: int) -> None:
        name = ck.checkpoint_name(epoch, batches_done)
        ck.save_checkpoint(accelerator, ckpt_root, name, {**state_for_save(), "epoch": epoch,
                                                          "batches_done": batches_done}, tc.keep_checkpoints)  # fmt: skip

    if not main:  # the restored totals live on the main process only
        st["loss_sum"], st["loss_count"] = 0.0, 0
    show = progress if progress is not None else sys.stderr.isatty()
    from tqdm.auto import tqdm

    bar = tqdm(
        total=len(train_dl) * tc.epochs, initial=len(train_dl) * st["epoch"] + st["batches_done"],
        disable=not (main and show), desc=cfg.name, unit="batch", dynamic_ncols=True,
    )  # fmt: skip
    rank = accelerator.process_index
    t0 = time.perf_counter()

    # --- epochs ------------------------------------------------------------------------------
    for epoch in range(st["epoch"], tc.epochs):
        if st["stopped_early"]:
            break
        model.train()
        train_dl.set_epoch(epoch)
        train_sampler.set_epoch(epoch)
        skip = st["batches_done"] if epoch == st["epoch"] else 0
        loader = accelerator.skip_first_batches(train_dl, skip) if skip else train_dl
        for i, batch in enumerate(loader, start=skip):
            torch.manual_seed(_step_seed(tc.seed, rank, epoch, i))
            with accelerator.accumulate(model):
                lengths = drop_modalities(batch.lengths, tc.modality_dropout)
                with accelerator.autocast():
                    outputs = model(batch.features, lengths)
                loss = head.loss(outputs.float(), batch.labels.to(head.label_dtype))
                accelerator.backward(loss)
                if accelerator.sync_gradients and tc.clip_grad_norm:
                    accelerator.clip_grad_norm_(model.parameters(), tc.clip_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
            lv = float(loss.detach())
            if not math.isfinite(lv):
                raise DataError(
                    f"epoch {epoch} batch {i}: the loss became {lv}; lower train.lr or check the data"
                )
            st["loss_sum"] += lv
            st["loss_count"] += 1
            bar.update(1)
            if accelerator.sync_gradients:
                st["global_step"] += 1
                last_batch = i + 1 == len(train_dl)
                if tc.checkpoint_every and st["global_step"] % tc.checkpoint_every == 0 and not last_batch:
                    checkpoint(epoch, i + 1)
            if tc.log_every and (i + 1) % tc.log_every == 0:
                bar.set_postfix(loss=f"{lv:.4f}")

        # --- end of epoch: validation only decides model selection and early stopping -------
        sums = accelerator.reduce(torch.tensor([st["loss_sum"], float(st["loss_count"])]), "sum")
        train_loss = float(sums[0] / max(1.0, float(sums[1])))
        valid = evaluate_loader(accelerator, model, head, valid_dl)
        row = {
            "epoch": epoch + 1, "global_step": st["global_step"], "train_loss": train_loss,
            "lr": scheduler.get_last_lr()[0], "valid": valid.metrics, "time_s": round(time.perf_counter() - t0, 2),
        }  # fmt: skip
        st["history"].append(row)
        value = float(valid.metrics[primary])
        if _is_better(value, st["best_metric"], greater):
            st.update(best_metric=value, best_epoch=epoch + 1, bad_epochs=0)
            if main:
                ck.save_weights(accelerator.unwrap_model(model).state_dict(), out / "best" / "model.safetensors",
                                {"epoch": epoch + 1, "valid": valid.metrics})  # fmt: skip
        else:
            st["bad_epochs"] += 1
        if tc.early_stopping_patience and st["bad_epochs"] >= tc.early_stopping_patience:
            st["stopped_early"] = True
        say(f"epoch {epoch + 1}/{tc.epochs}: train loss {train_loss:.4f}, valid {primary} {value:.4f}"
            f" (best {st['best_metric']:.4f} @ {st['best_epoch']})")  # fmt: skip
        st["loss_sum"], st["loss_count"] = 0.0, 0
        if main:
            write_jsonl(out / "metrics.jsonl", st["history"])
        checkpoint(epoch + 1, 0)
        if st["stopped_early"]:
            say(f"early stopping: no better valid {primary} for {st['bad_epochs']} epochs")
            break
    bar.close()

    # --- final: best weights, test metrics, plots, artifact ------------------------------------
    accelerator.wait_for_everyone()
    raw: SseftModel = accelerator.unwrap_model(model)
    best_path = out / "best" / "model.safetensors"
    if not best_path.is_file():
        raise ConfigError(f"{best_path}: no best model was saved; the run has no finished epoch")
    raw.load_state_dict(ck.load_weights(best_path))
    test_metrics = None
    if test_dl is not None:
        res = evaluate_loader(accelerator, model, head, test_dl)
        test_metrics = {**res.metrics, "best_epoch": st["best_epoch"], "split": cfg.data.test_split}
        if main:
            write_json(out / "test_metrics.json", test_metrics)
            if plots and store.task.type == "multiclass":
                cm = confusion_matrix(res.outputs, res.labels, len(mcfg.label_names))
                plot_confusion(cm, mcfg.label_names, out / "confusion_matrix.png")
    best_valid = st["history"][st["best_epoch"] - 1]["valid"] if st["history"] else {}
    result = RunResult(
        output_dir=out, best_epoch=st["best_epoch"], best_valid=best_valid, test_metrics=test_metrics,
        history=st["history"], world_size=accelerator.num_processes,
    )  # fmt: skip
    if main:
        if plots and st["history"]:
            plot_curves(st["history"], primary, out / "curves.png")
        write_json(out / "summary.json", {
            "name": cfg.name, "world_size": accelerator.num_processes, "best_epoch": st["best_epoch"],
            "best_valid": scalar_metrics(best_valid), "test": test_metrics,
            "train_time_s": round(time.perf_counter() - t0, 2),
        })  # fmt: skip
        if export or register or cfg.register_name:
            result.artifact, result.registered = export_model(
                raw, cfg, out, test_metrics, register or cfg.register_name
            )
    accelerator.wait_for_everyone()
    return result


def export_model(
    model: SseftModel,
    cfg: ExperimentConfig,
    out: Path,
    test_metrics: dict[str, Any] | None,
    register: str | None,
) -> tuple[Path, str | None]:
    """Write the best model as an artifact directory (out/model) and optionally publish it."""
    import sseft

    metrics = {"test": scalar_metrics(test_metrics or {})}
    artifact = out / "model"
    training = {"experiment": cfg.name, "config": cfg.model_dump(mode="json")}
    sseft.save(model, artifact, metrics=metrics, training=training, overwrite=True)
    if not register:
        return artifact, None
    entry = sseft.publish(artifact, register)
    return artifact, str(getattr(entry, "ref", entry))
