"""MMSA / MulT feature pickles: read only behind an explicit opt-in, and converted once into the
safe feature store (`sseft convert pickle FILE --out STORE --trust-pickle`).

Layout (FORMATS.md): a dict `train/valid/test`, each with `text`, `audio`, `vision` (N, L, D),
optional `audio_lengths`/`vision_lengths`, labels as `regression_labels` (N,) (MMSA) or `labels`
(N, 1, 1) sentiment / (N, 4, 2) one-hot [absent, present] IEMOCAP emotions (MulT), `id` strings
("video$_$clip") and `raw_text`.

Decisions: features padded to a fixed length are cut to their real length when the pickle says it
(`*_lengths`, or the attention mask row of MMSA's `text_bert`), kept whole otherwise. Non-finite
values (MOSEI's COVAREP has -inf) are replaced by 0, as MulT's loader does, and counted.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sseft.core.errors import DataError
from sseft.core.files import sha256_file
from sseft.core.protocols import Item, TaskInfo

from .cmu import require_trusted
from .common import Event, normalise_split

MODALITY_KEYS = ("text", "audio", "vision")
IEMOCAP_FOUR = ("neutral", "happy", "sad", "angry")


def load_pickle(path: Path, trusted: bool) -> dict[str, Any]:
    """Unpickle `path`; only ever reached with `trusted=True` (checked again here, before opening)."""
    require_trusted(path, trusted)
    if not path.is_file():
        raise DataError(f"{path}: pickle file not found")
    with open(path, "rb") as f:
        try:
            data = pickle.load(f)  # noqa: S301 - the user opted in explicitly (trust_pickle)
        except Exception as e:
            raise DataError(f"{path}: could not be unpickled ({type(e).__name__}: {e})") from None
    if not isinstance(data, dict) or not any(normalise_split(k) for k in data):
        raise DataError(f"{path}: expected a dict with train/valid/test entries, got {type(data).__name__}")
    return data


def pickle_task(data: dict[str, Any]) -> TaskInfo:
    """Regression sentiment, or MulT's IEMOCAP 4-emotion multilabel, from the label arrays."""
    part = next(v for k, v in data.items() if normalise_split(k))
    if "regression_labels" in part:
        return TaskInfo("regression", ("sentiment",))
    if not isinstance(part, dict) or "labels" not in part:
        raise DataError(
            "the pickle's splits hold no 'regression_labels' or 'labels' array (not an MMSA/MulT file?)"
        )
    labels = np.asarray(part["labels"])
    if labels.ndim == 3 and labels.shape[1:] == (4, 2):
        return TaskInfo("multilabel", IEMOCAP_FOUR)
    if labels.ndim >= 1 and labels.size and labels.reshape(len(labels), -1).shape[1] == 1:
        return TaskInfo("regression", ("sentiment",))
    raise DataError(
        f"cannot tell the task from labels of shape {labels.shape}; expected (N,), (N,1,1) or (N,4,2)"
    )


def _item_id(raw: Any, split: str, i: int) -> str:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, list | tuple | np.ndarray) and len(raw) >= 2:
        parts = [p.decode() if isinstance(p, bytes) else str(p) for p in list(raw)[:2]]
        return "$_$".join(parts)
    return f"{split}-{i:06d}"


def _lengths(part: dict[str, Any], key: str, n: int, full: int) -> list[int]:
    """Real lengths per item of modality `key` (full padded length when the pickle has none)."""
    if f"{key}_lengths" in part:
        return [int(x) for x in np.asarray(part[f"{key}_lengths"]).reshape(-1)]
    if key == "text" and "text_bert" in part:
        mask = np.asarray(part["text_bert"])[:, 1, :]  # (N, L): BERT attention mask
        return [int(x) for x in mask.sum(axis=1)]
    return [full] * n


