"""`sseft ablate CONFIG --seeds 0,1,2`: the Table 8 presets over seeds (and folds, with data.folds).

    <out>/<preset>/seed-<s>/...            one protocol run per preset (runner.run_protocol)
    <out>/ablation.json|.md|.csv|.tex|.png mean ± std per preset; each preset compared with "full"

Each preset is compared with the full model on the head's primary metric: paired t-test and Wilcoxon
over the matched seeds, paired bootstrap over the test items (compare.compare_runs).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .io import write_json
from .summary import metric_names, table, write_tables


def run_ablation_seeds(
    cfg: Any,
    output_dir: str | Path | None = None,
    *,
    seeds: list[int],
    only: list[str] | None = None,
    progress: bool | None = None,
    resamples: int = 10_000,
) -> str | None:
    """Train every preset over the seeds; write the tables; return the Markdown report (main process)."""
    from ..training.ablate import preset_config
    from . import adapter
    from .compare import compare_runs
    from .runner import run_protocol

    out = Path(output_dir or Path("runs") / f"{cfg.name}-ablate")
    adapter.prepare_store(cfg)
    presets = select_presets(cfg, only)
    summaries: dict[str, dict[str, Any]] = {}
    for k, (name, preset) in enumerate(presets.items(), start=1):
        if progress is not False and adapter._is_main():
            import sys

            print(f"[preset {k}/{len(presets)}] {name}", file=sys.stderr, flush=True)
        s = run_protocol(
            preset_config(cfg, name, preset), out / name, seeds=seeds, progress=progress, plots=False
        )
        if s is not None:
            summaries[name] = s
    if not adapter._is_main():
        return None
    runs = [r for s in summaries.values() for r in s["runs"]]
    columns = metric_names(runs)
    rows = {name: s["metrics"] for name, s in summaries.items()}
    comparisons: dict[str, Any] = {}
    if "full" in summaries:
        for name in summaries:
            if name != "full":
                comparisons[name] = compare_runs(out / name, out / "full", resamples=resamples)
    md = report_md(cfg.name, seeds, rows, columns, comparisons)
    write_json(out / "ablation.json", {"experiment": cfg.name, "seeds": seeds, "presets": summaries,
                                       "vs_full": comparisons})  # fmt: skip
    write_tables(out, "ablation", rows, columns, md)
    return md


def select_presets(cfg: Any, only: list[str] | None) -> dict[str, dict[str, Any]]:
    """The Table 8 presets of cfg's modalities ("full" first), restricted to `only`."""
    from ..errors import ConfigError
    from ..training.ablate import table8_presets
    from ..training.data import modality_choices, open_store

    presets = table8_presets([c.name for c in modality_choices(cfg, open_store(cfg.data.store))])
    if only:
        unknown = sorted(set(only) - set(presets))
        if unknown:
            raise ConfigError(f"--only: unknown preset(s) {', '.join(unknown)}; known: {', '.join(presets)}")
        presets = {k: v for k, v in presets.items() if k in only}
    return presets


def report_md(
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
                f"| {preset} | {_f(p['mean_difference'])} | {_f(p['ttest']['p'])} | {_f(p['wilcoxon']['p'])} | "
                f"[{_f(b['ci95'][0])}, {_f(b['ci95'][1])}] | {_f(b['p_one_sided'])} |"
            )
    return "\n".join(lines) + "\n"


def _f(v: Any) -> str:
    return "-" if v is None else f"{v:.4f}"
