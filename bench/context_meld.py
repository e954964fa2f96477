"""MELD text with and without dialogue context: the same text-only SSE-FT trained over seeds with no
context (each utterance alone) and with the preceding turns (`context:`, core/context/config.py),
`sseft compare` between them, and a window sweep (0, 2, 4, 8, 12 turns) x speaker marking on / off.

    .venv/bin/python bench/context_meld.py --no-extract                  # the full measurement
    .venv/bin/python bench/context_meld.py --no-extract --sweep-seeds 0-2  # sweep over 3 seeds only
    .venv/bin/python bench/context_meld.py --no-extract --no-sweep        # the two arms only
    .venv/bin/python bench/context_meld.py --tiny          # smoke run: 300 items, 2 seeds, 1 epoch

Protocol: bench/protocol_meld.py's (its `extract`, `build_store` and `experiment` are used as they
are): offline MiniLM text features in work/base, train = 90% of MELD-train dialogues, valid = the other
10% (best epoch), test = MELD dev; text-only SSE-FT, lr 2e-4, batch 64, early stopping, one thread.
The store keeps each item's dialogue, turn and speaker, so a context turn is read from the same
features (nothing is re-extracted), within the item's own dialogue and split.

Runs: work/<out>/runs-e<epochs>/<cell>/seed-<s>/ with cell `w0` (no context) or `w<W>-speaker` /
`w<W>-nospeaker`. The runner reuses every finished (cell, seed), so the sweep never retrains the two
arms' runs, and an interrupted measurement continues where it stopped. The sweep's figures are over
`--sweep-seeds` (default: `--seeds`). Written: work/<out>/results.json and results.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from protocol_meld import REPO, build_store, experiment, extract  # noqa: E402  (bench/protocol_meld.py)

METRICS = ("weighted_f1", "accuracy")
TARGET_GAIN, TARGET_P = 0.015, 0.05  # the target: +1.5 weighted F1 points, paired t-test p < 0.05


@dataclass(frozen=True)
class Cell:
    """One model of the measurement: `window` preceding turns (0: none), speaker marking on / off."""

    window: int
    speaker: bool = True
    turns: str = "pooled"  # what describes a context turn (ContextConfig.turns)

    @property
    def name(self) -> str:
        if self.window == 0:
            return "w0"
        fused = "-fused" if self.turns == "fused" else ""
        return f"w{self.window}-{'speaker' if self.speaker else 'nospeaker'}{fused}"


def cell_config(base: Any, cell: Cell, direction: str = "past") -> Any:
    """`base` (an ExperimentConfig without context) with this cell's context; window 0 is `base`
    itself (no `context`), the model the target compares against."""
    from sseft.core.training.config import ExperimentConfig

    data = base.model_dump(mode="python", exclude_none=False)
    data["name"] = f"{base.name}-{cell.name}"
    data["context"] = (
        None
        if cell.window == 0
        else {"window": cell.window, "direction": direction, "speaker": cell.speaker, "turns": cell.turns}
    )
    return ExperimentConfig.model_validate(data)


def check_store(store: Path) -> None:
    """A store built before the items carried their dialogue meta cannot give context: say so now,
    not after the no-context runs have trained."""
    from sseft.core.errors import DataError
    from sseft.core.features import FeatureStore

    fs = FeatureStore.open(store)
    first = fs.ids(next(iter(fs.splits)))[0]
    if fs.conversation(first) is None:
        raise DataError(
            f"{store}: its items carry no dialogue/turn/speaker meta (built by an older bench); delete "
            "this folder and run again (it is rebuilt from work/base in a few seconds)"
        )


class EpochClock:
    """The runner's per-epoch hook, used as a clock: the end time of every epoch of each run it
    trains, so a run's seconds per epoch (epochs 2 on: without setup, with validation) are known."""

    def __init__(self) -> None:
        self.runs: list[list[tuple[int, float]]] = []

    def __call__(self, epoch: int, metrics: dict[str, Any]) -> bool:
        if not self.runs or epoch <= self.runs[-1][-1][0]:  # a new run (or a resumed one)
            self.runs.append([])
        self.runs[-1].append((epoch, time.perf_counter()))
        return False  # never stops a run

    @staticmethod
    def per_epoch(ends: list[tuple[int, float]]) -> float | None:
        steps = [b - a for (_, a), (_, b) in zip(ends, ends[1:], strict=False)]
        return round(statistics.median(steps), 2) if steps else None


