"""Step 1 of SSE-FT (paper Sec. III-B, Eq. 1, Fig. 2): give a modality a CLS token that summarises it.

For a modality that does not provide its own CLS (wav2vec, FAb-Net...): prepend a learned CLS vector,
add learned positions, LayerNorm, dropout, then `n_self` post-LN self-attention layers at the
modality's own width (its projected width when it has an input projection, see projection.py).
A modality with its own CLS (RoBERTa's <s>) needs no encoder: see
`SSEFTFusion`, which uses such a sequence as is.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..specs import ModalitySpec, SSEFTConfig
from .layers import SelfAttentionLayer


class CLSEncoder(nn.Module):
    """(B, L, D) features + (B, L) mask -> (B, 1 + L, D) modified sequence, CLS at position 0."""

    def __init__(self, spec: ModalitySpec, cfg: SSEFTConfig) -> None:
        super().__init__()
        d = spec.width  # the projected width when the modality has an input projection
        self.dropout = cfg.dropout
        self.cls = nn.Parameter(torch.zeros(d))
        self.positions = nn.Parameter(torch.zeros(spec.max_len + 1, d))  # +1: the CLS
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList(
            SelfAttentionLayer(d, spec.n_heads(cfg.heads), cfg.ffn_dim, cfg.dropout, cfg.attn_dropout)
            for _ in range(cfg.n_self)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, L, D) with padded positions already zeroed; mask: (B, L) bool, True = real frame.
        Returns the modified sequence (B, 1 + L, D) and its key mask (B, 1 + L) (the CLS is always valid,
        so an empty item attends to its CLS alone and stays finite)."""
        b, n, _ = x.shape
        x = torch.cat([self.cls.expand(b, 1, -1), x], dim=1) + self.positions[: n + 1]  # (B, 1+L, D)
        x = F.dropout(self.ln(x), self.dropout, self.training)
        key_mask = torch.cat([mask.new_ones(b, 1), mask], dim=1)  # (B, 1+L)
        for layer in self.layers:
            x = layer(x, key_mask)
        return x, key_mask
