"""Attention plots: for every IMA block (i -> j), where the query CLS of modality i attended along
modality j's sequence (last IMA layer, averaged over heads), one PNG per item.

x axis per modality j: seconds for time-based modalities (frame rate from the extractor, else from the
fingerprint's settings: `fps` for video, `sample_rate / hop` for wav2vec2-style audio = 50 Hz at
16 kHz, `sample_rate / patch_samples` for patch encoders), tokens for text (token strings when the
extractor has a tokenizer, else positions). Drawn with matplotlib's Agg canvas (no display needed).

A model with dialogue context (core/context/) adds one more row: the utterance's attention over its
context turns (the attention key ("utterance", "context"), (B, W)), a bar per turn labelled by how
far back it lies (-1 = the turn just before; +1 = the turn after, for `direction: both`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from ..specs import ModalitySpec

if TYPE_CHECKING:
    from ..protocols import Extractor
    from .predictor import Predictor

WAV2VEC_HOP = 320  # samples per frame of the wav2vec2 conv front end (20 ms at 16 kHz)


@dataclass
class Axis:
    """How positions of one modality's sequence map to the x axis."""

    kind: str  # "seconds" | "tokens" | "index"
    rate: float | None = None  # frames per second (kind "seconds")
    tokens: list[str] = field(default_factory=list)  # token strings (kind "tokens"), may be empty

    @property
    def label(self) -> str:
        if self.kind == "seconds":
            return f"time (s, {self.rate:g} frames/s)"
        return "token" if self.kind == "tokens" else "position"


def frame_rate(spec: ModalitySpec, extractor: Extractor | None = None) -> float | None:
    """Frames per second of `spec`'s sequence, when it is time-based; None otherwise."""
    rate = getattr(extractor, "frame_rate", None)
    if rate:
        return float(rate)
    st = dict((spec.fingerprint or {}).get("settings") or {})
    if st.get("fps"):
        return float(st["fps"])
    sr = st.get("sample_rate")
    if sr:
        if st.get("patch_samples"):
            return float(sr) / float(st["patch_samples"])
        hop = getattr(extractor, "hop", None) or WAV2VEC_HOP
        return float(sr) / float(hop)
    return None


def axis_for(spec: ModalitySpec, extractor: Extractor | None = None, raw: Any = None) -> Axis:
    """The x axis for modality `spec` of one item (see the module docstring)."""
    tok = getattr(extractor, "tokenizer", None)
    if tok is not None and isinstance(raw, str):
        max_len = getattr(extractor, "max_len", None) or spec.max_len
        ids = tok(raw, truncation=True, max_length=max_len)["input_ids"]
        tokens = [
            t.replace("\u0120", " ").replace("\u2581", " ").strip() or "_"
            for t in tok.convert_ids_to_tokens(ids)
        ]
        return Axis("tokens", tokens=tokens)
    rate = frame_rate(spec, extractor)
    if rate:
        return Axis("seconds", rate=rate)
    return Axis("tokens" if spec.provides_cls else "index")


