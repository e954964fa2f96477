"""One experiment, the one place that runs one: `sseft train` and `sseft ablate` call
`run_experiment`. It plans the runs (plan.py: presets x folds x seeds), trains each through the
trainer (which trains exactly one run and returns its result), keeps the run directories, writes
the summary and, for a plain run, exports and publishes the model.

A plain run (one seed, no folds) is an ordinary run directory: `--resume` continues it, and an
existing one is refused unless it is resumed or overwritten. A repeated experiment (seeds or folds)
keeps one run directory per (fold, seed): a run that finished before (its `protocol_run.json`
exists) is reused and an interrupted one resumed, so the experiment continues where it stopped;
protocol.json pins the experiment, and another config in the same directory is refused. Under
`accelerate launch` every process runs the same loop: each run uses every process, as a single
`sseft train` does; only the main process writes the summaries and reports.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..files import atomic_write_json, read_json
from ..training.config import ExperimentConfig
from ..training.experiment import load_experiment
from ..training.run import EpochCallback
from ..training.setup import process_state
from ..training.state import TrainResult
from ..training.trainer import train
from . import report
from .plan import RunSpec, is_repeated, plan_runs, preset_config, run_config, seeds_of, select_presets
from .publish import ModelRegistry, export_and_publish

RUN_FILE = "protocol_run.json"


@dataclass(frozen=True)
class ExperimentOptions:
    """What the command line may choose beside the config."""

    seeds: list[int] | None = None  # --seeds (else train.seeds, else train.seed alone)
    ablate: bool = False  # the paper's Table 8 presets instead of the config as it is
    only: list[str] | None = None  # with ablate: these presets only
    resume: bool = False  # a plain run: continue it from its latest checkpoint
    overwrite: bool = False  # replace what an earlier run of this experiment left
    export: bool = True  # a plain run: write the artifact directory <run>/model
    register: str | None = None  # a plain run: publish the model under this name
    progress: bool | None = None  # None: progress bars on a terminal, run lines always
    plots: bool = True
    resamples: int = 10_000  # ablation over seeds: paired bootstrap resamples


@dataclass
class ExperimentResult:
    """`report` is the console text (empty on processes other than the main one); `summary` the
    data of summary.json / ablation.json; `runs` each plain run's result by preset ("" without)."""

    output_dir: Path
    report: str = ""
    summary: dict[str, Any] | None = None
    runs: dict[str, TrainResult] = field(default_factory=dict)
    published: str | None = None  # a plain run published to the registry: its name@version


def experiment_dir(cfg: ExperimentConfig, output_dir: str | Path | None, ablate: bool) -> Path:
    if ablate:
        return Path(output_dir or Path("runs") / f"{cfg.name}-ablate")
    return Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)


def run_experiment(
    cfg: ExperimentConfig,
    output_dir: str | Path | None = None,
    options: ExperimentOptions | None = None,
    *,
    registry: ModelRegistry | None = None,
    on_epoch: EpochCallback | None = None,
) -> ExperimentResult:
    """Train every run `cfg` and `options` ask for, then summarise, report and publish (a plain
    run's model is exported and published through `registry`; without one nothing is)."""
    opts = options or ExperimentOptions()
    repeated = is_repeated(cfg, opts.seeds)
    seeds = seeds_of(cfg, opts.seeds)
    if opts.register and repeated:
        raise ConfigError(
            "--register: a multi-seed/fold protocol trains several models; to publish one, train that seed "
            "alone: `sseft train CONFIG --set train.seed=S --register NAME`"
        )
    out = experiment_dir(cfg, output_dir, opts.ablate)
    presets = select_presets(cfg, opts.only) if opts.ablate else {}
    configs = {name: preset_config(cfg, name, p) for name, p in presets.items()} or {"": cfg}
    main = bool(process_state().is_main_process)
    outcomes: dict[str, Any] = {}
    for k, (name, run_cfg) in enumerate(configs.items(), start=1):
        if name and main and opts.progress is not False:
            print(f"[preset {k}/{len(configs)}] {name}", file=sys.stderr, flush=True)
        where = out / name if name else out
        if repeated:
            outcomes[name] = run_repeated(run_cfg, where, seeds, opts, on_epoch)
        else:
            outcomes[name] = train(run_cfg, where, resume=opts.resume, overwrite=opts.overwrite,
                                   progress=opts.progress, plots=opts.plots and not opts.ablate,
                                   on_epoch=on_epoch)  # fmt: skip
    result = ExperimentResult(out, runs={} if repeated else dict(outcomes))
    if main:
        finish_experiment(cfg, result, outcomes, presets, seeds, opts, registry)
    return result


