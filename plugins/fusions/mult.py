"""MulT: the Multimodal Transformer of Tsai, Bai, Liang, Kolter, Morency and Salakhutdinov,
"Multimodal Transformer for Unaligned Multimodal Language Sequences", ACL 2019.

    x_m -> temporal Conv1d (kernel k_m, no bias) to width d, unless already d       (Sec. 3.3)
        -> scaled by sqrt(d), plus sinusoidal positions, dropout
    for every ordered pair (target i, source j), i != j: a crossmodal transformer (Sec. 3.2) of
        `layers` pre-LN blocks in which i's sequence queries j's:  Z_{j->i}  (B, L_i, d)
    per target i: concat_j Z_{j->i}  (B, L_i, (N-1) d) -> self-attention transformer -> the output
        at i's last real frame
    concat over targets (width sum (N-1) d) -> residual block ReLU(W1 .) W2 + . -> fused vector

Unlike MMSA's implementation, every attention takes a key-padding mask: padded frames are never
attended to, and each target is read at its own last real frame, not at the padded end. A source an
item lacks contributes nothing to its crossmodal block (the residual stream passes through). Needs
N >= 2 (crossmodal pairs). Written from the paper.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sseft.core.fusion.base import FusionModule, last_frame


def sinusoids(length: int, dim: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """(length, dim) sine/cosine positions (Vaswani et al. 2017); no parameters."""
    pos = torch.arange(length, device=device, dtype=torch.float32)[:, None]
    half = dim // 2
    freq = torch.exp(
        -math.log(10000.0) * torch.arange(half, device=device, dtype=torch.float32) / max(half - 1, 1)
    )
    angles = pos * freq[None, :]
    table = torch.cat([angles.sin(), angles.cos()], dim=1)
    if dim % 2:
        table = F.pad(table, (0, 1))
    return table.to(dtype)


def key_mask(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(padding mask for attention: True = ignore, has_keys (B,)). An item without any key gets its
    first position unmasked, so softmax stays finite; its attention output is then zeroed."""
    has = frames.any(dim=1)
    usable = frames.clone()
    usable[:, 0] = usable[:, 0] | ~has
    return ~usable, has


class Block(nn.Module):
    """One pre-LN transformer block; keys/values (another modality, or the query's own) share the LN."""

    def __init__(
        self, dim: int, heads: int, attn_dropout: float, relu_dropout: float, res_dropout: float
    ) -> None:
        super().__init__()
        self.ln_attn = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, dropout=attn_dropout, batch_first=True)
        self.ln_ff = nn.LayerNorm(dim)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.relu_dropout, self.res_dropout = relu_dropout, res_dropout

    def forward(
        self, x: torch.Tensor, kv: torch.Tensor | None, pad: torch.Tensor, has: torch.Tensor
    ) -> torch.Tensor:
        q = self.ln_attn(x)
        k = q if kv is None else self.ln_attn(kv)
        a, _ = self.attn(q, k, k, key_padding_mask=pad, need_weights=False)
        a = a * has.to(a.dtype)[:, None, None]
        x = x + F.dropout(a, self.res_dropout, self.training)
        h = F.dropout(F.relu(self.fc1(self.ln_ff(x))), self.relu_dropout, self.training)
        return x + F.dropout(self.fc2(h), self.res_dropout, self.training)


class Transformer(nn.Module):
    """`layers` blocks + a final LayerNorm; crossmodal when given a source sequence."""

    def __init__(self, dim: int, heads: int, layers: int, attn_dropout: float, cfg: Any) -> None:
        super().__init__()
        self.dim, self.embed_dropout = dim, cfg.embed_dropout
        self.blocks = nn.ModuleList(
            Block(dim, heads, attn_dropout, cfg.relu_dropout, cfg.res_dropout) for _ in range(layers)
        )
        self.ln = nn.LayerNorm(dim)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = math.sqrt(self.dim) * x + sinusoids(x.shape[1], self.dim, x.device, x.dtype)
        return F.dropout(x, self.embed_dropout, self.training)

    def forward(self, x: torch.Tensor, frames: torch.Tensor, src: torch.Tensor | None = None,
                src_frames: torch.Tensor | None = None) -> torch.Tensor:  # fmt: skip
        x = self._embed(x)
        kv = None if src is None else self._embed(src)
        pad, has = key_mask(frames if src_frames is None else src_frames)
        for block in self.blocks:
            x = block(x, kv, pad, has)
        return self.ln(x)


class MultimodalTransformer(FusionModule):
    def __init__(self, specs: list[Any], cfg: Any) -> None:
        super().__init__(specs)
        self.cfg = cfg
        d, n = cfg.dim, len(self.specs)
        self.convs = nn.ModuleDict()
        for s in self.specs:
            k = cfg.kernels.get(s.name, 1)
            if s.width != d:  # as the paper: only modalities not already at width d are projected
                self.convs[s.name] = nn.Conv1d(s.width, d, k, padding=k // 2, bias=False)
        self.cross = nn.ModuleDict()
        for i in self.names:
            for j in self.names:
                if i != j:
                    drop = cfg.attn_dropout_source.get(j, cfg.attn_dropout)
                    self.cross[f"{j}_to_{i}"] = Transformer(d, cfg.heads, cfg.layers, drop, cfg)
        width = (n - 1) * d
        layers = cfg.self_layers or cfg.layers
        self.selfs = nn.ModuleDict(
            {i: Transformer(width, cfg.heads, layers, cfg.attn_dropout, cfg) for i in self.names}
        )
        self.out_dim = n * width
        self.proj1 = nn.Linear(self.out_dim, self.out_dim)
        self.proj2 = nn.Linear(self.out_dim, self.out_dim)

    def fuse(
        self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, dict[Any, torch.Tensor]]:
        xs, fr = {}, {}
        for m in self.names:
            x, f = seqs[m], frames[m]
            if x.shape[1] == 0:  # no item has this modality: one masked zero frame
                x, f = x.new_zeros(x.shape[0], 1, x.shape[2]), f.new_zeros(f.shape[0], 1)
            x = F.dropout(x, self.cfg.input_dropout.get(m, 0.0), self.training)
            if m in self.convs:  # "same" padding over zeroed padding: real frames never read padding
                x = self.convs[m](x.transpose(1, 2)).transpose(1, 2)
            xs[m], fr[m] = x.masked_fill(~f[..., None], 0.0), f
        lasts = []
        for i in self.names:
            crossed = [self.cross[f"{j}_to_{i}"](xs[i], fr[i], xs[j], fr[j]) for j in self.names if j != i]
            h = self.selfs[i](torch.cat(crossed, dim=-1), fr[i])
            lasts.append(last_frame(h, fr[i]))
        last = torch.cat(lasts, dim=-1)
        out = self.proj2(F.dropout(F.relu(self.proj1(last)), self.cfg.out_dropout, self.training)) + last
        return out, {}
