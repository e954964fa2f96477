"""Which manifest column feeds which modality (stdlib + pydantic only, like every plugin module).

- a column named after an installed modality feeds it (`text`, `speech`, `face`, `eeg` ...);
- documented aliases: `audio` / `wav` -> speech; `video` -> face and, unless some column already
  feeds speech, speech too (from the video's audio track);
- `columns: {my_col: speech}` maps a column explicitly (`meta` keeps it as item meta, `ignore`
  leaves it out); `group`, `speaker`, `session`, `dialogue`, `turn` and `meta_columns` are item meta
  (`dialogue`, `turn`, `speaker` are checked as conversation structure: manifest_dialogues.py);
- a column of .npy/.safetensors files is precomputed features of the modality it maps to (when
  that plugin does not read arrays itself: speech, face, text) or of a modality named after it;
- any other column is an error listing the columns and the installed modalities, never dropped.
A column holds files when every value ends in a suffix some installed plugin reads (the union of
their `suffixes`, plus .npy/.safetensors arrays), else inline text.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

from sseft.core.errors import DataError

ALIASES = {"audio": "speech", "wav": "speech", "video": "face"}
META_COLUMNS = ("group", "speaker", "session", "dialogue", "turn")
NOT_A_MODALITY = ("meta", "ignore")
ARRAY_FILES = (".npy", ".safetensors")


def installed_modalities() -> dict[str, Any]:
    """name -> modality plugin object, from the plugin manager (entry points)."""
    from sseft.core.plugins import get_manager

    pm = get_manager()
    return {n: pm.get("modality", n) for n in pm.names("modality")}


def file_suffixes(plugins: Mapping[str, Any]) -> tuple[str, ...]:
    """The union of the plugins' declared `suffixes` (optional attribute, default none) + arrays."""
    out: list[str] = []
    for p in plugins.values():
        for s in getattr(p, "suffixes", ()) or ():
            s = str(s).lower()
            s = s if s.startswith(".") else "." + s
            if s not in out:
                out.append(s)
    return tuple(out) + tuple(s for s in ARRAY_FILES if s not in out)


def map_columns(
    path: Path,
    columns: list[str],
    reserved: set[str],
    explicit: Mapping[str, str] | None,
    meta_columns: list[str],
    modalities: Mapping[str, str] | None,
    installed: Mapping[str, Any],
    array_columns: AbstractSet[str] = frozenset(),
) -> dict[str, tuple[str, str]]:
    """modality -> (column, requested kind 'auto'|'text'|'file'). Every error names the manifest,
    the columns and the installed modalities. A column of .npy/.safetensors files
    (`array_columns`) needs no plugin: it is a modality of precomputed features named after it."""
    by_col: dict[str, str] = dict(explicit or {})
    have = ", ".join(columns)
    names = ", ".join(sorted(installed)) or "none"
    for col, to in by_col.items():
        if col not in columns:
            raise DataError(f"{path}: columns maps {col!r}, which the manifest lacks (columns: {have})")
        if to not in installed and to not in NOT_A_MODALITY:
            raise DataError(
                f"{path}: columns maps {col!r} to {to!r}, which is no installed modality "
                f"(installed: {names}; or 'meta' / 'ignore')"
            )
    out: dict[str, tuple[str, str]] = {}

    def feed(modality: str, col: str, kind: str = "auto") -> None:
        if modality in out and out[modality][0] != col:
            raise DataError(
                f"{path}: columns {out[modality][0]!r} and {col!r} both feed modality {modality!r}; "
                "map one of them elsewhere with columns: {COLUMN: meta}"
            )
        out[modality] = (col, kind)

    if modalities is not None:  # explicit modality -> kind; each reads its mapped or same-named column
        by_target = {t: c for c, t in by_col.items() if t not in NOT_A_MODALITY}
        by_target |= {
            ALIASES[c]: c for c in columns if c in ALIASES and ALIASES[c] not in by_target and c not in by_col
        }
        if "speech" not in by_target and "video" in columns and "video" not in by_col:
            by_target["speech"] = "video"  # the video's audio track
        for m, kind in modalities.items():
            if m not in installed and m in array_columns:
                feed(m, m, "file")  # precomputed features: no plugin needed
                continue
            if m not in installed:
                raise DataError(
                    f"{path}: modalities names {m!r}, which is no installed modality (installed: {names})"
                )
            source = m if m in columns else by_target.get(m)
            if source is None:
                raise DataError(
                    f"{path}: modalities names {m!r}, but no column feeds it (columns: {have}); "
                    f"name a column {m!r} or map one with columns: {{COLUMN: {m}}}"
                )
            feed(m, source, kind)
        return out
    unmapped: list[str] = []
    video_cols: list[str] = []
    for col in columns:
        if col in reserved:
            continue
        target: str | None = by_col.get(col)
        if target is None and (col in meta_columns or col in META_COLUMNS):
            target = "meta"
        if target is None:
            target = col if col in installed else ALIASES.get(col)
            if target is not None and target not in installed:
                target = None
        if target is None and col in array_columns:
            target = col  # precomputed features: a modality of its own, no plugin needed
        if target is None:
            unmapped.append(col)
        elif target not in NOT_A_MODALITY:
            feed(target, col)
            if col == "video" and target == "face":
                video_cols.append(col)
    if unmapped:
        raise DataError(
            f"{path}: column(s) {', '.join(unmapped)} feed no installed modality (columns: {have}; "
            f"modalities: {names}; aliases: audio/wav -> speech, video -> face); rename them, map them "
            "with columns: {COLUMN: MODALITY}, or keep them as item meta with columns: {COLUMN: meta}"
        )
    if video_cols and "speech" not in out and "speech" in installed:
        out["speech"] = (video_cols[0], "file")  # the video's audio track
    return out


