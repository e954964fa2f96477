"""`sseft sweep CONFIG --space SPACE.yaml --trials N`: hyper-parameter search with Optuna.

    # SPACE.yaml: config field (a --set path) -> its range
    train.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    train.batch_size: {type: categorical, choices: [8, 16, 32]}
    fusion.n_self: {type: int, low: 1, high: 3}

TPE sampling, median pruning on the per-epoch validation metric (the trainer's `on_epoch`), the
objective is the best validation value of the trial's run: the test split is never read during a
sweep (trials train with `data.test_split` unset). Trials run in `<out>/trial-<n>/`.

The study lives in `--storage` (default: SQLite `<out>/study.db`) under `--study` (default: the
experiment name). Any number of `sseft sweep` processes given the same storage and study share it
and together run `--trials` planned trials: each claims a trial only while fewer than N planned
ones exist (under the lock of sweep_storage.py: a file lock beside a SQLite file, an advisory lock
on PostgreSQL/MySQL; elsewhere a planned trial past N that a race lets through is closed as failed
with user attribute `over_budget`, never run). Point workers on several machines at one PostgreSQL
URL to share a sweep. Running trials record heartbeats (`heartbeat` seconds); a worker killed
mid-trial leaves a stale trial that another worker marks failed and retries once with the same
parameters (a retry is not a planned trial); a worker with nothing left to claim waits while other
trials run, so that such a retry is never left behind. At the end the best trial's config is
written as `<out>/best.yaml`, and `--seeds` re-runs it over seeds (test split included).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import warnings
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, model_validator

from ..config import StrictModel, apply_overrides, read_mapping, validate
from ..errors import ConfigError, SseftError
from ..files import atomic_write_json, atomic_write_text
from .sweep_storage import Heartbeat, fail_stale, open_storage, retried_number, study_lock, translated


class Param(StrictModel):
    """The range of one config field."""

    type: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    choices: list[Any] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> Param:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical parameter needs choices")
        elif self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"a {self.type} parameter needs low < high")
        elif self.log and self.low <= 0:
            raise ValueError("log: true needs low > 0")
        return self


def read_space(path: str | Path) -> dict[str, Param]:
    data = read_mapping(path)
    if not data:
        raise ConfigError(f"{path}: the search space is empty; map config fields to ranges")
    out = {}
    for key, spec in data.items():
        if not isinstance(spec, dict):
            raise ConfigError(
                f"{path}: {key}: expected a mapping like {{type: float, low: 1e-4, high: 1e-2}}"
            )
        out[str(key)] = validate(Param, spec, source=f"{path}: {key}")
    return out


def suggest(trial: Any, space: dict[str, Param]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, p in space.items():
        if p.type == "categorical":
            params[key] = trial.suggest_categorical(key, p.choices)
        elif p.type == "int":
            params[key] = trial.suggest_int(
                key, int(p.low or 0), int(p.high or 0), step=int(p.step or 1), log=p.log
            )
        else:
            params[key] = trial.suggest_float(
                key, float(p.low or 0), float(p.high or 0), step=p.step, log=p.log
            )
    return params


def overrides_of(params: dict[str, Any]) -> list[str]:
    # JSON is valid YAML flow syntax: lists and strings survive `--set` parsing unchanged.
    return [f"{k}={json.dumps(v)}" for k, v in params.items()]


def default_storage(out: Path) -> str:
    return f"sqlite:///{(out / 'study.db').resolve()}"


WAIT = "wait"  # _claim: nothing to claim now, but a running trial may still fail and be retried


def _head_direction(cfg: Any) -> tuple[str, bool]:
    """(primary metric, greater is better) of the experiment's head."""
    from ..plugins import get_head
    from ..training.data import open_store

    store = open_store(cfg.data.store)
    plugin = get_head(cfg.head.name)
    head = plugin.build(8, list(store.task.label_names), plugin.config_model.model_validate(cfg.head.config))
    return str(head.primary_metric), bool(head.greater_is_better)


