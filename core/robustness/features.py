"""Feature-level robustness of one or more models on the same items: missing-modality subsets and
noise curves (see noise.py). Every model sees the same perturbed features (they are generated once
per level and fed to each model in turn).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from .evaluate import Features, Scorer, SplitData, drop_others, forward_items, model_modalities
from .noise import perturb

ALL = "all"  # the curve with every modality noised at once


@dataclass
class Curves:
    """curves[role][kind][target] = metric per level; outputs[...] = head outputs per level (kept for
    the paired bootstrap)."""

    levels: list[float]
    curves: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    outputs: dict[str, dict[str, dict[str, list[torch.Tensor]]]] = field(default_factory=dict)


def subsets(names: Sequence[str]) -> list[tuple[str, ...]]:
    """Every non-empty subset, largest first, in declared order within a size."""
    return [c for k in range(len(names), 0, -1) for c in itertools.combinations(names, k)]


def missing_table(model: Any, data: SplitData, scorer: Scorer, batch_size: int) -> list[dict[str, Any]]:
    """The metric with every non-empty subset of the model's modalities present (others length 0)."""
    names = model_modalities(model)
    rows = []
    for present in subsets(names):
        items = data.features if len(present) == len(names) else drop_others(data.features, present)
        out, _ = forward_items(model, items, batch_size)
        rows.append({
            "present": list(present), "absent": [m for m in names if m not in present],
            "metric": scorer(out),
        })  # fmt: skip
    return rows


def noisy_items(
    data: SplitData,
    kind: str,
    targets: Sequence[str],
    level_index: int,
    n_levels: int,
    *,
    seed: int,
    stds: Mapping[str, torch.Tensor],
    own_cls: Mapping[str, bool],
) -> list[Features]:
    """The split's items with `kind` noise at level `level_index` on each modality in `targets`."""
    if level_index == 0:
        return data.features
    out = []
    for item_id, f in zip(data.ids, data.features, strict=True):
        g = dict(f)
        for m in targets:
            if m in g:
                g[m] = perturb(
                    g[m], kind, level_index, n_levels, seed=seed, item_id=item_id, modality=m,
                    std=stds.get(m), keep_first=own_cls.get(m, False),
                )  # fmt: skip
        out.append(g)
    return out


def noise_curves(
    models: Mapping[str, Any],
    scorers: Mapping[str, Scorer],
    data: SplitData,
    kinds: Sequence[str],
    modalities: Sequence[str],
    n_levels: int,
    *,
    seed: int,
    stds: Mapping[str, torch.Tensor],
    own_cls: Mapping[str, bool],
    batch_size: int,
    keep_outputs: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Curves:
    """Curves per model role, kind and target (each modality alone, then all at once)."""
    res = Curves(levels=[i / n_levels for i in range(n_levels)])
    targets = [*modalities, ALL] if len(modalities) > 1 else list(modalities)
    clean: dict[str, torch.Tensor] = {}
    for kind in kinds:
        for target in targets:
            mods = list(modalities) if target == ALL else [target]
            for i in range(n_levels):
                items = noisy_items(data, kind, mods, i, n_levels, seed=seed, stds=stds, own_cls=own_cls)
                for role, model in models.items():
                    if not set(mods) & set(model_modalities(model)):
                        continue  # the model does not read this modality
                    if i == 0 and role in clean:
                        out = clean[role]  # level 0 is the clean input (the same tensor)
                    else:
                        out, _ = forward_items(model, items, batch_size)
                        if i == 0:
                            clean[role] = out
                    res.curves.setdefault(role, {}).setdefault(kind, {}).setdefault(target, []).append(
                        scorers[role](out)
                    )
                    if keep_outputs:
                        res.outputs.setdefault(role, {}).setdefault(kind, {}).setdefault(target, []).append(
                            out
                        )
            if progress is not None:
                progress(f"{kind} on {target}")
    return res
