"""An experiment's summary over its runs (seeds, folds) and its tables (Markdown, CSV, LaTeX; MMSA
style "mean ± std") and the dots-per-seed picture.

A *row* is one model/preset: {metric: describe_runs(values over runs)} (stats.describe_runs).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..evaluation.stats import describe_runs
from ..files import atomic_write_text
from ..training.evaluate import scalar_metrics
from ..training.report import pyplot, save_figure

SKIP = frozenset({"n_items", "best_epoch", "n", "split"})  # bookkeeping, not metrics


def run_metrics(metrics: dict[str, Any] | None) -> dict[str, float]:
    """The scalar metrics of a metrics dict as floats (bookkeeping dropped; None kept out)."""
    return {k: float(v) for k, v in scalar_metrics(metrics or {}).items() if k not in SKIP}


def metric_names(runs: Sequence[dict[str, Any]]) -> list[str]:
    """Metric names in first-seen order, loss last."""
    names: list[str] = []
    for r in runs:
        for k in run_metrics(r.get("test") or r.get("valid")):
            if k not in names:
                names.append(k)
    return [n for n in names if n != "loss"] + (["loss"] if "loss" in names else [])


def summarise(runs: Sequence[dict[str, Any]], part: str = "test") -> dict[str, Any]:
    """Over runs [{"fold", "seed", "best_epoch", part: metrics}]: per metric over all runs; with folds
    also per fold (over its seeds) and over the fold means."""
    names = metric_names(runs)

    def stats(rs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        out = {}
        for m in names:
            vals = [run_metrics(r.get(part)).get(m) for r in rs]
            out[m] = describe_runs([v for v in vals if v is not None])
        return out

    out: dict[str, Any] = {
        "part": part,
        "metrics": stats(runs),
        "best_epochs": [
            {"fold": r.get("fold"), "seed": r["seed"], "best_epoch": r["best_epoch"]} for r in runs
        ],
    }
    folds = sorted({r["fold"] for r in runs if r.get("fold") is not None})
    if folds:
        per = {f: stats([r for r in runs if r.get("fold") == f]) for f in folds}
        out["per_fold"] = {str(f): v for f, v in per.items()}
        out["over_fold_means"] = {
            m: describe_runs([per[f][m]["mean"] for f in folds if per[f][m]["mean"] is not None])
            for m in names
        }
    return out


def pm(d: dict[str, Any] | None, digits: int = 4) -> str:
    """'mean ± std' ('mean' alone for one run, '-' for none)."""
    if not d or d.get("mean") is None:
        return "-"
    if d.get("std") is None:
        return f"{d['mean']:.{digits}f}"
    return f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def table(rows: dict[str, dict[str, Any]], columns: Sequence[str], fmt: str = "md", digits: int = 4) -> str:
    """One row per model (name -> {metric: describe_runs}), MMSA style: each cell "mean ± std".

    fmt: "md" (Markdown), "csv" (name, then <metric>_mean, <metric>_std, n per metric) or "tex"
    (a booktabs tabular)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["model"] + [f"{c}_{s}" for c in columns for s in ("mean", "std", "n")])
        for name, r in rows.items():
            cells: list[Any] = [name]
            for c in columns:
                d = r.get(c) or {}
                cells += [_num(d.get("mean")), _num(d.get("std")), d.get("n", 0)]
            w.writerow(cells)
        return buf.getvalue()
    if fmt == "tex":
        lines = [
            "\\begin{tabular}{l" + "c" * len(columns) + "}",
            "\\toprule",
            "Model & " + " & ".join(_tex(c) for c in columns) + " \\\\",
            "\\midrule",
        ]
        for name, r in rows.items():
            cells = [pm(r.get(c), digits).replace("±", "$\\pm$") for c in columns]
            lines.append(_tex(name) + " & " + " & ".join(cells) + " \\\\")
        lines += ["\\bottomrule", "\\end{tabular}"]
        return "\n".join(lines) + "\n"
    head = ["model", *columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += [
        "| " + " | ".join([name] + [pm(r.get(c), digits) for c in columns]) + " |" for name, r in rows.items()
    ]
    return "\n".join(lines) + "\n"


def _num(v: Any) -> str:
    return "" if v is None else f"{float(v):.6g}"


def _tex(s: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("_", "\\_"), ("&", "\\&"), ("%", "\\%"), ("#", "\\#")):
        s = s.replace(a, b)
    return s


def details_md(title: str, summary: dict[str, Any], protocol: dict[str, Any]) -> str:
    """summary.md of one protocol run: the mean ± std table, then per metric the interval, range and
    per-seed values, the best epochs, and per fold when there are folds."""
    names = list(summary["metrics"])
    lines = [f"# {title}", ""]
    seeds = ", ".join(str(s) for s in protocol.get("seeds", []))
    folds = protocol.get("folds")
    lines.append(
        f"Seeds: {seeds}." + (f" Folds: {folds['n']} by `{folds['by']}` ({folds['kind']})." if folds else "")
    )
    lines += [f"Metrics on the {summary['part']} split; model selection on validation only.", ""]
    if protocol.get("context"):  # report.py describe_context: the ContextConfig's own description
        lines += [f"Model: {protocol['context']}.", ""]
    lines.append(table({title: summary["metrics"]}, names).rstrip())
    lines += [
        "",
        "| metric | n | mean | std | 95% interval | min | max | values |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m, d in summary["metrics"].items():
        ci = d.get("ci95")
        lines.append(
            f"| {m} | {d['n']} | {fmt4(d['mean'])} | {fmt4(d['std'])} | "
            + (f"[{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "-")
            + f" | {fmt4(d['min'])} | {fmt4(d['max'])} | {', '.join(f'{v:.4f}' for v in d['values'])} |"
        )
    if "per_fold" in summary:
        lines += ["", "## Per fold (over seeds)", ""]
        lines.append(table({f"fold {f}": v for f, v in summary["per_fold"].items()}, names).rstrip())
        lines += [
            "",
            "Over the fold means:",
            "",
            table({"folds": summary["over_fold_means"]}, names).rstrip(),
        ]
    lines += ["", "Best epoch (validation) per run: " + ", ".join(
        (f"fold {b['fold']} " if b.get("fold") is not None else "") + f"seed {b['seed']}: {b['best_epoch']}"
        for b in summary["best_epochs"]
    ) + "."]  # fmt: skip
    return "\n".join(lines) + "\n"


def fmt4(v: float | None) -> str:
    """A number with four decimals, '-' for none."""
    return "-" if v is None else f"{v:.4f}"


def plot_dots(rows: dict[str, dict[str, Any]], metrics: Sequence[str], path: str | Path) -> Path:
    """One panel per metric; per model one dot per run (seed/fold) and a bar at the mean."""
    plt = pyplot()
    metrics = list(metrics) or ["-"]
    names = list(rows)
    fig, axes = plt.subplots(1, len(metrics), figsize=(max(3.5, 0.8 * len(names) + 1.5) * len(metrics), 3.6),
                             squeeze=False)  # fmt: skip
    for ax, m in zip(axes[0], metrics, strict=True):
        for x, name in enumerate(names):
            d = rows[name].get(m) or {}
            vals = d.get("values") or []
            if not vals:
                continue
            offs = [(i - (len(vals) - 1) / 2) * 0.08 for i in range(len(vals))]  # spread equal values
            ax.scatter([x + o for o in offs], vals, s=18, color="C0", alpha=0.8, zorder=3)
            ax.hlines(d["mean"], x - 0.3, x + 0.3, color="C3", linewidth=2, zorder=4)
        ax.set_xticks(
            range(len(names)),
            names,
            rotation=30 if len(names) > 3 else 0,
            ha="right" if len(names) > 3 else "center",
        )
        ax.set_title(m)
        ax.grid(axis="y", alpha=0.3)
    return save_figure(fig, path)


def write_tables(
    out_dir: Path, stem: str, rows: dict[str, dict[str, Any]], columns: Sequence[str], md: str
) -> list[Path]:
    """<stem>.md (given text), .csv, .tex and .png in out_dir."""
    return [
        atomic_write_text(out_dir / f"{stem}.md", md),
        atomic_write_text(out_dir / f"{stem}.csv", table(rows, columns, "csv")),
        atomic_write_text(out_dir / f"{stem}.tex", table(rows, columns, "tex")),
        plot_dots(rows, [c for c in columns if c != "loss"], out_dir / f"{stem}.png"),
    ]
