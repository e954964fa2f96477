"""Input preparation one batch ahead. While the encoders run on batch k, one background thread runs
the extractors' model-free `prepare` stage (decode, resample: see `Extractor` in core/protocols.py)
on the next batch this process will run, so that I/O and resampling hide behind the forward pass
instead of adding to it. Results are the same as without it: `prepare` is pure, and the extractor
receives the same inputs, only decoded earlier.

Extractors without `prepare` (text: tokenizing is part of the forward call) and precomputed
features are not touched. A failing `prepare` becomes that item's exception, as it would inside
the extractor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from ..protocols import Item, Precomputed, Prepared

# modality -> per item of the batch: its Prepared input, the exception `prepare` raised, or None
# (no input, or precomputed: the engine handles those itself)
PreparedBatch = dict[str, list[Prepared | Exception | None]]


def _one_thread() -> None:
    """The preparing thread runs its torch ops (resampling) on one intra-op thread: the encoders'
    forward keeps every core it was given (torch's thread count is per calling thread; measured with
    bench/extract.py: sharing the cores made the job slower than not prefetching)."""
    import torch

    torch.set_num_threads(1)


class Prefetcher:
    """`submit(key, batch)` starts preparing `batch` in the background; `take(key, batch)` returns
    it (waiting if needed; preparing inline if it was never submitted). Disabled (no thread, empty
    results: extractors prepare their own inputs) when no extractor has a `prepare` stage."""

    def __init__(self, extractors: Mapping[str, Any], enabled: bool = True) -> None:
        self.stages = {
            m: ex.prepare
            for m, ex in extractors.items()
            if ex is not None and callable(getattr(ex, "prepare", None))
        }
        self._pool = (
            ThreadPoolExecutor(1, thread_name_prefix="sseft-prepare", initializer=_one_thread)
            if self.stages and enabled
            else None
        )
        self._pending: dict[int, Future[PreparedBatch]] = {}

    @property
    def active(self) -> bool:
        return self._pool is not None

    def submit(self, key: int, batch: Sequence[Item]) -> None:
        if self._pool is not None and key not in self._pending:
            self._pending[key] = self._pool.submit(self.prepare, batch)

    def take(self, key: int, batch: Sequence[Item]) -> PreparedBatch:
        if self._pool is None:
            return {}
        fut = self._pending.pop(key, None)
        return fut.result() if fut is not None else self.prepare(batch)

    def prepare(self, batch: Sequence[Item]) -> PreparedBatch:
        out: PreparedBatch = {}
        for m, stage in self.stages.items():
            values: list[Prepared | Exception | None] = []
            for it in batch:
                raw = it.inputs.get(m)
                if raw is None or isinstance(raw, Precomputed):
                    values.append(None)
                    continue
                try:
                    p = stage(raw)
                    values.append(p if isinstance(p, Prepared) else Prepared(p))
                except Exception as e:  # this item's failure, reported where the extractor's would be
                    values.append(e)
            out[m] = values
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        self._pending.clear()

    def __enter__(self) -> Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
