"""`sseft sweep --storage postgresql://...`: three workers on one study on a real PostgreSQL server,
one killed mid-trial (its trial fails and is retried once); bad storage URLs are one line each."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from clusterhelpers import ENV, free_port, write_learnable_store, write_train_config
from pgserver import PASSWORD, postgres_server, why_absent

from sseft.core.evaluation.sweep_storage import engine_url, retried_number

optuna = pytest.importorskip("optuna")

PLANNED = 4
HEARTBEAT = 2  # seconds; a trial silent for 4 beats is stale


def sweep_cmd(cfg: Path, space: Path, out: Path, storage: str, seed: int = 0) -> list[str]:
    return [sys.executable, "-m", "sseft", "sweep", str(cfg), "--space", str(space), "--trials", str(PLANNED),
            "--storage", storage, "--study", "pg", "--output-dir", str(out), "--seed", str(seed), "--no-prune",
            "--heartbeat", str(HEARTBEAT), "--json"]  # fmt: skip


def setup_experiment(tmp_path: Path) -> tuple[Path, Path]:
    store = write_learnable_store(tmp_path / "store")
    cfg = write_train_config(tmp_path / "c.yaml", store, 16, epochs=4)
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump({"train.lr": {"type": "float", "low": 1e-2, "high": 6e-2, "log": True}}))
    return cfg, space


@pytest.mark.slow
@pytest.mark.skipif(why_absent() is not None, reason=str(why_absent()))
def test_three_workers_on_postgres_one_killed_mid_trial(tmp_path: Path) -> None:
    cfg, space = setup_experiment(tmp_path)
    out = tmp_path / "sweep"
    with postgres_server() as url:
        workers = [subprocess.Popen(sweep_cmd(cfg, space, out, url, seed=k), env=ENV, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(3)]  # fmt: skip
        pids = {w.pid: w for w in workers}
        storage = optuna.storages.RDBStorage(engine_url(url))  # the driver the workers use
        killed_trial, victim = None, None
        deadline = time.time() + 240
        try:
            while time.time() < deadline and killed_trial is None:
                try:
                    study = optuna.load_study(study_name="pg", storage=storage)
                except KeyError:  # not created yet
                    time.sleep(0.2)
                    continue
                for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
                    pid = int(str(t.user_attrs.get("worker", ":0")).rsplit(":", 1)[1])
                    history = out / f"trial-{t.number}" / "metrics.jsonl"
                    # Mid-trial: at least one epoch done, the trial not finished.
                    if pid in pids and history.is_file() and history.read_text().strip():
                        os.kill(pid, signal.SIGKILL)
                        killed_trial, victim = t.number, pids.pop(pid)
                        break
                time.sleep(0.1)
            assert killed_trial is not None, "no trial was seen running mid-way"
            results = []
            for w in pids.values():
                stdout, stderr = w.communicate(timeout=300)
                assert w.returncode == 0, stderr[-3000:]
                results.append(json.loads(stdout))
            victim.wait()
            assert victim.returncode == -signal.SIGKILL
            study = optuna.load_study(study_name="pg", storage=storage)
            trials = study.get_trials(deepcopy=False)
            best = study.best_trial
        finally:
            for w in workers:
                if w.poll() is None:
                    w.kill()
                    w.wait()

    print(f"\n{'trial':>5} {'state':>8} {'value':>8} {'train.lr':>9}  retry_of  worker")
    for t in trials:
        v = "-" if t.value is None else f"{t.value:.4f}"
        retry = retried_number(t)
        print(f"{t.number:>5} {t.state.name:>8} {v:>8} {t.params['train.lr']:>9.5f}  "
              f"{'-' if retry is None else retry!s:>8}  {t.user_attrs.get('worker')}")  # fmt: skip
    planned = [t for t in trials if retried_number(t) is None]
    retries = [t for t in trials if retried_number(t) is not None]
    assert len(planned) == PLANNED and len({t.number for t in trials}) == len(trials)
    by_number = {t.number: t for t in trials}
    assert by_number[killed_trial].state.name == "FAIL"  # the heartbeat went stale
    assert [retried_number(t) for t in retries] == [killed_trial]  # retried exactly once
    assert retries[0].state.name == "COMPLETE" and retries[0].params == by_number[killed_trial].params
    assert all(t.state.name == "COMPLETE" for t in planned if t.number != killed_trial)
    assert not any("over_budget" in t.user_attrs for t in trials)
    ran = set().union(*(r["this_worker"] for r in results))
    assert ran == {t.number for t in trials} - {killed_trial}  # every other trial ran once, by a survivor
    run = out / f"trial-{best.number}"
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 5))
    for f in (
        "config.yaml",
        "model_config.json",
        "summary.json",
        "valid_predictions.jsonl",
        "best/model.safetensors",
    ):
        assert (run / f).is_file(), f
    from safetensors.torch import load_file

    assert load_file(str(run / "best" / "model.safetensors"))
    best_cfg = yaml.safe_load((out / "best.yaml").read_text())
    assert best_cfg["train"]["lr"] == pytest.approx(best.params["train.lr"])
    swept = json.loads((out / "sweep.json").read_text())
    assert len(swept["trials"]) == PLANNED + 1


@pytest.mark.slow
@pytest.mark.skipif(why_absent() is not None, reason=str(why_absent()))
def test_bad_storage_urls_are_one_line_without_the_password(tmp_path: Path) -> None:
    cfg, space = setup_experiment(tmp_path)
    with postgres_server() as url:
        port = url.rsplit(":", 1)[1].split("/")[0]
        cases = {
            "typo": (f"postgress://sseft:{PASSWORD}@127.0.0.1:{port}/postgres", "unknown database kind 'postgress'"),
            "login": (f"postgresql://sseft:wrong-{PASSWORD}@127.0.0.1:{port}/postgres", "refused the login"),
            "absent": (f"postgresql://sseft:{PASSWORD}@127.0.0.1:{free_port()}/postgres", "no database server answers"),
            "garbage": (f"sseft:{PASSWORD}@127.0.0.1", "not a database URL"),
        }  # fmt: skip
        for name, (bad, expected) in cases.items():
            p = subprocess.run(sweep_cmd(cfg, space, tmp_path / name, bad), env=ENV, capture_output=True,
                               text=True, timeout=120)  # fmt: skip
            err = p.stderr.strip()
            print(f"\n{name}: {err}")
            assert p.returncode == 2 and len(err.splitlines()) == 1, err
            assert err.startswith("error: --storage ") and expected in err, err
            assert PASSWORD not in err and "***" in err, err
            assert not (tmp_path / name / "sweep.json").exists()
