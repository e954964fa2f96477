"""Experiment tracking through Accelerate's trackers (`train.log_with`), off unless configured.

File-based trackers write inside the run directory: TensorBoard event files under
`<run>/<name>/`, MLflow's local file store under `<run>/mlruns`. `train.tracking_uri` (or
MLFLOW_TRACKING_URI) sends MLflow elsewhere: a tracking server (`http://host:5000`) or a database.
Logged: the resolved config once (params), per epoch the train loss, learning rate and validation
metrics, at the end the test metrics, and after publishing the registry reference `name@version`
(MLflow tag `sseft.model`).

A tracker is never worth a run: the first failed call (a server that went away, a refused write)
is one warning, and that run logs nothing more. Against an HTTP server MLflow's own retries are
capped (MLFLOW_HTTP_REQUEST_MAX_RETRIES=1, MLFLOW_HTTP_REQUEST_TIMEOUT=10 s unless set) so a dead
server costs seconds, not minutes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .evaluate import scalar_metrics

log = logging.getLogger("sseft.tracking")

# Accelerator -> the MLflow run it logs to ({"uri", "run_id"}) or {"off": reason} once a call failed.
_RUNS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
# Run directory -> the MLflow run, for the registry reference written after training ends.
_BY_DIR: dict[str, dict[str, str]] = {}


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


def _guarded(accelerator: Any, what: str, call: Callable[[], Any]) -> None:
    """Run a tracker call; its first failure is one warning and switches tracking off for the run."""
    state = _RUNS.get(accelerator, {})
    if "off" in state:
        return
    try:
        call()
    except Exception as e:  # any tracker/backend/network error: the run goes on
        reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        where = f" ({state['uri']})" if state.get("uri") else ""
        log.warning(f"experiment tracking{where} failed while {what}: {reason}; the run goes on without it")
        _RUNS[accelerator] = {**state, "off": reason}


# URIs this process handed to mlflow.set_tracking_uri: MLflow also writes them into
# MLFLOW_TRACKING_URI, which must not then read as the user's choice for the next training.
_SET_HERE: set[str] = set()


def _mlflow_uri(cfg: Any, out: Path) -> str:
    """Where MLflow logs: train.tracking_uri, else MLFLOW_TRACKING_URI (the user's, not one an
    earlier training in this process set), else `<run>/mlruns`."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    uri = getattr(cfg.train, "tracking_uri", None) or (env if env not in _SET_HERE else None)
    if uri:
        return str(uri)
    # A local file store in the run directory: no server, no database package needed.
    # MLflow 3 keeps that backend in maintenance mode and asks for this opt-in.
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    return (out / "mlruns").absolute().as_uri()


def _end_mlflow_run() -> None:
    """End MLflow's process-wide active run, if any, without letting a dead server fail us.

    MLflow keeps the active run in process-global state. A run whose tracking was switched off by a
    failure (a server that went down) is never ended by Accelerate, and would make every later
    training in the same process fail to start ("Run ... is already active"). `mlflow.end_run` takes
    the run off that state before it tells the server, so its network error can be ignored here."""
    import mlflow

    if mlflow.active_run() is None:
        return
    with contextlib.suppress(Exception):
        mlflow.end_run(status="FAILED")


def start(accelerator: Any, cfg: Any, out: Path) -> None:
    """init_trackers with the config (no-op when train.log_with is empty)."""
    if not cfg.train.log_with:
        return
    uri = ""
    if "mlflow" in cfg.train.log_with and accelerator.is_main_process:
        import mlflow

        _end_mlflow_run()  # a run another training in this process left active
        uri = _mlflow_uri(cfg, out)
        if uri.startswith(("http://", "https://")):
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
        mlflow.set_tracking_uri(uri)
        _SET_HERE.add(uri)
    _RUNS[accelerator] = {"uri": uri} if uri else {}
    config = flat_config(cfg.model_dump(mode="json"))
    _guarded(accelerator, "starting", lambda: accelerator.init_trackers(cfg.name, config=config))
    if uri and "off" not in _RUNS[accelerator]:
        run = getattr(accelerator.get_tracker("mlflow"), "active_run", None)
        if run is not None:
            _RUNS[accelerator]["run_id"] = run.info.run_id
            _BY_DIR[str(out.absolute())] = {"uri": uri, "run_id": run.info.run_id}


def log_epoch(accelerator: Any, cfg: Any, row: dict[str, Any]) -> None:
    if not cfg.train.log_with:
        return
    values = {"train/loss": row["train_loss"], "train/lr": row["lr"]}
    values |= {f"valid/{k}": v for k, v in scalar_metrics(row["valid"]).items()}
    _guarded(accelerator, f"logging epoch {row['epoch']}", lambda: accelerator.log(values, step=row["epoch"]))


def finish(accelerator: Any, cfg: Any, test_metrics: dict[str, Any] | None, step: int) -> None:
    if not cfg.train.log_with:
        return
    if test_metrics:
        values = {f"test/{k}": v for k, v in scalar_metrics(test_metrics).items()}
        _guarded(accelerator, "logging the test metrics", lambda: accelerator.log(values, step=step))
    _guarded(accelerator, "ending the run", accelerator.end_training)
    if _RUNS.get(accelerator, {}).get("uri"):
        _end_mlflow_run()  # tracking was switched off mid-run: still release MLflow's active run


def published(run_dir: Path, reference: str) -> None:
    """Tag the run's MLflow run with the registry reference of its published model (`name@version`);
    nothing when that run did not log to MLflow. A failure is a warning."""
    where = _BY_DIR.get(str(Path(run_dir).absolute()))
    if where is None:
        return
    try:
        from mlflow.tracking import MlflowClient

        MlflowClient(where["uri"]).set_tag(where["run_id"], "sseft.model", reference)
    except Exception as e:  # the model is published; only its record in the tracker is missing
        reason = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
        log.warning(f"experiment tracking ({where['uri']}): could not record the model {reference}: {reason}")