def run_sweep(
    config: Path,
    space_path: Path,
    trials: int,
    *,
    overrides: list[str] | None = None,
    output_dir: Path | None = None,
    storage: str | None = None,
    study_name: str | None = None,
    seed: int | None = None,
    prune: bool = True,
    progress: bool = True,
    heartbeat: float | None = 10.0,
) -> dict[str, Any]:
    """This worker's share of the study (see the module docstring); returns the study's state."""
    try:
        import optuna
    except ImportError:
        raise ConfigError("sseft sweep needs Optuna: pip install 'sseft[sweep]'") from None
    from ..extraction.generate import ensure_store
    from ..training.experiment import load_experiment
    from ..training.setup import process_state

    if process_state().num_processes > 1:
        raise ConfigError("sseft sweep: start several `sseft sweep` processes instead of `accelerate launch`")
    base = list(overrides or [])
    cfg = load_experiment(config, base)
    if getattr(cfg.data, "folds", None) is not None:
        raise ConfigError(
            "sseft sweep tunes on the validation split: drop data.folds here, use it with the best config"
        )
    space = read_space(space_path)
    for key, p in space.items():  # an unknown field fails now, not in every trial
        first = p.choices[0] if p.choices else (int(p.low or 0) if p.type == "int" else p.low)
        load_experiment(config, base + overrides_of({key: first}))
    out = Path(output_dir or Path("runs") / f"{cfg.name}-sweep")
    url = storage or default_storage(out)
    name = study_name or cfg.name
    ensure_store(cfg.data, process_state())
    metric, greater = _head_direction(cfg)
    logging_off()
    pruner = (
        optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
        if prune
        else optuna.pruners.NopPruner()
    )
    with study_lock(url, name), translated(url):  # two workers creating one study would race on the tables
        storage = open_storage(url, heartbeat)
        study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                    direction="maximize" if greater else "minimize",
                                    sampler=optuna.samplers.TPESampler(seed=seed), pruner=pruner)  # fmt: skip
        study.set_user_attr("metric", metric)
    mine: list[int] = []
    worker = f"{socket.gethostname()}:{os.getpid()}"
    t0 = time.perf_counter()
    while True:
        with study_lock(url, name) as locked, translated(url):
            trial = _claim(study, trials, heartbeat, locked)
            if trial is not None and trial != WAIT:
                trial.set_user_attr("worker", worker)
                beat = Heartbeat(storage, trial._trial_id, heartbeat).__enter__()  # before the lock goes
        if trial is None:
            break
        if trial == WAIT:
            time.sleep(heartbeat or 1.0)
            continue
        mine.append(trial.number)
        try:
            params = suggest(trial, space)
            if progress:
                _announce_trial(study, trial, params, trials, worker, len(mine) - 1, time.perf_counter() - t0)
            _run_trial(study, trial, config, base, params, out, metric)
        finally:
            beat.__exit__()
    return write_results(study, config, base, out, trials, mine)


def _announce_trial(study: Any, trial: Any, params: dict[str, Any], trials: int, worker: str, done: int,
                    elapsed: float) -> None:  # fmt: skip
    """The trial's progress line on stderr; ETA: this worker's mean trial time x the planned trials
    not yet claimed."""
    left = max(1, trials - _planned(study))
    eta = f", ETA {_mmss(elapsed / done * left)}" if done else ""
    retry = retried_number(trial)
    again = f", retry of trial {retry + 1}" if retry is not None else ""
    print(f"[trial {trial.number + 1}/{trials}{again}] worker {worker}: "
          + ", ".join(f"{k}={v}" for k, v in params.items())
          + f" (elapsed {_mmss(elapsed)}{eta})", file=sys.stderr, flush=True)  # fmt: skip


def _planned(study: Any) -> int:
    """Trials of the budget: every trial but the retries of failed ones."""
    return sum(1 for t in study.get_trials(deepcopy=False) if retried_number(t) is None)


def _claim(study: Any, budget: int, heartbeat: float | None, locked: bool) -> Any:
    """The next trial to run (a retry first), WAIT, or None when the study is done."""
    from optuna.trial import TrialState

    if heartbeat:
        fail_stale(study)  # a dead worker's trial: FAIL, and a retry enqueued
    trials = study.get_trials(deepcopy=False)
    waiting = any(t.state == TrialState.WAITING for t in trials)
    if not waiting and _planned(study) >= budget:
        running = heartbeat and any(t.state == TrialState.RUNNING for t in trials)
        return WAIT if running else None
    with warnings.catch_warnings():  # Optuna expects heartbeats with study.optimize; ours run beside ask/tell
        warnings.filterwarnings("ignore", message="Heartbeat of storage")
        trial = study.ask()
    if not locked and retried_number(trial) is None:
        before = sum(1 for t in study.get_trials(deepcopy=False)
                     if t.number < trial.number and retried_number(t) is None)  # fmt: skip
        if before >= budget:  # a race on a server without a lock: never run beyond the budget
            trial.set_user_attr("over_budget", True)
            study.tell(trial, state=TrialState.FAIL)
            return None
    return trial


