"""Context inputs: for each item, its context turns' pooled frozen features, distances and speakers.

A context turn is described by the mean of its stored (frozen-encoder) frames per context modality,
taken from the same feature store as the item itself: nothing is re-extracted. `ContextTable` holds
these vectors once for the items of one loader (one role of one split or fold) and, per item, which
of them form its context (`core/features/conversation.py` `context_index`: its own dialogue, its own
split, never itself, never a later turn under `direction: past`). Because the table is built from
that loader's items only, a context never reaches into another role (train / valid / test).

    ContextInputs for a batch of B items, W = ContextConfig.slots positions each:
      features[m] (B, W, D_m)  pooled features of each context turn, zero where there is none
      present     (B, W) bool  a real turn at that position
      distance    (B, W) long  turns back (1 = the one just before; negative = later; 0 if absent)
      speaker     (B, W) long  SPEAKER_UNKNOWN / SPEAKER_SAME / SPEAKER_OTHER (unknown when not marked)
      local       (B, W) long  where each context turn sits in this batch (-1: absent or not in it); a
                               model with `turns: fused` reads the turn's fused vector from there
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..errors import DataError
from ..features.conversation import ContextTurn, Turn, context_index, turn_from_meta
from .config import ContextConfig

if TYPE_CHECKING:
    from ..features.store import FeatureStore

SPEAKER_UNKNOWN, SPEAKER_SAME, SPEAKER_OTHER = 0, 1, 2


@dataclass
class ContextInputs:
    """The context of a batch (see the module docstring for shapes)."""

    features: dict[str, torch.Tensor]
    present: torch.Tensor
    distance: torch.Tensor
    speaker: torch.Tensor
    local: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> ContextInputs:
        return ContextInputs(
            features={m: v.to(device, non_blocking=True) for m, v in self.features.items()},
            present=self.present.to(device, non_blocking=True),
            distance=self.distance.to(device, non_blocking=True),
            speaker=self.speaker.to(device, non_blocking=True),
            local=None if self.local is None else self.local.to(device, non_blocking=True),
        )

    def __len__(self) -> int:
        return int(self.present.shape[0])


def pool_turn(
    features: Mapping[str, torch.Tensor], modalities: Sequence[str], dims: Mapping[str, int]
) -> dict[str, torch.Tensor]:
    """One turn's description: per modality the mean of its frames (L, D) -> (D,) float32; zeros for
    an empty or absent modality (the stream still sees the turn's position and speaker)."""
    out = {}
    for m in modalities:
        x = features.get(m)
        if x is None or x.shape[0] == 0:
            out[m] = torch.zeros(dims[m])
        else:
            out[m] = x.float().mean(dim=0)
    return out


def speaker_code(same: bool | None, marked: bool) -> int:
    if not marked or same is None:
        return SPEAKER_UNKNOWN
    return SPEAKER_SAME if same else SPEAKER_OTHER


class ContextTable:
    """Per item of a fixed list, its context (rows into one table of pooled turn vectors)."""

    def __init__(
        self,
        ids: Sequence[str],
        pooled: Mapping[str, torch.Tensor],
        contexts: Mapping[str, Sequence[ContextTurn]],
        cfg: ContextConfig,
    ) -> None:
        """ids: the items, in loader order; pooled[m]: (len(ids), D_m) their turn vectors;
        contexts: item id -> its context turns (ids among `ids`)."""
        self.ids, self.cfg = list(ids), cfg
        self.pooled = {m: v.float() for m, v in pooled.items()}
        pos = {i: k for k, i in enumerate(self.ids)}
        n, w = len(self.ids), cfg.slots
        self.rows = torch.full((n, w), -1, dtype=torch.long)
        self.distance = torch.zeros(n, w, dtype=torch.long)
        self.speaker = torch.zeros(n, w, dtype=torch.long)
        for k, item in enumerate(self.ids):
            turns = contexts.get(item, ())
            if len(turns) > w:
                raise ValueError(f"item {item!r}: {len(turns)} context turns for {w} positions")
            for s, ct in enumerate(turns):
                if ct.id == item:  # context_index never does this; a hand-made index must not either
                    raise ValueError(f"item {item!r} is in its own context")
                self.rows[k, s] = pos[ct.id]
                self.distance[k, s] = ct.distance
                self.speaker[k, s] = speaker_code(ct.same_speaker, cfg.speaker)

    def inputs(self, positions: Sequence[int] | torch.Tensor) -> ContextInputs:
        """The ContextInputs of the items at these positions of `ids` (a batch)."""
        idx = torch.as_tensor(positions, dtype=torch.long)
        rows = self.rows[idx]  # (B, W)
        present = rows >= 0
        take = rows.clamp(min=0)
        feats = {m: v[take] * present[..., None].to(v.dtype) for m, v in self.pooled.items()}
        where = torch.full((len(self.ids),), -1, dtype=torch.long)
        where[idx] = torch.arange(len(idx))  # table position -> position in this batch
        local = torch.where(present, where[take], -1)
        return ContextInputs(feats, present, self.distance[idx] * present, self.speaker[idx] * present, local)

    def groups(self) -> list[list[int]]:
        """The items as groups that hold every context they need: the connected components of "is in
        the context of" (for `direction: past` with window >= 1, one dialogue of one split each), in
        order of their first item, members in table order. A batch made of whole groups has every
        context turn of its items in it (core/context/batches.py)."""
        parent = list(range(len(self.ids)))

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for k, r in (self.rows >= 0).nonzero().tolist():
            a, b = root(k), root(int(self.rows[k, r]))
            if a != b:
                parent[max(a, b)] = min(a, b)
        members: dict[int, list[int]] = {}
        for i in range(len(self.ids)):
            members.setdefault(root(i), []).append(i)
        return list(members.values())

    @classmethod
    def from_turns(
        cls,
        turns: Sequence[Turn],
        pooled: Sequence[Mapping[str, torch.Tensor]],
        cfg: ContextConfig,
    ) -> ContextTable:
        """A table over one conversation given turn by turn (prediction): turn k's id is str(k)."""
        ids = [str(k) for k in range(len(turns))]
        index = context_index(dict(zip(ids, turns, strict=True)), cfg.window, cfg.direction)
        mods = list(pooled[0]) if pooled else []
        stacked = {m: torch.stack([p[m] for p in pooled]) for m in mods}
        return cls(ids, stacked, index, cfg)

    @classmethod
    def from_store(
        cls, store: FeatureStore, ids: Sequence[str], modalities: Sequence[str], cfg: ContextConfig
    ) -> ContextTable:
        """The table of the items `ids` of a store: contexts from their dialogue meta, within their
        own store split and among `ids` only; pooled vectors read once from the store."""
        ids = [str(i) for i in ids]
        where = [store.locate(i) for i in ids]
        metas = {sp: store.meta(sp) for sp in sorted({sp for sp, _ in where})}
        turns: dict[str, Turn | None] = {
            i: turn_from_meta(metas[sp][r], i) for i, (sp, r) in zip(ids, where, strict=True)
        }
        if not any(t is not None for t in turns.values()):
            raise DataError(
                f"{store.root}: context was asked for (`context:` in the config) but the items carry no "
                "conversation info (item meta 'dialogue', 'turn', 'speaker'); re-extract the store with "
                "this sseft from a dataset that records dialogues, or remove `context`"
            )
        splits = {i: sp for i, (sp, _) in zip(ids, where, strict=True)}
        index = context_index(turns, cfg.window, cfg.direction, splits)
        dims = {m: store.modalities[m].dim for m in modalities}
        pooled = {m: torch.zeros(len(ids), dims[m]) for m in modalities}
        referenced = {ct.id for turns in index.values() for ct in turns}  # only these are read
        needed = [k for k, i in enumerate(ids) if i in referenced] if modalities else []  # fused: none
        datasets = {sp: store.dataset(sp, modalities=list(modalities)) for sp in metas} if needed else {}
        for k in needed:
            sp, r = where[k]
            vec = pool_turn(datasets[sp][r]["features"], modalities, dims)
            for m in modalities:
                pooled[m][k] = vec[m]
        return cls(ids, pooled, index, cfg)
