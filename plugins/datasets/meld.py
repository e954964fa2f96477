"""MELD (Poria et al. 2019) as distributed: three CSVs plus three folders of `diaX_uttY.mp4` clips.

    root/train_sent_emo.csv   root/train_splits/dia0_utt0.mp4 ...
    root/dev_sent_emo.csv     root/dev_splits_complete/...
    root/test_sent_emo.csv    root/output_repeated_splits_test/...

(The clip folders may also sit one level down, as the MELD.Raw tarballs unpack them:
`root/train/train_splits/`.) Text comes from the CSV's `Utterance`; speech and face both come from
the clip (the speech extractor decodes its audio track, the face extractor its frames).

Decisions, all visible in the config:
- Item ids are `<split>_dia<X>_utt<Y>` (the same `dia0_utt0` exists in every split). Utterance ids
  have gaps inside dialogues; nothing here assumes they are contiguous.
- Every item carries both label sets (`labels={"emotion": i, "sentiment": j}`); `labels:` only
  picks the default one, so one extraction serves emotion and sentiment training.
- `dev` is normalised to `valid`. A missing CSV skips its split with a note (the test CSV is often
  not distributed together with the others); no CSV at all is an error.
- Encoding: UTF-8 (a BOM is accepted). `encoding: auto` falls back to cp1252 for files that are not
  valid UTF-8 (re-saved by a spreadsheet program) and says so in the report.
- Mojibake: some copies of MELD carry UTF-8 text that was decoded as cp1252 once ("Iâ€™m" for
  "I’m"). With `fix_mojibake: true` (default) a string containing such marker sequences is
  re-decoded (cp1252 bytes -> UTF-8) when that round trip succeeds; other strings are never
  touched, so clean CSVs (like the public ones checked by the tests) come through byte-identical.
- Rows whose clip is missing are reported by `check` and, per `missing_clip`, dropped, kept
  text-only (default: stored with their text, speech and face empty and listed in the item's meta
  `missing`), or an error naming the clip. Clips that exist but cannot be decoded are found by
  `sseft data check --probe` (decodes every clip's audio track and frames as extraction will);
  during extraction they become per-item failures naming the clip, never a crash.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.errors import DataError
from sseft.core.features.conversation import Turn
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import Item, TaskInfo

from .common import (
    DataReport,
    Event,
    MediaModality,
    all_media_modalities,
    items_from_events,
    normalise_split,
    report_from_events,
)

EMOTIONS = ("neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger")
SENTIMENTS = ("negative", "neutral", "positive")
COLUMNS = (
    "Sr No.", "Utterance", "Speaker", "Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID",
    "Season", "Episode", "StartTime", "EndTime",
)  # fmt: skip
# split -> (csv file, clip folder), in MELD's own names.
FILES = {
    "train": ("train_sent_emo.csv", "train_splits", "train"),
    "valid": ("dev_sent_emo.csv", "dev_splits_complete", "dev"),
    "test": ("test_sent_emo.csv", "output_repeated_splits_test", "test"),
}
MOJIBAKE_MARKERS = ("â€", "Ã", "Â", "â€™")


class MeldConfig(StrictModel):
    root: Path = Field(description="folder holding the three CSVs and the clip folders")
    labels: Literal["emotion", "sentiment"] = "emotion"
    splits: list[str] = Field(default_factory=lambda: ["train", "valid", "test"])
    modalities: list[MediaModality] = Field(default_factory=all_media_modalities, min_length=1)
    missing_clip: Literal["drop", "text_only", "error"] = "text_only"
    encoding: Literal["auto", "utf-8", "cp1252"] = "auto"
    fix_mojibake: bool = True
    probe_clips: bool = Field(default=False, description="check only: open every clip with PyAV")


def fix_mojibake(text: str) -> str:
    """'Iâ€™m' -> 'I’m'; any string without the marker sequences, or whose repair fails, is returned as is."""
    if not any(m in text for m in MOJIBAKE_MARKERS):
        return text
    try:
        return _cp1252_bytes(text).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def _cp1252_bytes(text: str) -> bytes:
    """Inverse of a lenient cp1252 decode: the five bytes cp1252 leaves undefined (0x81, 0x8d,
    0x8f, 0x90, 0x9d; e.g. the last byte of '”' = e2 80 9d) come back from U+0081 ... U+009D."""
    out = bytearray()
    for ch in text:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if ord(ch) in (0x81, 0x8D, 0x8F, 0x90, 0x9D):
                out.append(ord(ch))
            else:
                raise
    return bytes(out)


def read_text(path: Path, encoding: str) -> tuple[str, str | None]:
    """The file's text and a note when a fallback encoding was used."""
    raw = path.read_bytes()
    if encoding == "cp1252":
        return raw.decode("cp1252", errors="replace"), None
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        if encoding == "utf-8":
            raise DataError(
                f"{path}: line {line}: not valid UTF-8 ({e.reason} at byte {e.start}); re-save it as UTF-8 "
                "or set encoding: auto / cp1252"
            ) from None
        note = f"{path.name}: not valid UTF-8 (first bad byte on line {line}); read as cp1252"
        return raw.decode("cp1252", errors="replace"), note


