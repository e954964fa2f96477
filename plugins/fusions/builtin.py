"""The built-in fusion plugins, registered through the `sseft` entry point like any third party's.

Cheap to import (pydantic configs only); each builder imports torch and its module when called.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sseft.core.fusion.options import PoolingConfig
from sseft.core.hookspecs import hookimpl
from sseft.core.specs import ModalitySpec, SSEFTConfig

from .configs import LMFConfig, MulTConfig, TFNConfig


@dataclass(frozen=True)
class BuiltinFusion:
    """A fusion plugin: name, config model, builder and what it supports (core/fusion/protocol.py)."""

    name: str
    config_model: type[BaseModel]
    builder: Callable[[list[ModalitySpec], Any], Any]
    description: str = ""
    min_modalities: int = 1
    max_modalities: int | None = None
    handles_missing: bool = True

    def build(self, specs: Sequence[ModalitySpec], config: Any) -> Any:
        return self.builder(list(specs), config)


def _sseft(specs: list[ModalitySpec], config: Any) -> Any:
    from sseft.core.fusion.model import SSEFTFusion

    return SSEFTFusion(specs, config)


def _pooling(kind: str) -> Callable[[list[ModalitySpec], Any], Any]:
    def build(specs: list[ModalitySpec], config: Any) -> Any:
        from sseft.core.fusion.baselines import PoolingFusion

        return PoolingFusion(specs, config, kind=kind)

    return build


def _tfn(specs: list[ModalitySpec], config: Any) -> Any:
    from .tfn import TensorFusion

    return TensorFusion(specs, config)


def _lmf(specs: list[ModalitySpec], config: Any) -> Any:
    from .lmf import LowRankFusion

    return LowRankFusion(specs, config)


def _mult(specs: list[ModalitySpec], config: Any) -> Any:
    from .mult import MultimodalTransformer

    return MultimodalTransformer(specs, config)


FUSIONS = (
    BuiltinFusion(
        "sseft", SSEFTConfig, _sseft,
        "SSE-FT: CLS per modality, N(N-1) inter-modality attention blocks, Hadamard product (Eq. 3)",
    ),
    BuiltinFusion(
        "late-fusion", PoolingConfig, _pooling("late-fusion"),
        "baseline: per-modality mean -> Linear, averaged over the modalities an item has",
    ),
    BuiltinFusion(
        "concat-pool", PoolingConfig, _pooling("concat-pool"),
        "baseline: per-modality mean over real frames, concatenated",
    ),
    BuiltinFusion(
        "tfn", TFNConfig, _tfn,
        "Tensor Fusion Network (Zadeh et al., EMNLP 2017): outer product of [1, z_m]; size grows as the "
        "product of the widths",
    ),
    BuiltinFusion(
        "lmf", LMFConfig, _lmf,
        "Low-rank Multimodal Fusion (Liu et al., ACL 2018): rank-r modality-specific factors",
    ),
    BuiltinFusion(
        "mult", MulTConfig, _mult,
        "Multimodal Transformer (Tsai et al., ACL 2019): crossmodal transformer per ordered pair, with "
        "key-padding masks",
        min_modalities=2,
    ),
)  # fmt: skip


@hookimpl
def register_fusions(register: Callable[[Any], None]) -> None:
    for fusion in FUSIONS:
        register(fusion)
