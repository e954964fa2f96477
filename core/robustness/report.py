"""robustness.json, robustness.md and the pictures: one panel per modality (metric vs noise level,
one line per model, the chance level dashed) per noise kind, and a missing-modality bar chart.
Titles name the model, the split and the metric. Drawn with matplotlib's Agg canvas (no display)."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes, atomic_write_json, atomic_write_text

ROLE_STYLE = {"model": ("C0", "o-"), "baseline": ("C1", "s--"), "compare": ("C2", "^-")}


def _figure(w: float, h: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h), dpi=90)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return atomic_write_bytes(path, buf.getvalue())


def plot_curves(
    path: Path,
    title: str,
    levels: Sequence[float],
    per_role: Mapping[str, Mapping[str, Sequence[float]]],
    labels: Mapping[str, str],
    metric: str,
    chance: float | None,
    xlabel: str = "noise level",
) -> Path:
    """per_role[role][target] = metric per level; one panel per target."""
    targets: list[str] = []
    for per in per_role.values():
        targets += [t for t in per if t not in targets]
    cols = min(len(targets), 4)
    rows = math.ceil(len(targets) / cols)
    fig = _figure(3.2 * cols + 0.4, 2.8 * rows + 0.7)
    fig.suptitle(title, fontsize=10)
    for k, t in enumerate(targets):
        ax = fig.add_subplot(rows, cols, k + 1)
        for role, per in per_role.items():
            if t in per:
                color, style = ROLE_STYLE.get(role, ("C3", "x-"))
                ax.plot(levels[: len(per[t])], per[t], style, color=color, label=labels.get(role, role), ms=4)
        if chance is not None:
            ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
        ax.set_title(f"noise on {t}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.legend(fontsize=7)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    return _save(fig, path)


def plot_missing(path: Path, title: str, missing: Mapping[str, Sequence[Mapping[str, Any]]],
                 labels: Mapping[str, str], metric: str, chance: float | None) -> Path:  # fmt: skip
    """Grouped bars: the metric per present-modality subset, one bar per model."""
    subsets: list[str] = []
    for rows in missing.values():
        subsets += ["+".join(r["present"]) for r in rows if "+".join(r["present"]) not in subsets]
    roles = list(missing)
    width = 0.8 / max(len(roles), 1)
    fig = _figure(max(7.0, 0.9 * len(subsets) * max(len(roles), 1) + 1.5), 3.8)
    ax = fig.add_subplot(1, 1, 1)
    for r, role in enumerate(roles):
        vals = {"+".join(x["present"]): x["metric"] for x in missing[role]}
        xs = [k + (r - (len(roles) - 1) / 2) * width for k in range(len(subsets))]
        ax.bar(xs, [vals.get(s, float("nan")) for s in subsets], width=width,
               color=ROLE_STYLE.get(role, ("C3", ""))[0], label=labels.get(role, role))  # fmt: skip
    if chance is not None:
        ax.axhline(chance, color="grey", ls=":", lw=1, label="chance")
    ax.set_xticks(range(len(subsets)))
    ax.set_xticklabels(subsets, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(metric, fontsize=8)
    ax.set_xlabel("modalities present (the others absent, length 0)", fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _labels(data: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for role, info in data["models"].items():
        tag = " (modality dropout)" if info.get("dropout_trained") else ""
        out[role] = f"{info['ref']}{tag}" if role == "model" else f"{role}: {info['ref']}{tag}"
    return out


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}" if isinstance(v, float) else str(v)


def markdown(data: Mapping[str, Any]) -> str:
    """The human-readable report."""
    labels = _labels(data)
    metric, split = data["metric"], data["split"]
    lines = [f"# Robustness of {data['model']}", "",
             f"Split `{split}` of `{data['store']}` ({data['n_items']} items), metric `{metric}` "
             f"({'higher' if data['greater_is_better'] else 'lower'} is better), seed {data['seed']}, "
             f"chance {_f(data['chance'])} ({data['chance_method']}).", ""]  # fmt: skip
    lines += ["## Clean", "", "| model | " + metric + " |", "|---|---|"]
    lines += [f"| {labels[r]} | {_f(i['clean'].get(metric))} |" for r, i in data["models"].items()]
    lines += [
        "",
        "## Missing modalities",
        "",
        "Absent = a zero-length sequence, as `predict --allow-missing` feeds it.",
        "",
    ]
    roles = list(data["missing"])
    lines += ["| present | " + " | ".join(labels[r] for r in roles) + " |", "|---|" + "---|" * len(roles)]
    for k, row in enumerate(data["missing"]["model"]):
        vals = [_f(data["missing"][r][k]["metric"]) if k < len(data["missing"][r]) and
                data["missing"][r][k]["present"] == row["present"] else "-" for r in roles]  # fmt: skip
        lines.append(f"| {' + '.join(row['present'])} | " + " | ".join(vals) + " |")
    lines += ["", "## Contribution", "", "| modality | metric drop when it alone is removed |", "|---|---|"]
    lines += [f"| {m} | {_f(v)} |" for m, v in data["contribution"]["drop"].items()]
    att = data["contribution"].get("attention") or {}
    if att:
        classes = sorted({c for per in att.values() for c in per if c != "all"}) + ["all"]
        lines += ["", "IMA attention mass of CLS_i on j's frames (last layer, heads averaged), per predicted class:", "",
                  "| query->key | " + " | ".join(classes) + " |", "|---|" + "---|" * len(classes)]  # fmt: skip
        for pair, per in att.items():
            lines.append(
                f"| {pair} | " + " | ".join(_f(per[c]["mass"]) if c in per else "-" for c in classes) + " |"
            )
    lines += ["", "## Feature-level noise", ""]
    levels = data["levels"]
    for kind in data["kinds"]:
        lines += [f"### {kind}", "", "| target | model | " + " | ".join(f"{x:g}" for x in levels) + " | area |",
                  "|---|---|" + "---|" * (len(levels) + 1)]  # fmt: skip
        for role, per_kind in data["feature_noise"].items():
            for t, c in per_kind.get(kind, {}).items():
                area = data["relative_robustness"][role][kind].get(t)
                lines.append(f"| {t} | {labels[role]} | " + " | ".join(_f(v) for v in c) + f" | {_f(area)} |")
        lines.append("")
    lines += ["## Summary (raw values, not min-max normalised as on MultiBench's leaderboard)", "",
              "| model | " + " | ".join(data["kinds"]) + " | overall |", "|---|" + "---|" * (len(data["kinds"]) + 1)]  # fmt: skip
    for role, rr in data["relative_robustness"].items():
        lines.append(f"| relative robustness, {labels[role]} | "
                     + " | ".join(_f(rr[k]["overall"]) for k in data["kinds"]) + f" | {_f(rr['overall'])} |")  # fmt: skip
    if "effective_robustness" in data:
        er = data["effective_robustness"]
        lines.append(f"| effective robustness vs {data['models']['baseline']['ref']} | "
                     + " | ".join(_f(er.get(k, {}).get("overall")) for k in data["kinds"]) + f" | {_f(er['overall'])} |")  # fmt: skip
    if "compare" in data:
        lines += ["", f"## Paired comparison: {data['model']} - {data['models']['compare']['ref']} (curve area)", "",
                  "| kind | target | observed | mean | 95% interval | P(diff <= 0) |", "|---|---|---|---|---|---|"]  # fmt: skip
        for kind, per in data["compare"].items():
            for t, c in per.items():
                lines.append(f"| {kind} | {t} | {_f(c['observed'])} | {_f(c['mean'])} | "
                             f"[{_f(c['ci95'][0])}, {_f(c['ci95'][1])}] | {_f(c['p_le_0'])} |")  # fmt: skip
        lines.append(f"\nPaired bootstrap over items, {next(iter(next(iter(data['compare'].values())).values()))['n_boot']} resamples."
                     if data["compare"] else "")  # fmt: skip
    rawd = data.get("raw_noise")
    if rawd:
        lines += ["", f"## Raw-level noise ({rawd['n_items']} items of {rawd['source']}, re-extracted per level)", "",
                  "| kind | modality | model | " + " | ".join(f"{x:g}" for x in levels) + " | area |",
                  "|---|---|---|" + "---|" * (len(levels) + 1)]  # fmt: skip
        for role, per_kind in rawd["curves"].items():
            for kind, per in per_kind.items():
                for m, c in per.items():
                    area = rawd["relative_robustness"][role][kind][m]
                    lines.append(
                        f"| {kind} | {m} | {labels[role]} | "
                        + " | ".join(_f(v) for v in c)
                        + f" | {_f(area)} |"
                    )
    if data.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {n}" for n in data["notes"]]
    lines += ["", "## Definitions", ""] + [f"- {k}: {v}" for k, v in data["definitions"].items()]
    return "\n".join(lines) + "\n"


def write_report(data: Mapping[str, Any], out: Path) -> list[Path]:
    """robustness.json, robustness.md, noise_<kind>.png, missing.png, raw_<kind>.png in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = [atomic_write_json(out / "robustness.json", data, indent=2),
             atomic_write_text(out / "robustness.md", markdown(data))]  # fmt: skip
    labels = _labels(data)
    what = f"split {data['split']}, {data['metric']}"
    for kind in data["kinds"]:
        per_role = {r: c[kind] for r, c in data["feature_noise"].items() if kind in c}
        files.append(plot_curves(out / f"noise_{kind}.png", f"{data['model']}: feature {kind} ({what})",
                                 data["levels"], per_role, labels, data["metric"], data["chance"]))  # fmt: skip
    files.append(plot_missing(out / "missing.png", f"{data['model']}: missing modalities ({what})",
                              data["missing"], labels, data["metric"], data["chance"]))  # fmt: skip
    rawd = data.get("raw_noise")
    if rawd:
        kinds = sorted({k for c in rawd["curves"].values() for k in c})
        for kind in kinds:
            per_role = {r: c[kind] for r, c in rawd["curves"].items() if kind in c}
            files.append(plot_curves(out / f"raw_{kind}.png",
                                     f"{data['model']}: raw {kind} ({rawd['n_items']} items, {what})",
                                     data["levels"], per_role, labels, data["metric"], data["chance"]))  # fmt: skip
    return files


def summary_line(data: Mapping[str, Any]) -> str:
    rr = data["relative_robustness"]["model"]
    parts = [f"{data['model']} on {data['split']} ({data['n_items']} items): clean {data['metric']} "
             f"{_f(data['models']['model']['clean'].get(data['metric']))}, chance {_f(data['chance'])}",
             "relative robustness " + ", ".join(f"{k} {_f(rr[k]['overall'])}" for k in data["kinds"])]  # fmt: skip
    if data.get("effective_robustness"):
        parts.append(f"effective robustness {_f(data['effective_robustness']['overall'])} (raw)")
    drop = data["contribution"]["drop"]
    if drop:
        parts.append("drop without " + ", ".join(f"{m} {_f(v)}" for m, v in drop.items()))
    return "; ".join(parts)
