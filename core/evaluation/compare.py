"""`sseft compare RUN_A RUN_B`: is model A better than model B on the test split?

A run is a protocol directory (summary.json listing its seed/fold runs) or one run directory
(test_metrics.json). Runs are matched by (fold, seed); two single runs are matched with each other.
- over the matched runs: paired t-test and Wilcoxon signed-rank test on the per-run metric;
- over the test items: a paired bootstrap (stats.paired_bootstrap) from each run's
  test_predictions.jsonl, the metric recomputed on every resample by the run's own head
  (`score_resamples`, core/head.py), items paired by id whatever order each file lists them in.
Runs whose test items (ids and truth) differ are refused: the pairing would be meaningless.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError, DataError
from ..files import read_json, read_jsonl
from .stats import Scorer, describe_runs, paired_bootstrap, paired_tests

PREDICTIONS = "test_predictions.jsonl"  # per test item, written by the trainer (core/training/finish.py)

Key = tuple[Any, Any]  # (fold, seed)


@dataclass
class RunInfo:
    key: Key
    dir: Path
    test: dict[str, Any]


def load_runs(path: str | Path) -> dict[Key, RunInfo]:
    """The finished runs of a protocol directory (by (fold, seed)) or the one run of a run directory."""
    p = Path(path)
    summary = p / "summary.json"
    if summary.is_file():
        data = read_json(summary, "summary")
        if isinstance(data.get("runs"), list) and data["runs"] and "dir" in data["runs"][0]:
            out = {}
            for r in data["runs"]:
                if not r.get("test"):
                    raise DataError(f"{p / r['dir']}: this run has no test metrics (no data.test_split)")
                key = (r.get("fold"), r["seed"])
                out[key] = RunInfo(key, p / r["dir"], r["test"])
            return out
    if (p / "test_metrics.json").is_file():
        return {(None, None): RunInfo((None, None), p, read_json(p / "test_metrics.json", "test metrics"))}
    raise DataError(
        f"{p}: not a finished run (no test_metrics.json) nor a protocol run (no summary.json with runs); "
        "pass a directory written by `sseft train` or `sseft train --seeds`"
    )


def match(
    a: dict[Key, RunInfo], b: dict[Key, RunInfo], names: tuple[str, str]
) -> list[tuple[RunInfo, RunInfo]]:
    keys = [k for k in a if k in b]
    if not keys and len(a) == 1 and len(b) == 1:
        return [(next(iter(a.values())), next(iter(b.values())))]
    if not keys:
        raise DataError(
            f"no matched runs between {names[0]} ({_keys(a)}) and {names[1]} ({_keys(b)}); run both with the "
            "same --seeds (and folds)"
        )
    return [(a[k], b[k]) for k in sorted(keys, key=lambda k: (str(k[0]), str(k[1])))]


def _keys(runs: dict[Key, RunInfo]) -> str:
    return ", ".join(label(k) for k in runs)


def label(key: Key) -> str:
    fold, seed = key
    if fold is None and seed is None:
        return "single run"
    return (f"fold {fold} " if fold is not None else "") + f"seed {seed}"


def load_head(run_dir: Path) -> Any:
    """The run's head module (for its metric definitions; weights do not matter for metrics)."""
    from ..model import ModelConfig, build_model

    path = run_dir / "model_config.json"
    if not path.is_file():
        raise DataError(f"{path}: not found; the run directory is incomplete")
    return build_model(ModelConfig.model_validate_json(path.read_text(encoding="utf-8"))).head


def predictions(run: RunInfo) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, outputs (N, ...), truth (N, ...)) from the run's test_predictions.jsonl."""
    path = run.dir / PREDICTIONS
    if not path.is_file():
        raise DataError(f"{path}: not found; the paired bootstrap needs each run's test predictions")
    rows = read_jsonl(path)
    bad = next((r for r in rows if "outputs" not in r or "truth" not in r), None)
    if bad is not None:
        raise DataError(f'{path}: item {bad.get("id")!r} has no "outputs"/"truth"; re-run the training')
    return (
        [str(r["id"]) for r in rows],
        np.asarray([r["outputs"] for r in rows], dtype=np.float64),
        np.asarray([r["truth"] for r in rows]),
    )


