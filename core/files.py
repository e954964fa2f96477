"""Small file helpers shared by the feature store, the registry, extraction, prediction and the
plugins: content hashes, fsync of a folder, atomic writes (the one copy of each)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from .errors import storage_error

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str] | Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB chunks (never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def fsync_dir(path: str | os.PathLike[str] | Path) -> None:
    """Make a rename inside `path` durable (no-op where directories cannot be opened, e.g. Windows)."""
    with contextlib.suppress(OSError):
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str] | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see the old file or the complete new one, never a
    part: a temp file beside it, fsync, os.replace, fsync of the folder. An OSError (ENOSPC,
    EROFS, EACCES ...) becomes a StorageError naming `path`, with the temp file removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(e, OSError):  # a full disk, a read-only folder: one line naming the file
            raise storage_error(e, path, "the file was not changed") from e
        raise
    fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike[str] | Path, obj: Any, *, compact: bool = True) -> None:
    """`obj` as strict JSON (no NaN), written atomically (see `atomic_write_bytes`)."""
    seps = (",", ":") if compact else (", ", ": ")
    text = json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=seps)
    atomic_write_bytes(path, text.encode("utf-8"))
