"""Transformer building blocks of SSE-FT: post-LayerNorm self-attention and (stacked) cross-attention.

Both follow the fairseq/BERT encoder layer the authors used (post-LN, GELU, FFN width `ffn_dim`):

    x = LN(x + dropout(attention(x, ...)))
    x = LN(x + dropout(fc2(gelu(fc1(x)))))

Attention goes through `torch.nn.functional.scaled_dot_product_attention` (fused kernels); only when
the caller asks for the attention map (`need_weights`) is it computed explicitly, so the weights the
caller sees are exactly the ones used.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def attend(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_mask: torch.Tensor,
    dropout_p: float,
    need_weights: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Multi-head attention core.

    q: (B, H, Lq, d), k/v: (B, H, Lk, d), key_mask: (B, Lk) bool, True = a real key (at least one
    per row, the CLS, so no row is all -inf). Returns (B, H, Lq, d) and, if asked, the head-averaged
    probabilities (B, Lq, Lk) before dropout.
    """
    mask = key_mask[:, None, None, :]  # (B, 1, 1, Lk), broadcast over heads and queries
    if not need_weights:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p), None
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, Lq, Lk)
    probs = scores.masked_fill(~mask, float("-inf")).softmax(dim=-1)
    out = F.dropout(probs, dropout_p, training=dropout_p > 0) @ v
    return out, probs.mean(dim=1)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, D) -> (B, H, L, D/H)."""
    b, n, d = x.shape
    return x.view(b, n, heads, d // heads).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, d) -> (B, L, H*d)."""
    b, h, n, d = x.shape
    return x.transpose(1, 2).reshape(b, n, h * d)


class FeedForward(nn.Module):
    """Position-wise FFN: Linear(D, F) -> GELU -> Linear(F, D)."""

    def __init__(self, dim: int, ffn_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, ffn_dim)
        self.fc2 = nn.Linear(ffn_dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class SelfAttentionLayer(nn.Module):
    """Post-LN transformer encoder layer at width `dim` (step 1 of SSE-FT, paper Eq. 1-2)."""

    def __init__(self, dim: int, heads: int, ffn_dim: int, dropout: float, attn_dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.heads, self.dropout, self.attn_dropout = heads, dropout, attn_dropout
        self.qkv_proj = nn.Linear(dim, 3 * dim)  # q, k and v in one matmul
        self.out_proj = nn.Linear(dim, dim)
        self.attn_ln = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_dim)
        self.ffn_ln = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor) -> torch.Tensor:
        """x: (B, L, D), key_mask: (B, L) bool -> (B, L, D)."""
        q, k, v = self.qkv_proj(x).chunk(3, dim=-1)  # 3 x (B, L, D)
        p = self.attn_dropout if self.training else 0.0
        h, _ = attend(
            split_heads(q, self.heads), split_heads(k, self.heads), split_heads(v, self.heads), key_mask, p
        )
        x = self.attn_ln(x + F.dropout(self.out_proj(merge_heads(h)), self.dropout, self.training))
        return self.ffn_ln(x + F.dropout(self.ffn(x), self.dropout, self.training))


class StackedCrossAttentionLayer(nn.Module):
    """P post-LN cross-attention layers of one query width, weights stacked on a leading pair axis.

    One layer of each of the P IMA blocks that share query modality i (paper Sec. III-C, Fig. 3):
    query at width D = D_i, keys/values already projected from D_j into D by the caller. Storing the
    P layers stacked lets them run as batched matmuls (bmm) with no per-pair Python loop and no
    per-step weight copies; `sel` picks a slice of pairs (a view) to run some of them alone.
    Parameter names: q_/out_ (attention projections), fc1_/fc2_ (FFN), attn_ln_/ffn_ln_ (LayerNorms).
    """

    # Registered in __init__ via register_parameter; declared here so type checkers see Parameters.
    q_weight: nn.Parameter
    q_bias: nn.Parameter
    out_weight: nn.Parameter
    out_bias: nn.Parameter
    attn_ln_weight: nn.Parameter
    attn_ln_bias: nn.Parameter
    fc1_weight: nn.Parameter
    fc1_bias: nn.Parameter
    fc2_weight: nn.Parameter
    fc2_bias: nn.Parameter
    ffn_ln_weight: nn.Parameter
    ffn_ln_bias: nn.Parameter

    def __init__(
        self, pairs: int, dim: int, heads: int, ffn_dim: int, dropout: float, attn_dropout: float
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"width {dim} is not divisible by {heads} heads")
        self.pairs, self.dim, self.heads = pairs, dim, heads
        self.dropout, self.attn_dropout = dropout, attn_dropout
        shapes = {
            "q_weight": (dim, dim), "q_bias": (dim,), "out_weight": (dim, dim), "out_bias": (dim,),
            "attn_ln_weight": (dim,), "attn_ln_bias": (dim,),
            "fc1_weight": (ffn_dim, dim), "fc1_bias": (ffn_dim,), "fc2_weight": (dim, ffn_dim), "fc2_bias": (dim,),
            "ffn_ln_weight": (dim,), "ffn_ln_bias": (dim,),
        }  # fmt: skip
        for name, shape in shapes.items():
            self.register_parameter(name, nn.Parameter(torch.empty(pairs, *shape)))
        self.reset_parameters(0.02)

    def reset_parameters(self, std: float) -> None:
        """BERT-style: weights N(0, std), biases 0, LayerNorm scales 1."""
        for name, p in self.named_parameters():
            if name.endswith("ln_weight"):
                nn.init.ones_(p)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.normal_(p, 0.0, std)

    def forward(
        self,
        x: torch.Tensor,
        kvs: list[torch.Tensor],
        masks: list[torch.Tensor],
        need_weights: bool = False,
        sel: slice = slice(None),
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """x: (P, B, Lq, D) queries of the selected pairs; kvs[p]: (B, Lk_p, 2D) projected keys|values;
        masks[p]: (B, Lk_p) bool. Returns (P, B, Lq, D) and per pair the head-averaged weights (B, Lq, Lk_p)."""
        p_, b, lq, d = x.shape

        def linear(t: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            out = torch.baddbmm(bias[sel][:, None, :], t.reshape(p_, b * lq, -1), w[sel].transpose(1, 2))
            return out.view(p_, b, lq, -1)  # (P, B, Lq, Dout)

        def layer_norm(t: torch.Tensor, w: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
            return F.layer_norm(t, (d,)) * w[sel][:, None, None, :] + bias[sel][:, None, None, :]

        drop, p_attn = self.dropout, (self.attn_dropout if self.training else 0.0)
        q = linear(x, self.q_weight, self.q_bias)  # (P, B, Lq, D)
        heads, weights = [], []
        for q_p, kv, mask in zip(q.unbind(0), kvs, masks, strict=True):  # key lengths differ per pair
            k, v = kv.chunk(2, dim=-1)  # 2 x (B, Lk, D)
            hs = self.heads
            h, w = attend(
                split_heads(q_p, hs), split_heads(k, hs), split_heads(v, hs), mask, p_attn, need_weights
            )
            heads.append(merge_heads(h))  # (B, Lq, D)
            weights.append(w)
        h = linear(torch.stack(heads), self.out_weight, self.out_bias)
        x = layer_norm(x + F.dropout(h, drop, self.training), self.attn_ln_weight, self.attn_ln_bias)
        f = linear(F.gelu(linear(x, self.fc1_weight, self.fc1_bias)), self.fc2_weight, self.fc2_bias)
        return layer_norm(
            x + F.dropout(f, drop, self.training), self.ffn_ln_weight, self.ffn_ln_bias
        ), weights
