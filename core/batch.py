"""A batch of embedding sequences, padded only to its own longest item per modality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from .context import ContextInputs


@dataclass
class Batch:
    """features[m]: (B, L_m, D_m) float; lengths[m]: (B,) long, the real length of each item
    (0 allowed: the fusion model then relies on its CLS); labels: the tensor the head's loss takes,
    or None."""

    features: dict[str, torch.Tensor]
    lengths: dict[str, torch.Tensor]
    labels: torch.Tensor | None = None
    ids: list[str] = field(default_factory=list)
    # (B,) long: each item's position in the loader's item list (gathered across processes to
    # pair outputs with item ids); None outside training/evaluation loaders.
    index: torch.Tensor | None = None
    # The items' dialogue context (core/context/table.py) for a model with context; None otherwise.
    context: ContextInputs | None = None

    def to(self, device: torch.device | str) -> Batch:
        return Batch(
            features={k: v.to(device, non_blocking=True) for k, v in self.features.items()},
            lengths={k: v.to(device, non_blocking=True) for k, v in self.lengths.items()},
            labels=None if self.labels is None else self.labels.to(device, non_blocking=True),
            ids=self.ids,
            index=None if self.index is None else self.index.to(device, non_blocking=True),
            context=None if self.context is None else self.context.to(device),
        )

    def __len__(self) -> int:
        return len(next(iter(self.lengths.values()))) if self.lengths else len(self.ids)


def pad_sequences(seqs: Sequence[torch.Tensor], dim: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (L_i, D) tensors -> ((B, max L_i, D) zero-padded, (B,) lengths). Empty items allowed."""
    if not seqs:
        raise ValueError("pad_sequences needs at least one sequence")
    d = dim if dim is not None else seqs[0].shape[-1]
    lengths = torch.tensor([s.shape[0] for s in seqs], dtype=torch.long)
    out = torch.zeros(len(seqs), max(int(lengths.max()), 1), d, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        if s.shape[0]:
            out[i, : s.shape[0]] = s
    return out, lengths


def collate(items: Sequence[Mapping[str, Any]], modalities: Sequence[str] | None = None) -> Batch:
    """Items {"id", "features": {m: (L, D)}, "label"} -> Batch padded to the batch's own maxima."""
    mods = list(modalities) if modalities is not None else list(items[0]["features"])
    feats, lens = {}, {}
    for m in mods:
        feats[m], lens[m] = pad_sequences([it["features"][m] for it in items])
    labels = None
    if items and items[0].get("label") is not None:
        labels = torch.as_tensor([it["label"] for it in items])
    return Batch(features=feats, lengths=lens, labels=labels, ids=[str(it["id"]) for it in items])
