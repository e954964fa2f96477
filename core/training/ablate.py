"""`sseft ablate`: the paper's Table 8 (uni-, dual-, tri-modal, without IMA, concat instead of
Hadamard) as configuration variants of one experiment, trained one after another and compared
on the test split with the head's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ExperimentConfig
from .data import modality_choices, open_store
from .report import metrics_table, write_json


def table8_presets(modalities: list[str]) -> dict[str, dict[str, Any]]:
    """Preset name -> {"modalities": subset, "fusion": overrides}, from the fusion engine's table;
    the complete model ("full") is listed first so it heads the comparison table."""
    from ..fusion import table8_presets as fusion_presets

    presets = {
        name: {"modalities": list(mods), "fusion": dict(over)}
        for name, (mods, over) in fusion_presets(modalities).items()
    }
    return {k: presets[k] for k in sorted(presets, key=lambda k: k != "full")}


def preset_config(cfg: ExperimentConfig, name: str, preset: dict[str, Any]) -> ExperimentConfig:
    """The base experiment restricted to the preset's modalities with its fusion overrides."""
    store = _store_for(cfg) if cfg.modalities is None else None  # the list comes from the store
    chosen = {c.name: c for c in modality_choices(cfg, store)}
    mods = [chosen.get(m, m) for m in preset["modalities"]]
    fusion = cfg.fusion.model_copy(update=preset["fusion"])
    return cfg.model_copy(update={"name": f"{cfg.name}-{name}", "modalities": mods, "fusion": fusion})


def _store_for(cfg: ExperimentConfig) -> Any:
    return open_store(cfg.data.store)


def run_ablation(
    cfg: ExperimentConfig,
    output_dir: str | Path | None = None,
    only: list[str] | None = None,
    progress: bool | None = None,
    overwrite: bool = False,
) -> str | None:
    """Train every preset; write ablation.json/.md in the output dir; return the table (main process)."""
    from accelerate import PartialState

    from .trainer import ensure_store, make_accelerator, train

    out = Path(output_dir or Path("runs") / f"{cfg.name}-ablate")
    ensure_store(cfg, make_accelerator(cfg))
    base = [c.name for c in modality_choices(cfg, _store_for(cfg))]
    presets = table8_presets(base)
    if only:
        unknown = sorted(set(only) - set(presets))
        if unknown:
            from ..errors import ConfigError

            raise ConfigError(f"--only: unknown preset(s) {', '.join(unknown)}; known: {', '.join(presets)}")
        presets = {k: v for k, v in presets.items() if k in only}
    rows: dict[str, dict[str, Any]] = {}
    for name, preset in presets.items():
        res = train(
            preset_config(cfg, name, preset), out / name, plots=False, progress=progress, overwrite=overwrite
        )
        test = dict(res.test_metrics or {})
        rows[name] = {
            "modalities": preset["modalities"],
            "fusion": preset["fusion"],
            "best_epoch": res.best_epoch,
            "valid": res.best_valid,
            "test": test,
        }
    if not PartialState().is_main_process:
        return None
    skip = ("n_items", "best_epoch")
    scal = {
        n: {k: v for k, v in r["test"].items() if isinstance(v, (int, float)) and k not in skip}
        for n, r in rows.items()
    }
    columns = [c for c in next(iter(scal.values()), {}) if c != "loss"] + ["loss"]
    table = metrics_table(scal, columns)
    write_json(out / "ablation.json", {"experiment": cfg.name, "split": cfg.data.test_split, "runs": rows})
    (out / "ablation.md").write_text(
        f"# Ablation of {cfg.name} (test split)\n\n" + metrics_table(scal, columns, markdown=True),
        encoding="utf-8",
    )
    return table
