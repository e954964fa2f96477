"""`DialogueBatchSampler`: batches of whole dialogues, for a model with `context.turns: fused`.

Such a model describes a context turn by the fusion's own vector of that turn, taken from the same
batch (stream.py). So a batch must hold, with every item, every turn in its context: the sampler
packs whole groups (`ContextTable.groups()`: one dialogue of one split each) into batches of about
`batch_size` items; a group larger than `batch_size` is a batch of its own, never cut.

Seeded like the other samplers (core/training/data.py EpochSampler): the order of epoch e depends
only on (seed, e), so every process computes the same batches and a resumed run replays them. The
number of batches can differ slightly between epochs (packing depends on the order); `len()` is the
current epoch's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler


class DialogueBatchSampler(Sampler[list[int]]):
    """Whole `groups` (lists of dataset positions) packed, in a seeded order per epoch (or in their
    own order when `shuffle` is off), into batches of at most `batch_size` items each (a group
    larger than that alone)."""

    def __init__(
        self, groups: Sequence[Sequence[int]], batch_size: int, seed: int, shuffle: bool = True
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.groups = [list(g) for g in groups if len(g)]
        self.max_items, self.seed, self.shuffle, self.epoch = batch_size, seed, shuffle, 0
        # None tells Accelerate's BatchSamplerShard that batches have their own sizes: with a number it
        # holds back every batch not exactly that long, and two processes fall out of step (a hang or
        # a collective mismatch on the first uneven batch)
        self.batch_size = None
        self.drop_last = False

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches."""
        order = list(range(len(self.groups)))
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(len(order), generator=g).tolist()
        out: list[list[int]] = []
        cur: list[int] = []
        for k in order:
            group = self.groups[k]
            if cur and len(cur) + len(group) > self.max_items:
                out.append(cur)
                cur = []
            cur = cur + group
        if cur:
            out.append(cur)
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())
