"""`FusionModule`: the one input path every fusion runs on, and the contract of what comes after it.

    features[m] (B, L_m, D_m), lengths[m] (B,)                       (any fusion's forward input)
      -> checks: every modality present, shapes, 0 <= length <= padded length and max_len
      -> cut each modality to the batch's longest item, zero the padded frames
      -> standardise (ModalitySpec.standardize: training-split statistics, no parameters)
      -> project (ModalitySpec.project: Linear or Conv1d + LayerNorm) -> width W_m
      -> fuse(seqs[m] (B, L_m, W_m) with padding zero, frames[m] (B, L_m) bool: True = a real frame)
      -> (B, out_dim), plus optional attention maps {(i, j): (B, L_j...)} for the pictures

`forward` is final: `build_fusion` refuses a fusion class that overrides it, so no fusion can skip
a step of the input path (the pooled baselines once skipped standardisation). A fusion implements
`fuse` and sets `out_dim`. Projections and standardisers live here, under the state-dict keys
`projections.<m>.*` (standardisers have no state), as they always have for SSE-FT.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, DataError
from ..specs import ModalitySpec
from .inputs import modality_input
from .projection import InputProjection
from .standardize import Standardize

Attention = dict[Any, torch.Tensor]


def modality_names(specs: Sequence[ModalitySpec]) -> list[str]:
    """The modalities' names, in order; ConfigError when there are none or a name repeats."""
    if not specs:
        raise ConfigError("fusion: at least one modality is needed")
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"fusion: modality names must be unique, repeated: {dupes}")
    return names


class FusionModule(nn.Module):
    """Base class of every fusion: `forward` runs the input path, then the subclass's `fuse`."""

    out_dim: int
    # Set by build_fusion from the plugin's declaration (core/fusion/protocol.py).
    handles_missing: bool = True
    fusion_name: str = ""

    def __init__(self, specs: Sequence[ModalitySpec]) -> None:
        super().__init__()
        specs = list(specs)
        self.specs, self.names = specs, modality_names(specs)
        self.projections = nn.ModuleDict({s.name: InputProjection(s) for s in specs if s.project is not None})
        self.standardizers = nn.ModuleDict(
            {s.name: Standardize(s) for s in specs if s.standardize is not None}
        )
        # Cut every batch to its longest item (True) or keep the given padding (False: same outputs).
        self.trim_padding = True

    @property
    def widths(self) -> dict[str, int]:
        """Each modality's width after the input path (its projected width, else its feature width)."""
        return {s.name: s.width for s in self.specs}

    def forward(
        self,
        features: Mapping[str, torch.Tensor],
        lengths: Mapping[str, torch.Tensor],
        return_attention: bool = False,
        **options: Any,
    ) -> torch.Tensor | tuple[torch.Tensor, Attention]:
        """features[m] (B, L_m, D_m) float, lengths[m] (B,) int -> (B, out_dim); with
        `return_attention`, (fused, attention). Extra modalities in `features` are ignored.
        `options` go to `fuse` as they are (SSE-FT: `full_query`)."""
        seqs, frames = self.prepare(features, lengths)
        fused, attn = self.fuse(seqs, frames, need_weights=return_attention, **options)
        return (fused, attn) if return_attention else fused

    def fuse(
        self, seqs: dict[str, torch.Tensor], frames: dict[str, torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, Attention]:
        """The fusion proper: prepared sequences -> ((B, out_dim), attention or {})."""
        raise NotImplementedError(f"{type(self).__name__} must implement fuse(seqs, frames, need_weights)")

    @torch.compiler.disable
    def prepare(
        self, features: Mapping[str, torch.Tensor], lengths: Mapping[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The input path (module docstring): seqs[m] (B, L_m, W_m) and frames[m] (B, L_m) bool."""
        seqs, frames = {}, {}
        batch = None
        for s in self.specs:
            m = s.name
            x, n = modality_input(s, features, lengths, self.names)
            if batch is not None and x.shape[0] != batch:
                raise DataError(f"fusion input {m!r}: batch size {x.shape[0]} differs from {batch}")
            batch = x.shape[0]
            if torch.compiler.is_exporting():
                # torch.export traces symbolic lengths: no data-dependent checks and no trimming (the
                # exported graph masks the padding it is given; core/export/ checks the inputs).
                longest, keep = 0, x.shape[1]
            else:
                longest = int(n.max()) if n.numel() else 0
                keep = max(longest if self.trim_padding else x.shape[1], 1 if s.uses_own_cls else 0)
            if n.numel() and not torch.compiler.is_exporting() and int(n.min()) < 0:
                raise DataError(f"fusion input {m!r}: negative length {int(n.min())}")
            if (
                n.numel()
                and not self.handles_missing
                and not torch.compiler.is_exporting()
                and int(n.min()) == 0
            ):
                raise DataError(
                    f"fusion input {m!r}: an item has no {m} frames, and fusion {self.fusion_name!r} cannot "
                    "take an item without a modality; drop such items or choose a fusion that can"
                )
            if longest > s.max_len:
                raise DataError(
                    f"fusion input {m!r}: sequence of {longest} exceeds max_len {s.max_len} of the modality "
                    f"spec; crop the features or raise max_len"
                )
            if longest > x.shape[1]:
                raise DataError(
                    f"fusion input {m!r}: length {longest} exceeds the padded length {x.shape[1]}"
                )
            # (keep, above: an own-CLS sequence always keeps position 0, its CLS, zero if the item is empty)
            x = x[:, :keep] if x.shape[1] >= keep else nn.functional.pad(x, (0, 0, 0, keep - x.shape[1]))
            mask = torch.arange(keep, device=x.device)[None, :] < n[:, None]  # (B, L)
            # zeroed padding: garbage (even NaN) in padded frames never leaks through a 0 weight
            x = x.masked_fill(~mask[..., None], 0.0)
            if m in self.standardizers:
                x = self.standardizers[m](x, mask)
            if m in self.projections:
                x = self.projections[m](x, mask)  # (B, L, project.dim), padding still zero
            seqs[m], frames[m] = x, mask
        return seqs, frames

    def parameter_count(self, trainable_only: bool = True) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def summary(self) -> str:
        """One line: the fusion, its modalities and widths, its size."""
        mods = ", ".join(f"{m} {w}" for m, w in self.widths.items())
        name = self.fusion_name or type(self).__name__
        return (
            f"{name} fusion: modalities {mods} -> fused {self.out_dim}; {self.parameter_count():,} parameters"
        )


def masked_mean(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """x (B, L, D), frames (B, L) bool (or lengths (B,)) -> (B, D): the mean over each item's real
    frames; zeros for an empty item. Padded frames are excluded by the mask, whatever they hold."""
    if frames.dim() == 1:  # lengths
        frames = torch.arange(x.shape[1], device=x.device)[None, :] < frames[:, None]
    total = x.masked_fill(~frames[..., None], 0.0).sum(dim=1)
    count = frames.sum(dim=1).clamp(min=1).to(x.dtype)
    return total / count[:, None]


def last_frame(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    """x (B, L, D) -> (B, D): each item's last real frame (zeros for an empty item)."""
    n = frames.sum(dim=1)
    idx = (n - 1).clamp(min=0)
    picked = x.gather(1, idx[:, None, None].expand(-1, 1, x.shape[-1]))[:, 0]
    return picked * (n > 0).to(x.dtype)[:, None]
