"""Run outputs that are not checkpoints: metrics JSONL/JSON, the learning-curve PNG and
plain-text/Markdown metric tables (the head draws its own pictures: `head.report`)."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import storage_error


def _write_atomic(path: str | Path, text: str) -> Path:
    """Temp file + rename: a reader sees the old file or the new one, never half of one; a refused
    write (full or read-only disk) leaves no temp file and raises one line naming the file."""
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, p)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise storage_error(e, p) from None
    return p


def write_json(path: str | Path, data: Any) -> Path:
    return _write_atomic(path, json.dumps(data, indent=2) + "\n")


def write_jsonl(path: str | Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Rewrite the whole JSONL file (a resumed run rewrites its history, never duplicates)."""
    return _write_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def plot_curves(history: Sequence[dict[str, Any]], primary: str, path: str | Path) -> Path:
    """Train/valid loss per epoch (left) and the validation primary metric (right)."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.plot(epochs, [h["train_loss"] for h in history], "o-", label="train")
    ax1.plot(epochs, [h["valid"].get("loss") for h in history], "s-", label="valid")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax2.plot(epochs, [h["valid"].get(primary) for h in history], "s-", color="C1")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(f"valid {primary}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def metrics_table(rows: dict[str, dict[str, float]], columns: Sequence[str], markdown: bool = False) -> str:
    """One row per run (name -> metrics), one column per metric name."""
    header = ["model", *columns]
    body = [[name] + [_fmt(m.get(c)) for c in columns] for name, m in rows.items()]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(r) + " |" for r in body]
        return "\n".join(lines) + "\n"
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    fmt = "  ".join(f"{{:<{w}}}" if i == 0 else f"{{:>{w}}}" for i, w in enumerate(widths))
    lines = [fmt.format(*header), fmt.format(*["-" * w for w in widths])]
    lines += [fmt.format(*r) for r in body]
    return "\n".join(lines) + "\n"


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)