def iter_pickle(
    data: dict[str, Any], task: TaskInfo, modalities: list[str] | None = None
) -> Iterator[tuple[str, str, dict[str, np.ndarray], Any, int]]:
    """(split, id, {modality: (L, D) float32}, label, n_non_finite) for every item of the pickle."""
    for key, part in data.items():
        split = normalise_split(key)
        if split is None:
            continue
        mods = [m for m in (modalities or MODALITY_KEYS) if m in part]
        if not mods:
            raise DataError(
                f"split {key!r}: none of the modality arrays {modalities or MODALITY_KEYS} present"
            )
        arrays = {m: np.asarray(part[m]) for m in mods}
        n = len(next(iter(arrays.values())))
        lens = {m: _lengths(part, m, n, arrays[m].shape[1]) for m in mods}
        if task.type == "multilabel":
            labels = np.asarray(part["labels"])
        else:
            labels = np.asarray(part.get("regression_labels", part.get("labels"))).reshape(n, -1)[:, 0]
        ids = part.get("id", [None] * n)
        for i in range(n):
            feats = {}
            bad = 0
            for m in mods:
                L = max(1, min(lens[m][i], arrays[m].shape[1]))
                x = np.array(arrays[m][i, :L], dtype=np.float32)  # (L, D) copy
                finite = np.isfinite(x)
                if not finite.all():
                    bad += int((~finite).sum())
                    x[~finite] = 0.0
                feats[m] = x
            label: Any = (
                [int(np.argmax(labels[i, k])) for k in range(labels.shape[1])]
                if task.type == "multilabel"
                else float(labels[i])
            )
            yield split, _item_id(ids[i], split, i), feats, label, bad


def scan_pickle(path: Path, task: TaskInfo, modalities: list[str] | None) -> Iterator[Event]:
    data = load_pickle(path, trusted=True)  # the caller checked trust_pickle
    found = pickle_task(data)
    if found.type != task.type:
        raise DataError(
            f"{path}: holds {found.type} labels ({', '.join(found.label_names)}), the config asks {task.type}"
        )
    for split, item_id, feats, label, bad in iter_pickle(data, task, modalities):
        meta = {"where": f"{path.name}[{split}]", "non_finite_replaced": bad}
        yield ("item", Item(item_id, split, label, dict(feats), meta), [])


def convert_pickle(path: Path, out: Path, trusted: bool, shard_size: int = 256) -> dict[str, Any]:
    """Convert an MMSA/MulT pickle into a feature store (once); returns a summary.

    Fingerprint per modality: {"source": "mmsa-pickle", "file_sha256": ..., "key": "audio"}: no
    "modality" key, since these features come from no installed sseft encoder. Resumable: items
    already in the store are skipped (the writer refuses a store from a different file).
    """
    import torch

    from sseft.core.features import FeatureStoreWriter, ModalityInfo

    data = load_pickle(path, trusted)
    task = pickle_task(data)
    sha = sha256_file(path)
    first = next(v for k, v in data.items() if normalise_split(k))
    infos = {}
    for m in MODALITY_KEYS:
        if m not in first:
            continue
        a = np.asarray(first[m])
        max_len = max(
            int(np.asarray(p[m]).shape[1]) for k, p in data.items() if normalise_split(k) and m in p
        )
        fp = {"source": "mmsa-pickle", "file_sha256": sha, "key": m}
        infos[m] = ModalityInfo(dim=int(a.shape[2]), max_len=max_len, fingerprint=fp)
    if not infos:
        raise DataError(f"{path}: none of {', '.join(MODALITY_KEYS)} found in the pickle")
    summary: dict[str, Any] = {"added": 0, "skipped": 0, "failed": 0, "non_finite_replaced": 0, "splits": {}}
    source = {"source": "mmsa-pickle", "file": path.name, "file_sha256": sha}
    with FeatureStoreWriter(out, infos, task, source=source, shard_size=shard_size) as w:
        for split, item_id, feats, label, bad in iter_pickle(data, task, list(infos)):
            summary["splits"][split] = summary["splits"].get(split, 0) + 1
            if w.has(item_id):
                summary["skipped"] += 1
                continue
            added = w.add(item_id, split, {m: torch.from_numpy(x) for m, x in feats.items()}, label,
                          meta={"non_finite_replaced": bad} if bad else None)  # fmt: skip
            # The writer refuses bad items (recorded in failures.jsonl) by returning False.
            summary["added" if added is not False else "failed"] += 1
            summary["non_finite_replaced"] += bad
    summary["task"] = {"type": task.type, "label_names": list(task.label_names)}
    return summary