def aligned_predictions(
    ra: RunInfo, rb: RunInfo, names: tuple[str, str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Outputs and truth of A and B in one item order; refuses different test items."""
    ia, oa, ta = predictions(ra)
    ib, ob, tb = predictions(rb)
    sa, sb = set(ia), set(ib)
    if sa != sb or len(ia) != len(sa) or len(ib) != len(sb):
        only_a, only_b = sorted(sa - sb), sorted(sb - sa)
        example = f"e.g. {only_a[0]!r} only in {names[0]}" if only_a else (
            f"e.g. {only_b[0]!r} only in {names[1]}" if only_b else "duplicate ids")  # fmt: skip
        raise DataError(
            f"{label(ra.key)}: the test items differ ({len(sa)} in {names[0]}, {len(sb)} in {names[1]}, "
            f"{len(sa & sb)} shared; {example}); compare runs on the same test split"
        )
    pos = {i: n for n, i in enumerate(ib)}
    order = np.asarray([pos[i] for i in ia])
    ob, tb = ob[order], tb[order]
    if ta.shape != tb.shape or not np.array_equal(ta, tb):
        raise DataError(
            f"{label(ra.key)}: the same test items carry different labels in {names[0]} and {names[1]} "
            "(another label set?); compare runs on the same task"
        )
    return oa, ta, ob, tb


def compare_runs(
    run_a: str | Path, run_b: str | Path, metric: str | None = None, *, resamples: int = 10_000, seed: int = 0
) -> dict[str, Any]:
    """Paired tests and the paired bootstrap of A vs B (see the module docstring)."""
    import torch

    from ..head import method, resample_scorer

    names = (str(run_a), str(run_b))
    pairs = match(load_runs(run_a), load_runs(run_b), names)
    head_a, head_b = load_head(pairs[0][0].dir), load_head(pairs[0][1].dir)
    if getattr(head_a, "task", None) != getattr(head_b, "task", None):
        raise ConfigError(
            f"{names[0]} is a {head_a.task} model, {names[1]} a {head_b.task} one; nothing to compare"
        )
    metric = metric or str(head_a.primary_metric)
    greater = bool(method(head_a, "greater_is_better_for")(metric))
    va, vb = [], []
    for ra, rb in pairs:
        for run, n in ((ra, names[0]), (rb, names[1])):
            if not isinstance(run.test.get(metric), (int, float)):
                known = ", ".join(k for k, v in run.test.items() if isinstance(v, (int, float)))
                raise ConfigError(
                    f"--metric {metric}: not a test metric of {n} ({label(run.key)}); it has {known}"
                )
        va.append(float(ra.test[metric]))
        vb.append(float(rb.test[metric]))
    sizes: list[int] = []
    sa: list[Scorer] = []
    sb: list[Scorer] = []
    for ra, rb in pairs:
        oa, ta, ob, tb = aligned_predictions(ra, rb, names)
        sizes.append(len(ta))
        for head, outputs, truth, scorers in ((head_a, oa, ta, sa), (head_b, ob, tb, sb)):
            labels = method(head, "collate_labels")(truth.tolist())
            scorers.append(resample_scorer(head, metric, torch.as_tensor(outputs), labels))
    boot = paired_bootstrap(sizes, sa, sb, resamples=resamples, seed=seed, greater_is_better=greater)
    return {
        "a": names[0],
        "b": names[1],
        "metric": metric,
        "greater_is_better": greater,
        "matched": [label(ra.key) for ra, _ in pairs],
        "a_runs": describe_runs(va),
        "b_runs": describe_runs(vb),
        "paired": paired_tests(va, vb),
        "bootstrap": {**boot, "n_items": sizes},
    }


def format_comparison(r: dict[str, Any]) -> str:
    """The human-readable report of compare_runs."""

    def f(v: Any, d: int = 4) -> str:
        return "-" if v is None else f"{v:.{d}f}"

    def ms(d: dict[str, Any]) -> str:
        return f(d["mean"]) + (f" ± {f(d['std'])}" if d.get("std") is not None else "")

    p, b = r["paired"], r["bootstrap"]
    better = "greater" if r["greater_is_better"] else "smaller"
    lines = [
        f"A: {r['a']}",
        f"B: {r['b']}",
        f"metric: {r['metric']} (test split; {better} is better); matched runs: {len(r['matched'])} "
        f"({', '.join(r['matched'])})",
        f"A {ms(r['a_runs'])}   B {ms(r['b_runs'])}   difference A - B: {f(p['mean_difference'])}",
        f"paired t-test over runs: t = {f(p['ttest']['statistic'], 3)}, p = {f(p['ttest']['p'])}   "
        f"Wilcoxon signed-rank: W = {f(p['wilcoxon']['statistic'], 1)}, p = {f(p['wilcoxon']['p'])}",
        f"paired bootstrap over test items ({'+'.join(str(n) for n in b['n_items'])} items, {b['resamples']:,} "
        f"resamples, seed {b['seed']}): mean difference {f(b['mean_difference'])}, 95% interval "
        f"[{f(b['ci95'][0])}, {f(b['ci95'][1])}], one-sided p (A not better) = {f(b['p_one_sided'])}",
    ]
    if p["n"] < 2:
        lines.append("(one matched run: the tests over runs need at least 2 seeds/folds)")
    return "\n".join(lines) + "\n"
