"""What an SSE-FT model costs: parameter counts per block, as a printable table."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from torch import nn

if TYPE_CHECKING:
    from .encoder import CLSEncoder
    from .model import SSEFTFusion
    from .projection import InputProjection


def parameter_count(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of any module."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def block_counts(model: SSEFTFusion) -> list[tuple[str, str, int]]:
    """(block, shape description, trainable parameters) for every block, in forward order."""
    rows: list[tuple[str, str, int]] = []
    specs = {s.name: s for s in model.specs}
    for s in model.specs:
        if s.standardize is not None:
            st = s.standardize
            what = f"(x - mean) / std per feature, {st.split} split ({st.items} items, {st.frames} frames)"
            rows.append((f"standardize[{s.name}]", what, 0))
        if s.name in model.projections:
            proj = cast("InputProjection", model.projections[s.name])
            rows.append((f"project[{s.name}]", proj.describe(s.dim), parameter_count(proj)))
    for s in model.specs:
        if s.name in model.encoders:
            enc = cast("CLSEncoder", model.encoders[s.name])  # ModuleDict values are typed as Module
            what = f"CLS + {s.max_len + 1} positions + {len(enc.layers)} self-attn layers @ {s.width}"
            if s.heads is not None:
                what += f", {s.heads} heads"
            rows.append((f"encoder[{s.name}]", what, parameter_count(enc)))
        else:
            rows.append((f"encoder[{s.name}]", "own CLS, used as is", 0))
    if model.ima is not None:
        for i, j in model.ima.pairs:
            qi, kj = specs[i], specs[j]
            what = f"{model.ima.n_layers} cross-attn layers @ {qi.width}, kv {kj.width}->{qi.width}"
            if qi.heads is not None:
                what += f", {qi.heads} heads"
            rows.append((f"ima[{i}->{j}]", what, model.ima.group(i).pair_parameter_count(j)))
    return rows


def summary(model: SSEFTFusion) -> str:
    """A per-block table of the model plus totals and the fused width."""
    rows = block_counts(model)
    width = max(len(r[0]) for r in rows)
    cfg = model.cfg
    lines = [
        f"SSE-FT fusion: {len(model.names)} modalities ({', '.join(model.names)}), ima={cfg.ima}, "
        f"reduce={cfg.reduce}, heads={cfg.heads}, ffn={cfg.ffn_dim}",
    ]
    lines += [f"  {name:<{width}}  {count:>12,}  {what}" for name, what, count in rows]
    lines.append(f"  {'total':<{width}}  {parameter_count(model):>12,}  trainable parameters")
    lines.append(f"  fused vector width (out_dim): {model.out_dim}")
    return "\n".join(lines)
