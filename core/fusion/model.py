"""SSEFTFusion: the Self Supervised Embedding Fusion Transformer for N modalities.

    features[m] (B, L_m, D_m), lengths[m] (B,)
      -> step 0  optional input projection (+ LN) per modality -> (B, L_m, project.dim)  (projection.py)
      -> step 1  CLSEncoder per modality without its own CLS   -> (B, 1 + L_m, D_m), CLS at 0
      -> step 2  N(N-1) IMA blocks, CLS_i attends over seq_j   -> CLS_{i->j} (B, D_i)
      -> step 3  per query modality i, reduce its N-1 tokens   -> f_i (B, D_i)   (Eq. 3: Hadamard)
      -> concatenate f_1 .. f_N in declared order              -> (B, out_dim)

Ablations (paper Table 8) are configuration: a subset of modalities (one modality: its step-1 CLS;
two: the two cross tokens), `ima: false` (concatenate the step-1 CLS tokens) and
`reduce: hadamard | concat | mean`. Named presets are in `presets.py`.

Empty items (length 0 in a modality) never give NaN: a prepended CLS is always a valid key; for a
modality that brings its own CLS, an empty item gets a zero vector at position 0, kept as a valid key
(so it contributes only the key/value biases, and a zero CLS query).

Step 0 (standardise, project, mask) is the input path every fusion shares (base.py).

Widths: D_m below is a modality's working width, `ModalitySpec.width` (the projected width when it
has `project`, else its feature width); heads are per modality (`ModalitySpec.heads`, default
`fusion.heads`). Without projections and per-modality heads the model is exactly the authors'.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch import nn

from ..errors import ConfigError
from ..specs import FusionConfig, ModalitySpec, SSEFTConfig
from .base import FusionModule, modality_names
from .encoder import CLSEncoder
from .ima import IMAMode, InterModalityAttention, Pair
from .layers import StackedCrossAttentionLayer


class SSEFTFusion(FusionModule):
    """N embedding sequences -> one fused vector of width `out_dim` (see the module docstring)."""

    def __init__(self, specs: Sequence[ModalitySpec], cfg: SSEFTConfig | FusionConfig | None = None) -> None:
        cfg = _sseft_config(cfg)
        specs = list(specs)
        _check_specs(specs, cfg)
        # step 0 (the shared input path): projections (empty without: then the parameters and state-dict
        # keys are exactly the authors') and fixed standardisers (buffers, no parameters)
        super().__init__(specs)
        self.cfg = cfg
        self.encoders = nn.ModuleDict({s.name: CLSEncoder(s, cfg) for s in specs if not s.uses_own_cls})
        self.ima = InterModalityAttention(specs, cfg) if cfg.ima and len(specs) > 1 else None
        # "batched" (fast) or "loop" (one block at a time); both CLS-only and numerically equal.
        self.ima_impl: IMAMode = "batched"
        n, dims = len(specs), [s.width for s in specs]
        self.out_dim = sum(dims) * (n - 1) if self.ima is not None and cfg.reduce == "concat" else sum(dims)
        self.apply(functools.partial(_init_bert, std=cfg.init_std))

    def fuse(
        self,
        seqs: dict[str, torch.Tensor],
        frames: dict[str, torch.Tensor],
        need_weights: bool = False,
        *,
        full_query: bool = False,
    ) -> tuple[torch.Tensor, dict[Pair, torch.Tensor]]:
        """Steps 1-3 on the prepared sequences -> ((B, out_dim), attn).

        attn[(i, j)]: (B, L_j incl. CLS), where CLS_i attended over j's modified sequence in the last
        IMA layer, averaged over heads (empty when there is no IMA or `need_weights` is False).
        `full_query=True` runs the authors' formulation (whole query sequence through each IMA block,
        position 0 read): same result, much slower; for parity tests/benchmarks.
        """
        masks = {}
        for s in self.specs:
            mask = frames[s.name]
            if s.uses_own_cls:
                mask = mask.clone()
                mask[:, 0] = True  # the CLS position is always a valid key (zero vector if the item is empty)
            masks[s.name] = mask
        seqs = dict(seqs)
        # Step 1: a CLS at position 0 of every sequence.
        for m, enc in self.encoders.items():
            seqs[m], masks[m] = enc(seqs[m], masks[m])  # (B, 1 + L_m, D_m)
        attn: dict[Pair, torch.Tensor] = {}
        if self.ima is None:  # unimodal or `ima: false`: the step-1 CLS tokens
            fused = torch.cat([seqs[m][:, 0] for m in self.names], dim=-1)
        else:
            mode: IMAMode = "full_query" if full_query else self.ima_impl
            cross, attn = self.ima(seqs, masks, need_weights=need_weights, mode=mode)
            fused = self._reduce(cross)
        return fused, attn

    def _reduce(self, cross: dict[Pair, torch.Tensor]) -> torch.Tensor:
        """Step 3 (Eq. 3): group the cross tokens by query modality, reduce, concatenate -> (B, out_dim)."""
        parts: list[torch.Tensor] = []
        for i in self.names:
            tokens = [cross[i, j] for j in self.names if j != i]  # N-1 x (B, D_i)
            if self.cfg.reduce == "concat":
                parts.extend(tokens)
            elif self.cfg.reduce == "mean":
                parts.append(torch.stack(tokens).mean(dim=0))
            else:
                parts.append(functools.reduce(torch.mul, tokens))
        return torch.cat(parts, dim=-1)

    def parameter_count(self, trainable_only: bool = True) -> int:
        from .summary import parameter_count

        return parameter_count(self, trainable_only)

    def summary(self) -> str:
        from .summary import summary

        return summary(self)


def _sseft_config(cfg: SSEFTConfig | FusionConfig | None) -> SSEFTConfig:
    """SSE-FT's own config from any form (None: the defaults; a generic `fusion:` section: its options)."""
    if cfg is None:
        return SSEFTConfig()
    if isinstance(cfg, FusionConfig):
        if cfg.name != "sseft":
            raise ConfigError(
                f"SSEFTFusion got the config of fusion {cfg.name!r}; build it with build_fusion"
            )
        return SSEFTConfig.model_validate(cfg.options())
    return cfg


