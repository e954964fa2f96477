"""Feature-level noise on stored embedding sequences (MultiBench's protocol, levels l_i = i / 10).

Every perturbation depends only on (seed, item id, modality, kind) and the level: the generator is
seeded from the first four alone, never from the model, the batch or the order items are read in,
so every model compared sees exactly the same noisy inputs, in any batch size. The levels share
their random numbers (common random numbers): a frame dropped at level 0.3 is dropped at 0.4 too,
and the Gaussian draw is the same, only scaled, so a curve moves with the level rather than with a
new draw at each level. Level 0 returns the input itself.

Kinds:
* ``gaussian``: x + l * std * z, z ~ N(0, 1) per value, `std` the modality's per-dimension feature
  std over the training split's real frames (so the noise is in the features' own units);
* ``frame_drop``: every frame removed with probability l (the sequence gets shorter; all frames
  removed = length 0, the modality then counts as absent, as `predict --allow-missing` feeds it);
* ``temporal_mask``: one contiguous span of round(l * L) frames set to zero (SpecAugment-style).

For a modality whose position 0 is the encoder's own summary token (RoBERTa's <s>, `uses_own_cls`),
frame drop and masking act on positions 1.. only: position 0 is not a time step but what the model
reads as the sequence's CLS. Gaussian noise reaches every position.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from ..errors import ConfigError

FEATURE_KINDS: tuple[str, ...] = ("gaussian", "frame_drop", "temporal_mask")


def levels(n: int = 10) -> list[float]:
    """l_i = i / n for i = 0 .. n-1 (MultiBench: 0.0 .. 0.9)."""
    return [i / n for i in range(n)]


def _h(text: str) -> int:
    # A stable 64-bit hash (Python's hash() is salted per process).
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")


def rng_for(seed: int, item_id: str, modality: str, kind: str) -> np.random.Generator:
    """The generator of one item's perturbation at every level: a function of these four values only."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), _h(item_id), _h(modality), _h(kind)]))


def check_kinds(kinds: Sequence[str], known: Sequence[str] = FEATURE_KINDS) -> list[str]:
    bad = [k for k in kinds if k not in known]
    if bad:
        raise ConfigError(f"noise kind {bad[0]!r} unknown; choose from {', '.join(known)}")
    return list(kinds)


def perturb(
    x: torch.Tensor,
    kind: str,
    level_index: int,
    n_levels: int,
    *,
    seed: int,
    item_id: str,
    modality: str,
    std: torch.Tensor | None = None,
    keep_first: bool = False,
) -> torch.Tensor:
    """One item's (L, D) features of one modality at level `level_index / n_levels` of `kind`."""
    if level_index == 0 or x.shape[0] == 0:
        return x
    lvl = level_index / n_levels
    g = rng_for(seed, item_id, modality, kind)
    n = x.shape[0]
    if kind == "gaussian":
        if std is None:
            raise ConfigError(f"gaussian noise on {modality!r} needs the training split's feature std")
        z = torch.from_numpy(g.standard_normal(tuple(x.shape)).astype(np.float32))
        return x + lvl * std.to(x.dtype) * z
    start = 1 if keep_first else 0
    if kind == "frame_drop":
        keep = g.random(n) >= lvl
        keep[:start] = True
        return x[torch.from_numpy(keep)]
    if kind == "temporal_mask":
        span_total = n - start
        span = int(round(lvl * span_total))
        if span == 0:
            return x
        # one centre per item for every level: a longer span (mostly) contains the shorter ones
        centre = float(g.random()) * span_total
        first = start + min(max(int(round(centre - span / 2)), 0), span_total - span)
        out = x.clone()
        out[first : first + span] = 0.0
        return out
    raise ConfigError(f"noise kind {kind!r} unknown; choose from {', '.join(FEATURE_KINDS)}")


def feature_stds(
    items: Iterable[Mapping[str, torch.Tensor]], dims: Mapping[str, int]
) -> dict[str, torch.Tensor]:
    """Per modality the (D,) per-dimension std over every real frame of `items`, in one streaming
    pass (items may be a generator over a store split: nothing is kept in memory). Sums are float64
    and centred on the first frame seen, so a large mean does not swamp the variance."""
    shift: dict[str, torch.Tensor] = {}
    total = {m: torch.zeros(d, dtype=torch.float64) for m, d in dims.items()}
    sq = {m: torch.zeros(d, dtype=torch.float64) for m, d in dims.items()}
    count = dict.fromkeys(dims, 0)
    for feats in items:
        for m in dims:
            x = feats[m].double()
            if x.shape[0] == 0:
                continue
            c = shift.setdefault(m, x[0].clone())
            x = x - c
            total[m] += x.sum(0)
            sq[m] += (x * x).sum(0)
            count[m] += x.shape[0]
    out = {}
    for m, d in dims.items():
        n = count[m]
        if n < 2:
            out[m] = torch.ones(d)
            continue
        mean = total[m] / n
        out[m] = ((sq[m] / n - mean * mean).clamp_min(0.0) * n / (n - 1)).sqrt().float()
    return out


def feature_std(items: Sequence[Mapping[str, torch.Tensor]], modality: str, dim: int) -> torch.Tensor:
    """(D,) per-dimension std of `modality` over every real frame of `items`."""
    return feature_stds(items, {modality: dim})[modality]
