"""FeatureStoreWriter: append items to a feature store, shard by shard, atomically and resumably.

A shard becomes visible in two atomic steps: the safetensors file (temp file + fsync + os.replace),
then this writer's partial index (same). A crash between the two leaves an unreferenced shard file,
which the next writer with the same id deletes; items of unfinished shards are simply written again
(`has()` is False for them). Each writer id owns only its own files, so N processes can write one
store at once; `merge_partial_indexes` rewrites their shards into the canonical shards and index of
the finished store (the same bytes for any number of writers). Multi-process use::

    w = FeatureStoreWriter(root, mods, task, writer_id=str(rank), merge_on_close=False)
    ... for my share of the items: if not w.has(id): w.add(...) ...
    w.close(); accelerator.wait_for_everyone()
    if accelerator.is_main_process: merge_partial_indexes(root)
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock, Timeout
from safetensors.torch import save

from ..errors import FeatureStoreError
from ..files import atomic_write_bytes, atomic_write_json
from ..protocols import TaskInfo
from .index import (
    FAILURES_NAME,
    INDEX_NAME,
    LOCK_NAME,
    SHARD_DIR,
    ModalityInfo,
    check_safe_name,
    header,
    header_mismatch,
    merge_partial_indexes,
    partial_path,
    read_partials,
    read_store_json,
    records_from_index,
)

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def plain_label(label: Any) -> Any:
    """The JSON form of a label: numpy/torch values unwrapped (`tolist`), tuples made lists."""
    if hasattr(label, "tolist"):
        label = label.tolist()
    if isinstance(label, (list, tuple)):
        return [plain_label(v) for v in label]
    if isinstance(label, dict):
        return {str(k): plain_label(v) for k, v in label.items()}
    return label


def json_problem(label: Any) -> str | None:
    """Why `label` cannot be stored (None: it can). The store takes any finite plain JSON value; what
    a label must look like for a task is the head's business (`validate_labels`, at training)."""
    try:
        json.dumps(label, allow_nan=False)
    except (TypeError, ValueError):
        return f"label {label!r} is not a plain JSON value (numbers, strings, lists) or holds NaN/Inf"
    return None


def label_problem(task: TaskInfo, label: Any) -> str | None:
    """Why `label` does not fit `task` for the first installed head of that task type (None: it
    fits). A convenience for dataset tests; the writer itself only asks `json_problem`."""
    from ..errors import DataError
    from ..head import head_for_task

    plain = plain_label(label)
    why = json_problem(plain)
    if why is not None:
        return why
    try:
        head_for_task(task.type, list(task.label_names)).validate_labels([plain])
    except (DataError, TypeError, ValueError) as e:
        return str(e)
    return None


