"""Run outputs that are not checkpoints or JSON (core/files.py writes those): the learning-curve
PNG and plain-text/Markdown metric tables (the head draws its own pictures: `head.report`)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend (no display on servers)."""
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write `fig` as a PNG atomically (never half a picture) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    pyplot().close(fig)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def plot_learning_curves(history: Sequence[dict[str, Any]], primary: str, path: str | Path) -> Path:
    """Train/valid loss per epoch (left) and the validation primary metric (right)."""
    plt = pyplot()
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
    return save_figure(fig, path)


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
