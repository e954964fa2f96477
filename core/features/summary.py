"""`sseft features info`: a summary of a store from its index alone (no torch, no shard reads)."""

from __future__ import annotations

import json
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import FeatureStoreError
from .index import FAILURES_NAME, INDEX_NAME, PARTIAL_DIR, read_json


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


def _label_counts(task: dict[str, Any], labels: list[Any]) -> dict[str, Any]:
    names = task["label_names"]
    if task["type"] == "multiclass":
        c = Counter(labels)
        return {names[i] if 0 <= i < len(names) else str(i): c.get(i, 0) for i in range(len(names))}
    if task["type"] == "multilabel":
        return {n: sum(int(lab[k]) for lab in labels) for k, n in enumerate(names)}
    if not labels:
        return {}
    vals = [lab if not isinstance(lab, list) else lab[0] for lab in labels]
    return {
        "min": round(min(vals), 4),
        "mean": round(statistics.fmean(vals), 4),
        "max": round(max(vals), 4),
        "std": round(statistics.pstdev(vals), 4),
    }


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
    index = read_json(root / INDEX_NAME, "store index")
    stored = {i for t in index["splits"].values() for i in t["ids"]}
    failures = read_failures(root)
    open_failures = sorted({f["id"] for f in failures} - stored)
    return {
        "root": str(root),
        "format_version": index["format_version"],
        "task": index["task"],
        "modalities": index["modalities"],
        "source": index.get("source"),
        "items": len(stored),
        "splits": {
            split: {
                "items": len(t["ids"]),
                "labels": _label_counts(index["task"], t["labels"]),
                "lengths": {m: _length_stats(t["lengths"][m]) for m in index["modalities"]},
            }
            for split, t in index["splits"].items()
        },
        # Items that failed and are not in the store (a later successful retry clears a failure).
        "failures": {"lines": len(failures), "items_missing": len(open_failures), "ids": open_failures[:20]},
    }


def format_summary(s: dict[str, Any]) -> str:
    """Human-readable form of `summarize`."""
    lines = [
        f"store {s['root']}  (format {s['format_version']}, {s['items']} items)",
        f"task: {s['task']['type']}  labels: {', '.join(s['task']['label_names'])}",
        "modalities:",
    ]
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
