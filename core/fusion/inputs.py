"""The checks every fusion model (SSE-FT and the baselines) makes on one modality's input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..errors import DataError
from ..specs import ModalitySpec


def modality_input(
    spec: ModalitySpec,
    features: Mapping[str, torch.Tensor],
    lengths: Mapping[str, torch.Tensor],
    names: Sequence[str],
) -> tuple[torch.Tensor, torch.Tensor]:
    """features[m] (B, L, D_m) and lengths[m] (B,) of modality `spec`, present and of the right shapes
    (one-line DataError otherwise); value checks on the lengths are the caller's."""
    m = spec.name
    if m not in features or m not in lengths:
        raise DataError(f"fusion input: modality {m!r} missing from the batch (model needs {list(names)})")
    x, n = features[m], lengths[m]
    if x.dim() != 3 or x.shape[-1] != spec.dim:
        raise DataError(
            f"fusion input {m!r}: expected (batch, length, {spec.dim}) features, got {tuple(x.shape)}"
        )
    if n.dim() != 1 or n.shape[0] != x.shape[0] or n.is_floating_point():
        raise DataError(
            f"fusion input {m!r}: lengths must be a (batch,) integer tensor, got {tuple(n.shape)}"
        )
    return x, n
