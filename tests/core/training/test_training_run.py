"""End-to-end training runs on a tiny synthetic store: outputs, evaluate, two processes, kill + resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from trainhelpers import write_config, write_store

from sseft.cli.main import cli

pytestmark = pytest.mark.slow

TINY_SYNTH = {
    "seed": 1, "n_train": 96, "n_valid": 25, "n_test": 27, "cue_scale": 4.0,
    "modalities": [{"name": "text", "dim": 8, "min_len": 2, "max_len": 6},
                   {"name": "speech", "dim": 6, "min_len": 2, "max_len": 6},
                   {"name": "face", "dim": 4, "min_len": 2, "max_len": 6}],
}  # fmt: skip


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sseft.plugins.datasets.synthetic import write_synthetic_store

    root = tmp_path_factory.mktemp("synth") / "store"
    write_synthetic_store(TINY_SYNTH, root)
    return root


def synth_config(tmp: Path, store: Path, **train: object) -> Path:
    return write_config(
        tmp / "cfg.yaml", store, name="tiny-synth", head={"name": "multiclass"},
        data={"store": str(store), "synthetic": TINY_SYNTH},
        train={"epochs": 3, "batch_size": 16, "lr": 3e-3, "seed": 5, "num_threads": 1, **train},
    )  # fmt: skip


def run_cli(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "sseft", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_run_outputs_evaluate_and_register(synth: Path, tmp_path: Path) -> None:
    cfg = synth_config(tmp_path, synth)
    run = tmp_path / "run"
    res = CliRunner().invoke(cli, ["train", str(cfg), "--output-dir", str(run), "--register", "tiny-synth"])
    assert res.exit_code == 0, res.output
    files = ("config.yaml", "metrics.jsonl", "test_metrics.json", "test_predictions.jsonl", "valid_predictions.jsonl",
             "curves.png", "confusion_matrix.png", "model/config.json", "model/model.safetensors",
             "best/model.safetensors")  # fmt: skip
    for f in files:
        assert (run / f).is_file(), f
    from sseft.core.features import FeatureStore

    preds = [json.loads(x) for x in (run / "test_predictions.jsonl").read_text().splitlines()]
    store = FeatureStore.open(synth)
    assert [p["id"] for p in preds] == store.ids("test")  # one row per test item, in the split's order
    assert [p["truth"] for p in preds] == store.labels("test")
    assert all(len(p["outputs"]) == 4 for p in preds)  # the raw head output (4 class logits)
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert all(r["valid"]["n_items"] == 25 for r in rows)
    test = json.loads((run / "test_metrics.json").read_text())
    assert test["n_items"] == 27 and 1 <= test["best_epoch"] <= 3
    # The test metrics come from the best validation epoch's weights.
    best = max(rows, key=lambda r: r["valid"]["weighted_f1"])
    assert test["best_epoch"] == best["epoch"]
    assert "registered: tiny-synth@1" in res.output

    # `sseft evaluate` on the run dir and on the registry name reproduces the test metrics.
    for ref in (str(run), "tiny-synth"):
        ev = CliRunner().invoke(cli, ["evaluate", ref, "--data", str(synth), "--json"])
        assert ev.exit_code == 0, ev.output
        got = json.loads(ev.output)
        assert got["n_items"] == 27 and got["accuracy"] == test["accuracy"]
        assert got["loss"] == pytest.approx(test["loss"], rel=1e-5)

    # A store whose widths differ from the model's is refused with one line.
    other = write_store(tmp_path / "other", dims={"text": 9, "speech": 6, "face": 4})
    ev = CliRunner().invoke(cli, ["evaluate", str(run), "--data", str(other)])
    assert ev.exit_code == 2 and "dim 9" in ev.output and "expects 8" in ev.output, ev.output


def test_two_processes_score_the_whole_split(synth: Path, tmp_path: Path) -> None:
    cfg = synth_config(tmp_path, synth, epochs=1)
    run = tmp_path / "run2"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "sseft", "train", str(cfg), "--output-dir", str(run)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["world_size"] == 2
    # 25 and 27 items: odd, so each process holds a different shard; the gathered count is the whole split.
    assert summary["best_valid"]["n_items"] == 25
    assert summary["test"]["n_items"] == 27
    assert p.stdout.count("run: ") == 1  # only the main process reports
    # The same weights scored by one process give the same whole-split metrics.
    for split, two in (("test", summary["test"]), ("valid", summary["best_valid"])):
        ev = CliRunner().invoke(cli, ["evaluate", str(run), "--data", str(synth), "--split", split, "--json"])
        assert ev.exit_code == 0, ev.output
        one = json.loads(ev.output)
        assert one["world_size"] == 1 and one["n_items"] == two["n_items"]
        for k in ("accuracy", "weighted_f1", "macro_f1"):
            assert one[k] == two[k], (split, k)
        # The loss is a float32 mean: 2 processes batch (and so pad and sum) the items differently, which
        # moves it in the 6th-7th digit (seen: 1.3872294 vs 1.3872313); a wrong item set moves it far more.
        assert one["loss"] == pytest.approx(two["loss"], rel=1e-5)
    preds = [json.loads(x)["id"] for x in (run / "test_predictions.jsonl").read_text().splitlines()]
    from sseft.core.features import FeatureStore

    assert preds == FeatureStore.open(synth).ids("test")  # gathered from both processes, each once


def test_sigkill_then_resume_matches_uninterrupted_run(synth: Path, tmp_path: Path) -> None:
    over = [
        "--set",
        "train.epochs=4",
        "--set",
        "train.checkpoint_every=2",
        "--set",
        "train.keep_checkpoints=2",
        "--no-export",
    ]
    cfg = synth_config(tmp_path, synth)
    ref, run = tmp_path / "ref", tmp_path / "killed"
    r = run_cli("train", str(cfg), "--output-dir", str(ref), *over)
    assert r.returncode == 0, r.stderr[-3000:]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "sseft", "train", str(cfg), "--output-dir", str(run), *over],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    ckpts = run / "checkpoints"
    deadline = time.time() + 180
    try:
        # Kill as soon as a mid-epoch checkpoint exists: the run is then inside an epoch.
        while time.time() < deadline and not any(p.name[-7:] != "0000000" for p in ckpts.glob("ckpt-*")):
            assert proc.poll() is None, "the run finished before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "test_metrics.json").exists()
    # Whatever carries a checkpoint name is complete and loadable.
    from safetensors.torch import load_file

    for c in ckpts.glob("ckpt-*"):
        assert json.loads((c / "training_state.json").read_text())["epoch"] >= 0
        assert load_file(str(c / "model.safetensors"))

    from sseft.core.training.checkpoint import latest_checkpoint

    last = latest_checkpoint(ckpts)
    assert last is not None
    epoch, batch = int(last.name[6:10]), int(last.name[12:])
    r = run_cli("train", str(cfg), "--output-dir", str(run), "--resume", *over)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"resumed from {last.name} (epoch {epoch}, batch {batch})" in r.stdout
    # The resumed process started there and trained only the rest: 96 items / 16 = 6 batches (and
    # steps) per epoch, 24 in all.
    this = json.loads((run / "summary.json").read_text())["this_run"]
    assert this["started_at"] == {"epoch": epoch, "batch": batch} and this["resumed_from"] == last.name
    assert this["batches"] == this["steps"] == 24 - (6 * epoch + batch) < 24
    # Byte-identical to the uninterrupted run (float64 loss sums, replayed order and dropout).
    for f in ("metrics.jsonl", "test_metrics.json", "test_predictions.jsonl"):
        assert (run / f).read_bytes() == (ref / f).read_bytes(), f
    assert not list(ckpts.glob(".tmp-*"))
    assert len(list(ckpts.glob("ckpt-*"))) == 2  # rotation


def test_synthetic_store_with_other_options_is_refused(synth: Path, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path / "c.yaml",
        synth,
        name="tiny-synth",
        data={"store": str(synth), "synthetic": {**TINY_SYNTH, "cue_scale": 2.0}},
    )
    res = CliRunner().invoke(cli, ["train", str(cfg), "--no-export", "--output-dir", str(tmp_path / "r")])
    assert res.exit_code == 2 and "other options" in res.output, res.output


def test_second_sseft_train_process_is_locked_out(synth: Path, tmp_path: Path) -> None:
    cfg = synth_config(tmp_path, synth, epochs=30)
    run = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "sseft", "train", str(cfg), "--output-dir", str(run), "--no-export"],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (run / "metrics.jsonl").exists():  # training has begun
            assert first.poll() is None, "the first run ended early"
            time.sleep(0.1)
        second = run_cli("train", str(cfg), "--output-dir", str(run), "--overwrite", "--no-export")
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 2, second.stderr
    err = second.stderr.strip().splitlines()
    assert len(err) == 1 and f"PID {first.pid} " in err[0] and str(run) in err[0], second.stderr
