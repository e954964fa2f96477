"""fit(): the epochs from the state's position to the end or an early stop; each batch is one
`accelerator.accumulate` step, each epoch ends with validation (model selection only), the
history and a checkpoint."""

from __future__ import annotations

import math
from typing import Any

import torch

from ..errors import RunError, SseftError, storage_error
from ..files import atomic_write_jsonl
from . import checkpoint as ck
from . import tracking
from .evaluate import EvalResult, evaluate_loader
from .finish import write_predictions
from .optim import drop_modalities, step_seed
from .run import EpochCallback, Run


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
            outputs = model(batch.features, lengths, context=batch.context)
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
        atomic_write_jsonl(run.out / "metrics.jsonl", st.history)
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
    """Best weights (safetensors) and that epoch's validation predictions, written by the main
    process; a refused write (full disk) stops every process with the main one's error line."""
    acc = run.accelerator
    error: SseftError | None = None
    if acc.is_main_process:
        try:
            raw = acc.unwrap_model(run.model)
            ck.save_weights(
                raw.state_dict(), run.best_path, {"epoch": run.state.best_epoch, "valid": valid.metrics}
            )
            write_predictions(run, "valid", valid)
        except SseftError as e:
            error = e
        except OSError as e:
            error = storage_error(e, run.best_path.parent)
    if acc.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        box = [None if error is None else (type(error).__name__, str(error))]
        broadcast_object_list(box)
        if box[0] is not None and error is None:
            error = RunError(box[0][1])
    if error is not None:
        raise error


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
