"""Seeds x folds runner: run layout, summary statistics, reuse of finished runs, folds through the
trainer, `sseft train --seeds`, and `sseft compare` on real runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from evalhelpers import run_cli, write_config

from sseft.core.errors import ConfigError, DataError
from sseft.core.experiment import runner
from sseft.core.experiment.runner import ExperimentOptions, run_experiment
from sseft.core.training.experiment import load_experiment


def run_protocol(cfg: Any, out: Path, seeds: list[int], **opts: Any) -> dict[str, Any] | None:
    """The seeds x folds experiment of `cfg` in `out`; its summary (summary.json's data)."""
    return run_experiment(cfg, out, ExperimentOptions(seeds=seeds, **opts)).summary


@pytest.fixture(scope="module")
def seeds_run(grouped_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("seeds")
    cfg_path = write_config(d / "c.yaml", grouped_store, train={"epochs": 2})
    run_protocol(load_experiment(cfg_path), d / "run", seeds=[0, 1], progress=False, plots=False)
    return cfg_path, d / "run"


def test_seed_runs_and_summary(seeds_run: tuple[Path, Path]) -> None:
    _, out = seeds_run
    for s in (0, 1):
        run = out / f"seed-{s}"
        assert (run / "test_metrics.json").is_file()
        rows = [json.loads(x) for x in (run / "test_predictions.jsonl").read_text().splitlines()]
        assert len(rows) == 12 and {"id", "truth", "outputs"} <= set(rows[0])
        assert yaml.safe_load((run / "config.yaml").read_text())["train"]["seed"] == s
    summary = json.loads((out / "summary.json").read_text())
    assert summary["protocol"]["seeds"] == [0, 1] and summary["part"] == "test"
    per_seed = [json.loads((out / f"seed-{s}" / "test_metrics.json").read_text())["accuracy"] for s in (0, 1)]
    acc = summary["metrics"]["accuracy"]
    assert acc["values"] == pytest.approx(per_seed) and acc["n"] == 2
    assert acc["mean"] == pytest.approx(sum(per_seed) / 2)
    assert acc["std"] == pytest.approx(abs(per_seed[0] - per_seed[1]) / 2**0.5)
    assert [b["seed"] for b in summary["best_epochs"]] == [0, 1]
    assert all(1 <= b["best_epoch"] <= 2 for b in summary["best_epochs"])
    for ext in ("md", "csv", "tex", "png"):
        assert (out / f"summary.{ext}").stat().st_size > 0
    assert " ± " in (out / "summary.md").read_text() and "$\\pm$" in (out / "summary.tex").read_text()


def test_finished_runs_are_reused(seeds_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    cfg_path, out = seeds_run

    def boom(*a, **k):
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner, "train", boom)
    s = run_protocol(load_experiment(cfg_path), out, seeds=[0, 1], progress=False)
    assert s is not None and s["metrics"]["accuracy"]["n"] == 2


def test_another_config_in_the_same_directory_is_refused(seeds_run: tuple[Path, Path]) -> None:
    cfg_path, out = seeds_run
    cfg = load_experiment(cfg_path, ["train.lr=0.5"])
    with pytest.raises(ConfigError, match="another config"):
        run_protocol(cfg, out, seeds=[0, 1], progress=False)


def test_the_same_store_spelled_relative_is_the_same_config(
    seeds_run: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store path written relative to the working directory names the same store as its absolute
    spelling: the finished runs are reused, not refused as another config's."""
    cfg_path, out = seeds_run
    cfg = load_experiment(cfg_path)
    store = Path(cfg.data.store).resolve()
    monkeypatch.chdir(store.parent)
    relative = cfg.model_copy(update={"data": cfg.data.model_copy(update={"store": store.name})})
    monkeypatch.setattr(runner, "train", lambda *a, **k: (_ for _ in ()).throw(AssertionError("retrained")))
    s = run_protocol(relative, out, seeds=[0, 1], progress=False, plots=False)
    assert s is not None and s["metrics"]["accuracy"]["n"] == 2


def test_folds_train_on_their_own_groups(grouped_store: Path, tmp_path: Path) -> None:
    cfg_path = write_config(tmp_path / "c.yaml", grouped_store, data={"store": str(grouped_store),
                            "folds": {"by": "session", "kind": "k-fold", "k": 2}})  # fmt: skip
    s = run_protocol(load_experiment(cfg_path), tmp_path / "run", seeds=[0], progress=False, plots=False)
    assert s is not None and sorted(s["per_fold"]) == ["1", "2"] and s["metrics"]["accuracy"]["n"] == 2
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(grouped_store)
    session = {
        i: m["session"] for sp in store.splits for i, m in zip(store.ids(sp), store.meta(sp), strict=True)
    }
    tested: set[str] = set()
    for f in (1, 2):
        run = tmp_path / "run" / f"fold-{f}" / "seed-0"
        test_ids = {json.loads(x)["id"] for x in (run / "test_predictions.jsonl").read_text().splitlines()}
        valid_ids = {json.loads(x)["id"] for x in (run / "valid_predictions.jsonl").read_text().splitlines()}
        assert {session[i] for i in test_ids}.isdisjoint({session[i] for i in valid_ids})
        tested |= test_ids
    assert tested == set(session)  # every item is tested once over the folds


def test_train_cli_seeds_and_compare(
    seeds_run: tuple[Path, Path], grouped_store: Path, tmp_path: Path
) -> None:
    cfg_path, base = seeds_run
    other = write_config(tmp_path / "lf.yaml", grouped_store, name="lf", fusion={"kind": "late-fusion"},
                         train={"epochs": 2})  # fmt: skip
    r = run_cli("train", str(other), "--seeds", "0,1", "--output-dir", str(tmp_path / "lf"))
    assert r.returncode == 0, r.stderr
    assert "lf: 2 runs (test split)" in r.stdout and "accuracy" in r.stdout
    assert "[run 2/2] seed 1" in r.stderr  # progress: which seed runs, with the ETA
    assert "ETA" in r.stderr
    r = run_cli("compare", str(tmp_path / "lf"), str(base), "--json", "--resamples", "2000")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["metric"] == "weighted_f1" and res["matched"] == ["seed 0", "seed 1"]
    assert res["bootstrap"]["n_items"] == [12, 12] and res["bootstrap"]["resamples"] == 2000
    assert res["paired"]["n"] == 2
    r = run_cli("compare", str(tmp_path / "lf" / "seed-0"), str(base / "seed-1"), "--metric", "accuracy")
    assert r.returncode == 0, r.stderr
    assert "paired bootstrap over test items" in r.stdout and "matched runs: 1" in r.stdout


def test_compare_refuses_different_test_items(seeds_run: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    from sseft.core.evaluation.compare import compare_runs

    _, base = seeds_run
    other = tmp_path / "other"
    shutil.copytree(base / "seed-0", other)
    pred = other / "test_predictions.jsonl"
    lines = pred.read_text().splitlines()
    row = json.loads(lines[0])
    row["id"] = "someone-else"
    pred.write_text("\n".join([json.dumps(row), *lines[1:]]) + "\n")
    with pytest.raises(DataError, match="test items differ.*'someone-else' only in"):
        compare_runs(other, base / "seed-0")


def test_overwrite_clears_only_the_protocol(grouped_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = load_experiment(write_config(tmp_path / "c.yaml", grouped_store))
    run_protocol(cfg, out, seeds=[0], progress=False, plots=False)
    (out / "notes.txt").write_text("mine")
    other = load_experiment(write_config(tmp_path / "c.yaml", grouped_store, train={"lr": 0.01}))
    with pytest.raises(ConfigError, match="another config"):
        run_protocol(other, out, seeds=[0], progress=False)
    s = run_protocol(other, out, seeds=[1], progress=False, plots=False, overwrite=True)
    assert s is not None and [r["seed"] for r in s["runs"]] == [1]
    assert not (out / "seed-0").exists() and (out / "notes.txt").read_text() == "mine"


def test_an_interrupted_run_is_resumed_not_refused(grouped_store: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cfg = load_experiment(write_config(tmp_path / "c.yaml", grouped_store, train={"epochs": 2}))
    first = run_protocol(cfg, out, seeds=[0], progress=False, plots=False)
    (out / "seed-0" / "protocol_run.json").unlink()  # as if killed after training, before the record
    again = run_protocol(cfg, out, seeds=[0], progress=False, plots=False)
    assert first is not None and again is not None
    assert again["runs"][0]["test"]["accuracy"] == first["runs"][0]["test"]["accuracy"]
    assert len((out / "seed-0" / "metrics.jsonl").read_text().splitlines()) == 2  # no epoch trained twice


@pytest.mark.slow
def test_seeds_under_two_processes(grouped_store: Path, tmp_path: Path) -> None:
    """Each seed uses every process (gloo DDP on CPU); only the main process writes and reports."""
    import os
    import subprocess
    import sys

    cfg = write_config(tmp_path / "c.yaml", grouped_store)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "sseft", "train", str(cfg), "--seeds", "0,1", "--output-dir", str(out)]  # fmt: skip
    p = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=400
    )
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count("tiny: 2 runs") == 1 and p.stderr.count("[run 2/2] seed 1") == 1
    for s in (0, 1):
        assert json.loads((out / f"seed-{s}" / "summary.json").read_text())["world_size"] == 2
    assert json.loads((out / "summary.json").read_text())["metrics"]["accuracy"]["n"] == 2
