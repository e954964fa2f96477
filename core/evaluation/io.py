"""Small atomic file helpers of the evaluation package (JSON, JSONL, text)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import DataError

PREDICTIONS = "test_predictions.jsonl"


def write_text(path: str | Path, text: str) -> Path:
    """Write via a temp file + rename: a reader never sees half a file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, p)
    return p


def jsonable(x: Any) -> Any:
    """Plain JSON data: NaN/Inf become None (JSON has no NaN), numpy/torch values plain numbers."""
    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [jsonable(v) for v in x]
    if hasattr(x, "tolist"):
        return jsonable(x.tolist())
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(path: str | Path, data: Any) -> Path:
    return write_text(path, json.dumps(jsonable(data), indent=2) + "\n")


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> Path:
    return write_text(path, "".join(json.dumps(jsonable(r)) + "\n" for r in rows))


def read_json(path: str | Path, what: str = "file") -> Any:
    p = Path(path)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{p}: {what} not found") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{p}: {what} is not valid JSON ({e})") from None


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    rows = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: line {n} is not valid JSON ({e}); re-run the training") from None
    return rows
