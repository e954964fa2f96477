"""The one I/O module: content hashes, fsync of a folder, atomic writes of bytes, text, JSON and
JSONL, reading JSON back with one-line errors, and the conversion to plain JSON data.

Plain JSON, one rule everywhere (`to_plain`): mappings become dicts with string keys, tuples and
lists become lists, tensors / numpy arrays / numpy scalars become Python numbers via `tolist()`,
`Path` becomes its string, pydantic models their JSON dump, and a float that is NaN, +Inf or -Inf
becomes `null` (JSON has none of them; a reader sees "no value", never a number that is not one).
Anything else that is not a JSON type is refused with a TypeError naming its type, so an
unexpected object never turns silently into its repr; a caller that records free-form data (item
metadata, fingerprints) names the fallback instead: `to_plain(meta, unknown=str)`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from .errors import DataError, storage_error

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


def atomic_write_bytes(path: str | os.PathLike[str] | Path, data: bytes) -> Path:
    """Write `data` to `path` so that readers see the old file or the complete new one, never a
    part: a temp file beside it, fsync, os.replace, fsync of the folder. An OSError (ENOSPC,
    EROFS, EACCES ...) becomes a StorageError naming `path`, with the temp file removed.
    Returns the path."""
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
    return path


def to_plain(x: Any, unknown: Callable[[Any], Any] | None = None) -> Any:
    """`x` as plain JSON data (the module docstring gives the rule; NaN and +-Inf become None).
    An object of no JSON type becomes `unknown(obj)` where given, else a TypeError."""
    if x is None or isinstance(x, (bool, int, str)):
        return x
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, Mapping):
        return {str(k): to_plain(v, unknown) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [to_plain(v, unknown) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "model_dump"):  # pydantic models
        return to_plain(x.model_dump(mode="json"), unknown)
    if hasattr(x, "tolist"):  # torch tensors, numpy arrays and numpy scalars
        return to_plain(x.tolist(), unknown)
    if unknown is not None:
        return to_plain(unknown(x))
    raise TypeError(f"cannot write a {type(x).__name__} as JSON")


def atomic_write_text(path: str | os.PathLike[str] | Path, text: str) -> Path:
    """`text` as UTF-8, written atomically (see `atomic_write_bytes`); returns the path."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(
    path: str | os.PathLike[str] | Path, obj: Any, *, compact: bool = True, indent: int | None = None
) -> Path:
    """`obj` converted by `to_plain`, as strict JSON, written atomically; returns the path.
    `indent` gives a human-readable file (a trailing newline is added)."""
    if indent is not None:
        text = json.dumps(to_plain(obj), ensure_ascii=False, allow_nan=False, indent=indent) + "\n"
    else:
        seps = (",", ":") if compact else (", ", ": ")
        text = json.dumps(to_plain(obj), ensure_ascii=False, allow_nan=False, separators=seps)
    return atomic_write_text(path, text)


def atomic_write_jsonl(path: str | os.PathLike[str] | Path, rows: Iterable[Any]) -> Path:
    """One `to_plain` JSON object per line, written atomically; returns the path."""
    lines = (json.dumps(to_plain(r), ensure_ascii=False, allow_nan=False) + "\n" for r in rows)
    return atomic_write_text(path, "".join(lines))


def read_json(path: str | os.PathLike[str] | Path, what: str = "file") -> Any:
    """The JSON in `path`; a missing or broken file is a DataError naming it and `what` it is."""
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{p}: {what} not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{p}: {what} is not valid JSON ({e})") from None


def read_jsonl(path: str | os.PathLike[str] | Path, what: str = "file") -> list[Any]:
    """One JSON value per non-empty line; a broken line is a DataError naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{p}: {what} not found") from None
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: line {n} of the {what} is not valid JSON ({e})") from None
    return rows
