"""Seeds x folds: one training per (fold, seed), then the summary over them.

    runs/<name>/seed-<s>/                    seeds only (`sseft train CONFIG --seeds 0,1,2`, `train.seeds`)
    runs/<name>/fold-<f>/seed-<s>/           with `data.folds`
    runs/<name>/summary.json|.md|.csv|.tex|.png, protocol.json

Each run is an ordinary run directory (config.yaml, metrics.jsonl, test_metrics.json and
test_predictions.jsonl per test item id). A run that finished before (its `protocol_run.json`
exists) is reused, so an interrupted protocol continues where it stopped; protocol.json pins the
experiment, and another config in the same directory is refused. Under `accelerate launch` every
process runs the same loop: each run uses every process, as a single `sseft train` does.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from . import adapter
from .folds import FoldsConfig, make_folds, pooled_items, selected
from .io import read_json, write_json
from .summary import details_md, metric_names, summarise, write_tables

RUN_FILE = "protocol_run.json"


@dataclass
class RunSpec:
    fold: int | None
    seed: int
    dir: Path
    split_ids: dict[str, list[str]] | None = None

    @property
    def label(self) -> str:
        return (f"fold {self.fold}, " if self.fold is not None else "") + f"seed {self.seed}"


def seeds_of(cfg: Any, seeds: list[int] | None = None) -> list[int]:
    """--seeds, else train.seeds, else train.seed alone."""
    chosen = seeds or getattr(cfg.train, "seeds", None) or [cfg.train.seed]
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"seeds {chosen}: each seed once")
    return [int(s) for s in chosen]


def folds_of(cfg: Any) -> FoldsConfig | None:
    return getattr(cfg.data, "folds", None)


def run_config(cfg: Any, spec: RunSpec) -> Any:
    """The single-run config of one (fold, seed): that seed, no seeds list, no folds, not published."""
    train_up: dict[str, Any] = {"seed": spec.seed}
    if "seeds" in type(cfg.train).model_fields:
        train_up["seeds"] = None
    update: dict[str, Any] = {"train": cfg.train.model_copy(update=train_up), "register_name": None,
                              "output_dir": None}  # fmt: skip
    if "folds" in type(cfg.data).model_fields:
        update["data"] = cfg.data.model_copy(update={"folds": None})
    return cfg.model_copy(update=update)


def plan(cfg: Any, out: Path, seeds: list[int]) -> list[RunSpec]:
    """Every (fold, seed) run of the protocol, folds outer (a fold's split is computed once)."""
    fcfg = folds_of(cfg)
    if fcfg is None:
        return [RunSpec(None, s, out / f"seed-{s}") for s in seeds]
    adapter.prepare_store(cfg)
    store = adapter.open_store(cfg)
    ids, metas = pooled_items(store, fcfg)
    folds = make_folds(ids, metas, fcfg, where=str(cfg.data.store))
    return [
        RunSpec(f, s, out / f"fold-{f}" / f"seed-{s}", split)
        for f, split in selected(folds, fcfg)
        for s in seeds
    ]


def _protocol_record(cfg: Any, seeds: list[int]) -> dict[str, Any]:
    base = run_config(cfg, RunSpec(None, 0, Path()))
    fcfg = folds_of(cfg)
    return {
        "name": cfg.name,
        # The experiment without what varies between runs (the seed): adding seeds later is allowed.
        "experiment": base.model_dump(mode="json", exclude={"train": {"seed"}}),
        "folds": fcfg.model_dump(mode="json") if fcfg is not None else None,
        "seeds": seeds,
    }


def _check_protocol(out: Path, rec: dict[str, Any]) -> None:
    path = out / "protocol.json"
    if not path.is_file():
        return
    old = read_json(path, "protocol record")
    for key in ("experiment", "folds"):
        if old.get(key) != rec[key]:
            raise ConfigError(
                f"{out}: holds runs of another {'config' if key == 'experiment' else 'data.folds'}; pass another "
                "--output-dir or delete the directory"
            )


def clear_protocol(out: Path) -> None:
    """Remove a protocol's own files from `out` (runs, summary, record); nothing else there."""
    import shutil

    if not out.is_dir():
        return
    for p in out.iterdir():
        if p.is_dir() and p.name.startswith(("seed-", "fold-")):
            shutil.rmtree(p)
        elif p.is_file() and (p.name == "protocol.json" or p.stem == "summary"):
            p.unlink()


def _fmt_s(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """One line per run on stderr (main process): which fold/seed, elapsed time and the ETA from the
    mean duration of the runs trained so far."""

    def __init__(self, total: int, what: str, enabled: bool) -> None:
        self.total, self.what, self.enabled = total, what, enabled
        self.t0, self.trained, self.durations = time.perf_counter(), 0, []  # type: ignore[var-annotated]

    def start(self, k: int, label: str) -> None:
        if not self.enabled:
            return
        remaining = self.total - k + 1
        eta = (
            f", ETA {_fmt_s(remaining * sum(self.durations) / len(self.durations))}" if self.durations else ""
        )
        print(f"[{self.what} {k}/{self.total}] {label} (elapsed {_fmt_s(time.perf_counter() - self.t0)}{eta})",
              file=sys.stderr, flush=True)  # fmt: skip

    def done(self, seconds: float | None) -> None:
        if seconds is not None:
            self.durations.append(seconds)


def run_protocol(
    cfg: Any,
    output_dir: str | Path | None = None,
    *,
    seeds: list[int] | None = None,
    progress: bool | None = None,
    plots: bool = True,
    on_epoch: Any = None,
    overwrite: bool = False,
) -> dict[str, Any] | None:
    """Run every (fold, seed) of `cfg` and write the summary; return it (None on other processes).
    `overwrite` first removes what an earlier protocol left in the directory (its runs and summary)."""
    out = Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)
    seeds = seeds_of(cfg, seeds)
    rec = _protocol_record(cfg, seeds)
    if overwrite:
        if adapter._is_main():
            clear_protocol(out)
        adapter.barrier()
    _check_protocol(out, rec)
    specs = plan(cfg, out, seeds)
    main = adapter._is_main()
    if main:
        write_json(out / "protocol.json", rec)
    show = progress if progress is not None else True
    bar = Progress(len(specs), "run", main and show)
    runs: list[dict[str, Any]] = []
    for k, spec in enumerate(specs, start=1):
        done = spec.dir / RUN_FILE
        # Decided from the files as they are before this run starts, the same on every process (the
        # barrier: the main process creates the run directory as soon as it starts training).
        reuse = done.is_file()
        # A directory without a run record holds an interrupted run: continue it from its checkpoint.
        resume = spec.dir.is_dir() and any(p.name != ".lock" for p in spec.dir.iterdir())
        adapter.barrier()
        if reuse:
            bar.start(k, f"{spec.label}: finished before, reused ({spec.dir})")
            runs.append(read_json(done, "run record"))
            continue
        bar.start(k, f"{spec.label} -> {spec.dir}")
        t = time.perf_counter()
        res = adapter.train_run(run_config(cfg, spec), spec.dir, split_ids=spec.split_ids, on_epoch=on_epoch,
                                progress=progress, plots=plots, resume=resume)  # fmt: skip
        row = {
            "fold": spec.fold,
            "seed": spec.seed,
            "dir": str(spec.dir.relative_to(out)),
            "best_epoch": res.best_epoch,
            "valid": res.best_valid,
            "test": res.test_metrics,
            "n_items": {p: len(v) for p, v in (spec.split_ids or {}).items()} or None,
            "time_s": round(time.perf_counter() - t, 2),
        }
        bar.done(time.perf_counter() - t)
        if main:
            write_json(done, row)
        runs.append(row)
    if not main:
        return None
    return write_summary(out, cfg.name, runs, rec)


def write_summary(out: Path, name: str, runs: list[dict[str, Any]], rec: dict[str, Any]) -> dict[str, Any]:
    part = "test" if all(r.get("test") for r in runs) else "valid"
    summary = summarise(runs, part)
    folds = rec.get("folds")
    n_folds = len({r["fold"] for r in runs if r.get("fold") is not None})
    protocol = {"seeds": rec["seeds"], "folds": {**folds, "n": n_folds} if folds else None}
    data = {"name": name, "protocol": protocol, **summary, "runs": runs}
    write_json(out / "summary.json", data)
    columns = metric_names(runs)
    write_tables(out, "summary", {name: summary["metrics"]}, columns, details_md(name, summary, protocol))
    return data


def parse_seeds(text: str) -> list[int]:
    """'0,1,2' or '0-4' (inclusive) or a mix ('0-2,7') -> seeds (non-negative integers)."""
    seeds: list[int] = []
    try:
        for part in (p.strip() for p in text.split(",") if p.strip()):
            lo, _, hi = part.partition("-")
            seeds += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise ConfigError(
            f"--seeds {text!r}: expected non-negative integers like 0,1,2 or a range 0-4"
        ) from None
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: no seed given")
    return seeds


def format_summary(summary: dict[str, Any]) -> str:
    """The console report: one line per metric, mean ± std, n and the 95% interval."""
    n_runs = len(summary["runs"])
    lines = [f"{summary['name']}: {n_runs} runs ({summary['part']} split)"]
    for m, d in summary["metrics"].items():
        ci = d.get("ci95")
        std = f" ± {d['std']:.4f}" if d.get("std") is not None else ""
        interval = f", 95% [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else ""
        lines.append(
            f"  {m:<14} {d['mean']:.4f}{std} (n={d['n']}{interval})"
            if d.get("mean") is not None
            else f"  {m:<14} -"
        )
    return "\n".join(lines) + "\n"


def train_protocol(
    cfg: Any,
    output_dir: Path | None,
    seeds: str | None,
    *,
    register: str | None = None,
    overwrite: bool = False,
) -> str:
    """`sseft train CONFIG --seeds ...` (or train.seeds / data.folds): the runs, then the report."""
    if register:
        raise ConfigError(
            "--register: a multi-seed/fold protocol trains several models; to publish one, train that seed "
            "alone: `sseft train CONFIG --set train.seed=S --register NAME`"
        )
    summary = run_protocol(cfg, output_dir, seeds=parse_seeds(seeds) if seeds else None, overwrite=overwrite)
    if summary is None:  # not the main process
        return ""
    out = Path(output_dir or cfg.output_dir or Path("runs") / cfg.name)
    return format_summary(summary) + f"summary: {out / 'summary.md'}\n"
