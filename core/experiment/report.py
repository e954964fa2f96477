"""What an experiment writes and prints when its runs are done: the summary over seeds/folds
(summary.json and its tables), the ablation comparison (ablation.json and its tables) and the
console text of each kind of experiment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..context.config import ContextConfig
from ..files import atomic_write_json, atomic_write_text
from ..training.config import ExperimentConfig
from ..training.evaluate import scalar_metrics
from ..training.report import metrics_table
from ..training.state import TrainResult
from .tables import details_md, fmt4, metric_names, summarise, table, write_tables


def describe_context(context: ContextConfig | dict[str, Any] | None) -> str | None:
    """`ContextConfig.describe()` of an experiment's `context` (its config or the recorded dict);
    None without dialogue context. Every summary and report names the context through it, so a
    `direction: both` run is always labelled offline analysis."""
    if context is None:
        return None
    ctx = ContextConfig.model_validate(context) if isinstance(context, dict) else context
    return ctx.describe() if ctx.enabled else None


def plain_run_report(cfg: ExperimentConfig, res: TrainResult) -> str:
    """One run: where it went, its test metrics as a table and the head's one-line summary."""
    text = f"run: {res.output_dir} (world size {res.world_size}, best epoch {res.best_epoch})\n"
    context = describe_context(cfg.context)
    if context:
        text += f"model: {context}\n"
    if res.test_metrics is not None:
        text += test_table(cfg.name, res.test_metrics)
        text += f"test: {res.model.head.summary(res.test_metrics)}\n"
    return text


def test_table(name: str, metrics: dict[str, Any]) -> str:
    m = scalar_metrics(metrics)
    m.pop("best_epoch", None)
    return metrics_table({name: m}, list(m))


def write_summary(out: Path, name: str, runs: list[dict[str, Any]], rec: dict[str, Any]) -> dict[str, Any]:
    """summary.json and summary.md/.csv/.tex/.png over the runs of one repeated experiment."""
    part = "test" if all(r.get("test") for r in runs) else "valid"
    summary = summarise(runs, part)
    folds = rec.get("folds")
    n_folds = len({r["fold"] for r in runs if r.get("fold") is not None})
    protocol = {
        "seeds": rec["seeds"],
        "folds": {**folds, "n": n_folds} if folds else None,
        "context": describe_context((rec.get("experiment") or {}).get("context")),
    }
    data = {"name": name, "protocol": protocol, **summary, "runs": runs}
    atomic_write_json(out / "summary.json", data, indent=2)
    columns = metric_names(runs)
    write_tables(out, "summary", {name: summary["metrics"]}, columns, details_md(name, summary, protocol))
    return data


def format_runs_summary(summary: dict[str, Any]) -> str:
    """The console report: one line per metric, mean ± std, n and the 95% interval."""
    n_runs = len(summary["runs"])
    lines = [f"{summary['name']}: {n_runs} runs ({summary['part']} split)"]
    context = (summary.get("protocol") or {}).get("context")
    if context:
        lines.append(f"  model: {context}")
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


def ablation_of_runs(
    cfg: ExperimentConfig, out: Path, presets: dict[str, dict[str, Any]], results: dict[str, TrainResult]
) -> tuple[str, dict[str, Any]]:
    """Presets trained once each: ablation.json (per preset its run) and ablation.md; the table."""
    rows = {
        name: {
            "modalities": presets[name]["modalities"],
            "fusion": presets[name]["fusion"],
            "best_epoch": res.best_epoch,
            "valid": res.best_valid,
            "test": dict(res.test_metrics or {}),
        }
        for name, res in results.items()
    }
    skip = ("n_items", "best_epoch")
    scal = {n: {k: v for k, v in scalar_metrics(r["test"]).items() if k not in skip} for n, r in rows.items()}
    columns = [c for c in next(iter(scal.values()), {}) if c != "loss"] + ["loss"]
    data: dict[str, Any] = {"experiment": cfg.name, "split": cfg.data.test_split, "runs": rows}
    atomic_write_json(out / "ablation.json", data, indent=2)
    context = describe_context(cfg.context)
    data["context"] = context
    note = f"Model: {context}.\n\n" if context else ""
    md = metrics_table(scal, columns, markdown=True)
    atomic_write_text(out / "ablation.md", f"# Ablation of {cfg.name} (test split)\n\n{note}" + md)
    return (f"model: {context}\n" if context else "") + metrics_table(scal, columns), data


def ablation_over_seeds(
    cfg: ExperimentConfig, out: Path, seeds: list[int], summaries: dict[str, dict[str, Any]], resamples: int
) -> tuple[str, dict[str, Any]]:
    """Presets over seeds: each compared with "full" (paired tests over seeds, paired bootstrap over
    test items); ablation.json and ablation.md/.csv/.tex/.png; the Markdown report."""
    from ..evaluation.compare import compare_runs

    runs = [r for s in summaries.values() for r in s["runs"]]
    columns = metric_names(runs)
    rows = {name: s["metrics"] for name, s in summaries.items()}
    comparisons: dict[str, Any] = {}
    if "full" in summaries:
        for name in summaries:
            if name != "full":
                comparisons[name] = compare_runs(out / name, out / "full", resamples=resamples)
    context = describe_context(cfg.context)
    md = ablation_md(cfg.name, seeds, rows, columns, comparisons)
    if context:  # under the title
        title, rest = md.split("\n", 1)
        md = f"{title}\n\nModel: {context}.\n{rest}"
    data: dict[str, Any] = {
        "experiment": cfg.name,
        "context": context,
        "seeds": seeds,
        "presets": summaries,
        "vs_full": comparisons,
    }
    atomic_write_json(out / "ablation.json", data, indent=2)
    write_tables(out, "ablation", rows, columns, md)
    return md, data


def ablation_md(
    name: str, seeds: list[int], rows: dict[str, Any], columns: list[str], comparisons: dict[str, Any]
) -> str:
    lines = [f"# Ablation of {name} over seeds {', '.join(map(str, seeds))} (test split, mean ± std)", ""]
    lines.append(table(rows, columns).rstrip())
    if comparisons:
        metric = next(iter(comparisons.values()))["metric"]
        lines += [
            "",
            f"Each preset vs full on {metric} (difference = preset - full):",
            "",
            "| preset | difference | t-test p | Wilcoxon p | bootstrap 95% interval | one-sided p |",
            "|---|---|---|---|---|---|",
        ]
        for preset, c in comparisons.items():
            p, b = c["paired"], c["bootstrap"]
            lines.append(
                f"| {preset} | {fmt4(p['mean_difference'])} | {fmt4(p['ttest']['p'])} | "
                f"{fmt4(p['wilcoxon']['p'])} | [{fmt4(b['ci95'][0])}, {fmt4(b['ci95'][1])}] | "
                f"{fmt4(b['p_one_sided'])} |"
            )
    return "\n".join(lines) + "\n"
