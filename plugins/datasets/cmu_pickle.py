"""MMSA / MulT feature pickles: read only behind an explicit opt-in, and converted once into the
safe feature store (`sseft convert pickle FILE --out STORE --trust-pickle`).

Layout (MMSA's; docs/recipes.md "MMSA features"): a dict `train/valid/test`, each with `text`, `audio`, `vision` (N, L, D),
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
from sseft.core.protocols import Item, Precomputed, TaskInfo

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


def _first_part(data: dict[str, Any]) -> dict[str, Any]:
    part = next(v for k, v in data.items() if normalise_split(k))
    if not isinstance(part, dict):
        raise DataError(f"the pickle's split entries are {type(part).__name__}, expected dicts of arrays")
    return part


def pickle_task(data: dict[str, Any]) -> TaskInfo:
    """Regression sentiment, or MulT's IEMOCAP 4-emotion multilabel, from the label arrays."""
    part = _first_part(data)
    if "regression_labels" in part:
        return TaskInfo("regression", ("sentiment",))
    if "labels" not in part:
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


def label_shape(data: dict[str, Any]) -> tuple[int, ...]:
    part = _first_part(data)
    return tuple(np.asarray(part.get("regression_labels", part.get("labels"))).shape)


def check_label_set(path: Path, data: dict[str, Any], declared: TaskInfo, where: str) -> TaskInfo:
    """The pickle's own label set (from its label arrays) must be the one the config declares, type
    AND names: a MulT IEMOCAP pickle (4 emotions, (N, 4, 2)) read as MOSEI emotions would otherwise
    be relabelled silently (neutral -> happy). Returns the pickle's label set."""
    found = pickle_task(data)
    if found.type != declared.type or tuple(found.label_names) != tuple(declared.label_names):
        raise DataError(
            f"{path}: its labels (shape {label_shape(data)}) are {found.type} over "
            f"({', '.join(found.label_names)}), but {where} declares {declared.type} over "
            f"({', '.join(declared.label_names)}); use the dataset/labels option that matches the file, "
            "or convert it with `sseft convert pickle FILE --out STORE --trust-pickle` (label set read from the file)"
        )
    return found


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


def pickle_items(
    path: Path, data: dict[str, Any], task: TaskInfo, modalities: list[str] | None
) -> Iterator[Item]:
    """Items whose inputs are the pickle's `Precomputed` features, identified by the file's sha256."""
    ident = {"source": "mmsa-pickle", "file_sha256": sha256_file(path)}
    padded = _padded_lengths(data)
    for split, item_id, feats, label, bad in iter_pickle(data, task, modalities):
        inputs: dict[str, Any] = {
            m: Precomputed(x, max_len=padded.get(m), identity=ident) for m, x in feats.items()
        }
        meta = {"where": f"{path.name}[{split}]", "non_finite_replaced": bad}
        yield Item(item_id, split, label, inputs, meta)


def _padded_lengths(data: dict[str, Any]) -> dict[str, int]:
    """Per modality the pickle's padded sequence length (the longest a sequence can be)."""
    out: dict[str, int] = {}
    for k, part in data.items():
        if normalise_split(k) and isinstance(part, dict):
            for m in MODALITY_KEYS:
                if m in part:
                    out[m] = max(out.get(m, 1), int(np.asarray(part[m]).shape[1]))
    return out


def scan_pickle(path: Path, task: TaskInfo, modalities: list[str] | None, where: str) -> Iterator[Event]:
    data = load_pickle(path, trusted=True)  # the caller checked trust_pickle
    check_label_set(path, data, task, where)
    for item in pickle_items(path, data, task, modalities):
        yield ("item", item, [])


def convert_pickle(path: Path, out: Path, trusted: bool, shard_size: int = 256) -> dict[str, Any]:
    """Convert an MMSA/MulT pickle into a feature store (once) through the extraction engine; the
    label set is read from the file. Returns a summary.

    Fingerprint per modality (written by the engine): {"input": "precomputed", "key": "audio",
    "source": "mmsa-pickle", "file_sha256": ...}: no "modality" key, since these features come
    from no installed sseft encoder. Resumable: items already in the store are skipped (the store
    refuses a different file).
    """
    from sseft.core.extraction.distributed import DistContext
    from sseft.core.extraction.engine import extract_items

    data = load_pickle(path, trusted)
    task = pickle_task(data)
    items = list(pickle_items(path, data, task, None))
    mods = [m for m in MODALITY_KEYS if any(m in it.inputs for it in items)]
    if not mods:
        raise DataError(f"{path}: none of {', '.join(MODALITY_KEYS)} found in the pickle")
    source = {"source": "mmsa-pickle", "file": path.name, "file_sha256": sha256_file(path)}
    res = extract_items(
        items, task, dict.fromkeys(mods), out, shard_size=shard_size, source=source, progress=False,
        ctx=DistContext(),
    )  # fmt: skip
    splits: dict[str, int] = {}
    for it in items:
        splits[it.split] = splits.get(it.split, 0) + 1
    return {
        "added": res.done, "skipped": res.skipped, "failed": res.failed, "splits": splits,
        "non_finite_replaced": sum(int(it.meta.get("non_finite_replaced", 0)) for it in items),
        "task": {"type": task.type, "label_names": list(task.label_names)},
    }  # fmt: skip
