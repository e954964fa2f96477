"""FeatureStore: read a feature store memory-mapped; a torch Dataset over one split; verify().

Shards are opened with safetensors' `safe_open` (mmap) lazily, once per process: a Dataset pickled
into DataLoader workers drops its open handles and reopens them in the worker.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from ..errors import FeatureStoreError
from ..files import sha256_file
from ..protocols import TaskInfo
from .conversation import Turn, turn_from_meta
from .index import (
    INDEX_NAME,
    PARTIAL_DIR,
    SHARD_DIR,
    ModalityInfo,
    read_partials,
    read_store_json,
    tasks_from_header,
)
from .writer import DTYPES


class FeatureStore:
    """A finished store (its index.json). Use `FeatureStore.open(root)`."""

    def __init__(self, root: Path, index: dict[str, Any]) -> None:
        self.root = root
        self.index = index
        self.modalities: dict[str, ModalityInfo] = {
            m: ModalityInfo.model_validate(i) for m, i in index["modalities"].items()
        }
        # The default label set's task; `label_sets` holds every set of a store that has several.
        self.task: TaskInfo = tasks_from_header(index)
        self.label_sets: dict[str, TaskInfo] = self.task.sets()
        self.default_label_set: str | None = self.task.name
        self.source: dict[str, Any] | None = index.get("source")
        self.splits: list[str] = list(index["splits"])
        self.shard_files: list[str] = [s["file"] for s in index["shards"]]
        # item id -> (shard number, position inside the shard)
        self._where: dict[str, tuple[int, int]] = {}
        for k, s in enumerate(index["shards"]):
            for pos, item_id in enumerate(s["ids"]):
                self._where[item_id] = (k, pos)
        # item id -> (split, row in the split's tables)
        self._row: dict[str, tuple[str, int]] = {
            item_id: (split, r) for split, t in index["splits"].items() for r, item_id in enumerate(t["ids"])
        }

    @classmethod
    def open(cls, root: str | os.PathLike[str]) -> FeatureStore:
        root = Path(root)
        if not root.is_dir():
            raise FeatureStoreError(
                f"{root}: feature store directory not found; extract or generate it first"
            )
        if not (root / INDEX_NAME).is_file():
            if (root / PARTIAL_DIR).is_dir() or (root / SHARD_DIR).is_dir():
                raise FeatureStoreError(
                    f"{root}: {INDEX_NAME} is missing (the write did not finish): re-run the same extraction "
                    "to resume, or `sseft features merge` to index what is there"
                )
            raise FeatureStoreError(f"{root}: not a feature store ({INDEX_NAME} not found)")
        return cls(root, read_store_json(root / INDEX_NAME, "store index"))

    # -- tables ----------------------------------------------------------------------------------------
    def _table(self, split: str) -> dict[str, Any]:
        if split not in self.index["splits"]:
            raise FeatureStoreError(
                f"{self.root}: split {split!r} not in the store; it has {', '.join(self.splits) or 'no splits'}"
            )
        return self.index["splits"][split]

    def _check_modalities(self, modalities: list[str] | None) -> list[str]:
        if modalities is None:
            return list(self.modalities)
        unknown = [m for m in modalities if m not in self.modalities]
        if unknown:
            raise FeatureStoreError(
                f"{self.root}: modality {unknown[0]!r} not in the store; it holds {', '.join(self.modalities)}"
            )
        return list(modalities)

    def ids(self, split: str) -> list[str]:
        return list(self._table(split)["ids"])

    def label_set(self, name: str | None = None) -> TaskInfo:
        """The TaskInfo of label set `name` (None: the default set, which every store has)."""
        if name is None or name == self.default_label_set:
            return self.label_sets.get(name or "", self.task)
        if name not in self.label_sets:
            have = ", ".join(self.label_sets) if self.label_sets else "only its default set (label_set: null)"
            raise FeatureStoreError(f"{self.root}: no label set {name!r}; the store has {have}")
        return self.label_sets[name]

    def labels(self, split: str, label_set: str | None = None) -> list[Any]:
        """The split's labels (plain JSON, in `ids` order) in label set `label_set` (None: default)."""
        t = self._table(split)
        if label_set is None or label_set == self.default_label_set:
            return list(t["labels"])
        self.label_set(label_set)  # a clear error for an unknown name
        return list(t["label_sets"][label_set])

    def meta(self, split: str) -> list[dict[str, Any]]:
        t = self._table(split)
        return list(t.get("meta") or [{} for _ in t["ids"]])

    def conversation(self, item_id: str) -> Turn | None:
        """Where item `item_id` sits in its conversation (dialogue, turn, speaker; see
        conversation.py), or None: its dataset records none, or the store predates it."""
        split, row = self.locate(item_id)
        metas = self._table(split).get("meta")
        return turn_from_meta(metas[row] if metas else {}, item_id)

    def lengths(self, split: str, modality: str) -> list[int]:
        self._check_modalities([modality])
        return list(self._table(split)["lengths"][modality])

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._row

    # -- items ------------------------------------------------------------------------------------------
    def dataset(
        self,
        split: str,
        modalities: list[str] | None = None,
        *,
        check_finite: bool = True,
        cache: bool = False,
        label_set: str | None = None,
    ) -> FeatureDataset:
        """A torch Dataset over `split`: items {"id", "features": {m: (L, D) float32}, "label"}, the
        label from `label_set` (None: the default set).

        `cache=True` keeps every item's tensors in memory after its first read (small stores: later
        epochs then cost no shard reads at all)."""
        labels = self.labels(split, label_set)
        mods = self._check_modalities(modalities)
        return FeatureDataset(self, split, mods, check_finite=check_finite, cache=cache, labels=labels)

    def locate(self, item_id: str) -> tuple[str, int]:
        """(split, row): where item `item_id` sits in the split tables (`ids`, `labels`, `lengths`)."""
        if item_id not in self._row:
            raise FeatureStoreError(f"{self.root}: item {item_id!r} is not in the store")
        return self._row[item_id]

    def get(self, item_id: str, modalities: list[str] | None = None) -> dict[str, Any]:
        split, row = self.locate(item_id)
        return self.dataset(split, modalities)[row]

    # -- integrity --------------------------------------------------------------------------------------
    def verify(self, *, checksums: bool = True) -> list[str]:
        """Every problem found when checking each shard against the index (empty list: all good)."""
        problems: list[str] = []
        mods = self.modalities
        for split, t in self.index["splits"].items():
            n = len(t["ids"])
            for key in ("labels", "meta"):
                if t.get(key) is not None and len(t[key]) != n:
                    problems.append(f"index: split {split!r} has {n} ids but {len(t[key])} {key}")
            for name in self.label_sets:
                got = len(t.get("label_sets", {}).get(name, []))
                if got != n:
                    problems.append(
                        f"index: split {split!r} has {n} ids but {got} labels in label set {name!r}"
                    )
            for m in mods:
                if len(t["lengths"].get(m, [])) != n:
                    problems.append(
                        f"index: split {split!r} has {n} ids but lengths of {m!r} for another count"
                    )
            for item_id in t["ids"]:
                if item_id not in self._where:
                    problems.append(f"index: item {item_id!r} of split {split!r} is in no shard")
        for k, shard in enumerate(self.index["shards"]):
            problems += self._verify_shard(k, shard, checksums)
        listed = set(self.shard_files)
        shard_root = self.root / SHARD_DIR
        for path in sorted(shard_root.glob("*/*")) if shard_root.is_dir() else []:
            rel = path.relative_to(self.root).as_posix()
            if rel not in listed:
                problems.append(
                    f"{rel}: file not in the index (left by an interrupted write or a stale merge)"
                )
        for writer, p in read_partials(self.root).items():
            missing = [s["file"] for s in p["shards"] if s["file"] not in listed]
            if missing:
                problems.append(
                    f"partial index {writer}: {len(missing)} shard(s) not in {INDEX_NAME} (e.g. {missing[0]}); "
                    "merge the partial indexes"
                )
        return problems

    def _verify_shard(self, k: int, shard: dict[str, Any], checksums: bool) -> list[str]:
        rel = shard["file"]
        path = self.root / rel
        if not path.is_file():
            return [f"{rel}: shard file missing"]
        out = []
        size = path.stat().st_size
        if size != shard["bytes"]:
            out.append(f"{rel}: {size} bytes, the index says {shard['bytes']} (truncated or replaced)")
        if checksums and sha256_file(path) != shard["sha256"]:
            out.append(f"{rel}: sha256 differs from the index (corrupt)")
        table = self.index["splits"].get(shard["split"])
        if table is None:
            return [*out, f"{rel}: split {shard['split']!r} missing from the index"]
        rows = {item_id: r for r, item_id in enumerate(table["ids"])}
        try:
            with safe_open(path, framework="pt") as f:
                meta = f.metadata() or {}
                if json.loads(meta.get("ids", "null")) != shard["ids"]:
                    out.append(f"{rel}: the ids inside the shard differ from the index")
                keys = set(f.keys())
                expected = {f"{pos}/{m}" for pos in range(len(shard["ids"])) for m in self.modalities}
                if keys != expected:
                    out.append(f"{rel}: holds {len(keys)} tensors, the index expects {len(expected)}")
                for pos, item_id in enumerate(shard["ids"]):
                    r = rows.get(item_id)
                    for m, info in self.modalities.items():
                        key = f"{pos}/{m}"
                        if key not in keys:
                            continue
                        x = f.get_tensor(key)
                        want = (table["lengths"][m][r] if r is not None else -1, info.dim)
                        if tuple(x.shape) != want:
                            out.append(
                                f"{rel}: item {item_id!r} {m!r} has shape {tuple(x.shape)}, index says {want}"
                            )
                        if x.dtype != DTYPES[info.dtype]:
                            out.append(
                                f"{rel}: item {item_id!r} {m!r} has dtype {x.dtype}, index says {info.dtype}"
                            )
                        elif not bool(torch.isfinite(x).all()):
                            out.append(f"{rel}: item {item_id!r} {m!r} holds NaN/Inf")
        except Exception as e:  # a corrupt header makes safetensors raise anything
            out.append(f"{rel}: unreadable safetensors file ({type(e).__name__}: {e})")
        return out


