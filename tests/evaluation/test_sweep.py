"""`sseft sweep`: Optuna TPE + median pruning over the validation metric; several workers share one
study through its storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from evalhelpers import write_config

optuna = pytest.importorskip("optuna")

SPACE = {
    "train.lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True},
    "train.batch_size": {"type": "categorical", "choices": [4, 8]},
}


def _setup(tmp_path: Path, store: Path) -> tuple[Path, Path]:
    cfg = write_config(
        tmp_path / "c.yaml", store, name="sw", fusion={"kind": "concat-pool"}, train={"epochs": 3}
    )
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    return cfg, space


def test_one_worker_writes_the_best_config(grouped_store: Path, tmp_path: Path) -> None:
    from sseft.core.evaluation.sweep import run_sweep
    from sseft.core.training.experiment import load_experiment

    cfg, space = _setup(tmp_path, grouped_store)
    r = run_sweep(cfg, space, 3, output_dir=tmp_path / "sw", seed=0, progress=False)
    assert [t["number"] for t in r["trials"]] == [0, 1, 2] and r["this_worker"] == [0, 1, 2]
    assert r["metric"] == "weighted_f1" and r["direction"] == "maximize"
    best = r["best"]
    values = [t["value"] for t in r["trials"] if t["state"] == "COMPLETE"]
    assert best["value"] == max(values)
    best_cfg = load_experiment(tmp_path / "sw" / "best.yaml")  # loads from anywhere: absolute store path
    assert best_cfg.train.lr == pytest.approx(best["params"]["train.lr"])
    assert best_cfg.train.batch_size == best["params"]["train.batch_size"]
    assert best_cfg.data.test_split == "test"  # the best config is the full experiment again
    for n in range(3):  # trials never read the test split
        assert not (tmp_path / "sw" / f"trial-{n}" / "test_metrics.json").exists()
        assert (tmp_path / "sw" / f"trial-{n}" / "metrics.jsonl").is_file()
    r2 = run_sweep(cfg, space, 3, output_dir=tmp_path / "sw", progress=False)  # budget reached: nothing to do
    assert r2["this_worker"] == [] and len(r2["trials"]) == 3


def test_median_pruning_stops_a_bad_trial(grouped_store: Path, tmp_path: Path) -> None:
    from sseft.core.evaluation.sweep import run_sweep

    cfg, space = _setup(tmp_path, grouped_store)
    study = optuna.create_study(
        storage=f"sqlite:///{tmp_path / 'p.db'}", study_name="sw", direction="maximize"
    )
    # Two finished trials that were excellent at every epoch: the median is 1.0.
    for _ in range(2):
        t = optuna.trial.create_trial(
            params={"train.lr": 0.01, "train.batch_size": 8},
            distributions={"train.lr": optuna.distributions.FloatDistribution(1e-3, 3e-2, log=True),
                           "train.batch_size": optuna.distributions.CategoricalDistribution([4, 8])},
            value=1.0, intermediate_values={1: 1.0, 2: 1.0, 3: 1.0},
        )  # fmt: skip
        study.add_trial(t)
    r = run_sweep(cfg, space, 3, output_dir=tmp_path / "sw", storage=f"sqlite:///{tmp_path / 'p.db'}",
                  progress=False)  # fmt: skip
    third = r["trials"][2]
    assert third["state"] == "PRUNED" and third["user_attrs"]["pruned_at_epoch"] == 2
    history = (tmp_path / "sw" / "trial-2" / "metrics.jsonl").read_text().splitlines()
    assert len(history) == 2  # stopped after epoch 2 of 3 (warm-up: epoch 1 is never pruned)


def test_bad_space_is_refused_before_any_trial(grouped_store: Path, tmp_path: Path) -> None:
    from sseft.core.errors import ConfigError
    from sseft.core.evaluation.sweep import run_sweep

    cfg, space = _setup(tmp_path, grouped_store)
    space.write_text(yaml.safe_dump({"train.nope": {"type": "int", "low": 1, "high": 3}}))
    with pytest.raises(ConfigError, match="nope"):
        run_sweep(cfg, space, 2, output_dir=tmp_path / "sw", progress=False)
    space.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1, "high": 0.1}}))
    with pytest.raises(ConfigError, match="low < high"):
        run_sweep(cfg, space, 2, output_dir=tmp_path / "sw", progress=False)
    assert not (tmp_path / "sw" / "trial-0").exists()


@pytest.mark.slow
def test_two_workers_share_one_sqlite_study(grouped_store: Path, tmp_path: Path) -> None:
    cfg, space = _setup(tmp_path, grouped_store)
    out = tmp_path / "sw"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "sseft", "sweep", str(cfg), "--space", str(space), "--trials", "8",
           "--output-dir", str(out), "--json"]  # fmt: skip
    workers = [subprocess.Popen([*cmd, "--seed", str(k)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env) for k in range(2)]  # fmt: skip
    results = []
    for w in workers:
        stdout, stderr = w.communicate(timeout=600)
        assert w.returncode == 0, stderr
        results.append(json.loads(stdout))
    ran = [set(r["this_worker"]) for r in results]
    assert ran[0] and ran[1], "both workers ran trials"
    assert not ran[0] & ran[1] and ran[0] | ran[1] == set(range(8))  # none lost, none run twice
    study = optuna.load_study(study_name="sw", storage=f"sqlite:///{out / 'study.db'}")
    trials = study.get_trials()
    assert sorted(t.number for t in trials) == list(range(8))
    assert all(t.state.name in ("COMPLETE", "PRUNED") for t in trials)
    assert sorted(p.name for p in out.glob("trial-*")) == sorted(f"trial-{n}" for n in range(8))
    assert (out / "best.yaml").is_file()


def test_cli_reruns_the_best_config_over_seeds(grouped_store: Path, tmp_path: Path) -> None:
    from evalhelpers import run_cli

    cfg, space = _setup(tmp_path, grouped_store)
    out = tmp_path / "sw"
    r = run_cli(
        "sweep", str(cfg), "--space", str(space), "--trials", "2", "--output-dir", str(out), "--seeds", "0,1"
    )
    assert r.returncode == 0, r.stderr
    assert "study sw: 2 trials" in r.stdout and "best trial" in r.stdout and "[trial 2/2]" in r.stderr
    summary = json.loads((out / "best-seeds" / "summary.json").read_text())
    assert summary["protocol"]["seeds"] == [0, 1] and summary["part"] == "test"
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert summary["runs"][0]["dir"] == "seed-0"
    assert (
        yaml.safe_load((out / "best-seeds" / "seed-0" / "config.yaml").read_text())["train"]["lr"]
        == best["train"]["lr"]
    )
