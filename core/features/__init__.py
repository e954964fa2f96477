"""Feature store: safetensors shards + a JSON index (see `index.py` for the layout).

    from sseft.core.features import FeatureStoreWriter, FeatureStore, ModalityInfo
    with FeatureStoreWriter(root, {"text": ModalityInfo(dim=768)}, task) as w:
        if not w.has(item_id):
            w.add(item_id, "train", {"text": x}, label)     # x: (L, 768)
    ds = FeatureStore.open(root).dataset("train")            # items {"id", "features", "label"}

Names needing torch (writer, store) are imported on first use, so `ModalityInfo`, the index helpers
and the sampler stay importable without torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from .index import FORMAT_VERSION, ModalityInfo, merge_partial_indexes
from .sampler import LengthBucketSampler

_LAZY = {
    "FeatureStoreWriter": ".writer",
    "FeatureStore": ".store",
    "FeatureDataset": ".store",
}

__all__ = [
    "FORMAT_VERSION",
    "FeatureDataset",
    "FeatureStore",
    "FeatureStoreWriter",
    "LengthBucketSampler",
    "ModalityInfo",
    "merge_partial_indexes",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
