"""What an experiment trains: its presets (the paper's Table 8 for `sseft ablate`), seeds and folds,
each (preset, fold, seed) with the run directory it trains into.

    runs/<name>/                              one seed, no folds (a plain `sseft train`)
    runs/<name>/seed-<s>/                     seeds (`--seeds 0,1,2`, `train.seeds`)
    runs/<name>/fold-<f>/seed-<s>/            with `data.folds`
    runs/<name>-ablate/<preset>/...           `sseft ablate`: the same layout per preset
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..extraction.generate import ensure_store
from ..training.config import ExperimentConfig
from ..training.data import modality_choices, open_store
from ..training.folds import check_whole_dialogues, make_folds, pooled_items, selected
from ..training.setup import process_state


@dataclass(frozen=True)
class RunSpec:
    """One training: its seed, its fold (None: the store's own splits) and where it goes."""

    fold: int | None
    seed: int
    dir: Path
    split_ids: dict[str, list[str]] | None = None

    @property
    def label(self) -> str:
        return (f"fold {self.fold}, " if self.fold is not None else "") + f"seed {self.seed}"

    def coordinates(self) -> dict[str, Any]:
        """What tells this run from the experiment's others (the head of its run record)."""
        return {"fold": self.fold, "seed": self.seed}


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


def seeds_of(cfg: ExperimentConfig, seeds: list[int] | None = None) -> list[int]:
    """--seeds, else train.seeds, else train.seed alone."""
    chosen = seeds or cfg.train.seeds or [cfg.train.seed]
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"seeds {chosen}: each seed once")
    return [int(s) for s in chosen]


def is_repeated(cfg: ExperimentConfig, seeds: list[int] | None) -> bool:
    """Several runs summarised together (seeds or folds), rather than one plain run directory."""
    return bool(seeds or cfg.train.seeds or cfg.data.folds is not None)


def run_config(cfg: ExperimentConfig, spec: RunSpec) -> ExperimentConfig:
    """The single-run config of one (fold, seed): that seed, no seeds list, no folds, not published."""
    return cfg.model_copy(
        update={
            "train": cfg.train.model_copy(update={"seed": spec.seed, "seeds": None}),
            "data": cfg.data.model_copy(update={"folds": None}),
            "register_name": None,
            "output_dir": None,
        }
    )


def plan_runs(cfg: ExperimentConfig, out: Path, seeds: list[int]) -> list[RunSpec]:
    """Every (fold, seed) run of a repeated experiment, folds outer (a fold's split is computed once)."""
    fcfg = cfg.data.folds
    if fcfg is None:
        return [RunSpec(None, s, out / f"seed-{s}") for s in seeds]
    ensure_store(cfg.data, process_state())
    store = open_store(cfg.data.store)
    ids, metas = pooled_items(store, fcfg)
    # With dialogue context every part of every fold holds whole dialogues, and no pooled dialogue
    # spans two store splits (contexts stay within one): refused before any run starts.
    context = cfg.context is not None and cfg.context.enabled
    folds = make_folds(ids, metas, fcfg, where=str(cfg.data.store), whole_dialogues=context)
    if context:
        check_whole_dialogues(store, {"the folded items": ids}, "data.folds")
    return [
        RunSpec(f, s, out / f"fold-{f}" / f"seed-{s}", split)
        for f, split in selected(folds, fcfg)
        for s in seeds
    ]


def ablation_presets(modalities: list[str]) -> dict[str, dict[str, Any]]:
    """Preset name -> {"modalities": subset, "fusion": overrides}, from the fusion engine's table;
    the complete model ("full") is listed first so it heads the comparison table."""
    from ..fusion import table8_presets

    presets = {
        name: {"modalities": list(mods), "fusion": dict(over)}
        for name, (mods, over) in table8_presets(modalities).items()
    }
    return {k: presets[k] for k in sorted(presets, key=lambda k: k != "full")}


def select_presets(cfg: ExperimentConfig, only: list[str] | None) -> dict[str, dict[str, Any]]:
    """The Table 8 presets of cfg's modalities ("full" first), restricted to `only` (a generated
    store is made first: the modalities come from it)."""
    ensure_store(cfg.data, process_state())
    presets = ablation_presets([c.name for c in modality_choices(cfg, open_store(cfg.data.store))])
    if only:
        unknown = sorted(set(only) - set(presets))
        if unknown:
            raise ConfigError(f"--only: unknown preset(s) {', '.join(unknown)}; known: {', '.join(presets)}")
        presets = {k: v for k, v in presets.items() if k in only}
    return presets


def preset_config(cfg: ExperimentConfig, name: str, preset: dict[str, Any]) -> ExperimentConfig:
    """The base experiment restricted to the preset's modalities with its fusion overrides."""
    store = open_store(cfg.data.store) if cfg.modalities is None else None  # the list comes from the store
    chosen = {c.name: c for c in modality_choices(cfg, store)}
    mods = [chosen.get(m, m) for m in preset["modalities"]]
    fusion = cfg.fusion.model_copy(update=preset["fusion"])
    return cfg.model_copy(update={"name": f"{cfg.name}-{name}", "modalities": mods, "fusion": fusion})
