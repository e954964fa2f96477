"""CMU-MOSI and CMU-MOSEI: one module registering both names, three on-disk sources.

- `source: raw` (default): `label.csv` (video_id, clip_id, text, label, ..., mode) and clips at
  `Raw/<video_id>/<clip_id>.mp4`, as MMSA distributes them. Ids are `video$_$clip`, the MMSA
  convention, so items from the raw layout and from MMSA's pickles share ids.
- `source: pickle`: MMSA `unaligned_50.pkl` / MulT `*_data_noalign.pkl` precomputed features.
  A pickle can run arbitrary code when loaded, so it is read ONLY with `trust_pickle: true`; the
  better path is converting it once (`sseft convert pickle FILE --out STORE --trust-pickle`) into
  the safetensors feature store. Items carry numpy arrays under `text`, `audio`, `vision`.
- `source: csd`: CMU Multimodal SDK computational sequences (HDF5 via h5py): a labels `.csd`
  (MOSEI order: sentiment, happy, sad, anger, surprise, disgust, fear) and feature `.csd` files
  per modality; each labelled segment gets the feature frames that overlap its interval. Splits
  come from `csd_splits` (JSON {"train": [video ids], ...}, e.g. dumped from the SDK's
  standard_folds) or from `label.csv` under root.
Labels: sentiment regression (float in [-3, 3]); MOSEI `labels: emotions` is multilabel over the
six emotions, an emotion present when its score is > 0 (csd source only: label.csv has none).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.errors import DataError
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import Item, TaskInfo

from .common import (
    DataReport,
    Event,
    MissingPolicy,
    items_from_events,
    normalise_split,
    report_from_events,
    require_content,
)

EMOTIONS = ("happy", "sad", "anger", "surprise", "disgust", "fear")
LABEL_COLUMNS = ("video_id", "clip_id", "text", "label", "mode")
PICKLE_REFUSAL = (
    "{path} is a Python pickle: loading it can run arbitrary code hidden in the file, so sseft never "
    "loads one silently. If you trust its origin, {how}, or better convert it once into the safe "
    "feature store: `sseft convert pickle {path} --out STORE --trust-pickle`"
)
# The opt-in of a dataset config; `sseft data` and `sseft extract` both take `--set FIELD=VALUE`.
DATASET_OPT_IN = "set trust_pickle: true in the dataset config (--set trust_pickle=true)"


class CmuConfig(StrictModel):
    root: Path = Field(description="folder holding label.csv and Raw/ (raw), the pickle or the .csd files")
    source: Literal["raw", "pickle", "csd"] = "raw"
    labels: Literal["sentiment", "emotions"] = "sentiment"
    modalities: list[str] | None = Field(
        default=None, description="raw: text/speech/face; pickle: text/audio/vision"
    )
    missing_media: MissingPolicy = "partial"
    # pickle source
    pickle: Path | None = Field(default=None, description="the .pkl file (relative paths: under root)")
    trust_pickle: bool = False
    # csd source
    csd_labels: Path | None = None
    csd_features: dict[str, Path] = Field(default_factory=dict)
    csd_splits: Path | None = None
    probe_media: bool = False


def _csd_label_width(config: CmuConfig) -> int:
    """Label values per segment in the .csd labels file (7 for the SDK's MOSEI labels); 0 when unknown."""
    if config.csd_labels is None:
        return 0
    from .cmu_csd import label_width

    return label_width(resolve(Path(config.root), config.csd_labels))


def resolve(root: Path, p: Path) -> Path:
    return p if p.is_absolute() else root / p


def require_trusted(path: Path, trusted: bool, how: str = DATASET_OPT_IN) -> None:
    """Refuse, before the file is even opened, to unpickle without the explicit opt-in; `how`
    says how to give it where the refusal is shown."""
    if not trusted:
        raise DataError(PICKLE_REFUSAL.format(path=path, how=how))


class CmuDataset:
    config_model = CmuConfig

    def __init__(self, name: Literal["mosi", "mosei"]) -> None:
        self.name = name

    def task(self, config: CmuConfig) -> TaskInfo:
        if config.labels == "emotions" and self.name != "mosei":
            raise DataError(f"{self.name}: has no emotion labels; use labels: sentiment")
        sentiment, emotions = TaskInfo("regression", ("sentiment",)), TaskInfo("multilabel", EMOTIONS)
        if self.name == "mosei" and config.source == "csd" and _csd_label_width(config) >= 1 + len(EMOTIONS):
            # The SDK's MOSEI labels hold sentiment and the six emotions: one extraction serves both
            # label sets (`labels` picks the default one), as for MELD.
            return TaskInfo.several(config.labels, {"sentiment": sentiment, "emotions": emotions})
        return emotions if config.labels == "emotions" else sentiment

    def items(self, config: CmuConfig) -> Iterator[Item]:
        yield from items_from_events(self.scan(config), config.missing_media)

    def check(self, config: CmuConfig) -> DataReport:
        rep = report_from_events(self.name, self.task(config), self.scan(config), config.missing_media)
        if config.probe_media and config.source == "raw":
            from ._media import probe_items

            rep.problems.extend(
                probe_items(self.items(config.model_copy(update={"missing_media": "partial"})), rep.notes)
            )
        return rep

    def scan(self, config: CmuConfig) -> Iterator[Event]:
        root = Path(config.root)
        if not root.is_dir():
            raise DataError(f"{root}: {self.name} root folder not found")
        task = self.task(config)
        if config.source == "pickle":
            if config.pickle is None:
                raise DataError(f"{self.name}: source: pickle needs pickle: FILE (e.g. unaligned_50.pkl)")
            path = resolve(root, config.pickle)
            require_trusted(path, config.trust_pickle)
            from .cmu_pickle import scan_pickle

            yield from scan_pickle(path, task, config.modalities, f"{self.name} labels={config.labels}")
        elif config.source == "csd":
            from .cmu_csd import scan_csd

            yield from scan_csd(self.name, config, task)
        else:
            if config.labels == "emotions":
                raise DataError(
                    f"{root / 'label.csv'}: holds sentiment only; MOSEI emotions need source: csd with csd_labels"
                )
            yield from scan_label_csv(root, config.modalities or ["text", "speech", "face"])


def read_label_csv(path: Path) -> tuple[csv.DictReader, str]:
    if not path.is_file():
        raise DataError(
            f"{path}: label.csv not found; the raw layout is label.csv + Raw/<video_id>/<clip_id>.mp4"
        )
    text = path.read_bytes().decode("utf-8-sig", errors="replace")
    require_content(path, text, f"a header ({', '.join(LABEL_COLUMNS)}, ...) and one row per clip")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    lacking = [c for c in LABEL_COLUMNS if c not in (reader.fieldnames or [])]
    if lacking:
        raise DataError(
            f"{path}: line 1: header lacks column(s) {', '.join(lacking)}; expected {', '.join(LABEL_COLUMNS)}, ..."
        )
    return reader, text


def scan_label_csv(root: Path, modalities: list[str]) -> Iterator[Event]:
    """label.csv rows -> items with text from the CSV and speech/face from the clip."""
    path = root / "label.csv"
    reader, _ = read_label_csv(path)
    media = [m for m in modalities if m != "text"]
    for row in reader:
        line = reader.line_num
        if None in row or any(v is None for v in row.values()):
            yield ("problem", f"{path}: line {line}: wrong number of fields; quote texts that contain commas")
            continue
        split = normalise_split(row["mode"])
        if split is None:
            yield (
                "problem",
                f"{path}: line {line}: column mode: {row['mode']!r} is not train, valid or test",
            )
            continue
        try:
            label = float(row["label"])
            if not math.isfinite(label):
                raise ValueError
        except ValueError:
            yield (
                "problem",
                f"{path}: line {line}: column label: {row['label']!r} is not a number in [-3, 3]",
            )
            continue
        vid, clip = row["video_id"].strip(), row["clip_id"].strip()
        if not vid or not clip:
            yield ("problem", f"{path}: line {line}: empty video_id or clip_id")
            continue
        mp4 = root / "Raw" / vid / f"{clip}.mp4"
        inputs: dict[str, object] = {}
        if "text" in modalities:
            inputs["text"] = row["text"]
        for m in media:
            inputs[m] = mp4
        absent = [(m, mp4) for m in media] if media and not mp4.is_file() else []
        meta = {"where": f"label.csv line {line}", "video_id": vid, "clip_id": clip}
        for k in ("label_T", "label_A", "label_V", "annotation"):
            if row.get(k) not in (None, ""):
                meta[k] = row[k]
        yield ("item", Item(f"{vid}$_${clip}", split, label, inputs, meta), absent)


MOSI = CmuDataset("mosi")
MOSEI = CmuDataset("mosei")


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register(MOSI)
    register(MOSEI)


@hookimpl
def register_commands(register) -> None:  # type: ignore[no-untyped-def]
    from .cmu_commands import convert_pickle_cmd  # click only

    register(convert_pickle_cmd, group="convert")
