"""`sseft.robustness(...)`: how a trained model degrades under missing modalities and noise, which
modality carries it, and how it compares with a late-fusion baseline or a second model.

    res = sseft.robustness("meld-text", store="features/meld", split="test", out="rob/")
    res.data["relative_robustness"]          # {kind: {modality: area, ..., "overall": mean}}
    print(res.summary())

Everything is computed on the same items and the same seeded noise for every model given
(`baseline`, `compare`). Definitions: FORMATS.md "Robustness"; module docs of noise.py, summary.py.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .bootstrap import paired_bootstrap_area
from .evaluate import Scorer, attention_mass, chance_level, forward_items, load_split, model_modalities
from .features import ALL, missing_table, noise_curves
from .noise import FEATURE_KINDS, check_kinds, feature_std
from .summary import effective_robustness, relative_robustness

ModelLike = Any  # an SseftModel, a registry reference or an artifact directory


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


def _load(m: ModelLike, device: str) -> Any:
    """A model object as is; a registry reference or artifact directory loaded; a run directory
    (holding `model/config.json`) loads its exported model."""
    if isinstance(m, (str, os.PathLike)):
        import sseft

        p = Path(m)
        if p.is_dir() and not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
            m = p / "model"
        return sseft.load(m, device=device)
    return m


def _training_data(model: Any) -> dict[str, Any]:
    info = getattr(model, "artifact_info", None)
    cfg = (getattr(info, "training", None) or {}).get("config") or {}
    return dict(cfg.get("data") or {}) if isinstance(cfg, dict) else {}


def _check_store(model: Any, store: Any, ref: str) -> None:
    from ..training.data import check_specs_match

    check_specs_match(model.config.modalities, store, f"model {ref}")


def robustness(
    model: ModelLike,
    store: str | os.PathLike[str] | Any,
    split: str = "test",
    *,
    metric: str | None = None,
    baseline: ModelLike | None = None,
    compare: ModelLike | None = None,
    kinds: Sequence[str] = FEATURE_KINDS,
    n_levels: int = 10,
    seed: int = 0,
    batch_size: int = 64,
    std_split: str | None = None,
    raw: str | os.PathLike[str] | None = None,
    raw_dataset: str | None = None,
    raw_kinds: Sequence[str] | None = None,
    raw_split: str | None = None,
    raw_options: Sequence[str] = (),
    limit: int | None = None,
    overrides: Sequence[str] = (),
    n_boot: int = 1000,
    device: str = "cpu",
    out: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> RobustnessResult:
    """Missing-modality table, feature-level noise curves (+ raw-level with `raw`), MultiBench's
    relative/effective robustness, per-modality contribution and IMA attention mass; see the module
    docstring. `baseline`: the late-fusion reference of effective robustness; `compare`: a second
    model whose curve areas are compared with a paired bootstrap over items (`n_boot`, `seed`).
    `raw_split`: the raw dataset's split name when it differs from the store's (default `split`);
    `raw_options`: the raw dataset plugin's options as `KEY=VALUE` (`modalities=[text]`)."""
    from ..features import FeatureStore
    from ..inference import model_ref, trained_with_modality_dropout
    from ..training.evaluate import scalar_metrics, to_jsonable

    if n_levels < 2:
        raise ConfigError(f"n_levels must be >= 2, got {n_levels}")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    kinds = check_kinds(kinds)
    models = {"model": _load(model, device)}
    if baseline is not None:
        models["baseline"] = _load(baseline, device)
    if compare is not None:
        models["compare"] = _load(compare, device)
    refs = {role: model_ref(m) for role, m in models.items()}
    st: Any = store if hasattr(store, "dataset") else FeatureStore.open(store)
    for role, m in models.items():
        _check_store(m, st, refs[role])
    main = models["model"]
    union: list[str] = []
    for m in models.values():
        union += [n for n in model_modalities(m) if n not in union]
    tdata = _training_data(main)
    label_set = tdata.get("labels")
    notes: list[str] = []
    data = load_split(st, split, union, label_set)
    metric = metric or str(main.head.primary_metric)
    scorers = {role: Scorer(m, data.labels, metric, f"model {refs[role]}") for role, m in models.items()}

    # -- clean pass (with attention for the contribution table) -----------------------------------
    clean: dict[str, Any] = {}
    try:
        out_main, attn = forward_items(main, data.features, batch_size, attention=True)
    except TypeError:  # a fusion without return_attention (a baseline kind)
        out_main, attn = forward_items(main, data.features, batch_size)
        notes.append("the model's fusion gives no attention weights: no attention table")
    for role, m in models.items():
        o = out_main if role == "model" else forward_items(m, data.features, batch_size)[0]
        clean[role] = scalar_metrics(to_jsonable(scorers[role].metrics(o)))
    chance = chance_level(scorers["model"], out_main, seed)

    # -- missing modalities + contribution ------------------------------------------------------
    missing = {role: missing_table(m, data, scorers[role], batch_size) for role, m in models.items()}
    greater = scorers["model"].greater_is_better
    contribution: dict[str, Any] = {"drop": {}, "attention": attention_mass(main, out_main, attn)}
    names = model_modalities(main)
    full = scorers["model"](out_main)
    for row in missing["model"]:
        if len(row["absent"]) == 1 and len(names) > 1:
            drop = full - row["metric"] if greater else row["metric"] - full
            contribution["drop"][row["absent"][0]] = drop

    # -- noise curves ---------------------------------------------------------------------------
    std_split = std_split or tdata.get("train_split") or "train"
    if std_split not in st.splits:
        notes.append(
            f"split {std_split!r} not in the store: gaussian noise is scaled to the std of {split!r}"
        )
        std_items = data.features
    else:
        sd = load_split(st, std_split, union, None) if std_split != split else data
        std_items = sd.features
    dims = {s.name: s.dim for m in models.values() for s in m.config.modalities}
    own = {s.name: s.uses_own_cls for m in models.values() for s in m.config.modalities}
    stds = {m: feature_std(std_items, m, dims[m]) for m in union}
    curves = noise_curves(
        models, scorers, data, kinds, union, n_levels, seed=seed, stds=stds, own_cls=own,
        batch_size=batch_size, keep_outputs=compare is not None, progress=progress,
    )  # fmt: skip
    result: dict[str, Any] = {
        "model": refs["model"],
        "split": split,
        "store": str(getattr(st, "root", store)),
        "metric": metric,
        "greater_is_better": greater,
        "n_items": len(data.ids),
        "seed": seed,
        "levels": curves.levels,
        "kinds": list(kinds),
        "modalities": union,
        "chance": chance,
        "chance_method": "mean metric of the clean outputs against 20 seeded label permutations",
        "models": {
            role: {
                "ref": refs[role],
                "modalities": model_modalities(m),
                "clean": clean[role],
                "dropout_trained": trained_with_modality_dropout(m),
            }
            for role, m in models.items()
        },  # fmt: skip
        "missing": missing,
        "contribution": contribution,
        "feature_noise": curves.curves,
        "relative_robustness": {r: _areas(c) for r, c in curves.curves.items()},
        "std_split": std_split if std_split in st.splits else split,
        "notes": notes,
        "definitions": {
            "relative_robustness": "trapezoid area under metric vs level, step 1/n_levels (raw, not min-max normalised)",
            "effective_robustness": "trapezoid area of m_i - (b_i + (m_0 - b_0)) against the baseline (raw)",
            "overall": "mean over the per-modality areas (the 'all' curve noises every modality at once)",
            "contribution_drop": "metric with every modality minus the metric without this one (positive: it helps)",
            "attention_mass": "mean share of CLS_i's last-layer IMA attention (head average) on j's frames, not on j's position 0",
        },
    }
    if "baseline" in models:
        result["effective_robustness"] = _effective(curves.curves["model"], curves.curves.get("baseline", {}))
    if "compare" in models:
        result["compare"] = _compare(curves, scorers, n_boot, seed)
    if raw is not None:
        from .raw import raw_curves

        result["raw_noise"] = raw_curves(
            models, refs, scorers_metric=metric, raw=raw, dataset=raw_dataset, split=raw_split or split,
            kinds=raw_kinds, limit=limit, n_levels=n_levels, seed=seed, batch_size=batch_size,
            overrides=overrides, device=device, label_set=label_set, options=raw_options, progress=progress,
        )  # fmt: skip
    res = RobustnessResult(to_jsonable(result))
    if out is not None:
        res.write(out)
    return res