def _run_trial(study: Any, trial: Any, config: Path, base: list[str], params: dict[str, Any], out: Path,
               metric: str) -> None:  # fmt: skip
    import optuna

    from ..training.experiment import load_experiment
    from ..training.trainer import train

    pruned = [False]

    def on_epoch(epoch: int, valid: dict[str, Any]) -> bool:
        value = valid.get(metric)
        if isinstance(value, (int, float)):
            trial.report(float(value), epoch)
            if trial.should_prune():
                pruned[0] = True
        return pruned[0]

    try:
        cfg = load_experiment(config, base + overrides_of(params))
        cfg = cfg.model_copy(update={
            "name": f"{cfg.name}-t{trial.number}", "register_name": None, "output_dir": None,
            "data": cfg.data.model_copy(update={"test_split": None}),  # the objective is validation only
        })  # fmt: skip
        # The trainer's per-epoch lines go to stderr: stdout carries only the sweep's result (--json).
        with redirect_stdout(sys.stderr):
            run_dir = out / f"trial-{trial.number}"
            res = train(cfg, run_dir, on_epoch=on_epoch, progress=False, plots=False)
        value = res.best_valid.get(metric)
        if pruned[0]:
            trial.set_user_attr("pruned_at_epoch", len(res.history))
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif not isinstance(value, (int, float)):
            trial.set_user_attr("error", f"no validation {metric}")
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            trial.set_user_attr("best_epoch", res.best_epoch)
            study.tell(trial, float(value))
    except SseftError as e:  # a bad trial (diverged, bad value) is recorded; the sweep goes on
        print(f"trial {trial.number} failed: {e}", file=sys.stderr, flush=True)
        trial.set_user_attr("error", str(e))
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    except BaseException:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        raise


def write_results(
    study: Any, config: Path, base: list[str], out: Path, trials: int, mine: list[int]
) -> dict[str, Any]:
    """sweep.json (every trial) and best.yaml (the best trial's config) from the study's state."""
    from optuna.trial import TrialState

    rows = [{"number": t.number, "state": t.state.name, "value": t.value, "params": t.params,
             "user_attrs": t.user_attrs, "retry_of": retried_number(t)}
            for t in study.get_trials(deepcopy=False)]  # fmt: skip
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    result: dict[str, Any] = {"study": study.study_name, "metric": study.user_attrs.get("metric"),
                              "direction": study.direction.name.lower(), "trials": rows, "this_worker": mine,
                              "best": None, "output_dir": str(out)}  # fmt: skip
    if complete:
        best = study.best_trial
        result["best"] = {"number": best.number, "value": best.value, "params": best.params}
        atomic_write_text(
            out / "best.yaml", best_config_yaml(config, base, best.params, best.number, best.value)
        )
    atomic_write_json(out / "sweep.json", result, indent=2)
    return result


def best_config_yaml(config: Path, base: list[str], params: dict[str, Any], number: int, value: float) -> str:
    """The experiment file with the trial's values applied; the store path made absolute so the file
    works from the sweep directory."""
    from ..training.experiment import load_experiment

    data = apply_overrides(read_mapping(config), base + overrides_of(params))
    data.setdefault("data", {})["store"] = load_experiment(config, base).data.store
    head = f"# best trial {number} of the sweep of {config} (validation value {value:.6g})\n"
    return head + yaml.safe_dump(data, sort_keys=False)


def logging_off() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)


def _mmss(s: float) -> str:
    s = int(round(s))
    return f"{s // 60}:{s % 60:02d}"


def format_result(r: dict[str, Any]) -> str:
    states: dict[str, int] = {}
    for t in r["trials"]:
        states[t["state"]] = states.get(t["state"], 0) + 1
    lines = [f"study {r['study']}: {len(r['trials'])} trials ("
             + ", ".join(f"{n} {s.lower()}" for s, n in sorted(states.items())) + f"); this worker ran "
             f"{len(r['this_worker'])}"]  # fmt: skip
    if r["best"]:
        b = r["best"]
        lines.append(f"best trial {b['number']}: valid {r['metric']} {b['value']:.4f} with "
                     + ", ".join(f"{k}={v}" for k, v in b["params"].items()))  # fmt: skip
    return "\n".join(lines) + "\n"