def run_cell(
    base: Any, cell: Cell, root: Path, seeds: list[int], direction: str, progress: bool | None
) -> dict[str, Any]:
    """Train (or reuse) `cell` over `seeds` through the experiment runner; its summary rows, each
    with `reused`, `epochs` (epochs trained), the run's seconds and (when trained now with 2 or
    more epochs) `epoch_s`, the median seconds of its epochs after the first."""
    from sseft.core.experiment import ExperimentOptions, run_experiment
    from sseft.core.experiment.runner import RUN_FILE
    from sseft.core.files import read_jsonl

    out = root / cell.name
    done = {s for s in seeds if (out / f"seed-{s}" / RUN_FILE).is_file()}
    t, clock = time.perf_counter(), EpochClock()
    opts = ExperimentOptions(seeds=seeds, progress=progress, plots=False)
    summary = run_experiment(cell_config(base, cell, direction), out, opts, on_epoch=clock).summary
    assert summary is not None  # one process: the main one
    trained = iter(clock.runs)
    rows = []
    for r in summary["runs"]:
        reused = r["seed"] in done
        epochs = len(read_jsonl(out / r["dir"] / "metrics.jsonl", "epoch history"))
        epoch_s = None if reused else EpochClock.per_epoch(next(trained, []))
        rows.append({**r, "reused": reused, "epochs": epochs, "epoch_s": epoch_s})
        per = f", {epoch_s:.1f} s/epoch after the first" if epoch_s is not None else ""
        print(f"  {cell.name} seed {r['seed']}: {'reused' if reused else 'trained'}, {r['time_s']:.1f} s for "
              f"{epochs} epochs{per}, best epoch {r['best_epoch']}, test weighted F1 "
              f"{100 * r['test']['weighted_f1']:.2f}", flush=True)  # fmt: skip
    # `trained`: the runs this call trained (the clock saw their epochs), not the ones it reused
    return {
        "dir": str(out),
        "rows": rows,
        "trained": len(clock.runs),
        "wall_s": round(time.perf_counter() - t, 1),
    }


def target_met(paired: dict[str, Any]) -> bool:
    """The issue's target on weighted F1: a gain of TARGET_GAIN or more and a paired t-test p below
    TARGET_P (no p-value, e.g. one seed: not met)."""
    p = paired["ttest"]["p"]
    return bool(paired["mean_difference"] >= TARGET_GAIN and p is not None and p < TARGET_P)


def over_seeds(rows: list[dict[str, Any]], seeds: list[int]) -> dict[str, Any]:
    """Per metric, mean/std over the runs of `seeds` (and the values, for the paired deltas)."""
    from sseft.core.evaluation.stats import describe_runs

    by_seed = {r["seed"]: r for r in rows}
    return {m: describe_runs([by_seed[s]["test"][m] for s in seeds]) for m in METRICS}


