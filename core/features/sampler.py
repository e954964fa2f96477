"""Length-bucketed batch sampler: batches of items of similar length, so padding stays small.

Pure Python (no torch import): usable as `DataLoader(ds, batch_sampler=LengthBucketSampler(...))`.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


class LengthBucketSampler:
    """Yields lists of indices; every index exactly once per epoch (the last batch may be smaller
    unless `drop_last`).

    With `shuffle`, indices are shuffled, cut into pools of `pool_batches * batch_size`, each pool is
    sorted by length and cut into batches, and the batch order is shuffled: similar lengths share a
    batch while epochs still differ. Without `shuffle`, batches follow the global length order.
    Call `set_epoch(e)` before each epoch for a different, reproducible order (seed + epoch).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        seed: int = 0,
        *,
        drop_last: bool = False,
        pool_batches: int = 50,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.lengths = [int(x) for x in lengths]
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.drop_last = drop_last
        self.pool = max(1, pool_batches) * batch_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        """This epoch's batches (deterministic given seed and epoch)."""
        idx = list(range(len(self.lengths)))
        if not self.shuffle:
            idx.sort(key=lambda i: (self.lengths[i], i))
            out = [idx[i : i + self.batch_size] for i in range(0, len(idx), self.batch_size)]
        else:
            rng = random.Random(self.seed * 1_000_003 + self.epoch)
            rng.shuffle(idx)
            out = []
            for p in range(0, len(idx), self.pool):
                pool = sorted(idx[p : p + self.pool], key=lambda i: self.lengths[i])
                out += [pool[i : i + self.batch_size] for i in range(0, len(pool), self.batch_size)]
            rng.shuffle(out)
        if self.drop_last:
            out = [b for b in out if len(b) == self.batch_size]
        return out

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.drop_last:
            return -(-n // self.batch_size)
        # Pools cut batches independently: count the full batches of each pool.
        full = 0
        for p in range(0, n, self.pool):
            full += min(self.pool, n - p) // self.batch_size
        return full
