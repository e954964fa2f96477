"""Helpers shared by the feature-store tests: small deterministic items and a store's full content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from sseft.core.features import FeatureStore, ModalityInfo
from sseft.core.protocols import TaskInfo

MODS = {"a": ModalityInfo(dim=4, fingerprint={"source": "test", "v": 1}), "b": ModalityInfo(dim=3)}
TASK = TaskInfo("multiclass", ("x", "y", "z"))
# Ids with characters that would be awkward as file names or tensor keys.
ODD = ["plain", "with/slash", "dots..and spaces", "ünïcode-é", "a/0/a", 'quote"d', "1"]


def make_items(
    n: int, seed: int = 0, splits: tuple[str, ...] = ("train", "valid", "test")
) -> list[dict[str, Any]]:
    """n items with variable lengths (0 included) for MODS/TASK."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(n):
        item_id = ODD[i] if i < len(ODD) else f"item-{i:04d}"
        la = int(torch.randint(0, 9, (1,), generator=g))
        lb = int(torch.randint(1, 6, (1,), generator=g))
        out.append(
            {
                "id": item_id,
                "split": splits[i % len(splits)],
                "features": {"a": torch.randn(la, 4, generator=g), "b": torch.randn(lb, 3, generator=g)},
                "label": i % 3,
                "meta": {"i": i},
            }
        )
    return out


def content(root: Path) -> dict[str, Any]:
    """Everything a store holds except its shard layout: the split tables and every tensor."""
    store = FeatureStore.open(root)
    tables = {s: {k: v for k, v in t.items()} for s, t in store.index["splits"].items()}
    tensors = {}
    for split in store.splits:
        ds = store.dataset(split)
        for i in range(len(ds)):
            it = ds[i]
            tensors[it["id"]] = (split, it["label"], it["features"])
    return {
        "tables": tables,
        "tensors": tensors,
        "modalities": store.index["modalities"],
        "task": store.index["task"],
    }


def assert_same_content(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a["tables"] == b["tables"]
    assert a["modalities"] == b["modalities"] and a["task"] == b["task"]
    assert a["tensors"].keys() == b["tensors"].keys()
    for k, (split, label, feats) in a["tensors"].items():
        split2, label2, feats2 = b["tensors"][k]
        assert (split, label) == (split2, label2)
        assert feats.keys() == feats2.keys()
        for m in feats:
            assert torch.equal(feats[m], feats2[m]), (k, m)
