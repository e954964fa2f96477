"""Media probing for `sseft data check --probe` (decoders import at call time, never at plugin import).

Each input is decoded by its modality plugin's own `probe(raw)` (optional on a plugin: speech and
face have one), i.e. with the very functions extraction uses, so a truncated, 0-frame, NaN/inf or
0-byte file, or a wav given as face input, fails here and not an hour into a job. A plugin without
`probe` gets the container check: PyAV opens the file.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sseft.core.errors import DataError
from sseft.core.protocols import Item

from ..modalities.suffixes import AUDIO_FILES, VIDEO_FILES
from .common import media_path

ARRAYS = (".npy", ".safetensors")
CONTAINERS = AUDIO_FILES + VIDEO_FILES


def probe(path: Path, need: str | None = None) -> str | None:
    """Open `path` with PyAV; the reason it is unusable, or None (the fallback for plugins without `probe`)."""
    import av

    if path.is_file() and path.stat().st_size == 0:
        return "file is empty (0 bytes)"
    try:
        with av.open(str(path)) as c:
            kinds = {s.type for s in c.streams}
    except Exception as e:  # any decoder error means the clip is unusable: report, do not crash
        return f"cannot be opened ({type(e).__name__}: {e})"
    if need is not None and need not in kinds:
        return f"has no {need} stream (streams: {', '.join(sorted(kinds)) or 'none'})"
    return None


def _probe_one(plugin: Any, raw: Any, path: Path) -> tuple[str | None, str | None]:
    """(problem, note) of one input."""
    fn = getattr(plugin, "probe", None)
    if fn is None:  # a plugin without probe(): open audio/video containers, only size-check the rest
        if path.suffix.lower() in CONTAINERS:
            return probe(path), None
        return ("file is empty (0 bytes)" if path.stat().st_size == 0 else None), None
    try:
        return None, fn(raw)
    except DataError as e:
        msg = str(e)
        prefix = f"{path}: "
        return (msg[len(prefix) :] if msg.startswith(prefix) else msg), None
    except Exception as e:  # a decoder crash is a problem of this file, never of the check
        return f"cannot be decoded ({type(e).__name__}: {e})", None


def probe_items(items: Iterable[Item], notes: list[str] | None = None) -> list[str]:
    """Problems of every media input of `items` (each (file, modality, slice) decoded once);
    notes (all-zero audio ...) are appended to `notes` when given."""
    from sseft.plugins.datasets.manifest_columns import installed_modalities

    plugins = installed_modalities()
    out: list[str] = []
    cache: dict[tuple[str, Any], tuple[str | None, str | None]] = {}
    for it in items:
        for m, v in it.inputs.items():
            p = media_path(v)
            if p is None or p.suffix.lower() in ARRAYS or not p.exists():
                continue
            key = (m, v)
            if key not in cache:
                cache[key] = _probe_one(plugins.get(m), v, p)
            problem, note = cache[key]
            if problem:
                out.append(f"{it.id}: {m} file {p}: {problem}")
            elif note and notes is not None:
                notes.append(f"{it.id}: {m} file {p}: {note}")
    return out
