"""`run_robustness(model, store, config)`: how a trained model degrades under missing modalities and
noise, which modality carries it, and how it compares with a late-fusion baseline or a second model.

    res = run_robustness(model, "features/meld", RobustnessConfig(split="test", out="rob/"))
    res.data["relative_robustness"]["model"]   # {kind: {modality: area, ..., "overall": mean}}
    print(res.summary())

Models are SseftModel objects here (core never resolves registry names); `sseft.robustness`
(sseft/api.py) also takes names and directories, keyword options, and adds the audio/video raw
noise (plugins/modalities/raw_noise.py). Every model given is scored on the same items with the
same seeded noise. Definitions: docs/robustness.md; module docs of noise.py and summary.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .bootstrap import compare_curves
from .config import RobustnessConfig
from .evaluate import (
    Scorer,
    SplitData,
    attention_mass,
    chance_level,
    forward_items,
    load_split,
    model_modalities,
)
from .features import Curves, missing_table, noise_curves
from .noise import feature_stds
from .summary import area_table, effective_table

if TYPE_CHECKING:
    from ..features.store import FeatureStore

DEFINITIONS = {
    "relative_robustness": "trapezoid area under metric vs level, step 1/n_levels (raw, not min-max normalised)",
    "effective_robustness": "trapezoid area of m_i - (b_i + (m_0 - b_0)) against the baseline (raw)",
    "overall": "mean over the per-modality areas (the 'all' curve noises every modality at once)",
    "contribution_drop": "metric with every modality minus the metric without this one (positive: it helps)",
    "attention_mass": "mean share of CLS_i's last-layer IMA attention (head average) on j's frames, not on j's position 0",
}
CHANCE = "mean metric of the clean outputs against 20 seeded label permutations"


@dataclass
class RobustnessResult:
    """`data` is what robustness.json holds; `write(dir)` writes the JSON, the Markdown and PNGs."""

    data: dict[str, Any]
    files: list[Path] = field(default_factory=list)

    def write(self, out: str | os.PathLike[str]) -> list[Path]:
        from .report import write_report

        self.files = write_report(self.data, Path(out))
        return self.files

    def summary(self) -> str:
        from .report import summary_line

        return summary_line(self.data)


@dataclass
class _Run:
    """What every part of one robustness run shares."""

    models: dict[str, Any]  # role ("model", "baseline", "compare") -> SseftModel
    refs: dict[str, str]
    store: FeatureStore
    data: SplitData
    scorers: dict[str, Scorer]
    modalities: list[str]  # the union over the models, the main model's first
    training: dict[str, Any]  # the main model's recorded data config
    notes: list[str] = field(default_factory=list)


def _training_data(model: Any) -> dict[str, Any]:
    info = getattr(model, "artifact_info", None)
    cfg = (getattr(info, "training", None) or {}).get("config") or {}
    return dict(cfg.get("data") or {}) if isinstance(cfg, dict) else {}


def refuse_context_model(model: Any, who: str) -> None:
    """Robustness scores each item alone, perturbed; a model with dialogue context also reads the
    item's neighbouring turns, which a perturbed single item does not have (and its head expects the
    context stream's width): refused with one line rather than scored without its context."""
    cfg = getattr(model, "config", None)
    if cfg is not None and getattr(cfg, "context_on", False):
        raise ConfigError(
            f"robustness: {who} was trained with dialogue context ({cfg.context.describe()}); robustness "
            "perturbs single items and cannot rebuild their dialogue contexts: evaluate a model trained "
            "without `context`"
        )


def _setup(
    models: dict[str, Any], store: FeatureStore | str | os.PathLike[str], split: str, metric: str | None
) -> _Run:
    from ..features import FeatureStore
    from ..inference import model_ref
    from ..training.data import check_specs_match

    for role, m in models.items():
        if isinstance(m, (str, os.PathLike)):
            raise ConfigError(
                f"{role} {m!r}: pass a loaded model here; sseft.robustness(...) accepts names and directories"
            )
    refs = {role: model_ref(m) for role, m in models.items()}
    for role, m in models.items():
        refuse_context_model(m, f"{role} {refs[role]}")
    st = FeatureStore.open(store) if isinstance(store, (str, os.PathLike)) else store
    for role, m in models.items():
        check_specs_match(m.config.modalities, st, f"model {refs[role]}")
    union: list[str] = []
    for m in models.values():
        union += [n for n in model_modalities(m) if n not in union]
    training = _training_data(models["model"])
    data = load_split(st, split, union, training.get("labels"))
    metric = metric or str(models["model"].head.primary_metric)
    scorers = {role: Scorer(m, data.labels, metric, f"model {refs[role]}") for role, m in models.items()}
    return _Run(models, refs, st, data, scorers, union, training)


