"""What a user hands the Predictor: one item's inputs (`sseft predict --text/--audio/--input`) or a
manifest's rows (`sseft predict --manifest`), turned into the inputs `Predictor.predict_items` and
`predict_rows` take. The manifest is read by the `manifest` dataset plugin, found through the plugin
manager (the same CSV/JSONL format `sseft extract --dataset manifest` reads).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError

if TYPE_CHECKING:
    from .predictor import Predictor


def item_inputs(
    text: str | None = None,
    text_file: Path | None = None,
    audio: Path | None = None,
    video: Path | None = None,
    extra: Iterable[str] = (),
) -> dict[str, Any]:
    """One item's raw inputs by kind: text (inline or read from `text_file`), audio, video, and
    `KIND=VALUE` inputs of kinds plugins declare (`eeg=rec.npy`)."""
    if text is not None and text_file is not None:
        raise ConfigError("give --text or --text-file, not both")
    if text_file is not None:
        if not text_file.is_file():
            raise DataError(f"{text_file}: text file not found")
        text = text_file.read_text(encoding="utf-8").strip()
    for flag, path in (("--audio", audio), ("--video", video)):
        if path is not None and not Path(path).is_file():  # before any model or encoder is built
            raise DataError(f"{path}: {flag} file not found; check the path")
    raw: dict[str, Any] = {
        k: v for k, v in (("text", text), ("audio", audio), ("video", video)) if v is not None
    }
    for item in extra:
        kind, sep, value = item.partition("=")
        if not sep or not kind.strip():
            raise ConfigError(f"--input {item!r}: expected KIND=VALUE, e.g. eeg=recording.npy")
        raw[kind.strip()] = value
    return raw


def manifest_rows(predictor: Predictor, manifest: Path) -> tuple[list[Any], list[str]]:
    """The manifest's rows as RowInputs (inputs by modality name or input kind) + extra output columns.

    Format as the `manifest` dataset plugin reads it (CSV or JSONL, `id` column, relative paths against
    the manifest's folder); `split` and labels are optional here, a `label` column is copied to `true_label`.
    """
    from ..plugins import get_dataset
    from .batch import RowInput

    plugin = get_dataset("manifest")
    columns, rows = plugin.rows(plugin.config_model(root=manifest))
    if "id" not in columns:
        raise DataError(f"{manifest}: no column 'id' (columns: {', '.join(columns)}); one unique id per item")
    kinds = predictor.input_kinds()
    text_cols = {"text", *(m for m, ks in kinds.items() if ks[0] == "text")}
    usable = set(kinds) | {k for ks in kinds.values() for k in ks}
    cols = [c for c in columns if c in usable]
    if not cols:
        raise DataError(
            f"{manifest}: no column this model reads (columns: {', '.join(columns)}; "
            f"expected some of {', '.join(sorted(usable))})"
        )
    extra = ["true_label"] if "label" in columns else []
    out = []
    for line, rec in rows:
        item_id = str(rec.get("id") or "").strip()
        if not item_id:
            out.append(RowInput(id=f"{manifest.name}:line{line}", error=f"line {line}: empty id"))
            continue
        inputs = _row_inputs(rec, cols, text_cols, kinds, manifest.parent)
        if extra:
            inputs["_extra"] = {"true_label": rec.get("label", "")}
        out.append(RowInput(id=item_id, inputs=inputs))
    return out, extra


def _row_inputs(
    rec: dict[str, Any], cols: list[str], text_cols: set[str], kinds: dict[str, Any], base: Path
) -> dict[str, Any]:
    """One row's non-empty cells: text inline, paths against the manifest's folder."""
    inputs: dict[str, Any] = {}
    for c in cols:
        v = rec.get(c)
        if v is None or not str(v).strip():
            continue
        if c in text_cols:
            inputs[c] = str(v)
        else:
            p = Path(str(v).strip()).expanduser()
            inputs[c] = p if p.is_absolute() else base / p
    for c in cols:  # a `face` column holding a video also feeds `video` readers (speech's audio track)
        first = kinds.get(c, ("",))[0]
        if c in inputs and first and first != c and first not in inputs and first not in text_cols:
            inputs[first] = inputs[c]
    return inputs
