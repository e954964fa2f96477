"""LMF: Low-rank Multimodal Fusion of Liu, Shen, Lakshminarasimhan, Liang, Zadeh and Morency,
"Efficient Low-rank Multimodal Fusion with Modality-Specific Factors", ACL 2018.

TFN's weight tensor W (prod(w_m + 1) x h) is replaced by a rank-r decomposition into
modality-specific factors W_m^(i) (w_m + 1 -> h), so the fused vector is computed without ever
forming the outer product:

    h = sum_i lambda_i * prod_m ( [1, z_m] W_m^(i) ) + b        (Eq. 6-7; lambda: learned weights)

Linear in N and in each width instead of their product; any N >= 1. z_m from the same
subnetworks as TFN (subnets.py). Written from the paper.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .subnets import SubnetFusion


class LowRankFusion(SubnetFusion):
    def __init__(self, specs: list[Any], cfg: Any) -> None:
        super().__init__(specs, cfg)
        self.factors = nn.ParameterDict(
            {m: nn.Parameter(torch.empty(cfg.rank, w + 1, cfg.out_dim)) for m, w in self.z_widths.items()}
        )
        self.rank_weights = nn.Parameter(torch.empty(1, cfg.rank))
        self.bias = nn.Parameter(torch.zeros(1, cfg.out_dim))
        for p in [*self.factors.values(), self.rank_weights]:
            nn.init.xavier_normal_(p)
        self.out_dim = cfg.out_dim

    def term(self, m: str, z1: torch.Tensor) -> torch.Tensor:
        return torch.matmul(z1, self.factors[m])  # (rank, B, h)

    def combine(self, done: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        return done * term

    def fuse(
        self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, dict[Any, torch.Tensor]]:
        product = self.fold(seqs, frames)  # (rank, B, h)
        fused = torch.matmul(self.rank_weights, product.permute(1, 0, 2))[:, 0] + self.bias  # (B, h)
        return fused, {}