def run_best_over_seeds(sweep_dir: str | Path, seeds: list[int]) -> ExperimentResult:
    """A sweep's best config (<sweep_dir>/best.yaml, core/evaluation/sweep.py) trained over `seeds`
    into <sweep_dir>/best-seeds, test split included (`sseft sweep --seeds`)."""
    out = Path(sweep_dir)
    best = load_experiment(out / "best.yaml")
    return run_experiment(best, out / "best-seeds", ExperimentOptions(seeds=seeds))


def finish_experiment(
    cfg: ExperimentConfig,
    result: ExperimentResult,
    outcomes: dict[str, Any],
    presets: dict[str, dict[str, Any]],
    seeds: list[int],
    opts: ExperimentOptions,
    registry: ModelRegistry | None,
) -> None:
    """Main process: the experiment's report (and a plain run's exported/published model)."""
    out = result.output_dir
    if opts.ablate and result.runs:
        result.report, result.summary = report.ablation_of_runs(cfg, out, presets, result.runs)
    elif opts.ablate:
        result.report, result.summary = report.ablation_over_seeds(cfg, out, seeds, outcomes, opts.resamples)
    elif result.runs:
        res = result.runs[""]
        name = opts.register or cfg.register_name
        lines, result.published = export_and_publish(res, registry, opts.export, name)
        result.report = report.plain_run_report(cfg, res) + "".join(f"{x}\n" for x in lines)
    else:
        result.summary = outcomes[""]
        result.report = report.format_runs_summary(outcomes[""]) + f"summary: {out / 'summary.md'}\n"


def run_repeated(
    cfg: ExperimentConfig,
    out: Path,
    seeds: list[int],
    opts: ExperimentOptions,
    on_epoch: EpochCallback | None,
) -> dict[str, Any] | None:
    """Every (fold, seed) of `cfg` into `out`, then summary.json; returns it (None on other processes).
    `overwrite` first removes what an earlier experiment left in the directory (its runs and summary)."""
    state = process_state()
    rec = protocol_record(cfg, seeds)
    if opts.overwrite:
        if state.is_main_process:
            clear_protocol(out)
        state.wait_for_everyone()
    check_protocol(out, rec)
    specs = plan_runs(cfg, out, seeds)
    if state.is_main_process:
        atomic_write_json(out / "protocol.json", rec, indent=2)
    bar = RunProgress(len(specs), "run", state.is_main_process and opts.progress is not False)
    runs = [run_once(cfg, out, spec, k, bar, opts, on_epoch) for k, spec in enumerate(specs, start=1)]
    return report.write_summary(out, cfg.name, runs, rec) if state.is_main_process else None