def measure(
    base: Any,
    root: Path,
    seeds: list[int],
    sweep_seeds: list[int] | None,
    window: int = 8,
    windows: tuple[int, ...] = (0, 2, 4, 8, 12),
    direction: str = "past",
    resamples: int = 10_000,
    progress: bool | None = None,
    turns: str = "pooled",
) -> dict[str, Any]:
    """The two arms over `seeds`, their comparison, then (unless `sweep_seeds` is None) the sweep
    over `sweep_seeds`; the cells the arms trained are reused, never retrained."""
    from sseft.core.evaluation.compare import compare_runs
    from sseft.core.evaluation.stats import paired_tests

    none, ctx = Cell(0), Cell(window, True, turns)
    runs: dict[str, dict[str, Any]] = {}
    for cell in (none, ctx):
        runs[cell.name] = run_cell(base, cell, root, seeds, direction, progress)
    arms = {c.name: over_seeds(runs[c.name]["rows"], seeds) for c in (none, ctx)}
    compare = {
        m: compare_runs(root / ctx.name, root / none.name, m, resamples=resamples) for m in METRICS
    }  # fmt: skip
    met = target_met(compare["weighted_f1"]["paired"])
    result: dict[str, Any] = {
        "seeds": seeds,
        "direction": direction,
        "turns": turns,
        "arms": {"none": none.name, "context": ctx.name},
        "models": arms,
        "compare": compare,
        "target": {"gain": TARGET_GAIN, "p": TARGET_P, "met": met},
        "sweep": None,
        "runs": runs,
    }
    if sweep_seeds is None:
        return result
    cells = [none] + [Cell(w, s, turns) for w in windows if w > 0 for s in (True, False)]
    sweep: dict[str, Any] = {
        "seeds": sweep_seeds,
        "windows": list(windows),
        "turns": turns,
        "cells": {},
        "runs": {},
    }
    for cell in cells:
        # an arm's cell keeps its own seeds (its summary stays the one compared above) plus any new ones
        mine = sorted(set(seeds) | set(sweep_seeds)) if cell in (none, ctx) else sweep_seeds
        sweep["runs"][cell.name] = run_cell(base, cell, root, mine, direction, progress)
    zero = sweep["runs"][none.name]["rows"]
    for cell in cells:
        stats = over_seeds(sweep["runs"][cell.name]["rows"], sweep_seeds)
        delta = {
            m: paired_tests(stats[m]["values"], over_seeds(zero, sweep_seeds)[m]["values"]) for m in METRICS
        }  # fmt: skip
        sweep["cells"][cell.name] = {"window": cell.window, "speaker": cell.speaker, **stats, "vs_w0": delta}
    result["sweep"] = sweep
    return result


