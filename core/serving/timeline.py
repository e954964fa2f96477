"""The answer for a long recording: one row per segment (start, end, label, probabilities, the
segment's words), as JSON, as CSV (`sseft predict --segments ... --out timeline.csv`) and as a plot.

Rows come from the head's records (core/inference/prediction.py), so any head fits: a row's
`label` is the record's label when it has one, else the head's one-line summary; `values` holds
the record's per-label numbers (`probabilities`, or `scores` for regression).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import atomic_write_bytes, atomic_write_text, to_plain


@dataclass
class TimelineRow:
    """One segment's prediction (or its error)."""

    start: float
    end: float
    label: str | None = None
    values: dict[str, float] = field(default_factory=dict)
    text: str = ""
    summary: str = ""
    error: str | None = None

    @classmethod
    def from_prediction(cls, start: float, end: float, pred: Any, text: str = "") -> TimelineRow:
        rec = dict(getattr(pred, "record", {}) or {})
        values = rec.get("probabilities") or rec.get("scores") or {}
        label = rec.get("label")
        return cls(
            start=start, end=end, label=str(label) if label is not None else pred.summary(),
            values={str(k): float(v) for k, v in dict(values).items()}, text=text, summary=pred.summary(),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"start": self.start, "end": self.end, "label": self.label}
        out["probabilities"] = dict(self.values)
        out["text"] = self.text
        if self.error is not None:
            out["error"] = self.error
        return out


@dataclass
class Timeline:
    """Segments in time order, the label names of the model and how the segments were cut."""

    rows: list[TimelineRow]
    label_names: list[str]
    mode: str
    duration: float
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return to_plain({
            "mode": self.mode, "duration": self.duration, "label_names": list(self.label_names),
            "segments": [r.to_dict() for r in self.rows], "notes": list(self.notes),
        })  # fmt: skip

    def report_text(self, model_ref: str) -> str:
        """The timeline for a reader (what `sseft predict --segments` prints): one line per segment."""
        lines = [f"model: {model_ref}; {len(self.rows)} segments ({self.mode}) over {self.duration:.1f} s"]
        for r in self.rows:
            what = f"error: {r.error}" if r.error else (r.summary or r.label or "")
            words = f"  [{r.text}]" if r.text else ""
            lines.append(f"{r.start:8.2f} - {r.end:8.2f}  {what}{words}")
        return "\n".join([*lines, *(f"note: {note}" for note in self.notes)])

    def columns(self) -> list[str]:
        names = list(self.label_names) or sorted({k for r in self.rows for k in r.values})
        return ["start", "end", "label", *(f"prob_{n}" for n in names), "text", "error"]

    def csv_text(self) -> str:
        buf = io.StringIO()
        cols = self.columns()
        w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        w.writeheader()
        for r in self.rows:
            row: dict[str, Any] = {"start": f"{r.start:.3f}", "end": f"{r.end:.3f}", "label": r.label or ""}
            row |= {f"prob_{k}": f"{v:.6f}" for k, v in r.values.items() if f"prob_{k}" in cols}
            row |= {"text": r.text, "error": r.error or ""}
            w.writerow(row)
        return buf.getvalue()

    def write_csv(self, path: str | Path) -> Path:
        return atomic_write_text(path, self.csv_text())

    def plot_png(self) -> bytes:
        """Stacked per-label values over time (one band per label), the label written per segment."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        names = list(self.label_names) or sorted({k for r in self.rows for k in r.values})
        fig = Figure(figsize=(10, 3.2), dpi=90)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        cmap = fig.colormaps["tab10"] if hasattr(fig, "colormaps") else None
        for r in self.rows:
            bottom = 0.0
            for k, n in enumerate(names):
                v = max(0.0, float(r.values.get(n, 0.0)))
                color = cmap(k % 10) if cmap is not None else f"C{k % 10}"
                ax.bar(r.start, v, width=max(r.end - r.start, 1e-3), bottom=bottom, align="edge",
                       color=color, edgecolor="white", linewidth=0.5, label=n if r is self.rows[0] else None)  # fmt: skip
                bottom += v
            ax.text(
                (r.start + r.end) / 2, 1.02, r.label or "?", ha="center", va="bottom", fontsize=7, rotation=30
            )
        ax.set_xlim(0, max(self.duration, max((r.end for r in self.rows), default=1.0)))
        ax.set_ylim(0, 1.25)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("probability")
        if self.rows:
            ax.legend(loc="upper right", fontsize=7, ncol=min(len(names), 7))
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    def write_plot(self, path: str | Path) -> Path:
        atomic_write_bytes(path, self.plot_png())
        return Path(path)
