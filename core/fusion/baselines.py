"""Built-in baselines with the fusion engine's interface, selected by `fusion.kind`:

    late-fusion    per modality: mean over its real frames -> Linear(D_m, W) ; average over the
                   modalities present in the item (W = the widest modality) -> head
    concat-pool    per modality: mean over its real frames ; concatenated in declared order -> head
                   (the head, dropout -> Linear -> tanh -> dropout -> Linear, is the MLP)

Every comparison then has a floor trained, selected and tested exactly like SSE-FT. Padding never
counts: the mean runs over each item's first `length` frames only, and a modality of length 0 is
absent (late-fusion leaves it out of the average; concat-pool gives zeros in its slot).

Why not averaged *logits* for late fusion: the head owns everything task-shaped (outputs of any
shape, loss, metrics) and sits on one fused vector, so per-modality logits would need one head per
modality outside the head seam. Averaging per-modality linear maps of the pooled features into the
head's input (one shared head on top) is the closest form that keeps the seam: modalities meet only
in that average, after which the head's first Linear is still linear in each modality's term.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..specs import FusionConfig, ModalitySpec
from .inputs import modality_input

KINDS = ("late-fusion", "concat-pool")


def masked_mean(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """x (B, L, D), lengths (B,) -> (B, D): the mean over each item's first `length` frames; zeros for
    length 0. Padded frames are excluded by the mask, whatever they hold (even NaN)."""
    mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]  # (B, L)
    total = x.masked_fill(~mask[..., None], 0.0).sum(dim=1)
    return total / lengths.clamp(min=1).to(x.dtype)[:, None]


class PoolingFusion(nn.Module):
    """The two baselines (module docstring); forward has SSEFTFusion's signature."""

    def __init__(self, specs: Sequence[ModalitySpec], cfg: FusionConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or FusionConfig()
        specs = list(specs)
        if not specs:
            raise ConfigError("fusion: at least one modality is needed")
        self.kind = str(getattr(cfg, "kind", "late-fusion"))
        if self.kind not in KINDS:
            raise ConfigError(f"fusion.kind {self.kind!r} is not a pooling baseline ({', '.join(KINDS)})")
        self.specs, self.cfg = specs, cfg
        self.names = [s.name for s in specs]
        self.trim_padding = True  # interface parity with SSEFTFusion (pooling needs no trimming)
        # Optional input projections (ModalitySpec.project), as in SSEFTFusion's step 0.
        self.projections = nn.ModuleDict()
        for s in specs:
            if getattr(s, "project", None) is not None:
                from .projection import InputProjection

                self.projections[s.name] = InputProjection(s)
        widths = [int(getattr(s, "width", s.dim)) for s in specs]
        self.widths = dict(zip(self.names, widths, strict=True))
        if self.kind == "late-fusion":
            self.out_dim = max(widths)
            linears = {m: nn.Linear(w, self.out_dim) for m, w in self.widths.items()}
            for lin in linears.values():
                nn.init.normal_(lin.weight, 0.0, cfg.init_std)
                nn.init.zeros_(lin.bias)
            self.linears = nn.ModuleDict(linears)
        else:
            self.out_dim = sum(widths)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self,
        features: Mapping[str, torch.Tensor],
        lengths: Mapping[str, torch.Tensor],
        return_attention: bool = False,
        *,
        full_query: bool = False,
    ) -> torch.Tensor | tuple[torch.Tensor, dict]:
        """features[m] (B, L_m, D_m), lengths[m] (B,) -> (B, out_dim); attention: an empty dict."""
        pooled, present = {}, {}
        for s in self.specs:
            m = s.name
            x, n = modality_input(s, features, lengths, self.names)
            if n.numel() and (int(n.min()) < 0 or int(n.max()) > x.shape[1]):
                raise DataError(
                    f"fusion input {m!r}: lengths must lie in [0, {x.shape[1]}] (the padded length)"
                )
            if m in self.projections:
                frames = torch.arange(x.shape[1], device=x.device)[None, :] < n[:, None]
                x = self.projections[m](x.masked_fill(~frames[..., None], 0.0), frames)
            pooled[m] = masked_mean(x, n)  # (B, D_m)
            present[m] = (n > 0).to(pooled[m].dtype)  # (B,)
        if self.kind == "concat-pool":
            fused = torch.cat([pooled[m] for m in self.names], dim=-1)
        else:
            terms = torch.stack(
                [self.linears[m](pooled[m]) * present[m][:, None] for m in self.names]
            )  # (N, B, W)
            count = torch.stack([present[m] for m in self.names]).sum(dim=0).clamp(min=1.0)  # (B,)
            fused = terms.sum(dim=0) / count[:, None]
        fused = self.dropout(fused)
        return (fused, {}) if return_attention else fused

    def parameter_count(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def summary(self) -> str:
        mods = ", ".join(f"{m} {w}" for m, w in self.widths.items())
        return f"{self.kind} baseline: modalities {mods} -> fused {self.out_dim}; {self.parameter_count():,} parameters"


def build_fusion(specs: Sequence[ModalitySpec], cfg: FusionConfig) -> nn.Module:
    """The fusion module of `cfg.kind`: SSE-FT (default) or one of the pooling baselines."""
    kind = str(getattr(cfg, "kind", "sseft"))
    if kind == "sseft":
        from .model import SSEFTFusion

        return SSEFTFusion(specs, cfg)
    return PoolingFusion(specs, cfg)
