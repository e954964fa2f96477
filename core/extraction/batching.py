"""How an extraction job forms and runs its batches. The order: by length, so that a batch pads only
to its own longest item and holds items of similar length (much less padding than input order).
The precision: autocast around the encoders, and the dtype the store keeps.

The order is a pure function of the item list (no decoding, no model): every process of a job
computes the same one, so batches stay identical for any number of processes, and a resumed job
forms the same batches again.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..protocols import Item, MediaSlice, Precomputed

if TYPE_CHECKING:
    from ..protocols import Extractor

PRECISIONS = ("no", "bf16", "fp16")
STORE_DTYPES = ("float32", "float16", "bfloat16")


def size_hint(extractor: Extractor | None, raw: Any) -> float:
    """A cheap, deterministic guess of how long `raw` is (any unit; only compared within one
    modality): the extractor's own `length_hint(raw)` when it has one, else precomputed rows, text
    characters, a media slice's seconds or a file's size in bytes; 0 when nothing is known."""
    hint = getattr(extractor, "length_hint", None)
    if callable(hint):
        try:
            return float(hint(raw))
        except Exception:  # a hint is only a hint: the item is still extracted (and fails there)
            return 0.0
    if raw is None:
        return 0.0
    if isinstance(raw, Precomputed):
        shape = getattr(raw.features, "shape", None)
        return float(shape[0]) if shape else float(len(raw.features))
    if isinstance(raw, MediaSlice):
        return max(0.0, float(raw.end) - float(raw.start))
    path = getattr(raw, "path", raw)
    if isinstance(path, str | os.PathLike):
        try:
            if os.path.isfile(path):
                return float(os.path.getsize(path))
        except (OSError, ValueError):
            return 0.0
        return float(len(str(path))) if isinstance(raw, str) else 0.0  # a text
    return 0.0


def length_order(items: Sequence[Item], extractors: Mapping[str, Any]) -> list[int]:
    """Indices of `items`, longest first (the largest batch runs first, so an out-of-memory error
    shows at once). An item's length is the sum over modalities of its size hint divided by that
    modality's median hint, so that no modality's unit dominates; ties keep input order."""
    sizes = {m: [size_hint(ex, it.inputs.get(m)) for it in items] for m, ex in extractors.items()}
    scale = {}
    for m, s in sizes.items():
        known = [v for v in s if v > 0]
        scale[m] = statistics.median(known) if known else 1.0
    key = [sum(sizes[m][i] / scale[m] for m in sizes) for i in range(len(items))]
    return sorted(range(len(items)), key=lambda i: (-key[i], i))


def with_precision(info: Any, mixed_precision: str, dtype: str, extracted: bool) -> Any:
    """The modality's store info with the store dtype, and (extracted modalities under autocast)
    the precision in its fingerprint: bf16 features are other features than fp32 ones."""
    update: dict[str, Any] = {"dtype": dtype}
    if extracted and mixed_precision != "no":
        update["fingerprint"] = {**info.fingerprint, "mixed_precision": mixed_precision}
    return info.model_copy(update=update)


ENCODER_ATTRS = ("model", "encoder")  # where extractors keep their frozen torch encoders


def autocast_encoders(extractor: Extractor, device: str, mixed_precision: str) -> None:
    """Run the extractor's encoders (its torch modules `model` / `encoder`) under autocast in
    bf16/fp16; decoding, resampling and other preprocessing stay float32 (numpy cannot hold bf16).
    Extractors return float32 features, which the store keeps in its own dtype."""
    if mixed_precision == "no":
        return
    import torch

    kind = torch.device(device).type
    dt = torch.bfloat16 if mixed_precision == "bf16" else torch.float16
    for name in ENCODER_ATTRS:
        mod = getattr(extractor, name, None)
        if isinstance(mod, torch.nn.Module) and not getattr(mod, "_sseft_autocast", False):
            forward = mod.forward

            def autocast_forward(*args: Any, _forward: Any = forward, **kw: Any) -> Any:
                with torch.autocast(device_type=kind, dtype=dt):
                    return _forward(*args, **kw)

            mod.forward = autocast_forward  # type: ignore[method-assign]
            object.__setattr__(mod, "_sseft_autocast", True)  # a plain flag, not a submodule


def duplicates(items: Sequence[Item]) -> dict[int, int]:
    """Index of each repeated id -> index of its first occurrence (in input order)."""
    first_seen: dict[str, int] = {}
    dup: dict[int, int] = {}
    for i, it in enumerate(items):
        first = first_seen.setdefault(it.id, i)
        if first != i:
            dup[i] = first
    return dup
