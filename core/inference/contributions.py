"""Each modality's contribution to one prediction, by occlusion: the forward pass is run again with
that modality hidden (its sequence emptied, exactly as a missing input is fed) and the contribution
is how much the predicted label's probability (a regression head: the score) drops.

    contribution[m] = value(all modalities) - value(all but m)

Positive: the modality pushed towards the prediction; negative: against it; about 0: the model did
not rely on it. One extra fusion + head pass per modality on the same batch (no encoder runs again).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ..head import method


def _target(rec: Mapping[str, Any]) -> str | None:
    """The label whose probability is followed: the record's label, else its most probable one."""
    label = rec.get("label")
    probs = rec.get("probabilities")
    if isinstance(label, str):
        return label
    if isinstance(probs, Mapping) and probs:
        return str(max(probs, key=lambda k: float(probs[k])))
    return None


def _value(rec: Mapping[str, Any], target: str | None) -> float | None:
    probs = rec.get("probabilities")
    if target is not None and isinstance(probs, Mapping) and target in probs:
        return float(probs[target])
    score = rec.get("score")
    if isinstance(score, int | float):
        return float(score)
    return None


def modality_contributions(
    model: Any,
    features: Mapping[str, torch.Tensor],
    lengths: Mapping[str, torch.Tensor],
    records: Sequence[Mapping[str, Any]],
    ids: Sequence[str],
    missing: Sequence[Sequence[str]],
    context: Any = None,
) -> list[dict[str, float]]:
    """{modality: contribution} per item of a collated batch (modalities an item lacks are left out;
    an item whose head records no probability or score gets {}). `context`: the batch's dialogue
    context (core/context/table.py ContextInputs) for a model with context: every occluded pass sees
    it too, so a contribution measures the modality, not the context's removal."""
    fed = {} if context is None else {"context": context}  # only a context model's forward takes it
    targets = [_target(r) for r in records]
    full = [_value(r, t) for r, t in zip(records, targets, strict=True)]
    out: list[dict[str, float]] = [{} for _ in records]
    with torch.inference_mode():
        for m in lengths:
            hidden = dict(lengths)
            hidden[m] = torch.zeros_like(lengths[m])
            recs = method(model.head, "records")(model(dict(features), hidden, **fed), list(ids))
            for b, rec in enumerate(recs):
                if m in missing[b] or full[b] is None:
                    continue
                v = _value(rec, targets[b])
                if v is not None:
                    out[b][m] = round(float(full[b]) - v, 6)  # type: ignore[arg-type]
    return out