def _check_specs(specs: list[ModalitySpec], cfg: SSEFTConfig) -> None:
    modality_names(specs)  # FusionModule checks it too, but before these width checks
    attends = cfg.ima and len(specs) > 1
    for s in specs:
        heads = s.n_heads(cfg.heads)
        if (attends or not s.uses_own_cls) and s.width % heads:
            where = f"modalities[{s.name}].heads={heads}" if s.heads is not None else f"fusion.heads={heads}"
            what = f"projected dim {s.width}" if s.project is not None else f"dim {s.dim}"
            raise ConfigError(
                f"modality {s.name!r}: {what} is not divisible by {where}; give it a projection to a width "
                f"that is, e.g. `project: {{dim: {suggest_width(s.dim, heads)}}}`, or set its `heads` to a "
                f"divisor of {s.width}"
            )


def suggest_width(dim: int, heads: int) -> int:
    """A projection width for `heads` heads: the smallest multiple of 8 x heads (>= 8 per head) >= dim."""
    step = 8 * heads
    return max(1, -(-dim // step)) * step


def _init_bert(module: nn.Module, std: float) -> None:
    """BERT-style init: N(0, std) weights, CLS vectors and positions; zero biases; LayerNorm (1, 0)."""
    if isinstance(module, nn.Linear | nn.Conv1d):  # Conv1d: an input projection (always with a bias)
        nn.init.normal_(module.weight, 0.0, std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, StackedCrossAttentionLayer):
        module.reset_parameters(std)
    elif isinstance(module, CLSEncoder):
        nn.init.normal_(module.cls, 0.0, std)
        nn.init.normal_(module.positions, 0.0, std)
