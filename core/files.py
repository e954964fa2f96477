"""Small file helpers shared by the feature store, the registry and the plugins."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike[str] | Path) -> str:
    """Hex sha256 of a file's content, read in 1 MiB chunks (never the whole file in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()
