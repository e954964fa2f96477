"""Generator of the synthetic dataset (see `synthetic.py` for the label rule).

Every item is generated from its own seed (config seed, split, index), so items come out the same
in any order, in any process, and a resumed write regenerates exactly the missing ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from sseft.core.protocols import Item, Precomputed

from .synthetic import SPLITS, SyntheticConfig, n_pairs

GENERATOR_VERSION = 2  # bumped whenever the same config would generate different data


@dataclass(frozen=True)
class Sample:
    """One generated item: sequences (L_m, D_m) float32, the hidden cues, and the label."""

    id: str
    split: str
    features: dict[str, np.ndarray]
    signs: dict[str, int]
    strengths: dict[str, float]
    positions: dict[str, int]
    label: Any


def cue_directions(cfg: SyntheticConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per modality two fixed orthonormal vectors (D_m,): the cue's marker and its sign direction."""
    out = {}
    for j, m in enumerate(cfg.modalities):
        a, b = np.random.default_rng([cfg.seed, 7919, j]).standard_normal((2, m.dim))
        marker = a / np.linalg.norm(a)
        b = b - (b @ marker) * marker  # Gram-Schmidt: the sign direction is orthogonal to the marker
        out[m.name] = (marker, b / np.linalg.norm(b))
    return out


def copy_directions(cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """Per modality a fixed unit vector (D_m,) orthogonal to its marker and sign direction: where
    `redundancy` writes the next modality's sign (a separate random stream: the data without
    redundancy stays as it was)."""
    dirs = cue_directions(cfg)
    out = {}
    for j, m in enumerate(cfg.modalities):
        c = np.random.default_rng([cfg.seed, 104729, j]).standard_normal(m.dim)
        for v in dirs[m.name]:
            c = c - (c @ v) * v
        out[m.name] = c / np.linalg.norm(c)
    return out


def label_from_cues(cfg: SyntheticConfig, signs: list[int], strengths: list[float]) -> Any:
    """The noiseless label from the planted cues, modality order as in the config."""
    k = n_pairs(cfg)
    agree = [signs[i] * signs[i + 1] for i in range(k)]  # +1 where neighbours share a sign
    if cfg.task == "multiclass":
        return int(sum((1 << i) for i, a in enumerate(agree) if a > 0))
    if cfg.task == "multilabel":
        return [int(a > 0) for a in agree]
    return float(sum(1.5 / 2**i * agree[i] * strengths[i + 1] for i in range(k)))


def sample(
    cfg: SyntheticConfig, split: str, index: int, dirs: dict[str, tuple[np.ndarray, np.ndarray]] | None = None
) -> Sample:
    """Item `index` of `split` (deterministic)."""
    dirs = dirs if dirs is not None else cue_directions(cfg)
    rng = np.random.default_rng([cfg.seed, SPLITS.index(split), index])
    feats, signs, strengths, positions = {}, {}, {}, {}
    for m in cfg.modalities:
        length = int(rng.integers(m.min_len, m.max_len + 1))
        x = rng.standard_normal((length, m.dim)) * cfg.noise  # (L, D) background
        s = int(rng.choice([-1, 1]))
        r = float(rng.uniform(0.75, 1.25))
        p = int(rng.integers(0, length))
        # A noise frame has norm ~ noise * sqrt(D); the cue adds cue_scale times that along the
        # marker (which finds the cue, whatever its sign) and r * s times that along the sign direction.
        marker, sign_dir = dirs[m.name]
        x[p] += cfg.cue_scale * cfg.noise * np.sqrt(m.dim) * (marker + r * s * sign_dir)
        feats[m.name] = x.astype(np.float32)
        signs[m.name], strengths[m.name], positions[m.name] = s, r, p
    names = [m.name for m in cfg.modalities]
    if cfg.redundancy > 0:  # each cue frame also carries the next modality's sign (see synthetic.py)
        copies = copy_directions(cfg)
        for j, m in enumerate(cfg.modalities):
            nxt = signs[names[(j + 1) % len(names)]]
            amp = cfg.cue_scale * cfg.noise * np.sqrt(m.dim) * cfg.redundancy
            feats[m.name][positions[m.name]] += (amp * nxt * copies[m.name]).astype(np.float32)
    label = label_from_cues(cfg, [signs[n] for n in names], [strengths[n] for n in names])
    if cfg.label_noise > 0:
        if cfg.task == "regression":
            label = float(label + rng.normal(0.0, cfg.label_noise))
        elif rng.random() < cfg.label_noise:
            k = n_pairs(cfg)
            label = (
                int(rng.integers(0, 2**k))
                if cfg.task == "multiclass"
                else [int(b) for b in rng.integers(0, 2, k)]
            )
    return Sample(f"{split}-{index:05d}", split, feats, signs, strengths, positions, label)


def iter_samples(cfg: SyntheticConfig, splits: tuple[str, ...] = SPLITS) -> Iterator[Sample]:
    dirs = cue_directions(cfg)
    for split in splits:
        for i in range(cfg.n_items(split)):
            yield sample(cfg, split, i, dirs)


def _item_meta(s: Sample) -> dict[str, Any]:
    # The hidden cues: for tests and for checking where a fusion model attends (never a model input).
    return {"cues": {m: {"pos": s.positions[m], "sign": s.signs[m]} for m in s.features}}


def fingerprint(cfg: SyntheticConfig) -> dict[str, Any]:
    """What identifies the generated features (the engine writes it into each modality's
    fingerprint; no "modality" key: no modality plugin made them). The item counts are left out:
    they choose which items exist, not what an item's features are."""
    settings = cfg.model_dump(mode="json", exclude={"n_train", "n_valid", "n_test", "shard_size", "seed"})
    return {"source": "synthetic", "seed": cfg.seed, "generator": GENERATOR_VERSION, "settings": settings}


def iter_items(cfg: SyntheticConfig) -> Iterator[Item]:
    """Dataset-plugin items: inputs are the precomputed (L, D) float32 arrays."""
    ident = fingerprint(cfg)
    max_len = {m.name: m.max_len for m in cfg.modalities}
    for s in iter_samples(cfg):
        inputs: dict[str, Any] = {
            m: Precomputed(x, max_len=max_len[m], identity=ident) for m, x in s.features.items()
        }
        yield Item(id=s.id, split=s.split, label=s.label, inputs=inputs, meta=_item_meta(s))