def _areas(per_kind: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, per_target in per_kind.items():
        a = {t: relative_robustness(c) for t, c in per_target.items()}
        single = [v for t, v in a.items() if t != ALL]
        a["overall"] = sum(single) / len(single)
        out[kind] = a
    kinds = [v["overall"] for v in out.values()]
    out["overall"] = sum(kinds) / len(kinds) if kinds else None
    return out


def _effective(
    model: dict[str, dict[str, list[float]]], base: dict[str, dict[str, list[float]]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind, per_target in model.items():
        a = {
            t: effective_robustness(c, base[kind][t])
            for t, c in per_target.items()
            if t in base.get(kind, {})
        }
        single = [v for t, v in a.items() if t != ALL]
        if single:
            a["overall"] = sum(single) / len(single)
        out[kind] = a
    kinds = [v["overall"] for v in out.values() if "overall" in v]
    out["overall"] = sum(kinds) / len(kinds) if kinds else None
    return out


def _compare(curves: Any, scorers: dict[str, Scorer], n_boot: int, seed: int) -> dict[str, Any]:
    """Paired bootstrap of the area difference model - compare, per kind and target."""
    out: dict[str, Any] = {}
    a_out, b_out = curves.outputs["model"], curves.outputs.get("compare", {})
    sa, sb = scorers["model"], scorers["compare"]
    for kind, per_target in a_out.items():
        for target, outs in per_target.items():
            if target not in b_out.get(kind, {}):
                continue
            out.setdefault(kind, {})[target] = paired_bootstrap_area(
                outs, b_out[kind][target], sa, sb, n_boot=n_boot, seed=seed
            )  # fmt: skip
    return out


def compare_robustness(
    model_a: ModelLike,
    model_b: ModelLike,
    store: str | os.PathLike[str] | Any,
    split: str = "test",
    **kwargs: Any,
) -> dict[str, Any]:
    """Paired bootstrap (over items) of the curve-area difference A - B on the same noise; the
    `compare` part of `robustness(model_a, store, compare=model_b)`."""
    return robustness(model_a, store, split, compare=model_b, **kwargs).data["compare"]


__all__ = ["RobustnessResult", "compare_robustness", "robustness"]
