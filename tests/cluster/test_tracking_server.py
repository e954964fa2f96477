"""`train.log_with: [mlflow]` with `train.tracking_uri` at a real `mlflow server` (SQLite backend, local
artifact root) on 127.0.0.1: what arrives over HTTP, and a server that dies mid-run costs one warning."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from clusterhelpers import ENV, free_port, write_learnable_store, write_train_config

from sseft.cli.main import cli

pytestmark = pytest.mark.slow
MLFLOW = Path(sys.executable).with_name("mlflow")


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One server for the module (its start-up takes a while); the last test stops it."""
    pytest.importorskip("mlflow.server", reason="the full mlflow package (its server) is not installed")
    if not MLFLOW.exists():
        pytest.skip("the mlflow command is not installed (pip install 'sseft[cluster]')")
    d = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    proc = subprocess.Popen([str(MLFLOW), "server", "--backend-store-uri", f"sqlite:///{d / 'mlflow.db'}",
                             "--default-artifact-root", (d / "artifacts").as_uri(), "--host", "127.0.0.1",
                             "--port", str(port), "--workers", "1"], env=ENV, stdout=(d / "log").open("wb"),
                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        assert proc.poll() is None and time.time() < deadline, (d / "log").read_text()[-3000:]
        time.sleep(0.3)
    try:
        yield uri, proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    import os
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its worker processes
        proc.wait()


def config(tmp_path: Path, uri: str, epochs: int) -> Path:
    store = write_learnable_store(tmp_path / "store")
    cfg = write_train_config(
        tmp_path / "c.yaml", store, 16, epochs=epochs, log_with=["mlflow"], tracking_uri=uri
    )
    return cfg


def test_params_metrics_and_model_reference_arrive_over_http(mlflow_server, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    uri, _ = mlflow_server
    cfg = config(tmp_path, uri, epochs=3)
    run_dir = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--output-dir", str(run_dir), "--register", "tracked"])
    assert res.exit_code == 0, res.output
    assert "registered: tracked@1" in res.output
    assert not (run_dir / "mlruns").exists()  # nothing went to a local file store
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("multinode")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1
    run = runs[0]
    assert run.data.params["train.lr"] == "0.03" and run.data.params["train.tracking_uri"] == uri
    history = client.get_metric_history(run.info.run_id, "valid/loss")
    assert sorted(m.step for m in history) == [1, 2, 3]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train/loss")] == [1, 2, 3]
    test = json.loads((run_dir / "test_metrics.json").read_text())
    assert run.data.metrics["test/accuracy"] == pytest.approx(test["accuracy"])
    assert run.data.metrics["test/weighted_f1"] == pytest.approx(test["weighted_f1"])
    assert run.data.tags["sseft.model"] == "tracked@1"
    assert run.info.status == "FINISHED"
    print(f"\nmlflow run {run.info.run_id}: {len(run.data.params)} params, valid/loss steps "
          f"{[m.step for m in history]}, test/accuracy {run.data.metrics['test/accuracy']:.4f}, "
          f"sseft.model={run.data.tags['sseft.model']}")  # fmt: skip


def test_server_down_mid_run_is_one_warning(mlflow_server, tmp_path: Path, caplog) -> None:
    from mlflow.tracking import MlflowClient

    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train

    uri, proc = mlflow_server
    cfg = load_experiment(config(tmp_path, uri, epochs=4)).model_copy(
        update={"name": "down"}
    )  # its own experiment
    killed: list[int] = []

    def on_epoch(epoch: int, metrics: dict) -> bool:
        if epoch == 1:  # the run has started and logged its params; the server goes away
            runs = MlflowClient(uri).search_runs(
                [MlflowClient(uri).get_experiment_by_name("down").experiment_id]
            )
            assert len(runs) == 1 and runs[0].data.params
            stop(proc)
            killed.append(epoch)
        return False

    t0 = time.time()
    with caplog.at_level(logging.WARNING, logger="sseft.tracking"):
        res = train(cfg, tmp_path / "run", on_epoch=on_epoch, progress=False, plots=False)
    took = time.time() - t0
    assert killed == [1] and len(res.history) == 4 and res.test_metrics is not None
    assert (tmp_path / "run" / "test_metrics.json").is_file()
    warnings = [r.getMessage() for r in caplog.records if r.name == "sseft.tracking"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"experiment tracking ({uri}) failed while logging epoch 1")
    assert "the run goes on without it" in warnings[0]
    print(f"\nserver killed after epoch 1: run finished in {took:.1f} s with one warning: {warnings[0]}")