class FeatureDataset(torch.utils.data.Dataset):
    """One split of a store. `lengths[m]` lists every item's length (for bucketing)."""

    def __init__(
        self,
        store: FeatureStore,
        split: str,
        modalities: list[str],
        *,
        check_finite: bool = True,
        cache: bool = False,
        labels: list[Any] | None = None,
    ) -> None:
        t = store.index["splits"][split]
        self.root = store.root
        self.split = split
        self.modalities = modalities
        self.check_finite = check_finite
        self.ids: list[str] = list(t["ids"])
        self.labels: list[Any] = list(t["labels"]) if labels is None else list(labels)
        self.lengths: dict[str, list[int]] = {m: list(t["lengths"][m]) for m in modalities}
        self._files = store.shard_files
        self._where = [store._where[i] for i in self.ids]
        self._handles: dict[int, Any] = {}
        self._checked = bytearray(len(self.ids))  # 1 once an item passed the NaN/Inf check
        self._cache: dict[int, dict[str, torch.Tensor]] | None = {} if cache else None

    def __len__(self) -> int:
        return len(self.ids)

    def bucket_lengths(self) -> list[int]:
        """Per item, the sum of its lengths over the selected modalities (the cost of padding it)."""
        return [sum(v) for v in zip(*self.lengths.values(), strict=True)] if self.lengths else [0] * len(self)

    def _handle(self, k: int) -> Any:
        h = self._handles.get(k)
        if h is None:
            path = self.root / self._files[k]
            try:
                h = safe_open(path, framework="pt")
            except FileNotFoundError:
                raise FeatureStoreError(
                    f"{path}: shard file missing; run `sseft features verify {self.root}`"
                ) from None
            except Exception as e:
                raise FeatureStoreError(
                    f"{path}: unreadable shard ({e}); run `sseft features verify {self.root}`"
                ) from None
            self._handles[k] = h
        return h

    def __getitem__(self, i: int) -> dict[str, Any]:
        if self._cache is not None and i in self._cache:
            return {"id": self.ids[i], "features": dict(self._cache[i]), "label": self.labels[i]}
        k, pos = self._where[i]
        f = self._handle(k)
        feats = {}
        for m in self.modalities:
            x = f.get_tensor(f"{pos}/{m}")  # (L, D)
            if x.dtype != torch.float32:
                x = x.float()
            # The sum is NaN/Inf when any value is (one cheap reduction); each item is checked on its
            # first read only, so later epochs pay nothing.
            if self.check_finite and not self._checked[i] and not math.isfinite(float(x.sum())):
                raise FeatureStoreError(
                    f"{self.root / self._files[k]}: item {self.ids[i]!r} modality {m!r} holds NaN/Inf; "
                    "re-extract this item"
                )
            feats[m] = x
        self._checked[i] = 1
        if self._cache is not None:
            self._cache[i] = feats
        return {"id": self.ids[i], "features": feats, "label": self.labels[i]}

    def __getstate__(self) -> dict[str, Any]:
        # safe_open handles cannot cross process boundaries: workers reopen their own.
        return self.__dict__ | {"_handles": {}}
