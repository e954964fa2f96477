"""Feature store: safetensors shards + a JSON index (see `index.py` for the layout).

    from sseft.core.features import FeatureStoreWriter as FeatureStoreWriter, FeatureStore as FeatureStore, ModalityInfo as ModalityInfo
    with FeatureStoreWriter(root, {"text": ModalityInfo(dim=768)}, task) as w:
        if not w.has(item_id):
            w.add(item_id, "train", {"text": x}, label)     # x: (L, 768)
    ds = FeatureStore.open(root).dataset("train")            # items {"id", "features", "label"}

Names needing torch (writer, store) are imported on first use, so `ModalityInfo`, the index helpers
and the sampler stay importable without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports
from .index import (
    FORMAT_VERSION as FORMAT_VERSION,
)
from .index import (
    ModalityInfo as ModalityInfo,
)
from .index import (
    merge_partial_indexes as merge_partial_indexes,
)
from .sampler import LengthBucketSampler as LengthBucketSampler

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .store import FeatureDataset, FeatureStore  # noqa: F401
    from .writer import FeatureStoreWriter  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {"FeatureStoreWriter": ".writer", "FeatureStore": ".store", "FeatureDataset": ".store"},
    eager=("FORMAT_VERSION", "LengthBucketSampler", "ModalityInfo", "merge_partial_indexes"),
)
