"""CMU Multimodal SDK computational sequences (`.csd`, HDF5) read with h5py.

A `.csd` holds one top-level group (the sequence name) with `data/<video_id>/features` (m, n)
and `data/<video_id>/intervals` (m, 2, seconds) plus `metadata/*`. The labels file has one row
per labelled segment: item id `video_id[k]` (the SDK's naming), label row k. Keys that are
already segments (`video_id[3]`, as written by the SDK after alignment) are used as they are.
Each modality's frames for a segment are those whose interval overlaps the segment's interval;
a segment with no overlapping frame lacks that modality (reported, policy `missing_media`).

Word sequences (`CMU_MOSI_TimestampedWords.csd`: features are byte strings, one word per row, `sp`
for silence) are text, never cast to float: a segment's overlapping words are joined with spaces
into one string for the text modality (`csd_features: {words: ...}` or `{text: ...}` feed `text`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sseft.core.errors import DataError
from sseft.core.protocols import Item, TaskInfo

from .common import Event, normalise_split, require_content

WORD_KEYS = ("words", "text")  # csd_features keys whose word sequences feed the text modality
SILENCE = {"sp", "sil", ""}  # the SDK's silence / padding tokens in word sequences


def open_csd(path: Path):  # type: ignore[no-untyped-def]
    """(h5py file, the group holding `data`)."""
    import h5py

    if not path.is_file():
        raise DataError(f"{path}: .csd file not found")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DataError(f"{path}: not a readable HDF5 computational sequence ({e})") from None
    if "data" in f:
        return f, f
    for key in f:
        if isinstance(f[key], h5py.Group) and "data" in f[key]:
            return f, f[key]
    f.close()
    raise DataError(f"{path}: no 'data' group (expected <name>/data/<video_id>/features and intervals)")


def label_width(path: Path) -> int:
    """Values per labelled segment of a labels .csd (its first video's feature width); 0 if unreadable."""
    if not path.is_file():
        return 0
    try:
        f, g = open_csd(path)
    except DataError:
        return 0
    try:
        for key in g["data"]:
            shape = g["data"][key]["features"].shape
            return int(shape[1]) if len(shape) == 2 else 1
        return 0
    finally:
        f.close()


def video_splits(root: Path, splits_file: Path | None) -> dict[str, str]:
    """video_id -> train/valid/test, from a JSON folds file or from label.csv's mode column."""
    if splits_file is not None:
        p = splits_file if splits_file.is_absolute() else root / splits_file
        try:
            folds = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise DataError(
                f'{p}: cannot read the splits JSON ({e}); expected {{"train": [video ids], ...}}'
            ) from None
        out = {}
        for name, vids in folds.items():
            split = normalise_split(name)
            if split is None or not isinstance(vids, list):
                raise DataError(
                    f"{p}: key {name!r}: expected train/valid/test mapping to a list of video ids"
                )
            out.update({str(v): split for v in vids})
        return out
    label_csv = root / "label.csv"
    if not label_csv.is_file():
        raise DataError(
            f'{root}: .csd files carry no split; set csd_splits: FILE.json ({{"train": [video ids], ...}}, '
            "e.g. the SDK's standard_folds) or put MMSA's label.csv under root"
        )
    text = label_csv.read_text(encoding="utf-8-sig")
    require_content(label_csv, text, "a header with video_id and mode, one row per clip")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = {}
    for row in reader:
        split = normalise_split(row.get("mode") or "")
        if split and row.get("video_id"):
            out[row["video_id"].strip()] = split
    return out


def scan_csd(name: str, config: Any, task: TaskInfo) -> Iterator[Event]:
    root = Path(config.root)
    if config.csd_labels is None:
        raise DataError(f"{name}: source: csd needs csd_labels: FILE.csd (e.g. CMU_MOSEI_Labels.csd)")
    if not config.csd_features:
        raise DataError(
            f"{name}: source: csd needs csd_features: {{modality: FILE.csd}} (e.g. text: glove.csd)"
        )
    splits = video_splits(root, config.csd_splits)
    lab_path = config.csd_labels if config.csd_labels.is_absolute() else root / config.csd_labels
    lab_file, labels = open_csd(lab_path)
    feats = {}
    try:
        for m, p in config.csd_features.items():
            f, g = open_csd(p if p.is_absolute() else root / p)
            # a word sequence given as `words` feeds the text modality
            feats["text" if m in WORD_KEYS and is_word_csd(g) else m] = (f, g)
        outside = 0
        for key in sorted(labels["data"]):
            vid = key.split("[", 1)[0]
            split = splits.get(vid)
            grp = labels["data"][key]
            y = np.asarray(grp["features"], dtype=np.float64)  # (m, n_labels)
            iv = np.asarray(grp["intervals"], dtype=np.float64).reshape(-1, 2)  # (m, 2) seconds
            if split is None:
                outside += len(y)
                continue
            for k in range(len(y)):
                item_id = key if ("[" in key and len(y) == 1) else f"{key}[{k}]"
                sets = task.sets() or {task.name or "default": task}
                values = {n: _label(y[k], t, lab_path, key) for n, t in sets.items()}
                label = values[task.name] if task.name in values else next(iter(values.values()))
                inputs: dict[str, np.ndarray | str | None] = {}
                absent: list[tuple[str, str]] = []
                bad = 0
                for m, (_, g) in feats.items():
                    x, n_bad = _frames(g, vid if vid in g["data"] else key, iv[k])
                    if x is None:
                        what = "words" if _is_text_dataset_of(g, vid, key) else "frames"
                        absent.append((m, f"no {m} {what} in [{iv[k][0]:.2f}, {iv[k][1]:.2f}] s"))
                        inputs[m] = None
                    else:
                        inputs[m], bad = x, bad + n_bad
                meta = {"where": f"{lab_path.name}:{key}[{k}]", "video_id": vid, "start": float(iv[k][0]),
                        "end": float(iv[k][1]), "non_finite_replaced": bad}  # fmt: skip
                item = Item(item_id, split, label, inputs, meta, labels=values if task.sets() else {})
                yield ("item", item, absent)
        if outside:
            yield ("note", f"{outside} labelled segments belong to videos outside every split: skipped")
    finally:
        lab_file.close()
        for f, _ in feats.values():
            f.close()


def _label(row: np.ndarray, task: TaskInfo, path: Path, key: str) -> Any:
    if task.type == "multilabel":
        if row.shape[0] < 7:
            raise DataError(
                f"{path}: {key}: {row.shape[0]} label values; MOSEI emotions need 7 (sentiment + 6)"
            )
        return [int(v > 0) for v in row[1:7]]
    return float(row[0])


def _is_text_dataset_of(group: Any, vid: str, key: str) -> bool:
    data = group["data"]
    k = vid if vid in data else key
    return k in data and _is_text_dataset(data[k]["features"])


def is_word_csd(group: Any) -> bool:
    """True when the sequence's features are strings (a word sequence), not numbers."""
    for key in group["data"]:
        return _is_text_dataset(group["data"][key]["features"])
    return False


def _is_text_dataset(ds: Any) -> bool:
    import h5py

    return ds.dtype.kind in "SUO" or h5py.check_string_dtype(ds.dtype) is not None


def _words(ds: Any, sel: np.ndarray) -> str:
    """The selected rows of a word sequence as one string (silence tokens left out)."""
    rows = np.asarray(ds[()], dtype=object).reshape(len(sel), -1)[sel]
    out = []
    for row in rows:
        for w in row:
            w = w.decode("utf-8", errors="replace") if isinstance(w, bytes) else str(w)
            if w.strip().lower() not in SILENCE:
                out.append(w.strip())
    return " ".join(out)


def _frames(group: Any, key: str, interval: np.ndarray) -> tuple[np.ndarray | str | None, int]:
    """Frames of `key` overlapping `interval` as (L, D) float32 (non-finite -> 0), or the words
    they hold joined into one string (a word sequence), or None when no frame overlaps."""
    if key not in group["data"]:
        return None, 0
    g = group["data"][key]
    iv = np.asarray(g["intervals"], dtype=np.float64).reshape(-1, 2)
    sel = (iv[:, 0] < interval[1]) & (iv[:, 1] > interval[0])
    if not sel.any():
        return None, 0
    if _is_text_dataset(g["features"]):
        text = _words(g["features"], sel)
        return (text or None), 0
    x = np.asarray(g["features"], dtype=np.float32)[sel]  # (L, D)
    finite = np.isfinite(x)
    n_bad = int((~finite).sum())
    if n_bad:
        x[~finite] = 0.0
    return x, n_bad