def safe_name(item_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", item_id)[:100] or "item"


CONTEXT_KEY = ("utterance", "context")  # core/model.py: attention over the dialogue context turns


def context_bars(
    context: Sequence[Mapping[str, Any]] | None, weights: torch.Tensor
) -> list[tuple[str, float]]:
    """(label, attention) per context turn of one item, oldest first. `context`: the prediction's
    context turns ({"distance", "attention"}, core/inference/predictor.py); without them, the
    non-zero slots of `weights` (B=1 row, (W,)) labelled by slot, since their distances are unknown."""
    if context is not None:
        bars = []
        for k, c in enumerate(context):
            d = c.get("distance")
            label = f"{-int(d):+d}" if isinstance(d, int) else f"slot {k + 1}"
            att = c.get("attention")
            bars.append(
                (label, float(att) if att is not None else float(weights[k]) if k < len(weights) else 0.0)
            )
        return sorted(bars, key=lambda b: int(b[0]) if b[0][0] in "+-" else 0)
    return [(f"slot {k + 1}", float(w)) for k, w in enumerate(weights.float().cpu()) if float(w) > 0]


def _context_row(ax: Any, bars: Sequence[tuple[str, float]]) -> None:
    ax.set_title("utterance -> its dialogue context turns", fontsize=9, loc="left")
    if not bars:
        ax.text(0.5, 0.5, "no context turns (first turn, or a lone utterance)", ha="center", va="center",
                transform=ax.transAxes)  # fmt: skip
        ax.set_yticks([])
        return
    ax.bar(range(len(bars)), [w for _, w in bars], width=0.8, color="tab:purple")
    ax.set_xticks(list(range(len(bars))))
    ax.set_xticklabels([label for label, _ in bars], fontsize=8)
    ax.set_xlabel("context turn (turns back: -1 = the one just before)", fontsize=8)
    ax.set_ylabel("attention", fontsize=8)
    ax.set_ylim(0, max(max(w for _, w in bars) * 1.1, 1e-3))


def plot_item(
    path: Path,
    title: str,
    specs: Sequence[ModalitySpec],
    weights: Mapping[tuple[str, str], torch.Tensor],
    lengths: Mapping[str, int],
    axes: Mapping[str, Axis],
    context: Sequence[tuple[str, float]] | None = None,
) -> Path:
    """One PNG: a row per IMA block (i -> j), attention weight along j's real positions; with
    `context` (`context_bars`), a last row of the attention over the dialogue context turns."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    by_name = {s.name: s for s in specs}
    pairs = [pair for pair in weights if pair != CONTEXT_KEY]
    rows = len(pairs) + (context is not None)
    fig = Figure(figsize=(9, 1.9 * rows + 0.8), dpi=90)
    FigureCanvasAgg(fig)
    fig.suptitle(title, fontsize=10)
    if context is not None:
        _context_row(fig.add_subplot(rows, 1, rows), context)
    for k, (i, j) in enumerate(pairs):
        ax = fig.add_subplot(rows, 1, k + 1)
        w = weights[i, j].float().cpu()  # (L_j incl. CLS,)
        spec, n, axis = by_name[j], int(lengths[j]), axes[j]
        own = spec.uses_own_cls
        start = 0 if own else 1  # a prepended CLS sits at position 0
        real = w[start : start + n].numpy()
        head = f"CLS of {i} -> {j}"
        if not own:
            head += f"   (weight on {j}'s own CLS: {float(w[0]):.2f})"
        ax.set_title(head, fontsize=9, loc="left")
        if n == 0:
            ax.text(
                0.5,
                0.5,
                f"{j}: empty sequence (missing input)",
                ha="center",
                va="center",
                transform=ax.transAxes,
            )
            ax.set_yticks([])
            continue
        if axis.kind == "seconds":
            x = [p / axis.rate for p in range(n)]  # type: ignore[operator]
            ax.bar(x, real, width=1.0 / axis.rate, align="edge", color="tab:blue")  # type: ignore[operator]
        else:
            ax.bar(range(n), real, width=0.8, color="tab:orange" if axis.kind == "tokens" else "tab:green")
            if axis.tokens:
                step = max(1, math.ceil(n / 48))
                ticks = list(range(0, n, step))
                ax.set_xticks(ticks)
                ax.set_xticklabels([axis.tokens[t] if t < len(axis.tokens) else str(t) for t in ticks],
                                   rotation=60, fontsize=7)  # fmt: skip
        ax.set_xlabel(f"{j}: {axis.label}", fontsize=8)
        ax.set_ylabel("attention", fontsize=8)
        ax.set_ylim(0, max(float(real.max()) * 1.1, 1e-3))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def explain_batch(
    predictor: Predictor,
    preds: Sequence[Any],
    attn: Mapping[tuple[str, str], torch.Tensor],
    lengths: Mapping[str, torch.Tensor],
    out_dir: Path,
    raws: Sequence[Mapping[str, Any]] | None = None,
) -> list[Path | None]:
    """A PNG per item of a forward pass (None for every item when the model has no IMA blocks)."""
    if not attn:
        return [None] * len(preds)
    out: list[Path | None] = []
    for b, p in enumerate(preds):
        raw = raws[b] if raws is not None else {}
        axes = {
            s.name: axis_for(s, predictor.extractors.get(s.name), raw.get(s.name)) for s in predictor.specs
        }
        used = ", ".join(p.modalities_used) + (f"; missing: {', '.join(p.missing)}" if p.missing else "")
        title = f"{p.id}: {p.summary()}   [{used}]"
        weights = {pair: a[b] for pair, a in attn.items()}
        n = {m: int(v[b]) for m, v in lengths.items()}
        bars = context_bars(p.context, weights[CONTEXT_KEY]) if CONTEXT_KEY in weights else None
        out.append(
            plot_item(out_dir / f"{safe_name(str(p.id))}.png", title, predictor.specs, weights, n, axes, bars)
        )
    return out