def _clean_and_missing(run: _Run, seed: int, batch_size: int) -> dict[str, Any]:
    """Clean metrics, chance, the missing-modality tables and the main model's contribution."""
    from ..files import to_plain
    from ..inference import trained_with_modality_dropout
    from ..training.evaluate import scalar_metrics

    main, data = run.models["model"], run.data
    try:
        out_main, attn = forward_items(main, data.features, batch_size, attention=True)
    except TypeError:  # a fusion without return_attention (a baseline kind)
        out_main, attn = forward_items(main, data.features, batch_size)
        run.notes.append("the model's fusion gives no attention weights: no attention table")
    models: dict[str, Any] = {}
    for role, m in run.models.items():
        o = out_main if role == "model" else forward_items(m, data.features, batch_size)[0]
        models[role] = {
            "ref": run.refs[role], "modalities": model_modalities(m), "dropout_trained": trained_with_modality_dropout(m),
            "clean": scalar_metrics(to_plain(run.scorers[role].metrics(o))),
        }  # fmt: skip
    missing = {role: missing_table(m, data, run.scorers[role], batch_size) for role, m in run.models.items()}
    scorer = run.scorers["model"]
    full, names = scorer(out_main), model_modalities(main)
    drop = {}
    for row in missing["model"]:
        if len(row["absent"]) == 1 and len(names) > 1:
            d = full - row["metric"]
            drop[row["absent"][0]] = d if scorer.greater_is_better else -d
    return {
        "metric": scorer.metric, "greater_is_better": scorer.greater_is_better,
        "chance": chance_level(scorer, out_main, seed), "chance_method": CHANCE, "models": models,
        "missing": missing, "contribution": {"drop": drop, "attention": attention_mass(main, out_main, attn)},
    }  # fmt: skip


def _feature_noise(
    run: _Run, cfg: RobustnessConfig, keep_outputs: bool, progress: Callable[[str], None] | None
) -> tuple[Curves, str]:
    """The curves, with Gaussian noise scaled to the std of the training split (or, when the store
    lacks it, of the evaluated split: noted)."""
    std_split = cfg.std_split or run.training.get("train_split") or "train"
    std_items: Iterable[Mapping[str, Any]]
    if std_split not in run.store.splits:
        run.notes.append(
            f"split {std_split!r} not in the store: gaussian noise is scaled to the std of {run.data.split!r}"
        )
        std_split, std_items = run.data.split, run.data.features
    elif std_split == run.data.split:
        std_items = run.data.features
    else:  # streamed: the training split is never held in memory
        ds = run.store.dataset(std_split, modalities=run.modalities)
        std_items = (ds[i]["features"] for i in range(len(ds)))
    specs = [s for m in run.models.values() for s in m.config.modalities]
    stds = feature_stds(std_items, {s.name: s.dim for s in specs})
    own = {s.name: s.uses_own_cls for s in specs}
    curves = noise_curves(
        run.models, run.scorers, run.data, cfg.kinds, run.modalities, cfg.n_levels, seed=cfg.seed, stds=stds,
        own_cls=own, batch_size=cfg.batch_size, keep_outputs=keep_outputs, progress=progress,
    )  # fmt: skip
    return curves, std_split


def run_robustness(
    model: Any,
    store: str | os.PathLike[str] | Any,
    config: RobustnessConfig | None = None,
    *,
    baseline: Any = None,
    compare: Any = None,
    raw_noise: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RobustnessResult:
    """Missing-modality table, feature-level noise curves (+ raw-level with `config.raw`),
    MultiBench's relative/effective robustness, per-modality contribution and IMA attention mass.

    `config`: the options (RobustnessConfig; defaults when None). `baseline`: the late-fusion
    reference of effective robustness; `compare`: a second model whose curve areas are compared with
    a paired bootstrap over items (`config.n_boot`, `config.seed`); `raw_noise`: input kind -> raw
    perturber (raw_inputs.RawNoise) beside the text one."""
    cfg = config or RobustnessConfig()
    roles = {"model": model, "baseline": baseline, "compare": compare}
    run = _setup({r: m for r, m in roles.items() if m is not None}, store, cfg.split, cfg.metric)
    result: dict[str, Any] = {
        "model": run.refs["model"], "split": cfg.split, "store": str(run.store.root),
        "n_items": len(run.data.ids), "seed": cfg.seed, "kinds": list(cfg.kinds), "modalities": run.modalities,
    }  # fmt: skip
    result.update(_clean_and_missing(run, cfg.seed, cfg.batch_size))
    curves, used_std = _feature_noise(run, cfg, compare is not None, progress)
    result.update({
        "levels": curves.levels, "feature_noise": curves.curves, "std_split": used_std,
        "relative_robustness": {r: area_table(c) for r, c in curves.curves.items()},
    })  # fmt: skip
    if baseline is not None:
        result["effective_robustness"] = effective_table(
            curves.curves["model"], curves.curves.get("baseline", {})
        )
    if compare is not None:
        result["compare"] = compare_curves(
            curves.outputs["model"], curves.outputs.get("compare", {}), run.scorers["model"],
            run.scorers["compare"], n_boot=cfg.n_boot, seed=cfg.seed,
        )  # fmt: skip
    if cfg.raw is not None:
        from .raw import raw_curves

        result["raw_noise"] = raw_curves(
            run.models, run.refs, cfg, metric=result["metric"], label_set=run.training.get("labels"),
            perturbers=raw_noise, progress=progress,
        )  # fmt: skip
    from ..files import to_plain

    res = RobustnessResult(to_plain({**result, "notes": run.notes, "definitions": DEFINITIONS}))
    if cfg.out is not None:
        res.write(cfg.out)
    return res


__all__ = ["RobustnessConfig", "RobustnessResult", "run_robustness"]
