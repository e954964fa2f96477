"""Per-feature standardisation of a modality's frozen features, with statistics from the training split.

Hand-crafted descriptors (openSMILE's eGeMAPS: loudness ~1, F0 in semitones ~30, spectral slopes
~0.01; COVAREP; EEG band powers) live on scales that differ by orders of magnitude. `standardize:
true` on a modality in the experiment config makes training compute each feature's mean and standard
deviation over every real frame of the training split (float64 sums, padding never counted); the
numbers are recorded in the model's ModalitySpec (so in the artifact's config.json), and the fusion
model applies (x - mean) / std to the features before anything else, at training, evaluation and
prediction alike. Nothing is learned, so the parameter count does not change.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..errors import DataError
from ..specs import ModalitySpec, Standardization

if TYPE_CHECKING:
    from ..features.store import FeatureStore

# A feature whose training values are (nearly) constant is centred but not scaled: dividing by a
# std of ~0 would turn float noise into huge values.
MIN_STD = 1e-6


def feature_statistics(sequences: Iterable[torch.Tensor], name: str, split: str) -> Standardization:
    """Mean and std per feature over all frames of `sequences` ((L_i, D) each; empty ones count no frame)."""
    total: torch.Tensor | None = None
    total_sq: torch.Tensor | None = None
    shift: torch.Tensor | None = None
    frames = items = 0
    for x in sequences:
        x = torch.as_tensor(x).to(torch.float64)
        if x.dim() != 2:
            raise DataError(f"standardize {name!r}: expected (length, dim) features, got {tuple(x.shape)}")
        if total is None:
            total, total_sq = x.new_zeros(x.shape[1]), x.new_zeros(x.shape[1])
        assert total_sq is not None
        if shift is None and x.shape[0]:
            # sums of (x - first frame): no catastrophic cancellation when |mean| >> std
            shift = x[0].clone()
        d = x - shift if shift is not None else x
        total += d.sum(dim=0)
        total_sq += d.square().sum(dim=0)
        frames, items = frames + x.shape[0], items + 1
    if total is None or total_sq is None or shift is None or frames == 0:
        raise DataError(
            f"standardize {name!r}: the {split!r} split has no frames of this modality to compute statistics "
            "from; drop `standardize` or fix the data"
        )
    mean_d = total / frames
    var = (total_sq / frames - mean_d.square()).clamp(min=0.0)
    mean = mean_d + shift
    std = var.sqrt()
    std = torch.where(std < MIN_STD, torch.ones_like(std), std)
    return Standardization(mean=mean.tolist(), std=std.tolist(), split=split, items=items, frames=frames)


class Standardize(nn.Module):
    """(B, L, D) -> (x - mean) / std with padded frames kept at zero. Buffers, not parameters, and not
    in the state dict: they are rebuilt from the ModalitySpec that the artifact records."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, spec: ModalitySpec) -> None:
        super().__init__()
        st = spec.standardize
        if st is None:
            raise ValueError(f"modality {spec.name!r} has no standardisation statistics")
        if len(st.mean) != spec.dim or len(st.std) != spec.dim:
            raise DataError(
                f"modality {spec.name!r}: standardisation statistics have {len(st.mean)} features but the "
                f"modality has dim {spec.dim}"
            )
        # float32 like the model (float64 buffers would not move to every device, e.g. Apple's MPS)
        self.register_buffer("mean", torch.tensor(st.mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(st.std, dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        y = (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)
        return y.masked_fill(~frames[..., None], 0.0)


def with_statistics(
    specs: Sequence[ModalitySpec],
    names: Iterable[str],
    store: FeatureStore,
    train_ids: Sequence[str],
    split: str,
) -> list[ModalitySpec]:
    """`specs` with training statistics attached to the modalities in `names` (read from the store)."""
    wanted = set(names)
    out = []
    for s in specs:
        if s.name in wanted:
            seqs = (store.get(i, [s.name])["features"][s.name] for i in train_ids)
            s = s.model_copy(update={"standardize": feature_statistics(seqs, s.name, split)})
        out.append(s)
    return out
