"""Raw-level noise: perturb the raw inputs (text, audio, video) of a subset of a dataset's items
and re-extract them, per level, through each model's own encoders, rebuilt from the fingerprints
it recorded (as `sseft predict` does; `overrides` point at local copies of the encoders).

Only the perturbed modality is re-extracted per level; the others keep their clean features. An
input the noise empties (every word or frame dropped) or the extractor rejects counts as absent
(a zero-length sequence), and the count is reported per level. Perturbers by input kind:
raw_inputs.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import torch

from ..errors import DataError
from ..files import to_plain
from .config import RobustnessConfig
from .evaluate import Scorer, forward_items, model_modalities
from .noise import rng_for
from .raw_inputs import TextNoise, combine, context_for, extract_features, raw_items
from .summary import effective_robustness, relative_robustness


def _clean_inputs(routed: Sequence[Mapping[str, Any]], n: str) -> list[Any]:
    return [r.get(n) for r in routed]


def _noisy_inputs(
    pert: Any, items: Sequence[Any], routed: Sequence[Mapping[str, Any]], n: str, kind: str, i: int,
    n_levels: int, seed: int, ctx: Mapping[str, Any],
) -> list[Any]:  # fmt: skip
    """Every item's raw input of modality `n` with `kind` at level i (None: no input or nothing left)."""
    return [
        None
        if r.get(n) is None
        else pert.perturb(r[n], kind, i, n_levels, rng_for(seed, it.id, n, "raw:" + kind), ctx)
        for it, r in zip(items, routed, strict=True)
    ]


def _role_curves(
    model: Any, predictor: Any, items: Sequence[Any], scorer: Scorer, perturbers: Mapping[str, Any],
    kinds: Sequence[str] | None, n_levels: int, seed: int, batch_size: int,
    notes: list[str], progress: Callable[[str], None] | None, cache: dict[tuple[str, ...], Any],
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, list[int]]]]:  # fmt: skip
    """One model's curves {kind: {modality: [m_0..]}} and absent counts per level. `cache` holds
    extracted features by (extractor fingerprint, modality, kind, level): models sharing an encoder
    (the model and its baseline, usually) extract each noisy input once."""
    from ..inference import route_inputs

    fps = {
        s.name: json.dumps(to_plain(s.fingerprint or {}, unknown=str), sort_keys=True)
        for s in predictor.specs
    }

    def cached(n: str, key: str, raws: Callable[[], list[Any]]) -> list[torch.Tensor | None]:
        k = (fps[n], n, key)
        if k not in cache:
            cache[k] = extract_features(predictor, n, raws())
        return cache[k]

    routed = [route_inputs(predictor.specs, it.inputs, {})[0] for it in items]
    clean = {n: cached(n, "clean", partial(_clean_inputs, routed, n)) for n in model_modalities(model)}
    m0 = scorer(forward_items(model, combine(clean, {}), batch_size)[0])
    curves: dict[str, dict[str, list[float]]] = {}
    absent: dict[str, dict[str, list[int]]] = {}
    for n in model_modalities(model):
        kin = predictor.input_kinds()[n][0]
        pert = perturbers.get(kin)
        wanted = [k for k in (kinds or pert.defaults) if k in pert.kinds] if pert is not None else []
        if pert is None or not wanted:
            notes.append(f"{n}: no raw noise for input kind {kin!r}")
            continue
        # `pool`: every subset item's raw input of this modality (babble noise mixes other items' speech)
        ctx = {**context_for(predictor, n), "pool": _clean_inputs(routed, n)}
        for kind in wanted:
            vals, gone = [m0], [sum(f is None for f in clean[n])]
            try:
                for i in range(1, n_levels):
                    make = partial(_noisy_inputs, pert, items, routed, n, kind, i, n_levels, seed, ctx)
                    feats = cached(n, f"{kind}:{i}/{n_levels}", make)
                    gone.append(sum(f is None for f in feats))
                    vals.append(scorer(forward_items(model, combine(clean, {n: feats}), batch_size)[0]))
            except DataError as e:  # this kind cannot run on this subset (babble with one item): say so
                notes.append(f"{n}: raw {kind} skipped: {e}")
                continue
            curves.setdefault(kind, {})[n] = vals
            absent.setdefault(kind, {})[n] = gone
            if progress is not None:
                progress(f"raw {kind} on {n}")
    return curves, absent


def raw_curves(
    models: Mapping[str, Any],
    refs: Mapping[str, str],
    cfg: RobustnessConfig,
    *,
    metric: str,
    label_set: str | None,
    perturbers: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Curves per model role, raw noise kind and modality on the first `cfg.limit` items of the
    split (`cfg.raw_split`, else `cfg.split`) of `cfg.raw`."""
    from ..inference import Predictor

    assert cfg.raw is not None
    raw, split = cfg.raw, cfg.raw_split or cfg.split
    items, labels, task = raw_items(raw, cfg.raw_dataset, split, cfg.limit, label_set, cfg.raw_options)
    main = models["model"]
    if task.label_names and list(task.label_names) != list(main.label_names):
        raise DataError(
            f"{raw}: the dataset's labels {list(task.label_names)} differ from model {refs['model']}'s "
            f"{list(main.label_names)}; choose its label set with --raw-set"
        )
    pert = {"text": TextNoise(), **dict(perturbers or {})}
    curves: dict[str, Any] = {}
    absent: dict[str, Any] = {}
    notes: list[str] = []
    cache: dict[tuple[str, ...], Any] = {}
    for role, m in models.items():
        predictor = Predictor(m, cfg.overrides, allow_missing=True, device=cfg.device)
        scorer = Scorer(m, labels, metric, f"model {refs[role]}")
        curves[role], gone = _role_curves(
            m, predictor, items, scorer, pert, cfg.raw_kinds, cfg.n_levels, cfg.seed, cfg.batch_size,
            notes if role == "model" else [], progress, cache,
        )  # fmt: skip
        if role == "model":
            absent = gone
    res: dict[str, Any] = {
        "source": str(raw), "dataset": cfg.raw_dataset or "manifest", "split": split, "n_items": len(items),
        "ids": [it.id for it in items], "curves": curves, "absent": absent, "notes": notes,
        "relative_robustness": {
            r: {k: {n: relative_robustness(c) for n, c in per.items()} for k, per in c_r.items()}
            for r, c_r in curves.items()
        },
    }  # fmt: skip
    if "baseline" in curves:
        base = curves["baseline"]
        res["effective_robustness"] = {
            k: {n: effective_robustness(c, base[k][n]) for n, c in per.items() if n in base.get(k, {})}
            for k, per in curves["model"].items()
        }
    return res
