"""`sseft features info`: a summary of a store from its index alone (no torch, no shard reads)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import FeatureStoreError
from .index import FAILURES_NAME, INDEX_NAME, PARTIAL_DIR, read_store_json


def read_failures(root: Path) -> list[dict[str, Any]]:
    """Every line of failures.jsonl (unreadable lines are skipped: a crash may cut the last one)."""
    path = root / FAILURES_NAME
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "id" in rec:
            out.append(rec)
    return out


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def label_counts(label_names: list[str], labels: list[Any]) -> dict[str, Any]:
    """What a split's labels look like, from their JSON shape alone (the store knows no task):
    class indices -> a count per label name; 0/1 vectors over the names -> how often each is 1;
    other numbers (or vectors of them) -> min/mean/max/std of the first value; anything else ->
    a count per distinct JSON value."""
    names = list(label_names)
    if not labels:
        return {}
    if len(names) > 1 and all(_is_int(v) and 0 <= v < len(names) for v in labels):
        c = Counter(labels)
        return {n: c.get(i, 0) for i, n in enumerate(names)}
    if all(
        isinstance(v, list) and len(v) == len(names) and all(_is_int(x) and x in (0, 1) for x in v)
        for v in labels
    ):
        return {n: sum(int(v[k]) for v in labels) for k, n in enumerate(names)}
    firsts = [v[0] if isinstance(v, list) and v else v for v in labels]
    if all(_is_num(v) for v in firsts):
        return {
            "min": round(min(firsts), 4),
            "mean": round(statistics.fmean(firsts), 4),
            "max": round(max(firsts), 4),
            "std": round(statistics.pstdev(firsts), 4),
        }
    counts = Counter(json.dumps(v, sort_keys=True, ensure_ascii=False) for v in labels)
    return dict(counts.most_common())


def _length_stats(lengths: list[int]) -> dict[str, Any]:
    if not lengths:
        return {"min": 0, "mean": 0.0, "median": 0, "max": 0, "empty": 0}
    return {
        "min": min(lengths),
        "mean": round(statistics.fmean(lengths), 2),
        "median": statistics.median(lengths),
        "max": max(lengths),
        "empty": sum(1 for x in lengths if x == 0),
    }


def summarize(root: str | Path) -> dict[str, Any]:
    """Item counts, label distribution, length stats per modality, dims, fingerprints, failures.

    Nothing here depends on the shard layout: a store written by N processes summarises exactly
    like the same store written by one (only `root` differs).
    """
    root = Path(root)
    if not root.is_dir():
        raise FeatureStoreError(f"{root}: feature store directory not found")
    if not (root / INDEX_NAME).is_file():
        hint = (
            " (the write did not finish: re-run it or `sseft features merge`)"
            if (root / PARTIAL_DIR).is_dir()
            else ""
        )
        raise FeatureStoreError(f"{root}: {INDEX_NAME} not found{hint}")
    index = read_store_json(root / INDEX_NAME, "store index")
    stored = {i for t in index["splits"].values() for i in t["ids"]}
    failures = read_failures(root)
    open_failures = sorted({f["id"] for f in failures} - stored)
    return {
        "root": str(root),
        "format_version": index["format_version"],
        "task": index["task"],
        **(
            {"label_sets": index["label_sets"], "default_label_set": index.get("default_label_set")}
            if index.get("label_sets")
            else {}
        ),
        "modalities": index["modalities"],
        "source": index.get("source"),
        "items": len(stored),
        "splits": {
            split: {
                "items": len(t["ids"]),
                "labels": label_counts(index["task"]["label_names"], t["labels"]),
                **_other_sets(index, t),
                "lengths": {m: _length_stats(t["lengths"][m]) for m in index["modalities"]},
            }
            for split, t in index["splits"].items()
        },
        # Items that failed and are not in the store (a later successful retry clears a failure).
        "failures": {"lines": len(failures), "items_missing": len(open_failures), "ids": open_failures[:20]},
    }


def _other_sets(index: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """{"label_sets": {name: counts}} for the sets beside the default one (none: {})."""
    sets = index.get("label_sets") or {}
    default = index.get("default_label_set")
    other = {
        n: label_counts(info["label_names"], table.get("label_sets", {}).get(n, []))
        for n, info in sets.items()
        if n != default
    }
    return {"label_sets": other} if other else {}


def format_store_summary(s: dict[str, Any]) -> str:
    """Human-readable form of `summarize`."""
    lines = [
        f"store {s['root']}  (format {s['format_version']}, {s['items']} items)",
        f"task: {s['task']['type']}  labels: {', '.join(s['task']['label_names'])}",
    ]
    for name, info in (s.get("label_sets") or {}).items():
        default = "  (default)" if name == s.get("default_label_set") else ""
        lines.append(f"label set {name}: {info['type']}  labels: {', '.join(info['label_names'])}{default}")
    lines.append("modalities:")
    for m, info in s["modalities"].items():
        fp = json.dumps(info["fingerprint"], sort_keys=True)
        lines.append(
            f"  {m}: dim {info['dim']}  {info['dtype']}  max_len {info['max_len']}"
            f"{'  (provides CLS)' if info['provides_cls'] else ''}  fingerprint {fp}"
        )
    for split, t in s["splits"].items():
        lines.append(f"split {split}: {t['items']} items")
        labels = t["labels"]
        lines.append("  labels: " + ", ".join(f"{k} {v}" for k, v in labels.items()))
        for name, counts in (t.get("label_sets") or {}).items():
            lines.append(f"  labels ({name}): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        for m, st in t["lengths"].items():
            lines.append(
                f"  {m} length: min {st['min']}  mean {st['mean']}  median {st['median']}  max {st['max']}"
                + (f"  empty {st['empty']}" if st["empty"] else "")
            )
    f = s["failures"]
    lines.append(
        f"failures: {f['items_missing']} item(s) not stored ({f['lines']} line(s) in failures.jsonl)"
    )
    if f["ids"]:
        lines.append("  e.g. " + ", ".join(f["ids"][:5]))
    return "\n".join(lines)


def check_store(root: Path, config_path: Path | None = None) -> dict[str, Any]:
    """`sseft data check EXPERIMENT.yaml`: the store the config points at, verified (shard counts,
    shapes, checksums): {store, task, modalities {name: dim}, splits {name: items}, problems}."""
    from .store import FeatureStore

    if not root.exists():
        where = f"{config_path}: data.store {root}" if config_path else f"{root}"
        raise FeatureStoreError(
            f"{where} does not exist yet; run the extraction command in the config's comments"
        )
    fs = FeatureStore.open(root)
    return {
        "store": str(root),
        "task": {"type": fs.task.type, "label_names": list(fs.task.label_names)},
        "modalities": {m: i.dim for m, i in fs.modalities.items()},
        "splits": {s: len(fs.ids(s)) for s in fs.splits},
        "problems": fs.verify(),
    }


def format_store_check(out: dict[str, Any]) -> str:
    """check_store's result as the lines `sseft data check` prints."""
    lines = [
        f"store {out['store']}: {out['task']['type']} over {', '.join(out['task']['label_names'])}",
        "modalities: " + ", ".join(f"{m} ({d}-d)" for m, d in out["modalities"].items()),
        *(f"  {s:<6} {n:>6}" for s, n in out["splits"].items()),
        *(f"  problem: {p}" for p in out["problems"]),
        "ok" if not out["problems"] else f"NOT OK: {len(out['problems'])} problem(s)",
    ]
    return "\n".join(lines)