def clip_dir(root: Path, split: str) -> Path:
    """The split's clip folder: directly under root, or one level down as MELD.Raw unpacks."""
    _, folder, orig = FILES[split]
    for cand in (
        root / folder,
        root / orig / folder,
        root / "MELD.Raw" / folder,
        root / "MELD.Raw" / orig / folder,
    ):
        if cand.is_dir():
            return cand
    return root / folder


class MeldDataset:
    name = "meld"
    config_model = MeldConfig

    def task(self, config: MeldConfig) -> TaskInfo:
        """Both label sets; `labels` picks the default one. One extraction serves both."""
        sets = {"emotion": TaskInfo("multiclass", EMOTIONS), "sentiment": TaskInfo("multiclass", SENTIMENTS)}
        return TaskInfo.several(config.labels, sets)

    def items(self, config: MeldConfig) -> Iterator[Item]:
        # text_only: the row is stored with its text, speech and face absent (empty, listed in the
        # item's meta `missing`), as docs/recipes.md says.
        policy = {"text_only": "partial"}.get(config.missing_clip, config.missing_clip)
        hint = "set missing_clip to 'text_only' (keep the text) or 'drop'"
        yield from items_from_events(self.scan(config), policy, hint)  # type: ignore[arg-type]

    def check(self, config: MeldConfig) -> DataReport:
        policy = {"text_only": "partial"}.get(config.missing_clip, config.missing_clip)
        rep = report_from_events(self.name, self.task(config), self.scan(config), policy)  # type: ignore[arg-type]
        if config.probe_clips:
            from ._media import probe_items

            cfg = config.model_copy(update={"missing_clip": "text_only"})
            rep.problems.extend(probe_items(self.items(cfg), rep.notes))
        return rep

    # -- the one reader --------------------------------------------------------------------
    def scan(self, config: MeldConfig) -> Iterator[Event]:
        root = Path(config.root)
        if not root.is_dir():
            raise DataError(f"{root}: MELD root folder not found; pass the folder holding train_sent_emo.csv")
        if not any((root / f[0]).is_file() for f in FILES.values()) and (root / "MELD.Raw").is_dir():
            root = root / "MELD.Raw"  # the parent of the unpacked MELD.Raw folder was given
        splits = []
        for s in config.splits:
            n = normalise_split(s)
            if n is None:
                raise DataError(f"splits: {s!r} is not a split name; use train, valid (dev) or test")
            splits.append(n)
        found = [s for s in splits if (root / FILES[s][0]).is_file()]
        if not found:
            names = ", ".join(FILES[s][0] for s in splits)
            raise DataError(f"{root}: none of {names} found; is this the MELD folder?")
        for split in splits:
            csv_path = root / FILES[split][0]
            if split not in found:
                yield ("note", f"{csv_path.name} not found under {root}: split {split!r} skipped")
                continue
            yield from self._scan_csv(config, split, csv_path, root)

    def _scan_csv(self, config: MeldConfig, split: str, path: Path, root: Path) -> Iterator[Event]:
        text, note = read_text(path, config.encoding)
        if note:
            yield ("note", note)
        if not text.strip():
            yield (
                "problem",
                f"{path}: the file is empty; expected MELD's header ({', '.join(COLUMNS)}) and rows",
            )
            return
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = reader.fieldnames or []
        lacking = [c for c in COLUMNS if c not in header]
        if lacking:
            yield (
                "problem",
                f"{path}: line 1: header lacks column(s) {', '.join(lacking)}; expected {', '.join(COLUMNS)}",
            )
            return
        label_sets = {"emotion": ("Emotion", EMOTIONS), "sentiment": ("Sentiment", SENTIMENTS)}
        clips = clip_dir(root, split)
        media = [m for m in config.modalities if m != "text"]
        if media and not clips.is_dir():
            yield ("note", f"clip folder {clips} not found: every {split} row lacks its clip")
        n_fixed = 0
        for row in reader:
            where = f"{path.name} line {reader.line_num}"
            bad = _row_problem(row, len(header))
            if bad:
                yield ("problem", f"{path}: line {reader.line_num}: {bad}")
                continue
            labels: dict[str, int] = {}
            for set_name, (col, names) in label_sets.items():
                value = row[col].strip().lower()
                if value not in names:
                    yield (
                        "problem",
                        f"{path}: line {reader.line_num}: column {col}: {row[col]!r} is not one of {', '.join(names)}",
                    )
                    break
                labels[set_name] = names.index(value)
            if len(labels) != len(label_sets):
                continue
            dia, utt = int(row["Dialogue_ID"]), int(row["Utterance_ID"])
            utterance = row["Utterance"]
            if config.fix_mojibake:
                fixed = fix_mojibake(utterance)
                n_fixed += fixed != utterance
                utterance = fixed
            clip = clips / f"dia{dia}_utt{utt}.mp4"
            inputs: dict[str, object] = {}
            if "text" in config.modalities:
                inputs["text"] = utterance
            for m in media:
                inputs[m] = clip
            absent = [(m, clip) for m in media] if media and not clip.is_file() else []
            meta = {
                "where": where,
                "dialogue_id": dia,
                "utterance_id": utt,
                # Dialogue ids restart in every split file: the split makes them unique. The
                # utterance id orders the turns (it has gaps: rows the release left out).
                **Turn(f"{split}_dia{dia}", utt, row["Speaker"].strip() or None).meta(),
                "emotion": row["Emotion"].strip().lower(),
                "sentiment": row["Sentiment"].strip().lower(),
                "season": row["Season"],
                "episode": row["Episode"],
                "start": row["StartTime"],
                "end": row["EndTime"],
                "clip": str(clip),
            }
            item_id = f"{split}_dia{dia}_utt{utt}"
            item = Item(item_id, split, labels[config.labels], inputs, meta, labels=labels)
            yield ("item", item, absent)
        if n_fixed:
            yield ("note", f"{path.name}: repaired mojibake in {n_fixed} utterance(s) (fix_mojibake: true)")


def _row_problem(row: dict, n_columns: int) -> str | None:
    """What is wrong with one CSV record (column count, ids), or None."""
    if None in row:  # more fields than header columns: usually an unquoted comma or a stray quote
        return f"{n_columns + len(row[None])} fields where the header has {n_columns}; quote fields that contain commas"
    empty = [c for c in ("Emotion", "Sentiment", "Dialogue_ID", "Utterance_ID") if row.get(c) is None]
    if empty:
        return f"only {sum(v is not None for v in row.values())} fields where the header has {n_columns}"
    for col in ("Dialogue_ID", "Utterance_ID"):
        v = row[col].strip()
        if not v.isdigit():
            return f"column {col}: {row[col]!r} is not a non-negative integer"
    if row["Utterance"] is None or not row["Utterance"].strip():
        return "column Utterance: empty; expected the utterance text"
    return None


MELD = MeldDataset()


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register(MELD)
