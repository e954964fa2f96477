"""Running models over (possibly perturbed) feature-store items and scoring them through their head.

Models are called only through their public forward `model(features, lengths)` and scored with
`model.head.metrics(outputs, labels)` over the whole split at once (never averaged per batch). An
absent modality is a (0, D) sequence, exactly as `predict --allow-missing` feeds it (see
core/inference/predictor.py `_forward`): the fusion model then relies on its learned CLS.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from ..batch import collate
from ..errors import DataError
from ..head import method, metric_value
from ..training.data import split_labels

if TYPE_CHECKING:
    from ..features.store import FeatureStore

Features = dict[str, torch.Tensor]


@dataclass
class SplitData:
    """Every item of one split, in the store's order: ids, per-item features, plain labels."""

    split: str
    ids: list[str]
    features: list[Features]
    labels: list[Any]


def load_split(
    store: FeatureStore, split: str, modalities: Sequence[str], label_set: str | None = None
) -> SplitData:
    """Read `split` of `store` into memory (only `modalities`)."""
    if split not in store.splits:
        raise DataError(f"{store.root}: no split {split!r}; the store has {', '.join(store.splits)}")
    ds = store.dataset(split, modalities=list(modalities))
    feats = [ds[i]["features"] for i in range(len(ds))]
    if not feats:
        raise DataError(f"{store.root}: split {split!r} is empty")
    labels = split_labels(store, split, label_set)
    return SplitData(split=split, ids=list(ds.ids), features=feats, labels=labels)


def model_modalities(model: Any) -> list[str]:
    return [s.name for s in model.config.modalities]


def label_tensor(head: Any, labels: Sequence[Any]) -> torch.Tensor:
    """Plain labels -> the tensor the head's loss/metrics take (`collate_labels` when the head has it)."""
    if hasattr(head, "collate_labels"):
        return head.collate_labels(list(labels))
    return torch.as_tensor(list(labels), dtype=getattr(head, "label_dtype", None))


def model_inputs(model: Any, feats: Features) -> Features:
    """The item's features the model reads: absent modality -> (0, D); longer than max_len -> cropped
    to the first max_len frames (as the predictor does)."""
    out: Features = {}
    for s in model.config.modalities:
        t = feats.get(s.name)
        t = torch.zeros(0, s.dim) if t is None else t
        out[s.name] = t[: s.max_len]
    return out


def forward_items(
    model: Any, items: Sequence[Features], batch_size: int = 64, *, attention: bool = False
) -> tuple[torch.Tensor, dict[tuple[str, str], list[torch.Tensor]]]:
    """Head outputs (N, ...) float32 on CPU for per-item features, in order; with `attention`,
    per IMA pair the per-batch (B, L_j incl. CLS) head-averaged weights of the last IMA layer."""
    names = model_modalities(model)
    device = next(model.parameters()).device
    outs: list[torch.Tensor] = []
    attn: dict[tuple[str, str], list[torch.Tensor]] = {}
    model.eval()
    with torch.inference_mode():
        for k in range(0, len(items), batch_size):
            chunk = [
                {"id": str(k + j), "features": model_inputs(model, f)}
                for j, f in enumerate(items[k : k + batch_size])
            ]
            batch = collate(chunk, names).to(device)
            if attention:
                fused, a = model.fusion(batch.features, batch.lengths, return_attention=True)
                out = model.head(fused)
                for pair, w in a.items():
                    attn.setdefault(pair, []).append(w.float().cpu())
            else:
                out = model(batch.features, batch.lengths)
            outs.append(out.float().cpu())
    return torch.cat(outs), attn


class Scorer:
    """One model's metric over a fixed list of labels (the label tensor is built once)."""

    def __init__(self, model: Any, labels: Sequence[Any], metric: str | None, where: str) -> None:
        self.model, self.head = model, model.head
        self.labels = label_tensor(self.head, labels)
        self.metric = metric or str(self.head.primary_metric)
        self.greater_is_better = bool(method(self.head, "greater_is_better_for")(self.metric))
        self.where = where

    def metrics(self, outputs: torch.Tensor, index: torch.Tensor | None = None) -> dict[str, Any]:
        lab = self.labels if index is None else self.labels[index]
        out = outputs if index is None else outputs[index]
        return dict(self.head.metrics(out, lab))

    def __call__(self, outputs: torch.Tensor, index: torch.Tensor | None = None) -> float:
        return metric_value(self.metrics(outputs, index), self.metric, self.where)


def transform(items: Sequence[Features], fn: Callable[[int, Features], Features]) -> list[Features]:
    return [fn(i, f) for i, f in enumerate(items)]


def drop_others(items: Sequence[Features], present: Sequence[str]) -> list[Features]:
    """Items with only the `present` modalities (the others absent: length 0 downstream)."""
    keep = set(present)
    return [{m: x for m, x in f.items() if m in keep} for f in items]


def chance_level(scorer: Scorer, outputs: torch.Tensor, seed: int, n: int = 20) -> float:
    """Label-permutation chance: the mean metric of the model's clean outputs against `n` seeded
    shuffles of the labels (a predictor independent of the truth with the same output distribution)."""
    g = torch.Generator().manual_seed(int(seed) + 7)
    vals = []
    for _ in range(n):
        perm = torch.randperm(len(outputs), generator=g)
        lab = scorer.labels[perm]
        vals.append(metric_value(dict(scorer.head.metrics(outputs, lab)), scorer.metric, scorer.where))
    return float(sum(vals) / len(vals))


def attention_mass(
    model: Any, outputs: torch.Tensor, attn: Mapping[tuple[str, str], list[torch.Tensor]]
) -> dict[str, dict[str, dict[str, float]]]:
    """Per IMA pair 'i->j' and predicted class: mean attention mass CLS_i put on j's frames (not
    on j's position 0, its learned or encoder-given CLS), averaged over heads (last IMA layer)."""
    if not attn:
        return {}
    pred = model.head.predict(outputs)
    labels = pred.get("label") if isinstance(pred, Mapping) else None
    groups = [str(x) if isinstance(x, str) else "all" for x in labels] if labels else ["all"] * len(outputs)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for (i, j), parts in attn.items():
        mass = torch.cat([w[:, 1:].sum(dim=1) for w in parts])  # (N,)
        per: dict[str, list[float]] = {}
        for g, v in zip(groups, mass.tolist(), strict=True):
            per.setdefault(g, []).append(v)
        per["all"] = mass.tolist()
        out[f"{i}->{j}"] = {g: {"mass": sum(v) / len(v), "n": len(v)} for g, v in per.items()}
    return out
