"""The one writer of failures files (<store>/failures.jsonl, predict's failures): lock, dedupe,
append, fsync.

A rerun retries every item that is not stored yet; one that fails again for the same reason must
not add a second identical line, so a line whose (id, modality, reason) is already in the
file is skipped. The keys already in the file are cached per file and only the bytes appended
since the last call are read, so a long job does not re-read its whole failures file per item.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from filelock import FileLock

from .files import to_plain

LOCK_NAME = ".lock"  # the feature store's lock file (core/features/index.py uses the same name)

Key = tuple[str, str, str]
# resolved path -> (bytes of the file already parsed, (device, inode), keys seen in those bytes)
_seen: dict[str, tuple[int, tuple[int, int], set[Key]]] = {}
_guard = threading.Lock()


def failure_key(line: Mapping[str, Any]) -> Key:
    """What makes two failure lines the same failure: the item, the modality, the reason."""
    return (str(line.get("id")), str(line.get("modality")), " ".join(str(line.get("reason", "")).split()))


def _keys_in(path: Path) -> set[Key]:
    """Keys of `path`, reading only what was appended since the last call (under the lock)."""
    name = str(path.resolve())
    try:
        st = path.stat()
    except FileNotFoundError:
        _seen.pop(name, None)
        return set()
    ident = (st.st_dev, st.st_ino)
    done, known_ident, keys = _seen.get(name, (0, ident, set()))
    if known_ident != ident or st.st_size < done:  # replaced or truncated: start over
        done, keys = 0, set()
    if st.st_size > done:
        with path.open("rb") as f:
            f.seek(done)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a crash may have cut the last line
        for raw in complete.splitlines():
            try:
                rec = json.loads(raw)
            except ValueError:
                continue
            if isinstance(rec, dict):
                keys.add(failure_key(rec))
        done += len(complete)
    _seen[name] = (done, ident, keys)
    return keys


def append_failure(path: Path, line: Mapping[str, Any], lock: Path | None = None) -> bool:
    """Append `line` as one JSON line to `path` unless the same failure is already there.

    Holds `lock` (default: `.lock` beside the file, the feature store's lock) while reading and
    appending, so concurrent writers neither interleave nor duplicate. Returns True if written."""
    path = Path(path)
    rec = dict(line)
    rec["reason"] = " ".join(str(rec.get("reason", "")).split())
    text = json.dumps(to_plain(rec, unknown=str), ensure_ascii=False, allow_nan=False)
    data = (text + "\n").encode("utf-8")
    with _guard, FileLock(str(lock or path.parent / LOCK_NAME)):
        keys = _keys_in(path)
        key = failure_key(rec)
        if key in keys:
            return False
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        return True  # the next call reads this line back from the file like any other
