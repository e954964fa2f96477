"""Media probing for `sseft data check --set probe_clips=true` (imports PyAV: never at plugin import)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sseft.core.protocols import Item

from .common import media_path

# Which stream a modality needs inside a container file.
NEEDS = {"speech": "audio", "audio": "audio", "face": "video", "vision": "video", "video": "video"}


def probe(path: Path, need: str | None) -> str | None:
    """Open `path` with PyAV; the reason it is unusable, or None when it holds the stream `need`."""
    import av

    try:
        with av.open(str(path)) as c:
            kinds = {s.type for s in c.streams}
    except Exception as e:  # any decoder error means the clip is unusable: report, do not crash
        return f"cannot be opened ({type(e).__name__}: {e})"
    if need is not None and need not in kinds:
        return f"has no {need} stream (streams: {', '.join(sorted(kinds)) or 'none'})"
    return None


def probe_items(items: Iterable[Item]) -> list[str]:
    """Problems of every media input of `items` (each file opened once)."""
    out: list[str] = []
    cache: dict[tuple[Path, str | None], str | None] = {}
    for it in items:
        for m, v in it.inputs.items():
            p = media_path(v)
            if p is None or p.suffix.lower() in (".npy", ".safetensors") or not p.exists():
                continue
            need = NEEDS.get(m) if p.suffix.lower() not in (".wav", ".flac", ".mp3") else None
            key = (p, need)
            if key not in cache:
                cache[key] = probe(p, need)
            if cache[key]:
                out.append(f"{it.id}: {m} file {p} {cache[key]}")
    return out
