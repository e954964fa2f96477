"""`ContextStream`: the dialogue context as one more stream the fused utterance attends to.

    fused (B, F)                     the fusion's vector of the current utterance
    context turns (B, W, sum D_m)    `turns: pooled`: pooled frozen features of the turns around it
               or (B, W, F)          `turns: fused`: those turns' own fused vectors, gathered from
                                     this batch (whole-dialogue batches, core/context/batches.py)
      -> tokens: [query_in(fused) ; turn_in(turns)] + distance embedding (+ speaker embedding)
                                                               (B, 1 + W, d); the query is "distance 0"
      -> `layers` pre-norm transformer blocks, padding masked (absent turns are never keys)
      -> the query position's output                          (B, d)
    model: head([fused ; context])                             (B, F + d)

Why after the fusion and not inside it: every fusion plugin (SSE-FT, TFN, MulT...) gets context the
same way, and a turn costs one pooled vector (or, fused, the pass the batch makes anyway), not
another pass through the fusion per item that sees it. Why `fused` exists: a pooled frozen vector
says what a turn is about; the fusion's vector of it, trained on the labels, says how it felt, which
is what the next turn's emotion depends on. The query token is
always a valid key, so an item without context (a dialogue's first turn, a lone utterance) still gets
a finite vector, computed from itself alone.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from .config import ContextConfig
from .table import ContextInputs


class _Block(nn.Module):
    """Pre-norm self-attention + feed-forward; returns the attention of position 0 (the query)."""

    def __init__(self, d: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.attn = nn.MultiheadAttention(d, heads, dropout=dropout, batch_first=True)
        self.ffn = nn.Sequential(nn.Linear(d, 2 * d), nn.GELU(), nn.Dropout(dropout), nn.Linear(2 * d, d))
        self.drop = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, pad: torch.Tensor, need_weights: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = self.ln1(x)
        # weights only when a picture asks for them (they force attention's slower path)
        a, w = self.attn(h, h, h, key_padding_mask=pad, need_weights=need_weights, average_attn_weights=True)
        x = x + self.drop(a)
        x = x + self.drop(self.ffn(self.ln2(x)))
        return x, None if w is None else w[:, 0]  # (B, 1 + W): what the query attended to


class ContextStream(nn.Module):
    """See the module docstring. `dims`: the context modalities' feature widths."""

    def __init__(self, cfg: ContextConfig, dims: Mapping[str, int], fused_dim: int) -> None:
        super().__init__()
        if cfg.dim % cfg.heads:
            from ..errors import ConfigError

            raise ConfigError(f"context.dim {cfg.dim} must be a multiple of context.heads {cfg.heads}")
        self.cfg, self.dims = cfg, dict(dims)
        d = cfg.dim
        self.fused_turns = cfg.turns == "fused"
        width = fused_dim if self.fused_turns else sum(self.dims.values())
        self.turn_in = nn.Sequential(nn.Linear(width, d), nn.LayerNorm(d))
        self.query_in = nn.Sequential(nn.Linear(fused_dim, d), nn.LayerNorm(d))
        # distance -window .. +window (0 = the current utterance)
        self.distance = nn.Embedding(2 * cfg.window + 1, d)
        self.speaker = nn.Embedding(3, d) if cfg.speaker else None
        self.blocks = nn.ModuleList([_Block(d, cfg.heads, cfg.dropout) for _ in range(cfg.layers)])
        self.norm = nn.LayerNorm(d)
        self.out_dim = d

    def forward(
        self,
        fused: torch.Tensor,
        ctx: ContextInputs | None,
        standardize: Mapping[str, nn.Module] | None = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """fused (B, F), ctx (see table.py; None: no context) -> ((B, d), with `need_weights` the
        attention (B, W) over the context turns, query's own share excluded, zeros where there is no
        turn; else None)."""
        b, w = fused.shape[0], 0 if ctx is None else int(ctx.present.shape[1])
        q = self.query_in(fused)[:, None]  # (B, 1, d)
        zero = torch.full((b, 1), self.cfg.window, dtype=torch.long, device=fused.device)
        q = q + self.distance(zero)
        if self.speaker is not None:
            q = q + self.speaker(torch.ones_like(zero))  # the current turn: its own speaker
        if ctx is None or w == 0:
            x, present = q, torch.ones(b, 1, dtype=torch.bool, device=fused.device)
        else:
            t = self.turn_in(self._turns(fused, ctx, standardize))  # (B, W, d)
            t = t + self.distance((ctx.distance + self.cfg.window).clamp(0, 2 * self.cfg.window))
            if self.speaker is not None:
                t = t + self.speaker(ctx.speaker)
            t = t.masked_fill(~ctx.present[..., None], 0.0)
            x = torch.cat([q, t], dim=1)  # (B, 1 + W, d)
            present = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=fused.device), ctx.present], dim=1)
        attn = torch.zeros(b, w, device=fused.device) if need_weights else None
        for block in self.blocks:
            x, a = block(x, ~present, need_weights)
            if a is not None:
                attn = a[:, 1:]
        return self.norm(x[:, 0]), attn

    def _turns(
        self, fused: torch.Tensor, ctx: ContextInputs, standardize: Mapping[str, nn.Module] | None
    ) -> torch.Tensor:
        """What describes each context turn: (B, W, F) fused vectors or (B, W, sum D_m) pooled ones."""
        if self.fused_turns:
            local = ctx.local
            if local is None or bool((ctx.present & (local < 0)).any()):
                raise ValueError(
                    "a context turn is not in this batch: a model with `context.turns: fused` needs batches "
                    "of whole dialogues (make_loader / predict_conversation build them)"
                )
            return fused[local.clamp(min=0)] * ctx.present[..., None].to(fused.dtype)  # (B, W, F)
        parts = []
        for m in self.dims:
            v = ctx.features[m].to(fused.dtype)  # (B, W, D_m)
            if standardize is not None and m in standardize:  # the fusion's training statistics
                v = standardize[m](v, ctx.present)
            parts.append(v)
        return torch.cat(parts, dim=-1)

    def summary(self) -> str:
        n = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return f"{self.cfg.describe()}; stream width {self.out_dim}, {n:,} parameters"
