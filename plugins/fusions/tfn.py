"""TFN: the Tensor Fusion Network of Zadeh, Chen, Poria, Cambria and Morency, "Tensor Fusion Network
for Multimodal Sentiment Analysis", EMNLP 2017.

    z_m = subnet_m(sequence_m)                      per modality (subnets.py)
    Z   = [1, z_1] (x) [1, z_2] (x) ... (x) [1, z_N]  outer product, flattened: prod(w_m + 1) entries
    f   = ReLU(W2 ReLU(W1 dropout(Z)))               post-fusion layers (their last Linear is the head)

The constant 1 appended to each z_m makes Z hold every unimodal, bimodal, ..., N-modal interaction.
Any N >= 1 works, but the size grows as the product of the widths: Z has prod(w_m + 1) entries per
item and W1 has that many x post_fusion_dim weights. Past `max_fused` entries the model refuses with
the number it would need. Written from the paper.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sseft.core.errors import ConfigError

from .subnets import SubnetFusion


def fused_size(widths: list[int]) -> int:
    """prod(w_m + 1): the entries of TFN's fused tensor per item."""
    return math.prod(w + 1 for w in widths)


class TensorFusion(SubnetFusion):
    def __init__(self, specs: list[Any], cfg: Any) -> None:
        super().__init__(specs, cfg)
        size = fused_size(list(self.z_widths.values()))
        if size > cfg.max_fused:
            terms = " x ".join(f"({w}+1)" for w in self.z_widths.values())
            raise ConfigError(
                f"fusion 'tfn': the fused tensor would have {terms} = {size:,} entries per item and its first "
                f"post-fusion layer {size * cfg.post_fusion_dim:,} weights, over max_fused {cfg.max_fused:,}; "
                "narrow the subnetworks (hidden/out) or raise max_fused"
            )
        self.post_dropout = nn.Dropout(cfg.post_fusion_dropout)
        self.post1 = nn.Linear(size, cfg.post_fusion_dim)
        self.post2 = nn.Linear(cfg.post_fusion_dim, cfg.post_fusion_dim)
        self.out_dim = cfg.post_fusion_dim

    def combine(self, done: torch.Tensor, term: torch.Tensor) -> torch.Tensor:
        """The outer product, flattened (B, prod(w + 1)); the order only permutes W1's columns."""
        return (done[:, :, None] * term[:, None, :]).flatten(1)

    def fuse(
        self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, dict[Any, torch.Tensor]]:
        h = F.relu(self.post1(self.post_dropout(self.fold(seqs, frames))))
        return F.relu(self.post2(h)), {}
