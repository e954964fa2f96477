"""`train.log_with`: TensorBoard event files and a local MLflow file store inside the run directory
hold the config, per-epoch metrics and the final test metrics; nothing is logged unless configured."""

from __future__ import annotations

from pathlib import Path

import pytest
from trainhelpers import tiny_experiment

from sseft.core.training.trainer import train


@pytest.mark.slow  # importing tensorboard's reader alone takes ~10 s
def test_tensorboard_event_files(tiny_store: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 2, "log_with": ["tensorboard"]})
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    scalars: dict[str, dict[int, float]] = {}
    for f in sorted((tmp_path / "run" / "tiny").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            scalars.setdefault(tag, {}).update({e.step: e.value for e in acc.Scalars(tag)})
    assert scalars["valid/accuracy"] == {
        r["epoch"]: pytest.approx(r["valid"]["accuracy"]) for r in res.history
    }
    assert scalars["train/loss"][2] == pytest.approx(res.history[1]["train_loss"])
    assert scalars["test/accuracy"] == {2: pytest.approx(res.test_metrics["accuracy"])}


def test_mlflow_file_store(tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "unset")  # undone last: absent again after the test
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")  # the trainer opts in to the file store itself
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 2, "log_with": ["mlflow"]})
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    store = tmp_path / "run" / "mlruns"
    assert store.is_dir()
    client = MlflowClient(tracking_uri=store.as_uri())
    (exp,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.params["train.epochs"] == "2" and run.data.params["head.name"] == "multiclass"
    history = client.get_metric_history(run.info.run_id, "valid/accuracy")
    assert sorted((m.step, m.value) for m in history) == [
        (r["epoch"], pytest.approx(r["valid"]["accuracy"])) for r in res.history
    ]
    assert run.data.metrics["test/accuracy"] == pytest.approx(res.test_metrics["accuracy"])


def test_nothing_is_logged_unless_configured(tiny_store: Path, tmp_path: Path) -> None:
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 1})
    train(cfg, tmp_path / "run", progress=False, plots=False)
    run = tmp_path / "run"
    assert not list(run.rglob("events.out.tfevents.*")) and not (run / "mlruns").exists()
    assert not (run / "tiny").exists() and not (Path.cwd() / "mlruns").exists()


def test_a_tracking_failure_mid_run_leaves_no_mlflow_run_active(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's active run is process-global: a run whose tracking was switched off by a failure (a
    server gone mid-run) must still be released, or the next training in the process cannot start
    its own ('Run ... is already active'; seen when the tracking-server test ran before this file)."""
    mlflow = pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    from sseft.core.training import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    calls = {"n": 0}
    real_log = tracking._guarded

    def failing_after_start(accelerator: object, what: str, call: object) -> None:
        calls["n"] += 1
        if what.startswith("logging epoch"):
            call = lambda: (_ for _ in ()).throw(ConnectionError("server gone"))  # noqa: E731
        real_log(accelerator, what, call)  # type: ignore[arg-type]

    monkeypatch.setattr(tracking, "_guarded", failing_after_start)
    cfg = tiny_experiment(tmp_path, tiny_store, train={"epochs": 1, "log_with": ["mlflow"]})
    train(cfg, tmp_path / "first", progress=False, plots=False)
    assert calls["n"] >= 2
    assert mlflow.active_run() is None
    monkeypatch.setattr(tracking, "_guarded", real_log)
    # The next training in this process logs to a run of its own.
    train(cfg, tmp_path / "second", progress=False, plots=False)
    client = MlflowClient(tracking_uri=(tmp_path / "second" / "mlruns").as_uri())
    (exp,) = [e for e in client.search_experiments() if e.name == "tiny"]
    (run,) = client.search_runs([exp.experiment_id])
    assert run.data.metrics  # epochs and test metrics arrived