class FeatureStoreWriter:
    """Writes items into `root`. Use as a context manager; `close()` flushes and merges the index.

    `features` of an item map every modality of the store to a (L, dim) tensor (L may be 0).
    Items with NaN/Inf features or an invalid label are refused as item failures: recorded in
    failures.jsonl, `add` returns False and the store never holds them.
    """

    def __init__(
        self,
        root: str | Path,
        modalities: Mapping[str, ModalityInfo],
        task: TaskInfo,
        *,
        shard_size: int = 256,
        writer_id: str = "0",
        source: dict[str, Any] | None = None,
        merge_on_close: bool = True,
    ) -> None:
        if shard_size < 1:
            raise FeatureStoreError(f"shard_size must be >= 1, got {shard_size}")
        if not modalities:
            raise FeatureStoreError("a feature store needs at least one modality")
        self.root = Path(root)
        self.writer_id = check_safe_name("writer id", writer_id)
        self.modalities = {m: ModalityInfo.model_validate(i) for m, i in modalities.items()}
        self.task = task
        self.shard_size = shard_size
        self.merge_on_close = merge_on_close
        self.header = header(self.modalities, task, source)
        self.failures = 0
        # Test hook: called with a stage name ("shard_written", "partial_written") to simulate crashes.
        self._fault_hook: Callable[[str], None] | None = None
        self._closed = False
        self.root.mkdir(parents=True, exist_ok=True)
        # One live writer per writer id (released by the OS if the process dies).
        partial_path(self.root, writer_id).parent.mkdir(exist_ok=True)
        self._lock = FileLock(str(partial_path(self.root, writer_id).with_suffix(".lock")), timeout=0)
        try:
            self._lock.acquire()
        except Timeout:
            raise FeatureStoreError(
                f"{self.root}: another process is writing with writer id {writer_id!r}; give each process its own id"
            ) from None
        try:
            self._check_compatible()
            self._shards: list[dict[str, Any]] = []
            self._known: set[str] = set()
            self._buffers: dict[str, list[tuple[dict[str, Any], dict[str, torch.Tensor]]]] = {}
            self._next_seq = 0
            self._load_existing()
            self._write_partial()
        except BaseException:
            self._lock.release()
            raise

    # -- opening an existing store -------------------------------------------------------------------
    def _check_compatible(self) -> None:
        others: list[tuple[str, dict[str, Any]]] = []
        if (self.root / INDEX_NAME).exists():
            others.append(
                (str(self.root / INDEX_NAME), read_store_json(self.root / INDEX_NAME, "store index"))
            )
        others += [(str(partial_path(self.root, w)), p) for w, p in read_partials(self.root).items()]
        for where, other in others:
            why = header_mismatch(other, self.header)
            if why is not None:
                raise FeatureStoreError(
                    f"{self.root}: refusing to append to a store made with other settings ({why}, see {where}); "
                    "write to a new directory or delete this one"
                )

    def _load_existing(self) -> None:
        partials = read_partials(self.root)
        own = partials.pop(self.writer_id, None)
        if (self.root / INDEX_NAME).exists():
            index = read_store_json(self.root / INDEX_NAME, "store index")
            for s in index["shards"]:  # canonical shards have no writer: nobody's to adopt
                if s.get("writer") not in partials and s.get("writer") != self.writer_id:
                    self._known.update(s["ids"])
            if own is None:  # our partial index is gone (a copied store): adopt our shards from the index
                recs = records_from_index(index)
                mine = [
                    s | {"items": recs[s["file"]]}
                    for s in index["shards"]
                    if s.get("writer") == self.writer_id
                ]
                own = {"shards": mine}
        for p in partials.values():
            for s in p["shards"]:
                self._known.update(r["id"] for r in s["items"])
        pattern = re.compile(rf"^{re.escape(self.writer_id)}-(\d+)\.safetensors$")
        for s in own["shards"] if own else []:
            path = self.root / s["file"]
            # A listed shard that vanished or changed size is dropped: its items are written again.
            if path.is_file() and path.stat().st_size == s["bytes"]:
                self._shards.append(s)
                self._known.update(r["id"] for r in s["items"])
        listed = {s["file"] for s in self._shards}
        shard_root = self.root / SHARD_DIR
        for path in shard_root.glob("*/*") if shard_root.is_dir() else []:
            rel = path.relative_to(self.root).as_posix()
            m = pattern.match(path.name)
            if m:
                if rel not in listed:  # finished but never indexed (crash between the two renames)
                    path.unlink()
                    continue
                self._next_seq = max(self._next_seq, int(m.group(1)) + 1)
            elif path.name.startswith(f".{self.writer_id}-") and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)  # an interrupted temp file of ours
        # A partial index write of ours killed mid-way (atomic_write_bytes' ".NAME.PID.tmp"): we hold
        # this writer id's lock, so no live process can be writing it.
        partial_file = partial_path(self.root, self.writer_id)
        for tmp in partial_file.parent.glob(f".{partial_file.name}.*.tmp"):
            tmp.unlink(missing_ok=True)

    # -- public API ------------------------------------------------------------------------------------
    def has(self, item_id: str) -> bool:
        """True when the item is already stored (in a finished shard of any writer) or buffered."""
        return item_id in self._known

    def add(
        self,
        item_id: str,
        split: str,
        features: Mapping[str, torch.Tensor],
        label: Any,
        meta: dict[str, Any] | None = None,
        *,
        labels: Mapping[str, Any] | None = None,
    ) -> bool:
        """Buffer one item; flush a shard when `shard_size` items of its split are buffered.

        `label` is the item's value in the default label set (plain JSON: stored as it is; the head
        checks it at training). A store with several label sets (`TaskInfo.several`) takes every
        set's value in `labels` ({set name: value}; `label` may then be None).

        Returns False (and records a failure) for NaN/Inf features, a label that is not finite plain
        JSON, or a missing label set; raises FeatureStoreError for problems of the whole job (wrong
        modalities or dims, duplicate id, label sets the task does not declare).
        """
        if self._closed:
            raise FeatureStoreError(f"{self.root}: writer {self.writer_id} is closed")
        if not isinstance(item_id, str) or not item_id:
            raise FeatureStoreError(f"item id {item_id!r} must be a non-empty string")
        check_safe_name("split", split)
        if item_id in self._known:
            raise FeatureStoreError(f"item {item_id!r} is already in {self.root}; check has() before add()")
        if set(features) != set(self.modalities):
            raise FeatureStoreError(
                f"item {item_id!r}: features for {sorted(features)}, the store holds {sorted(self.modalities)}"
            )
        tensors: dict[str, torch.Tensor] = {}
        for m, info in self.modalities.items():
            x = torch.as_tensor(features[m])
            if x.ndim != 2 or x.shape[1] != info.dim:
                raise FeatureStoreError(
                    f"item {item_id!r}: modality {m!r} has shape {tuple(x.shape)}, the store expects (L, {info.dim}); "
                    "check the extractor"
                )
            if not x.is_floating_point() or not bool(torch.isfinite(x).all()):
                self.record_failure(
                    item_id, f"modality {m!r}: features hold NaN/Inf or are not floats", split=split
                )
                return False
            tensors[m] = x.detach().to("cpu", DTYPES[info.dtype]).contiguous()
            if not bool(torch.isfinite(tensors[m]).all()):  # overflow when narrowing to float16
                self.record_failure(item_id, f"modality {m!r}: features overflow {info.dtype}", split=split)
                return False
        plain, sets, why = self._labels(label, labels)
        if why is not None:
            self.record_failure(item_id, why, split=split)
            return False
        try:
            json.dumps(meta or {}, allow_nan=False)
        except (TypeError, ValueError) as e:
            raise FeatureStoreError(f"item {item_id!r}: meta is not JSON-serialisable ({e})") from None
        record = {
            "id": item_id,
            "label": plain,
            "lengths": {m: int(t.shape[0]) for m, t in tensors.items()},
            "meta": meta or {},
        }
        if sets is not None:
            record["labels"] = sets
        buf = self._buffers.setdefault(split, [])
        buf.append((record, tensors))
        self._known.add(item_id)
        if len(buf) >= self.shard_size:
            self._flush(split)
        return True

    def _labels(
        self, label: Any, labels: Mapping[str, Any] | None
    ) -> tuple[Any, dict[str, Any] | None, str | None]:
        """(default label, {set: label} or None, why the item cannot be stored or None)."""
        sets = self.task.sets()
        given = {str(k): plain_label(v) for k, v in (labels or {}).items()}
        if not sets:
            if given:
                raise FeatureStoreError(
                    f"{self.root}: an item carries label sets {sorted(given)} but the task declares none; "
                    "return TaskInfo.several(default, {name: TaskInfo(...)}) from the dataset's task()"
                )
            plain = plain_label(label)
            return plain, None, json_problem(plain)
        unknown = sorted(set(given) - set(sets))
        if unknown:
            raise FeatureStoreError(
                f"{self.root}: label set {unknown[0]!r} is not declared by the task (it declares {', '.join(sets)})"
            )
        default = str(self.task.name)
        plain = plain_label(label)
        if plain is None:
            plain = given.get(default)
        elif default in given and given[default] != plain:
            return plain, None, f"label {plain!r} differs from its {default!r} label {given[default]!r}"
        given[default] = plain
        for name in sets:
            if given.get(name) is None:
                return plain, None, f"no label in label set {name!r}"
            why = json_problem(given[name])
            if why is not None:
                return plain, None, f"label set {name!r}: {why}"
        return plain, {n: given[n] for n in sets}, None

    def record_failure(self, item_id: str, reason: str, *, split: str | None = None) -> None:
        """Append {"id", "reason", "writer", "time"} to <root>/failures.jsonl (safe across processes)."""
        line = {
            "id": item_id,
            "reason": " ".join(str(reason).split()),
            "writer": self.writer_id,
            "time": time.time(),
        }
        if split is not None:
            line["split"] = split
        from ..failures import append_failure  # lock + dedupe (a rerun adds no duplicate) + fsync

        append_failure(self.root / FAILURES_NAME, line, lock=self.root / LOCK_NAME)
        self.failures += 1

    def flush(self) -> None:
        """Write every buffered item (partial shards included)."""
        for split in list(self._buffers):
            if self._buffers[split]:
                self._flush(split)

    def close(self) -> None:
        """Flush, then merge the partial indexes into index.json (unless merge_on_close=False)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._lock.release()
        if self.merge_on_close:
            merge_partial_indexes(self.root)

    def __enter__(self) -> FeatureStoreWriter:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        # On an error, keep what is complete (finished shards are already safe) and do not merge:
        # the buffered items are simply written again by the next run.
        if not self._closed:
            self._closed = True
            self._lock.release()

    # -- internals -------------------------------------------------------------------------------------
    def _flush(self, split: str) -> None:
        buf = self._buffers.pop(split)
        rel = f"{SHARD_DIR}/{split}/{self.writer_id}-{self._next_seq:05d}.safetensors"
        self._next_seq += 1
        # (L, D) tensors under "<pos>/<modality>": ids live in the metadata, never in keys.
        tensors = {f"{pos}/{m}": t for pos, (_, ts) in enumerate(buf) for m, t in ts.items()}
        meta = {"format": "sseft-features", "split": split, "writer": self.writer_id}
        meta["ids"] = json.dumps([r["id"] for r, _ in buf], ensure_ascii=False)
        data = save(tensors, metadata=meta)
        path = self.root / rel
        atomic_write_bytes(path, data)
        self._fault("shard_written")
        self._shards.append(
            {
                "file": rel,
                "split": split,
                "writer": self.writer_id,
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
                "items": [r for r, _ in buf],
            }
        )
        self._write_partial()
        self._fault("partial_written")

    def _write_partial(self) -> None:
        # shard_size: the merge cuts the canonical shards to it
        atomic_write_json(
            partial_path(self.root, self.writer_id),
            self.header | {"shard_size": self.shard_size, "shards": self._shards},
        )

    def _fault(self, stage: str) -> None:
        if self._fault_hook is not None:
            self._fault_hook(stage)
