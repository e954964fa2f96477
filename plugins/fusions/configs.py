"""Config models of the built-in fusions (pydantic only: imported by the entry-point module).

Every field has a default, so `fusion: {name: tfn}` is a complete config. Per-modality options are
mappings keyed by modality name; a modality not listed gets the fusion-wide default.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from sseft.core.config import StrictModel

Rate = float


class Subnet(StrictModel):
    """One modality's embedding subnetwork (TFN and LMF, Zadeh et al. 2017 Sec. 3.1): `dnn` pools the
    sequence (mean over real frames), then BatchNorm -> dropout -> 3 x (Linear -> ReLU) at `hidden`;
    `lstm` runs an LSTM of `hidden` units over the sequence, takes its state at the last real frame,
    then dropout -> Linear to `out`."""

    kind: Literal["dnn", "lstm"] = "dnn"
    hidden: int = Field(default=32, ge=1)
    out: int | None = Field(default=None, ge=1, description="lstm output width; None: hidden")
    dropout: Rate = Field(default=0.3, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _out_is_lstm(self) -> Subnet:
        if self.kind == "dnn" and self.out not in (None, self.hidden):
            raise ValueError(f"out {self.out} needs kind: lstm (a dnn subnetwork ends at its hidden width)")
        return self

    @property
    def width(self) -> int:
        return self.out if self.kind == "lstm" and self.out is not None else self.hidden


class SubnetsConfig(StrictModel):
    subnets: dict[str, Subnet] = Field(
        default_factory=dict, description="per modality: {kind: dnn|lstm, hidden, out, dropout}"
    )
    hidden: int = Field(default=32, ge=1, description="dnn width of a modality not in `subnets`")
    subnet_dropout: Rate = Field(default=0.3, ge=0.0, lt=1.0, description="dropout of those subnetworks")

    def subnet(self, name: str) -> Subnet:
        return self.subnets.get(name) or Subnet(hidden=self.hidden, dropout=self.subnet_dropout)


class TFNConfig(SubnetsConfig):
    """Tensor Fusion Network options (Zadeh et al., EMNLP 2017)."""

    post_fusion_dim: int = Field(default=64, ge=1, description="width of the two post-fusion layers")
    post_fusion_dropout: Rate = Field(default=0.5, ge=0.0, lt=1.0)
    # The fused tensor has prod(width_m + 1) entries per item and the first post-fusion Linear that
    # many x post_fusion_dim weights: refuse past this many entries instead of running out of memory.
    max_fused: int = Field(default=2_000_000, ge=1, description="largest prod(width_m + 1) allowed")


class LMFConfig(SubnetsConfig):
    """Low-rank Multimodal Fusion options (Liu et al., ACL 2018)."""

    rank: int = Field(default=4, ge=1, description="rank of the modality-specific factors")
    out_dim: int = Field(default=32, ge=1, description="width of the fused vector h")


class MulTConfig(StrictModel):
    """Multimodal Transformer options (Tsai et al., ACL 2019)."""

    dim: int = Field(default=30, ge=1, description="every modality's width inside the model")
    heads: int = Field(default=6, ge=1)
    layers: int = Field(default=4, ge=1, description="layers of each crossmodal transformer")
    self_layers: int | None = Field(
        default=None, ge=1, description="layers of each target's self-attention transformer; None: layers"
    )
    kernels: dict[str, int] = Field(
        default_factory=dict, description="temporal Conv1d kernel per modality (odd; default 1)"
    )
    attn_dropout: Rate = Field(default=0.1, ge=0.0, lt=1.0)
    attn_dropout_source: dict[str, Rate] = Field(
        default_factory=dict, description="crossmodal attention dropout by source modality"
    )
    relu_dropout: Rate = Field(default=0.1, ge=0.0, lt=1.0)
    res_dropout: Rate = Field(default=0.1, ge=0.0, lt=1.0)
    embed_dropout: Rate = Field(default=0.25, ge=0.0, lt=1.0)
    out_dropout: Rate = Field(default=0.0, ge=0.0, lt=1.0)
    input_dropout: dict[str, Rate] = Field(default_factory=dict, description="dropout on a modality's input")

    @model_validator(mode="after")
    def _check(self) -> MulTConfig:
        if self.dim % self.heads:
            raise ValueError(f"dim {self.dim} is not divisible by heads {self.heads}")
        even = {m: k for m, k in self.kernels.items() if k < 1 or k % 2 == 0}
        if even:
            raise ValueError(f"kernels must be odd and >= 1 (output frame t centred on frame t): {even}")
        return self