def column_kind(requested: str, values: list[str], suffixes: tuple[str, ...]) -> str:
    """'text' or 'file' for one column: `auto` means files when every non-empty value ends in one
    of `suffixes`."""
    if requested != "auto":
        return requested
    vals = [v.strip().lower() for v in values if v.strip()]
    return "file" if vals and all(v.endswith(suffixes) for v in vals) else "text"


def is_precomputed(modality: str, installed: Mapping[str, Any]) -> bool:
    """Do .npy/.safetensors files of `modality` hold its features (stored as they are), rather than
    raw input for its plugin? Yes without a plugin, and for a plugin whose declared `suffixes` leave
    arrays out (speech, face, text); a plugin without `suffixes` (older third-party ones, the EEG
    example) gets the paths, as before."""
    plugin = installed.get(modality)
    if plugin is None:
        return True
    declared = getattr(plugin, "suffixes", None)
    if declared is None:
        return False
    return not any(str(x).lower() in ARRAY_FILES for x in declared)


def load_array(path: Path) -> Any:
    """One item's precomputed (L, D) features from .npy (memory-mapped, never unpickled) or
    .safetensors (its only tensor, or the one named `features`); ValueError saying what is wrong."""
    import numpy as np

    if path.suffix.lower() == ".npy":
        try:
            x = np.load(path, mmap_mode="c", allow_pickle=False)  # copy-on-write: lazy, writable
        except ValueError as e:  # object arrays need pickle: refused
            raise ValueError(
                f"cannot read {path.name} without unpickling ({e}); save a float array"
            ) from None
        except OSError as e:
            raise ValueError(f"cannot read {path.name} ({e})") from None
    else:
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as e:  # safetensors raises its own error types
            raise ValueError(f"cannot read {path.name} ({e})") from None
        if "features" in tensors:
            x = tensors["features"]
        elif len(tensors) == 1:
            x = next(iter(tensors.values()))
        else:
            raise ValueError(
                f"{path.name} holds {sorted(tensors)}; expected one tensor or one named 'features'"
            )
    if x.ndim != 2:
        raise ValueError(f"{path.name} has shape {tuple(x.shape)}; expected (length, dim) features")
    return x
