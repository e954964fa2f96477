"""The built-in heads' pictures (`report`): confusion matrices and a score scatter plot.

matplotlib is imported inside the functions (Agg backend: no display on servers).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # must precede pyplot's import
    import matplotlib.pyplot as plt

    return plt


def _cells(ax: Any, matrix: Sequence[Sequence[int]], rows: Sequence[str], cols: Sequence[str]) -> None:
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, str(matrix[i][j]), ha="center", va="center", fontsize=8)


def plot_confusion(matrix: Sequence[Sequence[int]], label_names: Sequence[str], path: Path) -> Path:
    """One C x C confusion matrix (rows: truth, columns: prediction) with counts in the cells."""
    plt = _pyplot()
    n = len(label_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * n, 0.8 + 0.6 * n))
    _cells(ax, matrix, label_names, label_names)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_binary_confusions(
    matrices: Sequence[Sequence[Sequence[int]]], label_names: Sequence[str], path: Path
) -> Path:
    """A 2 x 2 absent/present confusion matrix per label, side by side."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(label_names), figsize=(0.5 + 2.2 * len(label_names), 2.6), squeeze=False)
    for ax, m, name in zip(axes[0], matrices, label_names, strict=True):
        _cells(ax, m, ["absent", "present"], ["absent", "present"])
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_scatter(pred: Any, truth: Any, label_names: Sequence[str], path: Path) -> Path:
    """Predicted against true score, one panel per label, with the identity line."""
    plt = _pyplot()
    k = len(label_names)
    fig, axes = plt.subplots(1, k, figsize=(0.5 + 3.5 * k, 3.5), squeeze=False)
    for i, (ax, name) in enumerate(zip(axes[0], label_names, strict=True)):
        t, p = truth[:, i], pred[:, i]
        ax.scatter(t, p, s=8, alpha=0.6)
        lo, hi = float(min(t.min(), p.min())), float(max(t.max(), p.max()))
        ax.plot([lo, hi], [lo, hi], "--", color="grey", linewidth=1)
        ax.set_xlabel(f"true {name}")
        ax.set_ylabel(f"predicted {name}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
