"""Step 0 (optional, not in the paper): a learned input projection of a modality's frozen features.

Low-dimensional features (MMSA's COVAREP audio at 5 or 74 dimensions, FACET vision at 20 or 35,
eGeMAPS, EEG channels) are too narrow for attention heads and for a CLS query. As MulT does, such a
modality can be lifted to a working width first: `linear` (every frame on its own) or `conv1d`
(`kernel` neighbouring frames), followed by LayerNorm. The modality then runs at `project.dim`.

Padding never reaches a real frame: padded frames are zeroed before the projection and the conv's
"same" padding is zeros too, so the last real frames of an item see exactly what they would see
alone, whatever the batch is padded to. A modality that brings its own CLS (position 0, RoBERTa's
`<s>`) has it projected like every frame, but the conv treats it as a sequence of its own: the CLS
is a summary, not a time step, so it is not mixed with frame 1, and frame 1 starts the sequence.
"""

from __future__ import annotations

import torch
from torch import nn

from ..specs import ModalitySpec


class InputProjection(nn.Module):
    """(B, L, D_in) features + (B, L) real-frame mask -> (B, L, dim), padded positions zero."""

    def __init__(self, spec: ModalitySpec) -> None:
        super().__init__()
        if spec.project is None:
            raise ValueError(f"modality {spec.name!r} has no projection")
        p = spec.project
        self.kind, self.kernel, self.dim = p.kind, p.kernel, p.dim
        self.own_cls = spec.provides_cls  # position 0 is a summary token, not a frame
        self.proj: nn.Module
        if p.kind == "linear":
            self.proj = nn.Linear(spec.dim, p.dim)
        else:
            self.proj = nn.Conv1d(spec.dim, p.dim, p.kernel, padding=p.kernel // 2)
        self.ln = nn.LayerNorm(p.dim)

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """x: (B, L, D_in); frames: (B, L) bool, True = a real frame (an own CLS counts as one)."""
        keep = frames[..., None]
        x = x.masked_fill(~keep, 0.0)  # the conv must never read padding (the caller zeroes it too)
        if self.kind == "linear":
            y = self.proj(x)
        elif self.own_cls and x.shape[1] > 1:
            y = torch.cat([self._conv(x[:, :1]), self._conv(x[:, 1:])], dim=1)
        else:
            y = self._conv(x)
        # Zero again after the bias and LayerNorm: padding stays zero (and an empty own-CLS item keeps
        # a zero CLS, as without a projection).
        return self.ln(y).masked_fill(~keep, 0.0)

    def _conv(self, x: torch.Tensor) -> torch.Tensor:
        """(B, L, D_in) -> (B, L, dim) with "same" zero padding; L = 0 gives an empty sequence."""
        if x.shape[1] == 0:
            return x.new_zeros(x.shape[0], 0, self.dim)
        return self.proj(x.transpose(1, 2)).transpose(1, 2)

    def describe(self, in_dim: int) -> str:
        """One line for the model summary."""
        what = "linear" if self.kind == "linear" else f"conv1d k={self.kernel}"
        return f"{what} {in_dim}->{self.dim} + LayerNorm"
