"""The feature store's index: layout on disk, JSON schema, atomic writes, merging partial indexes.

No torch here: `sseft features info` and the writer's bookkeeping only need JSON.

Layout of a store directory::

    <root>/index.json                       the one index (what readers open)
    <root>/shards/<split>/<nnnnn>.<sha16>.safetensors   canonical shards (a finished store)
  while writers run, and until the merge absorbs them:
    <root>/partial/<writer_id>.json         one partial index per writer (source of truth of its shards)
    <root>/shards/<split>/<writer_id>-<nnnnn>.safetensors
    <root>/failures.jsonl                   one {"id", "reason", ...} line per refused item
    <root>/.lock                            filelock serialising merges and failure appends

Each shard holds the tensors of up to `shard_size` items of one split under keys "<pos>/<modality>"
(pos = the item's position in the shard's id list), so item ids never need to be valid keys.
A partial index lists its writer's finished shards with every item's record (id, label, lengths,
meta, and `labels` {set: value} in a store with several label sets); `merge_partial_indexes`
rewrites all of them into canonical shards (core/features/canonical.py) and `index.json`, whose
per-split tables are sorted by item id, so that N writers and one writer write the same bytes.

Labels are plain JSON values, stored as the dataset gave them (the head checks them at training).
A store with several label sets (MELD: emotion and sentiment) records `label_sets` {name: {type,
label_names}} and `default_label_set` in its header, and each split table has `label_sets` {name:
[values]} beside `labels` (the default set's values, so readers that know one set still work).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from ..errors import FeatureStoreError
from ..protocols import TaskInfo, split_order
from ..specs import ModalitySpec, StoredFeatures

FORMAT_VERSION = 1
INDEX_NAME = "index.json"
PARTIAL_DIR = "partial"
SHARD_DIR = "shards"
FAILURES_NAME = "failures.jsonl"
LOCK_NAME = ".lock"
# Writer ids and split names become file/folder names: keep them boring.
SAFE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ModalityInfo(StoredFeatures):
    """What a store holds for one modality: core/specs.py StoredFeatures (dim, provides_cls, max_len,
    fingerprint; the model's ModalitySpec derives from the same fields, `spec`) plus the dtype the
    shards are written in. The name is the key of the header's `modalities` table."""

    # A dict, never None, in the store: the engine always records one, and headers written with {}
    # must keep matching (header_mismatch compares the JSON of every writer's partial index).
    fingerprint: dict[str, Any] = Field(default_factory=dict)
    dtype: str = Field(default="float32", pattern=r"^(float32|float16|bfloat16)$")

    def spec(self, name: str, **model: Any) -> ModalitySpec:
        """The fusion model's ModalitySpec for this modality, with the model's choices `model`."""
        return ModalitySpec.from_store(name, self, **model)


def check_safe_name(kind: str, name: str) -> str:
    """Refuse a writer id / split name that cannot safely be part of a file name."""
    if not isinstance(name, str) or not SAFE_NAME_RE.fullmatch(name):
        raise FeatureStoreError(
            f"{kind} {name!r} is not allowed: use letters, digits, '.', '_' or '-' (at most 64 characters)"
        )
    return name


def read_store_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeatureStoreError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FeatureStoreError(
            f"{path}: {what} is unreadable or not valid JSON ({e}); re-run the write"
        ) from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        got = data.get("format_version") if isinstance(data, dict) else type(data).__name__
        raise FeatureStoreError(
            f"{path}: {what} has format_version {got!r}, this sseft reads {FORMAT_VERSION}; re-extract the store"
        )
    return data


# -- header (what every index and partial index agrees on) -------------------------------------------
def task_to_json(task: TaskInfo) -> dict[str, Any]:
    return {"type": task.type, "label_names": list(task.label_names)}


def task_from_json(d: dict[str, Any], name: str | None = None) -> TaskInfo:
    return TaskInfo(type=d["type"], label_names=tuple(d["label_names"]), name=name)


def tasks_from_header(head: dict[str, Any]) -> TaskInfo:
    """The default label set's TaskInfo, with every set in `label_sets` (stores that have several)."""
    sets = head.get("label_sets") or {}
    if not sets:
        return task_from_json(head["task"])
    return TaskInfo.several(head["default_label_set"], {n: task_from_json(t) for n, t in sets.items()})


# Header keys every index and partial index agrees on (label sets only in stores that have them).
HEADER_KEYS = ("format_version", "task", "label_sets", "default_label_set", "modalities", "source")


def header(
    modalities: dict[str, ModalityInfo], task: TaskInfo, source: dict[str, Any] | None
) -> dict[str, Any]:
    sets = task.sets()
    return {
        "format_version": FORMAT_VERSION,
        "task": task_to_json(task),
        **(
            {"label_sets": {n: task_to_json(t) for n, t in sets.items()}, "default_label_set": task.name}
            if sets
            else {}
        ),
        "modalities": {m: info.model_dump(mode="json") for m, info in modalities.items()},
        "source": source,
    }


def header_mismatch(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    """Why two headers describe incompatible stores (None: compatible). Order of modalities counts."""
    if list(a["modalities"]) != list(b["modalities"]):
        return f"modalities {list(b['modalities'])} != {list(a['modalities'])}"
    for m, info in a["modalities"].items():
        other = b["modalities"][m]
        for key in ("dim", "dtype", "fingerprint", "provides_cls", "max_len"):
            if info.get(key) != other.get(key):
                return f"modality {m!r} {key} {other.get(key)!r} != {info.get(key)!r}"
    if a["task"] != b["task"]:
        return f"task {b['task']} != {a['task']}"
    for key in ("label_sets", "default_label_set"):
        if a.get(key) != b.get(key):
            return f"{key} {b.get(key)} != {a.get(key)}"
    return None


# -- partial indexes and the merge ---------------------------------------------------------------------
def partial_path(root: Path, writer_id: str) -> Path:
    return root / PARTIAL_DIR / f"{writer_id}.json"


def read_partials(root: Path) -> dict[str, dict[str, Any]]:
    """writer_id -> partial index, for every partial index under `root`."""
    d = root / PARTIAL_DIR
    if not d.is_dir():
        return {}
    return {p.stem: read_store_json(p, "partial index") for p in sorted(d.glob("*.json"))}


def records_from_index(index: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """shard file -> item records, rebuilt from a merged index (for stores whose partials are gone)."""
    mods = list(index["modalities"])
    out: dict[str, list[dict[str, Any]]] = {}
    by_id: dict[str, dict[str, Any]] = {}
    for split, table in index["splits"].items():
        for i, item_id in enumerate(table["ids"]):
            by_id[item_id] = {
                "id": item_id,
                "split": split,
                "label": table["labels"][i],
                "lengths": {m: table["lengths"][m][i] for m in mods},
                "meta": table["meta"][i] if table.get("meta") else {},
            }
            if table.get("label_sets"):
                by_id[item_id]["labels"] = {n: v[i] for n, v in table["label_sets"].items()}
    for shard in index["shards"]:
        out[shard["file"]] = [by_id[i] for i in shard["ids"]]
    return out


def build_index(head: dict[str, Any], shards: list[dict[str, Any]]) -> dict[str, Any]:
    """Merged index from a header and shard entries that carry their item records ("items")."""
    mods = list(head["modalities"])
    set_names = list(head.get("label_sets") or {})
    seen: dict[str, str] = {}
    per_split: dict[str, list[dict[str, Any]]] = {}
    out_shards = []
    for shard in sorted(shards, key=lambda s: s["file"]):
        for rec in shard["items"]:
            if rec["id"] in seen:
                raise FeatureStoreError(
                    f"item {rec['id']!r} is stored twice: in {seen[rec['id']]} and {shard['file']}; "
                    "delete one of the two shard files and its partial index entry, then merge again"
                )
            seen[rec["id"]] = shard["file"]
            per_split.setdefault(shard["split"], []).append(rec)
        out_shards.append(
            {k: v for k, v in shard.items() if k != "items"} | {"ids": [r["id"] for r in shard["items"]]}
        )
    splits = {}
    for split in sorted(per_split, key=split_order):
        recs = sorted(per_split[split], key=lambda r: r["id"])
        splits[split] = {
            "ids": [r["id"] for r in recs],
            "labels": [r["label"] for r in recs],
            "lengths": {m: [int(r["lengths"][m]) for r in recs] for m in mods},
            "meta": [r.get("meta") or {} for r in recs],
        }
        if set_names:  # every set's labels, the default one included (`labels` stays the default's)
            splits[split]["label_sets"] = {n: [r["labels"][n] for r in recs] for n in set_names}
    return head | {"splits": splits, "shards": out_shards}


def merge_partial_indexes(root: str | Path) -> Path:
    """Finish the store at `root`: every finished writer's shards (partial indexes) and those of the
    existing index.json become canonical shards and one index, byte-identical whatever the number of
    writers (core/features/canonical.py). Call it once every writer has closed; a writer still open
    is left as it is. Returns the path of the index."""
    from .canonical import merge_store  # torch and safetensors: only when a merge runs

    return merge_store(Path(root))