def _f(v: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if v is None else f"{scale * v:.{digits}f}"


def _pm(d: dict[str, Any]) -> str:
    return f"{_f(d['mean'], 100)} ± {_f(d['std'], 100)}" if d.get("std") is not None else _f(d["mean"], 100)


def report(
    r: dict[str, Any], title: str = "MELD emotion, text only (MiniLM-L6 offline), test = MELD dev"
) -> str:
    """The Markdown report: the two arms, their paired comparison, the target line and the sweep."""
    none, ctx = r["arms"]["none"], r["arms"]["context"]
    lines = [f"{title}; seeds {r['seeds']}; x100, mean ± std over seeds", "",
             "| model | weighted F1 | accuracy |", "|---|---|---|"]  # fmt: skip
    for label, name in (("no context", none), (f"context ({ctx}, {r['direction']})", ctx)):
        m = r["models"][name]
        lines.append(f"| {label} | {_pm(m['weighted_f1'])} | {_pm(m['accuracy'])} |")
    lines += ["", "| context - no context | difference | t-test p | Wilcoxon p | bootstrap 95% interval |",
              "|---|---|---|---|---|"]  # fmt: skip
    for metric, c in r["compare"].items():
        p, b = c["paired"], c["bootstrap"]
        lines.append(f"| {metric} | {_f(p['mean_difference'], 100)} | {_f(p['ttest']['p'], digits=4)} | "
                     f"{_f(p['wilcoxon']['p'], digits=4)} | [{_f(b['ci95'][0], 100)}, {_f(b['ci95'][1], 100)}] |")  # fmt: skip
    t = r["target"]
    lines += [
        "",
        f"target: +{100 * t['gain']:.1f} weighted F1, paired t p < {t['p']}: {'MET' if t['met'] else 'MISSED'}",
    ]
    if r["sweep"]:
        lines += ["", *sweep_table(r["sweep"])]
    return "\n".join(lines) + "\n"


def sweep_table(s: dict[str, Any]) -> list[str]:
    """Per metric: rows window, columns speaker marking on / off (mean ± std, delta vs window 0)."""
    out = []
    for metric in METRICS:
        out += [f"Window sweep, {metric} (x100, seeds {s['seeds']}; delta: paired mean difference vs window 0, "
                "t-test p)", "", "| window | speaker on | delta | speaker off | delta |", "|---|---|---|---|---|"]  # fmt: skip
        for w in s["windows"]:
            if w == 0:
                c = s["cells"]["w0"]
                out.append(f"| 0 (no context) | {_pm(c[metric])} | - | (same) | - |")
                continue
            row = [str(w)]
            for spk in ("speaker", "nospeaker"):
                c = s["cells"][Cell(w, spk == "speaker", s.get("turns", "pooled")).name]
                d = c["vs_w0"][metric]
                row += [
                    _pm(c[metric]),
                    f"{_f(d['mean_difference'], 100, 2)} (p {_f(d['ttest']['p'], digits=3)})",
                ]
            out.append("| " + " | ".join(row) + " |")
        out.append("")
    return out[:-1]


def results_stem(turns: str, epochs: int = 4) -> str:
    """results.{json,md} for pooled context turns and the protocol's 4 epochs; `-fused` for fused
    turns, `-e<N>` for another number of epochs (each measurement keeps its own files)."""
    return "results" + ("" if turns == "pooled" else f"-{turns}") + ("" if epochs == 4 else f"-e{epochs}")


def write_results(out: Path, r: dict[str, Any], text: str) -> None:
    from sseft.core.files import atomic_write_json, atomic_write_text, to_plain

    stem = results_stem(r.get("turns", "pooled"), r.get("epochs", 4))
    atomic_write_json(out / f"{stem}.json", to_plain(r), indent=2)
    atomic_write_text(out / f"{stem}.md", text)


def main() -> None:
    from sseft.core.experiment import parse_seeds

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meld", type=Path, default=REPO.parent / "shared" / "data" / "meld")
    ap.add_argument(
        "--work", type=Path, default=REPO / "runs" / "bench-meld-text", help="holds base/ (features)"
    )
    ap.add_argument("--out", default="context", help="folder under --work for the runs and the results")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--sweep-seeds", default=None, help="the sweep's seeds (default: --seeds)")
    ap.add_argument("--no-sweep", action="store_true", help="the two arms and their comparison only")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--window", type=int, default=8, help="the context arm's window")
    ap.add_argument("--windows", default="0,2,4,8,12", help="the sweep's windows")
    ap.add_argument(
        "--direction", choices=("past", "both"), default="past", help="both: offline analysis only"
    )
    ap.add_argument(
        "--turns", choices=("pooled", "fused"), default="pooled",
        help="what describes a context turn: pooled frozen features, or the fusion's vector of it",
    )  # fmt: skip
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--limit", type=int, default=None, help="extract only the first N items (smoke runs)")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke run: --limit 300 --seeds 0,1 --epochs 1, own work dir"
    )
    ap.add_argument("--no-extract", action="store_true", help="reuse work/base as it is")
    args = ap.parse_args()
    if args.tiny:
        args.limit, args.seeds, args.epochs = args.limit or 300, "0,1", 1
        args.sweep_seeds = args.sweep_seeds or args.seeds
        args.work = args.work.with_name(args.work.name + "-tiny")
    seeds = parse_seeds(args.seeds)
    sweep_seeds = None if args.no_sweep else parse_seeds(args.sweep_seeds or args.seeds)
    windows = tuple(sorted({0, *(int(w) for w in args.windows.split(",") if w.strip())}))
    t0 = time.time()
    if not args.no_extract:
        extract(args.meld, args.work / "base", args.limit)
    store = args.work / "meld-protocol"
    build_store(args.meld, args.work / "base", store)
    check_store(store)
    print(f"features and store ready ({time.time() - t0:.0f} s): {store}", flush=True)
    base = experiment(store, "emotion", "sseft", args.epochs, args.lr, args.lr)
    out = args.work / args.out
    r = measure(base, out / f"runs-e{args.epochs}", seeds, sweep_seeds, args.window, windows, args.direction,
                args.resamples, turns=args.turns)  # fmt: skip
    r["epochs"], r["total_s"] = args.epochs, round(time.time() - t0, 1)
    text = report(r, "MELD emotion, text only (MiniLM-L6 offline), " + (
        "TINY smoke run (test = held-out MELD-train dialogues; figures prove the script, not the model)"
        if args.tiny else "test = MELD dev"))  # fmt: skip
    write_results(out, r, text)
    print(text, flush=True)
    stem = results_stem(args.turns, args.epochs)
    print(f"written: {out / (stem + '.json')}, {out / (stem + '.md')}; total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
