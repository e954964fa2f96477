"""Step 2 of SSE-FT: Inter-Modality Attention (paper Sec. III-C, Fig. 3).

For every ordered pair (i, j), i != j, an IMA block of `n_ima` post-LN cross-attention layers lets
the CLS token of modality i (width D_i) attend over the whole modified sequence of modality j
(width D_j, projected to D_i). N modalities give N(N-1) blocks, each returning an updated CLS_{i->j}.

The N-1 blocks that share query modality i live in one `IMAGroup`: their layer weights are stacked
on a leading pair axis (so they run as one bmm each) and each has its own K/V projection from D_j.

Three ways to run the same parameters (same numbers, tests check it):

* ``full_query``: the authors' formulation. The whole query sequence of i goes through each block,
  one block at a time, and only position 0 is read. Nothing in a block mixes query positions (the
  queries attend to j only; FFN and LayerNorms are position-wise), so position 0 never depends on
  the other positions: computing the CLS alone gives the same result.
* ``loop``: CLS-only query, one block at a time (what a straightforward port would do).
* ``batched`` (default): CLS-only query, and
    - K/V: one GEMM per key modality j computes keys and values of every block reading j, for every
      layer, instead of (N-1) x n_ima GEMMs over j's long sequence;
    - query side: the N-1 blocks of a query modality advance together (stacked weights, bmm); only the
      attention core is one call per pair (key lengths differ).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..specs import ModalitySpec, SSEFTConfig
from .layers import StackedCrossAttentionLayer

Pair = tuple[str, str]  # (query modality i, key/value modality j)
IMAMode = Literal["batched", "loop", "full_query"]


class IMAGroup(nn.Module):
    """The N-1 IMA blocks with query modality i: block p lets CLS_i attend over modality keys[p]."""

    def __init__(self, query: ModalitySpec, others: Sequence[ModalitySpec], cfg: SSEFTConfig) -> None:
        super().__init__()
        self.keys = [s.name for s in others]  # pair axis order = declared order of the other modalities
        # D_i, D_j: the modalities' working widths (projected, when they have an input projection)
        self.dim, self.n_layers = query.width, cfg.n_ima
        # kv_proj[j]: D_j -> k|v of every layer; output features [2 D l, 2 D (l + 1)) feed layer l.
        self.kv_proj = nn.ModuleDict({s.name: nn.Linear(s.width, cfg.n_ima * 2 * self.dim) for s in others})
        self.layers = nn.ModuleList(
            StackedCrossAttentionLayer(
                len(others), self.dim, query.n_heads(cfg.heads), cfg.ffn_dim, cfg.dropout, cfg.attn_dropout
            )
            for _ in range(cfg.n_ima)
        )

    def forward(
        self,
        query: torch.Tensor,
        kv: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        need_weights: bool = False,
        one_by_one: bool = False,
    ) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
        """query: (B, Lq, D_i); kv[j]: (B, L_j, n_ima * 2 D_i) from `kv_proj[j]`; masks[j]: (B, L_j).

        Returns (P, B, Lq, D_i), block p's output, and per block the last layer's head-averaged
        attention (B, Lq, L_j) if asked. `one_by_one` runs the blocks separately (pair slices of the
        stacked weights, no copies) instead of together."""
        # split (not slicing): its backward is one cat, not a zero-filled full-size tensor per slice
        per_key = [kv[j].split(2 * self.dim, dim=-1) for j in self.keys]  # [P][n_ima] (B, L_j, 2 D_i)
        kvs = [[parts[n] for parts in per_key] for n in range(self.n_layers)]
        msk = [masks[j] for j in self.keys]
        runs = [slice(p, p + 1) for p in range(len(self.keys))] if one_by_one else [slice(None)]
        outs, weights = [], []
        for sel in runs:
            x = query[None].expand(len(self.keys[sel]), *query.shape)  # (P, B, Lq, D): all start at i
            for n, layer in enumerate(self.layers):
                x, w = layer(x, kvs[n][sel], msk[sel], need_weights and n == self.n_layers - 1, sel)
            outs.append(x)
            weights.extend(w)
        return torch.cat(outs) if len(outs) > 1 else outs[0], weights

    def pair_parameter_count(self, key: str) -> int:
        """Parameters of the single block CLS_i -> key (its share of the stacked weights + its K/V)."""
        stacked = sum(p.numel() for p in self.layers.parameters()) // len(self.keys)
        return stacked + sum(p.numel() for p in self.kv_proj[key].parameters())


class InterModalityAttention(nn.Module):
    """All N(N-1) IMA blocks: `groups[i]` holds the N-1 blocks whose query is modality i."""

    def __init__(self, specs: Sequence[ModalitySpec], cfg: SSEFTConfig) -> None:
        super().__init__()
        self.names = [s.name for s in specs]
        self.n_layers = cfg.n_ima
        self.groups = nn.ModuleDict(
            {i.name: IMAGroup(i, [j for j in specs if j.name != i.name], cfg) for i in specs}
        )

    @property
    def pairs(self) -> list[Pair]:
        """Ordered pairs (i, j), i != j, in declared order of i then j."""
        return [(i, j) for i in self.names for j in self.names if j != i]

    def forward(
        self,
        seqs: dict[str, torch.Tensor],
        masks: dict[str, torch.Tensor],
        need_weights: bool = False,
        mode: IMAMode = "batched",
    ) -> tuple[dict[Pair, torch.Tensor], dict[Pair, torch.Tensor]]:
        """seqs[m]: (B, L_m, D_m) modified sequences (CLS at 0), masks[m]: (B, L_m) key masks.
        Returns cross[(i, j)]: (B, D_i) = CLS_{i->j}, and (if asked) attn[(i, j)]: (B, L_j)."""
        kv = self._project_kv(seqs) if mode == "batched" else None
        cross, attn = {}, {}
        for i in self.groups:
            group = self.group(i)
            if kv is None:  # one K/V GEMM per block, as separate blocks would do
                kv_i = {j: group.kv_proj[j](seqs[j]) for j in group.keys}
            else:
                kv_i = {j: kv[i, j] for j in group.keys}
            query = seqs[i] if mode == "full_query" else seqs[i][:, :1]  # (B, Lq, D_i)
            y, weights = group(query, kv_i, masks, need_weights, one_by_one=mode != "batched")
            for p, (j, y_p) in enumerate(zip(group.keys, y.unbind(0), strict=True)):
                cross[i, j] = y_p[:, 0]  # the CLS position: (B, D_i)
                if weights[p] is not None:
                    attn[i, j] = weights[p][:, 0]  # (B, L_j)
        return cross, attn

    def group(self, i: str) -> IMAGroup:
        """The IMA blocks with query modality i (ModuleDict lookups are typed as plain Modules)."""
        return cast(IMAGroup, self.groups[i])

    def _project_kv(self, seqs: dict[str, torch.Tensor]) -> dict[Pair, torch.Tensor]:
        """K/V of every block and layer reading j in one GEMM over j's sequence -> kv[(i, j)]."""
        kv = {}
        for j in self.names:
            readers = [i for i in self.names if i != j]
            # ModuleDict items are typed as plain Modules; kv_proj holds nn.Linear (see IMAGroup)
            projs = [cast(nn.Linear, self.group(i).kv_proj[j]) for i in readers]
            w = torch.cat([p.weight for p in projs])  # (sum_i n_ima 2 D_i, D_j)
            out = F.linear(seqs[j], w, torch.cat([p.bias for p in projs]))  # (B, L_j, sum_i n_ima 2 D_i)
            for i, chunk in zip(readers, out.split([p.out_features for p in projs], dim=-1), strict=True):
                kv[i, j] = chunk  # (B, L_j, n_ima 2 D_i)
        return kv
