"""One batch through every modality's extractor, the extraction engine's inner step: where absent
inputs, precomputed features and inputs the prefetcher already prepared are told apart. Per item
the result is {"features", "meta"} or (modality, reason)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataError
from ..protocols import Extracted, Item, Precomputed
from .prefetch import PreparedBatch
from .run import reason_of, run_extractor

if TYPE_CHECKING:
    from ..protocols import Extractor

Result = dict[str, Any] | tuple[str, str]


@dataclass
class PassThrough:
    """Stands in for the extractor of a modality whose items carry `Precomputed` features."""

    dim: int


def _precomputed(m: str, raw: Any, dim: int) -> Any:
    """A Precomputed input as a (L, dim) float32 tensor; DataError naming what is wrong."""
    import torch

    x = torch.as_tensor(raw.features)
    if x.ndim != 2 or x.shape[1] != dim:
        raise DataError(f"precomputed {m} features have shape {tuple(x.shape)}; expected (length, {dim})")
    if not (x.is_floating_point() or x.dtype in (torch.int32, torch.int64)):
        raise DataError(f"precomputed {m} features have dtype {x.dtype}; expected floats")
    return x.to(torch.float32).contiguous()


def run_batch(
    extractors: Mapping[str, Any], batch: Sequence[Item], prepared: PreparedBatch | None = None
) -> list[Result]:
    """Every modality on one batch: an extractor (run with the shared retry), or `None` for a
    modality whose features are precomputed (stored as given). `prepared`: inputs already through
    the extractors' `prepare` stage (core/extraction/prefetch.py), used in place of the raw ones.
    Per item: {"features", "meta"} or (modality, reason)."""
    results: list[Result] = [{"features": {}, "meta": {}} for _ in batch]
    for m, ex in extractors.items():
        pos: list[int] = []
        for i, it in enumerate(batch):
            if not isinstance(results[i], dict):
                continue
            raw = it.inputs.get(m)
            if raw is None:
                if m in (it.meta.get("missing") or ()):  # absent, allowed: stored as an empty sequence
                    res = results[i]
                    assert isinstance(res, dict)
                    res["features"][m] = _empty(ex.dim)
                else:  # absent, not allowed: a failure with the dataset's reason
                    why = (it.meta.get("absent") or {}).get(m)
                    results[i] = (m, str(why) if why else f"no {m} input for this item")
            elif isinstance(ex, PassThrough) != isinstance(raw, Precomputed):
                got = "precomputed features" if isinstance(raw, Precomputed) else "a raw input"
                results[i] = (m, f"{m}: the item gives {got}, but the job's other items do not")
            else:
                pos.append(i)
        if not pos:
            continue
        outs: list[Extracted | Exception]
        if isinstance(ex, PassThrough):
            outs = []
            for i in pos:
                try:
                    outs.append(Extracted(_precomputed(m, batch[i].inputs[m], ex.dim)))
                except DataError as e:
                    outs.append(e)
        else:
            outs = _run_prepared(ex, [batch[i].inputs[m] for i in pos], (prepared or {}).get(m), pos)
        for i, o in zip(pos, outs, strict=True):
            if isinstance(o, Exception):
                results[i] = (m, _naming_the_file(reason_of(o), batch[i].inputs[m]))
                continue
            if not _finite(o.features):  # refused by the store anyway: say which input produced it
                results[i] = (m, _naming_the_file(f"{m} features hold NaN or Inf", batch[i].inputs[m]))
                continue
            res = results[i]
            assert isinstance(res, dict)
            res["features"][m] = o.features
            if o.notes:
                res["meta"][m] = dict(o.notes)
    for i, it in enumerate(batch):  # every modality absent: nothing to store
        res = results[i]
        if isinstance(res, dict) and extractors and all(it.inputs.get(m) is None for m in extractors):
            reasons = it.meta.get("missing_reason") or {}
            why = "; ".join(str(reasons.get(m, f"no {m} input")) for m in extractors)
            results[i] = (next(iter(extractors)), f"every extracted modality is absent: {why}")
    return results


def _run_prepared(
    ex: Extractor, raws: list[Any], prepared: list[Any] | None, pos: list[int]
) -> list[Extracted | Exception]:
    """The extractor on these inputs: the prepared ones where the prefetcher made them (an input
    whose `prepare` failed keeps its exception and is not run), else the raw ones."""
    if prepared is None:
        return run_extractor(ex, raws)
    inputs = [prepared[i] if prepared[i] is not None else raw for i, raw in zip(pos, raws, strict=True)]
    ok = [k for k, x in enumerate(inputs) if not isinstance(x, Exception)]
    outs: list[Extracted | Exception] = [
        x if isinstance(x, Exception) else DataError("not run") for x in inputs
    ]
    for k, o in zip(ok, run_extractor(ex, [inputs[k] for k in ok]), strict=True):
        outs[k] = o
    return outs


def _finite(x: Any) -> bool:
    import torch

    return not (torch.is_tensor(x) and x.is_floating_point() and not bool(torch.isfinite(x).all()))


def _empty(dim: int) -> Any:
    """The (0, dim) sequence of an absent modality (the fusion model then relies on its CLS)."""
    import torch

    return torch.zeros(0, int(dim))


def _naming_the_file(reason: str, raw: Any) -> str:
    """A failure reason always names the file it concerns: prefixed when it does not."""
    path = getattr(raw, "path", raw)
    if isinstance(path, str | os.PathLike) and not isinstance(raw, str) and str(path) not in reason:
        return f"{path}: {reason}"
    return reason
