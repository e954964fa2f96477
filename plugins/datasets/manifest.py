"""The generic manifest: CSV or JSONL, one row per item, for everyone else's data.

    id,split,label,text,speech,face
    u1,train,happy,"I love it, really",clips/u1.wav,clips/u1.mp4
    u2,dev,sad,"Oh, no.",clips/u2.wav,clips/u2.mp4

- `id` unique; `split` train / valid / test (dev, val, validation accepted, normalised to valid).
- Labels, per `task`: multiclass: one column of class names (`label_names` fixes their order,
  otherwise the sorted distinct values); regression: one or more float columns; multilabel:
  several 0/1 columns (one per label) or one column holding a list (JSONL) or `a;b` names (CSV).
- One column per modality: inline text, or a path (relative to the manifest's folder) to a file
  with a suffix some installed modality plugin reads (its `suffixes`; .npy/.safetensors arrays
  always). Columns map to modalities by name, by alias (`audio`/`wav` -> speech, `video` -> face
  and speech from its audio track) or by `columns: {my_col: speech}`; see manifest_columns.py.
  .npy/.safetensors cells are precomputed (L, D) features (`Precomputed`, never unpickled).
- An empty cell: the item lacks that modality (`missing_media: partial` keeps it without, `error`
  makes it a per-item failure with that reason). A named file that does not exist is a missing
  file (`error`: stop; `partial`: keep the item without; `drop`). Both name the manifest line.
Every error names the manifest, the line, the column and the expected form.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import logging
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.errors import DataError
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import Item, Precomputed, TaskInfo

from .common import (
    DataReport,
    Event,
    MissingPolicy,
    items_from_events,
    normalise_split,
    report_from_events,
    require_content,
)
from .manifest_columns import (
    ARRAY_FILES,
    column_kind,
    file_suffixes,
    installed_modalities,
    is_precomputed,
    load_array,
    map_columns,
)
from .manifest_dialogues import conversation_columns, read_turns

log = logging.getLogger(__name__)

Row = tuple[int, dict[str, Any]]  # (line number, values by column)


class ManifestConfig(StrictModel):
    root: Path = Field(
        description="the manifest file (.csv or .jsonl); relative paths inside resolve against its folder"
    )
    format: Literal["auto", "csv", "jsonl"] = "auto"
    id_column: str = "id"
    split_column: str = "split"
    task: Literal["multiclass", "regression", "multilabel"] = "multiclass"
    label_columns: list[str] = Field(default_factory=lambda: ["label"], min_length=1)
    label_names: list[str] | None = None
    # modality name -> what its column holds; None: every other column, kind detected per column.
    modalities: dict[str, Literal["auto", "text", "file"]] | None = None
    columns: dict[str, str] | None = Field(
        default=None, description="column -> modality it feeds ('meta': item meta, 'ignore': left out)"
    )
    meta_columns: list[str] = Field(default_factory=list, description="columns kept as item meta")
    missing_media: MissingPolicy = "error"
    probe_media: bool = Field(default=False, description="check only: open every media file with PyAV")


def read_rows(config: ManifestConfig) -> tuple[list[str], list[Row]]:
    """Columns and rows of the manifest; a file that cannot be parsed is one DataError naming the line."""
    path = Path(config.root)
    if not path.is_file():
        raise DataError(f"{path}: manifest not found; pass a .csv or .jsonl file")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad_line = raw[: e.start].count(b"\n") + 1
        raise DataError(
            f"{path}: line {bad_line}: not valid UTF-8 ({e.reason}); save the manifest as UTF-8"
        ) from None
    require_content(path, text, "a header line (id,split,label,...) and one row per item")
    fmt = config.format
    if fmt == "auto":
        fmt = "jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv"
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        columns = list(reader.fieldnames or [])
        rows: list[Row] = []
        for rec in reader:
            if None in rec:
                raise DataError(
                    f"{path}: line {reader.line_num}: {len(columns) + len(rec[None])} fields where the header has "
                    f"{len(columns)}; quote values that contain commas"
                )
            if any(v is None for v in rec.values()):
                n = sum(v is not None for v in rec.values())
                raise DataError(
                    f"{path}: line {reader.line_num}: {n} fields where the header has {len(columns)}"
                )
            rows.append((reader.line_num, dict(rec)))
        if not rows:
            raise DataError(
                f"{path}: only a header line ({', '.join(columns)}), no rows; add one row per item"
            )
        return columns, rows
    columns, rows = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(
                f"{path}: line {n}: not valid JSON ({e.msg} at column {e.colno}); one object per line"
            ) from None
        if not isinstance(rec, dict):
            raise DataError(
                f'{path}: line {n}: expected a JSON object {{"id": ..., "split": ...}}, got {type(rec).__name__}'
            )
        columns.extend(k for k in rec if k not in columns)
        rows.append((n, rec))
    return columns, rows


def modality_sources(
    config: ManifestConfig, columns: list[str], rows: list[Row]
) -> dict[str, tuple[str, str]]:
    """modality -> (column, 'text' | 'file' | 'array'), for the installed modality plugins
    ('array': .npy/.safetensors files of precomputed features, stored as they are)."""
    installed = installed_modalities()
    reserved = {config.id_column, config.split_column, *config.label_columns}
    values = {c: [str(r[c]) for _, r in rows if r.get(c) not in (None, "")] for c in columns}
    arrays = {
        c for c in columns if c not in reserved and column_kind("auto", values[c], ARRAY_FILES) == "file"
    }
    mapped = map_columns(
        Path(config.root),
        columns,
        reserved,
        config.columns,
        config.meta_columns,
        config.modalities,
        installed,
        arrays,
    )
    suffixes = file_suffixes(installed)
    out = {}
    for m, (col, kind) in mapped.items():
        kind = column_kind(kind, values[col], suffixes)
        if kind == "file" and col in arrays and is_precomputed(m, installed):
            kind = "array"  # precomputed features, stored as they are
        out[m] = (col, kind)
    return out


class ManifestDataset:
    name = "manifest"
    config_model = ManifestConfig

    def task(self, config: ManifestConfig) -> TaskInfo:
        if config.task == "multiclass":
            if len(config.label_columns) != 1:
                raise DataError(
                    f"{config.root}: multiclass needs exactly one label column, got {config.label_columns}"
                )
            names = config.label_names
            if names is None:
                _, rows = read_rows(config)
                col = config.label_columns[0]
                names = sorted({str(r[col]).strip() for _, r in rows if r.get(col) not in (None, "")})
                if not names:
                    raise DataError(f"{config.root}: column {col!r} holds no labels; expected class names")
            return TaskInfo("multiclass", tuple(names))
        if config.task == "multilabel" and len(config.label_columns) == 1:
            if not config.label_names:
                raise DataError(
                    f"{config.root}: multilabel with one label column needs label_names (or one 0/1 column per label)"
                )
            return TaskInfo("multilabel", tuple(config.label_names))
        return TaskInfo(config.task, tuple(config.label_names or config.label_columns))

    def items(self, config: ManifestConfig) -> Iterator[Item]:
        yield from items_from_events(self.scan(config), config.missing_media)

    def rows(self, config: ManifestConfig) -> tuple[list[str], list[Row]]:
        """(columns, [(line, row)]) as read, no labels or media checked (`sseft predict --manifest`)."""
        return read_rows(config)

    def check(self, config: ManifestConfig) -> DataReport:
        rep = report_from_events(
            self.name, self.task(config), self.scan(config, warn=False), config.missing_media
        )
        if config.probe_media:
            from ._media import probe_items

            kept = items_from_events(self.scan(config, warn=False), "partial")
            rep.problems.extend(probe_items(kept, rep.notes))
        return rep

    def scan(self, config: ManifestConfig, warn: bool = True) -> Iterator[Event]:
        path = Path(config.root)
        columns, rows = read_rows(config)
        for col in (config.id_column, config.split_column, *config.label_columns):
            if col not in columns:
                raise DataError(
                    f"{path}: no column {col!r} (columns: {', '.join(columns)}); rename it or set the *_column option"
                )
        sources = modality_sources(config, columns, rows)
        if not sources:
            raise DataError(
                f"{path}: no modality columns besides id, split and labels (columns: {', '.join(columns)})"
            )
        yield ("note", "modality columns: " + ", ".join(f"{m} <- {c} ({k})" for m, (c, k) in sources.items()))
        task = self.task(config)
        if task.type == "multiclass" and config.label_names is None:
            note = _inferred_classes_note(config, rows)
            if warn:  # a job; `check` shows it among its notes instead
                log.warning("%s", note)
            yield ("note", note)
        suffixes = file_suffixes(installed_modalities())
        used = {c for c, _ in sources.values()} | {
            c for c, t in (config.columns or {}).items() if t == "ignore"
        }
        base = path.parent
        conv = read_turns(path, conversation_columns(columns, config.columns), rows)
        for msg in conv.notes:
            yield ("note", msg)
        for msg in conv.problems:
            yield ("problem", msg)
        for line, row in rows:
            where = f"{path.name} line {line}"
            if line in conv.bad_lines:
                continue  # its conversation cells are wrong (reported above)
            try:
                item_id, split, label = self._keys(config, task, row)
            except ValueError as e:
                yield ("problem", f"{path}: line {line}: {e}")
                continue
            inputs: dict[str, Any] = {}
            absent: list[tuple[str, Any]] = []
            bad = None
            for m, (col, kind) in sources.items():
                v = row.get(col)
                if v is None or (isinstance(v, str) and not v.strip()):
                    absent.append((m, f"empty cell in column {col}"))
                    continue
                if kind == "text":
                    inputs[m] = str(v)
                    continue
                p = Path(str(v).strip()).expanduser()
                if not p.name.lower().endswith(suffixes):
                    bad = (
                        f"column {col}: {str(v)!r} is not a media file any installed modality reads; "
                        f"expected a path ending in {', '.join(suffixes)}"
                    )
                    break
                p = p if p.is_absolute() else base / p
                inputs[m] = p
                if not p.is_file():
                    absent.append((m, p))
                elif kind == "array":
                    try:
                        inputs[m] = Precomputed(load_array(p), identity={"source": "manifest", "column": col})
                    except ValueError as e:
                        bad = f"column {col}: {e}"
                        break
            if bad:
                yield ("problem", f"{path}: line {line}: {bad}")
                continue
            extra = {
                k: v
                for k, v in row.items()
                if k not in used and k not in (config.id_column, config.split_column)
            }
            if line in conv.turns:  # typed (turn an int), whatever the file's cells held
                extra |= conv.turns[line].meta()
            yield ("item", Item(item_id, split, label, inputs, {"where": where, **extra}), absent)

    @staticmethod
    def _keys(config: ManifestConfig, task: TaskInfo, row: dict[str, Any]) -> tuple[str, str, Any]:
        """id, normalised split and label of one row; ValueError('column X: ... expected ...')."""
        raw_id = row.get(config.id_column)
        if raw_id is None or not str(raw_id).strip():
            raise ValueError(f"column {config.id_column}: empty; expected a unique item id")
        raw_split = row.get(config.split_column)
        split = normalise_split(str(raw_split)) if raw_split is not None else None
        if split is None:
            raise ValueError(
                f"column {config.split_column}: {raw_split!r} is not a split; expected train, valid (dev) or test"
            )
        return str(raw_id).strip(), split, parse_label(config, task, row)


def parse_label(config: ManifestConfig, task: TaskInfo, row: dict[str, Any]) -> Any:
    """The row's label in the contract's form (int index / float(s) / list of 0/1)."""
    cols = config.label_columns
    if task.type == "multiclass":
        col, v = cols[0], row.get(cols[0])
        s = str(v).strip() if v is not None else ""
        if s in task.label_names:
            return task.label_names.index(s)
        if s.isdigit() and int(s) < len(task.label_names):
            return int(s)
        raise ValueError(f"column {col}: {v!r} is not a class; expected one of {', '.join(task.label_names)}")
    if task.type == "regression":
        out = []
        for c in cols:
            try:
                f = float(row.get(c))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValueError(
                    f"column {c}: {row.get(c)!r} is not a number; expected a float such as -1.5"
                ) from None
            if not math.isfinite(f):
                raise ValueError(f"column {c}: {row.get(c)!r} is not finite; expected a float")
            out.append(f)
        return out[0] if len(out) == 1 else out
    # multilabel
    if len(cols) > 1:
        vec = []
        for c in cols:
            s = str(row.get(c)).strip().lower()
            if s in ("1", "1.0", "true", "yes"):
                vec.append(1)
            elif s in ("0", "0.0", "false", "no"):
                vec.append(0)
            else:
                raise ValueError(
                    f"column {c}: {row.get(c)!r} is not 0/1; expected 0 or 1 (one column per label)"
                )
        return vec
    v = row.get(cols[0])
    names = list(task.label_names)
    if (
        isinstance(v, list)
        and all(x in (0, 1) for x in v)
        and len(v) == len(names)
        and not all(isinstance(x, str) for x in v)
    ):
        return [int(x) for x in v]
    parts = v if isinstance(v, list) else [p.strip() for p in str(v or "").split(";") if p.strip()]
    unknown = [p for p in parts if p not in names]
    if unknown:
        raise ValueError(
            f"column {cols[0]}: {unknown[0]!r} is not a label; expected ';'-separated names from {', '.join(names)}"
        )
    return [int(n in parts) for n in names]


def _inferred_classes_note(config: ManifestConfig, rows: list[Row]) -> str:
    """label_names unset: the classes are whatever the column holds, so a typo is a class of its own."""
    col = config.label_columns[0]
    counts = Counter(str(r[col]).strip() for _, r in rows if r.get(col) not in (None, ""))
    listed = ", ".join(f"{k} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    # A typo is a rare value spelled almost like a frequent one (hapy 1 vs happy 40).
    suspects = []
    for k, n in sorted(counts.items()):
        close = difflib.get_close_matches(
            k, [o for o in counts if o != k and counts[o] > n], n=1, cutoff=0.75
        )
        if close:
            suspects.append(f"{k!r} looks like {close[0]!r}")
    hint = f" ({'; '.join(suspects)}: a typo?)" if suspects else ""
    return (
        f"{config.root}: label_names not set, so the {len(counts)} classes are the distinct values of column "
        f"{col}: {listed}{hint}; set label_names to fix the classes and their order"
    )


MANIFEST = ManifestDataset()


@hookimpl
def register_datasets(register) -> None:  # type: ignore[no-untyped-def]
    register(MANIFEST)
