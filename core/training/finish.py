"""finish(): the best weights back in the model, test metrics and per-item predictions, the
summary and pictures; returns the TrainResult."""

from __future__ import annotations

import time
from typing import Any

from ..errors import RunError
from ..files import atomic_write_json, atomic_write_jsonl
from ..model import SseftModel
from . import checkpoint as ck
from . import tracking
from .data import item_labels
from .evaluate import EvalResult, evaluate_loader, prediction_records, scalar_metrics
from .report import plot_learning_curves
from .run import Run
from .state import TrainResult


def finish_run(run: Run, plots: bool = True) -> TrainResult:
    """Best weights back in the model, test metrics and predictions, summary, pictures."""
    acc, st = run.accelerator, run.state
    acc.wait_for_everyone()
    if not run.best_path.is_file():
        raise RunError(f"{run.best_path}: no best model was saved; the run has no finished epoch")
    raw: SseftModel = acc.unwrap_model(run.model)
    raw.load_state_dict(ck.read_weights(run.best_path))
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
            plot_learning_curves(st.history, run.head.primary_metric, run.out / "curves.png")
        atomic_write_json(run.out / "summary.json", summary_record(run, result), indent=2)
    tracking.finish(acc, run.cfg, test_metrics, len(st.history))
    acc.wait_for_everyone()
    return result


def test(run: Run, plots: bool) -> dict[str, Any]:
    res = evaluate_loader(run.accelerator, run.model, run.head, run.loaders["test"])
    where = "split_ids" if run.custom_ids else run.cfg.data.test_split
    metrics = {**res.metrics, "best_epoch": run.state.best_epoch, "split": where}
    if run.accelerator.is_main_process:
        atomic_write_json(run.out / "test_metrics.json", metrics, indent=2)
        write_predictions(run, "test", res)
        if plots:
            pictures(run, res)
    return metrics


def write_predictions(run: Run, role: str, res: EvalResult) -> None:
    truth = item_labels(run.store, run.ids[role], run.cfg.data.labels)
    atomic_write_jsonl(
        run.out / f"{role}_predictions.jsonl", prediction_records(run.head, res, run.ids[role], truth)
    )


def pictures(run: Run, res: EvalResult) -> None:
    """The head's own pictures of the test split (a confusion matrix for multiclass, ...)."""
    run.head.report(res.outputs, res.labels, run.out)


def summary_record(run: Run, result: TrainResult) -> dict[str, Any]:
    return {
        "name": run.cfg.name,
        # the model's dialogue context in ContextConfig.describe()'s words (None: each utterance alone)
        "context": run.mcfg.context.describe() if run.mcfg.context_on else None,
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
