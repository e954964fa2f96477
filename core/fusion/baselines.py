"""The pooled baselines as fusion plugins, trained, selected and tested exactly like SSE-FT:

    late-fusion    per modality: mean over its real frames -> Linear(W_m, W) ; average over the
                   modalities present in the item (W = the widest modality) -> head
    concat-pool    per modality: mean over its real frames ; concatenated in declared order -> head
                   (the head, dropout -> Linear -> tanh -> dropout -> Linear, is the MLP)

Both run on the shared input path (base.py), so standardised and projected modalities reach them
standardised and projected. Padding never counts: the mean runs over each item's real frames only,
and a modality of length 0 is absent (late-fusion leaves it out of the average; concat-pool gives
zeros in its slot).

Why not averaged *logits* for late fusion: the head owns everything task-shaped (outputs of any
shape, loss, metrics) and sits on one fused vector, so per-modality logits would need one head per
modality outside the head seam. Averaging per-modality linear maps of the pooled features into the
head's input (one shared head on top) is the closest form that keeps the seam: modalities meet only
in that average, after which the head's first Linear is still linear in each modality's term.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..specs import ModalitySpec
from .base import FusionModule, masked_mean
from .options import PoolingConfig

KINDS = ("late-fusion", "concat-pool")


class PoolingFusion(FusionModule):
    """The two baselines (module docstring)."""

    def __init__(self, specs: Sequence[ModalitySpec], cfg: Any = None, kind: str | None = None) -> None:
        super().__init__(specs)
        # `kind`: the plugin's name; older callers pass a config that carries it (`kind`/`name`)
        kind = kind or str(getattr(cfg, "kind", None) or getattr(cfg, "name", None) or "late-fusion")
        if kind not in KINDS:
            raise ConfigError(f"fusion {kind!r} is not a pooling baseline ({', '.join(KINDS)})")
        options = cfg.options() if hasattr(cfg, "options") else (cfg.model_dump() if cfg is not None else {})
        cfg = PoolingConfig.model_validate(
            {k: v for k, v in options.items() if k in PoolingConfig.model_fields}
        )
        self.kind, self.cfg = kind, cfg
        widths = [s.width for s in self.specs]
        if kind == "late-fusion":
            self.out_dim = max(widths)
            linears = {s.name: nn.Linear(s.width, self.out_dim) for s in self.specs}
            for lin in linears.values():
                nn.init.normal_(lin.weight, 0.0, cfg.init_std)
                nn.init.zeros_(lin.bias)
            self.linears = nn.ModuleDict(linears)
        else:
            self.out_dim = sum(widths)
        self.dropout = nn.Dropout(cfg.dropout)

    def fuse(
        self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, dict[Any, torch.Tensor]]:
        pooled = {m: masked_mean(seqs[m], frames[m]) for m in self.names}  # (B, W_m)
        if self.kind == "concat-pool":
            fused = torch.cat([pooled[m] for m in self.names], dim=-1)
        else:
            present = {m: frames[m].any(dim=1).to(pooled[m].dtype) for m in self.names}  # (B,)
            terms = torch.stack([self.linears[m](pooled[m]) * present[m][:, None] for m in self.names])
            count = torch.stack([present[m] for m in self.names]).sum(dim=0).clamp(min=1.0)  # (B,)
            fused = terms.sum(dim=0) / count[:, None]
        return self.dropout(fused), {}

    def summary(self) -> str:
        mods = ", ".join(f"{m} {w}" for m, w in self.widths.items())
        return f"{self.kind} baseline: modalities {mods} -> fused {self.out_dim}; {self.parameter_count():,} parameters"