def run_once(
    cfg: ExperimentConfig,
    out: Path,
    spec: RunSpec,
    k: int,
    bar: RunProgress,
    opts: ExperimentOptions,
    on_epoch: EpochCallback | None,
) -> dict[str, Any]:
    """One (fold, seed): reused when it finished before, resumed when interrupted, else trained."""
    done = spec.dir / RUN_FILE
    # Decided from the files as they are before this run starts, the same on every process (the
    # barrier: the main process creates the run directory as soon as it starts training).
    reuse = done.is_file()
    # A directory without a run record holds an interrupted run: continue it from its checkpoint.
    resume = spec.dir.is_dir() and any(p.name != ".lock" for p in spec.dir.iterdir())
    process_state().wait_for_everyone()
    if reuse:
        bar.start(k, f"{spec.label}: finished before, reused ({spec.dir})")
        return dict(read_json(done, "run record"))
    bar.start(k, f"{spec.label} -> {spec.dir}")
    t = time.perf_counter()
    res = train(run_config(cfg, spec), spec.dir, resume=resume, progress=opts.progress, split_ids=spec.split_ids,
                on_epoch=on_epoch, plots=opts.plots and not opts.ablate)  # fmt: skip
    row = {
        **spec.coordinates(),
        "dir": str(spec.dir.relative_to(out)),
        "best_epoch": res.best_epoch,
        "valid": res.best_valid,
        "test": res.test_metrics,
        "n_items": {p: len(v) for p, v in (spec.split_ids or {}).items()} or None,
        "time_s": round(time.perf_counter() - t, 2),
    }
    bar.done(time.perf_counter() - t)
    if process_state().is_main_process:
        atomic_write_json(done, row, indent=2)
    return row


def protocol_record(cfg: ExperimentConfig, seeds: list[int]) -> dict[str, Any]:
    base = run_config(cfg, RunSpec(None, 0, Path()))
    fcfg = cfg.data.folds
    return {
        "name": cfg.name,
        # The experiment without what varies between runs (the seed): adding seeds later is allowed.
        "experiment": base.model_dump(mode="json", exclude={"train": {"seed"}}),
        "folds": fcfg.model_dump(mode="json") if fcfg is not None else None,
        "seeds": seeds,
    }


def check_protocol(out: Path, rec: dict[str, Any]) -> None:
    path = out / "protocol.json"
    if not path.is_file():
        return
    old = read_json(path, "protocol record")
    for key in ("experiment", "folds"):
        if _same_store_spelling(old.get(key), key) != _same_store_spelling(rec[key], key):
            raise ConfigError(
                f"{out}: holds runs of another {'config' if key == 'experiment' else 'data.folds'}; pass another "
                "--output-dir or delete the directory"
            )


def _same_store_spelling(record: Any, key: str) -> Any:
    """The record with `data.store` resolved (against the working directory, as the store is
    opened): `runs/x/store` and `/abs/runs/x/store` are one store, not another config."""
    if key != "experiment" or not isinstance(record, dict) or not isinstance(record.get("data"), dict):
        return record
    store = record["data"].get("store")
    if not isinstance(store, str):
        return record
    return {**record, "data": {**record["data"], "store": str(Path(store).expanduser().resolve())}}


def clear_protocol(out: Path) -> None:
    """Remove a repeated experiment's own files from `out` (runs, summary, record); nothing else."""
    if not out.is_dir():
        return
    for p in out.iterdir():
        if p.is_dir() and p.name.startswith(("seed-", "fold-")):
            shutil.rmtree(p)
        elif p.is_file() and (p.name == "protocol.json" or p.stem == "summary"):
            p.unlink()


def _clock(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class RunProgress:
    """One line per run on stderr (main process): which fold/seed, elapsed time and the ETA from the
    mean duration of the runs trained so far."""

    def __init__(self, total: int, what: str, enabled: bool) -> None:
        self.total, self.what, self.enabled = total, what, enabled
        self.t0 = time.perf_counter()
        self.durations: list[float] = []

    def start(self, k: int, label: str) -> None:
        if not self.enabled:
            return
        remaining = self.total - k + 1
        eta = (
            f", ETA {_clock(remaining * sum(self.durations) / len(self.durations))}" if self.durations else ""
        )
        elapsed = _clock(time.perf_counter() - self.t0)
        print(f"[{self.what} {k}/{self.total}] {label} (elapsed {elapsed}{eta})", file=sys.stderr, flush=True)

    def done(self, seconds: float) -> None:
        self.durations.append(seconds)
