"""The merge that finishes a feature store: every finished writer's shards rewritten into canonical ones.

A finished store does not depend on how many writers (processes) made it: its items sit in
`shards/<split>/<nnnnn>.<sha16>.safetensors`, splits in `split_order`, items sorted by id, cut into
shards of the writers' `shard_size`; the safetensors header is written with sorted keys and carries
no writer id; the index lists no writer. So 1 process and N processes write the same bytes.

Crash safety: new shard files get names that hold their content hash, so they never overwrite a
file the current index points to. The order is: write the new shards, replace index.json (the
commit point), delete the absorbed partial indexes, delete every shard file the new index does not
list. A crash before the commit leaves the old index complete (new files are unreferenced and the
next merge reuses or deletes them); a crash after it leaves stale partial indexes whose items are
all in canonical shards already: the writer and the next merge drop them.

A writer still open (its lock held) is not absorbed: its finished shards are listed as they are.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ..errors import FeatureStoreError
from ..files import atomic_write_bytes, atomic_write_json
from ..protocols import split_order
from .index import (
    HEADER_KEYS,
    INDEX_NAME,
    LOCK_NAME,
    PARTIAL_DIR,
    SHARD_DIR,
    build_index,
    header_mismatch,
    partial_path,
    read_partials,
    read_store_json,
    records_from_index,
)

DEFAULT_SHARD_SIZE = 256
# Canonical shard names hold no "-": no writer's "<writer>-<nnnnn>.safetensors" pattern matches them.
CANONICAL_RE = re.compile(r"^\d{5}\.[0-9a-f]{16}\.safetensors$")


def shard_bytes(tensors: dict[str, Any], metadata: dict[str, str]) -> bytes:
    """safetensors bytes that depend only on the tensors and the metadata: safetensors writes its
    `__metadata__` map in hash order, so the JSON header is written again with sorted keys."""
    from safetensors.torch import save

    data = save(tensors, metadata=metadata)
    (n,) = struct.unpack("<Q", data[:8])
    head = json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the tensor data stays 8-byte aligned, as safetensors pads it
    return struct.pack("<Q", len(head)) + head + data[8 + n :]


def is_canonical(shard: dict[str, Any]) -> bool:
    return "writer" not in shard


def _live(root: Path, writers: list[str], stack: ExitStack) -> set[str]:
    """The writer ids whose writer is still open; the locks of the others are held by `stack`."""
    live = set()
    for w in writers:
        lock = FileLock(str(partial_path(root, w).with_suffix(".lock")), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            live.add(w)
            continue
        stack.callback(lock.release)
    return live


def merge_store(root: Path) -> Path:
    """Merge every finished writer into canonical shards and `<root>/index.json` (under the store
    lock). See the module docstring; `merge_partial_indexes` in index.py is the public name."""
    if not root.is_dir():
        raise FeatureStoreError(f"{root}: feature store directory not found")
    with FileLock(str(root / LOCK_NAME)), ExitStack() as held:
        partials = read_partials(root)
        index_path = root / INDEX_NAME
        old = read_store_json(index_path, "store index") if index_path.exists() else None
        heads = [(f"partial index {w}", p) for w, p in partials.items()]
        if old is not None:
            heads.insert(0, ("index.json", old))
        if not heads:
            raise FeatureStoreError(
                f"{root}: no index and no partial index to merge; nothing was written here"
            )
        ref_name, ref = heads[0]
        for name, other in heads[1:]:
            why = header_mismatch(ref, other)
            if why is not None:
                raise FeatureStoreError(f"{root}: {name} disagrees with {ref_name}: {why}")
        live = _live(root, sorted(partials), held)
        head = {k: ref[k] for k in HEADER_KEYS if k in ref}
        old_recs = records_from_index(old) if old is not None else {}
        kept = [s for s in (old or {}).get("shards", []) if is_canonical(s)]
        in_index = {i for s in kept for i in s["ids"]}
        # Sources of the items to lay out again: (shard entry, its records).
        todo = [(s, old_recs[s["file"]]) for s in (old or {}).get("shards", [])
                if not is_canonical(s) and s["writer"] not in partials]  # fmt: skip
        sizes = [len(s["ids"]) for s in kept]  # the shard size never shrinks when a store grows
        for w, p in partials.items():
            if w in live:
                continue
            for s in p["shards"]:
                if not {r["id"] for r in s["items"]} <= in_index:  # else stale: absorbed before
                    todo.append((s, s["items"]))
            if p["shards"]:
                sizes.append(int(p.get("shard_size", DEFAULT_SHARD_SIZE)))
        canonical = [s | {"items": old_recs[s["file"]]} for s in kept]
        if todo:
            sizes += [len(recs) for _, recs in todo]
            sources = [(s, old_recs[s["file"]]) for s in kept] + todo
            canonical = _rewrite(root, sources, list(head["modalities"]), max(sizes))
        open_shards = [s for w in sorted(live) for s in partials[w]["shards"]]
        atomic_write_json(index_path, build_index(head, canonical + open_shards))  # the commit point
        for w in sorted(set(partials) - live):
            partial_path(root, w).unlink(missing_ok=True)
            partial_path(root, w).with_suffix(".lock").unlink(missing_ok=True)
        _remove_unlisted(root, {s["file"] for s in canonical + open_shards}, live)
    return index_path


def _rewrite(
    root: Path, sources: list[tuple[dict[str, Any], list[dict[str, Any]]]], mods: list[str], shard_size: int
) -> list[dict[str, Any]]:
    """Write the canonical shards of every item in `sources`; their index entries (with records)."""
    from safetensors import safe_open

    where: dict[str, tuple[str, int, dict[str, Any]]] = {}  # id -> (shard file, position, record)
    per_split: dict[str, list[str]] = {}
    for shard, recs in sources:
        for pos, rec in enumerate(recs):
            if rec["id"] in where:
                raise FeatureStoreError(
                    f"item {rec['id']!r} is stored twice: in {where[rec['id']][0]} and {shard['file']}; "
                    "delete one of the two shard files and its partial index entry, then merge again"
                )
            where[rec["id"]] = (shard["file"], pos, rec)
            per_split.setdefault(shard["split"], []).append(rec["id"])
    out = []
    for split in sorted(per_split, key=split_order):
        ids = sorted(per_split[split])
        for k, chunk in enumerate(_chunks(ids, shard_size)):
            tensors: dict[str, Any] = {}
            by_file: dict[str, list[tuple[int, int]]] = {}
            for new_pos, item_id in enumerate(chunk):
                by_file.setdefault(where[item_id][0], []).append((new_pos, where[item_id][1]))
            for rel, moves in by_file.items():
                with safe_open(root / rel, framework="pt") as f:
                    for new_pos, old_pos in moves:
                        for m in mods:
                            tensors[f"{new_pos}/{m}"] = f.get_tensor(f"{old_pos}/{m}")
            meta = {"format": "sseft-features", "split": split, "ids": json.dumps(chunk, ensure_ascii=False)}
            data = shard_bytes(tensors, meta)
            sha = hashlib.sha256(data).hexdigest()
            rel = f"{SHARD_DIR}/{split}/{k:05d}.{sha[:16]}.safetensors"
            path = root / rel
            if not (path.is_file() and path.stat().st_size == len(data)):  # else: written before a crash
                atomic_write_bytes(path, data)
            recs = [where[i][2] for i in chunk]
            out.append({"file": rel, "split": split, "sha256": sha, "bytes": len(data), "items": recs})
    return out


def _chunks(ids: list[str], size: int) -> Iterator[list[str]]:
    for k in range(0, len(ids), size):
        yield ids[k : k + size]


def _remove_unlisted(root: Path, listed: set[str], live: set[str]) -> None:
    """Delete shard files (and temp files) the index does not list, except those of open writers."""
    shard_root = root / SHARD_DIR
    for path in sorted(shard_root.glob("*/*")) if shard_root.is_dir() else []:
        rel = path.relative_to(root).as_posix()
        name = path.name.lstrip(".")
        if rel in listed or any(re.match(rf"{re.escape(w)}-\d+\.safetensors", name) for w in live):
            continue
        path.unlink(missing_ok=True)
    for d in sorted(shard_root.iterdir()) if shard_root.is_dir() else []:
        if d.is_dir() and not any(d.iterdir()):
            d.rmdir()
    partial_dir = root / PARTIAL_DIR
    if partial_dir.is_dir() and not any(partial_dir.iterdir()):
        with suppress(OSError):  # a writer opened meanwhile: its folder stays
            partial_dir.rmdir()
