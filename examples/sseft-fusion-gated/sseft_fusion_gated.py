"""Example third-party sseft fusion: a gated multimodal unit (after Arevalo et al., "Gated
Multimodal Units for Information Fusion", ICLR workshop 2017), for any number of modalities.

    h_m = tanh(W_m mean(x_m))                  per modality: its real frames pooled, then projected to `dim`
    g   = softmax_m(V [h_1, ..., h_N])         how much each modality counts, per item
    f   = sum_m g_m h_m                        (an item without a modality gives it no weight)

The whole plugin is this file plus one entry point in pyproject.toml. It imports no torch at import
time (`sseft plugins` loads every plugin): the module class is made on the first `build`. The
framework runs the shared input path (standardise, project, mask) before `fuse`, so this file never
sees raw features or padding it would have to mask itself.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sseft.core.hookspecs import hookimpl


class GatedConfig(BaseModel):
    """Options: `fusion: {name: gated, dim: 64, dropout: 0.1}` in an experiment config."""

    model_config = ConfigDict(extra="forbid")

    dim: int = Field(default=64, ge=1, description="width of every modality's h_m and of the fused vector")
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="dropout on the fused vector")


@functools.cache
def _module_class() -> type:
    import torch
    from torch import nn

    from sseft.core.fusion.base import FusionModule, masked_mean

    class GatedFusion(FusionModule):
        def __init__(self, specs: Sequence[Any], cfg: GatedConfig) -> None:
            super().__init__(specs)  # the input path: projections and standardisers of the specs
            self.proj = nn.ModuleDict({s.name: nn.Linear(s.width, cfg.dim) for s in self.specs})
            self.gate = nn.Linear(len(self.specs) * cfg.dim, len(self.specs))
            self.drop = nn.Dropout(cfg.dropout)
            self.out_dim = cfg.dim

        def fuse(self, seqs, frames, need_weights=False):  # type: ignore[no-untyped-def]
            hs = [torch.tanh(self.proj[m](masked_mean(seqs[m], frames[m]))) for m in self.names]
            present = torch.stack([frames[m].any(dim=1) for m in self.names], dim=1)  # (B, N)
            scores = self.gate(torch.cat(hs, dim=-1)).masked_fill(~present, -1e4)
            g = torch.softmax(scores, dim=-1) * present  # (B, N); an empty item gets all zeros
            fused = (torch.stack(hs, dim=1) * g[..., None]).sum(dim=1)
            return self.drop(fused), ({"gates": g} if need_weights else {})

    return GatedFusion


class GatedPlugin:
    name = "gated"
    config_model = GatedConfig
    description = "gated multimodal unit (Arevalo et al. 2017): per-item softmax weights over modalities"
    min_modalities = 1
    max_modalities = None
    handles_missing = True

    def build(self, specs: Sequence[Any], config: GatedConfig) -> Any:
        return _module_class()(specs, config)


@hookimpl
def register_fusions(register: Any) -> None:
    register(GatedPlugin())
