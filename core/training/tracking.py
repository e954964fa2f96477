"""Experiment tracking through Accelerate's trackers (`train.log_with`), off unless configured.

File-based trackers write inside the run directory: TensorBoard event files under
`<run>/<name>/`, MLflow's local file store under `<run>/mlruns` (unless MLFLOW_TRACKING_URI points
elsewhere, e.g. a tracking server or `sqlite:///mlflow.db`: then the user configured it). Logged: the resolved config once, per epoch the train
loss, learning rate and validation metrics, at the end the test metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .evaluate import scalar_metrics


def flat_config(data: Any, prefix: str = "") -> dict[str, Any]:
    """{"train": {"lr": 1e-3}} -> {"train.lr": 0.001}; lists and None become strings (TensorBoard
    hparams and MLflow params take scalars only)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flat_config(v, f"{prefix}{k}."))
        return out
    key = prefix[:-1]
    out[key] = data if isinstance(data, (int, float, str, bool)) else str(data)
    return out


def start(accelerator: Any, cfg: Any, out: Path) -> None:
    """init_trackers with the config (no-op when train.log_with is empty)."""
    if not cfg.train.log_with:
        return
    init_kwargs: dict[str, Any] = {}
    if "mlflow" in cfg.train.log_with and accelerator.is_main_process:
        import os

        import mlflow

        if not os.environ.get("MLFLOW_TRACKING_URI"):
            # A local file store in the run directory: no server, no database package needed.
            # MLflow 3 keeps that backend in maintenance mode and asks for this opt-in.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            mlflow.set_tracking_uri((out / "mlruns").absolute().as_uri())
    accelerator.init_trackers(
        cfg.name, config=flat_config(cfg.model_dump(mode="json")), init_kwargs=init_kwargs
    )


def log_epoch(accelerator: Any, cfg: Any, row: dict[str, Any]) -> None:
    if not cfg.train.log_with:
        return
    values = {"train/loss": row["train_loss"], "train/lr": row["lr"]}
    values |= {f"valid/{k}": v for k, v in scalar_metrics(row["valid"]).items()}
    accelerator.log(values, step=row["epoch"])


def finish(accelerator: Any, cfg: Any, test_metrics: dict[str, Any] | None, step: int) -> None:
    if not cfg.train.log_with:
        return
    if test_metrics:
        accelerator.log({f"test/{k}": v for k, v in scalar_metrics(test_metrics).items()}, step=step)
    accelerator.end_training()
