"""The built-in synthetic dataset: deterministic multimodal sequences whose label needs modalities jointly.

Every modality m of an item is a (L_m, D_m) sequence of Gaussian noise frames (norm about
noise * sqrt(D_m)) with one *cue* frame planted at a random position: `cue_scale * noise * sqrt(D_m)
* (a_m + r_m * s_m * v_m)` is added to that frame, where a_m (the marker: it tells where the cue is)
and v_m (the sign direction) are fixed orthonormal vectors of modality m, s_m = +-1 a random sign and
r_m in [0.75, 1.25] a random strength. The label depends only on products of the signs of neighbouring modalities:

    multiclass: class = sum_k 2^k * [s_k * s_{k+1} > 0]   (k < min(M-1, 3); 4 classes for 3 modalities)
    multilabel: label_k = [s_k * s_{k+1} > 0]              (M-1 labels)
    regression: y = sum_k 1.5 / 2^k * s_k * s_{k+1} * r_{k+1}   (+ label_noise; about [-2.9, 2.9])

So modality k's sign flips the meaning of modality k+1's cue, and a third modality modulates
further. Given any single modality, the label is exactly uniform (classes) / symmetric around 0
(regression): a unimodal model scores chance, a model that combines modalities can reach 100%.
With 3 modalities, two of them determine one of the two label bits (50% for 4 classes).

`redundancy` > 0 (default 0: the data above, unchanged) also writes, into each modality's cue frame,
a copy of the next modality's sign (cyclically) along a third fixed direction w_m, with amplitude
`redundancy` relative to the cue: `+ cue_scale * noise * sqrt(D_m) * redundancy * s_{m+1} * w_m`.
Then any M-1 modalities together hold every sign (a model that learned to read the copies still
scores 100% with one modality missing), while a single modality still cannot decide the label
alone. This is the data on which training with `train.modality_dropout` can be seen to pay off.

This module only defines the config and the plugin object (cheap to import); the generator lives
in `synthetic_gen.py` (numpy). Its items carry `Precomputed` features, so the extraction engine
writes the store like any other dataset's (`sseft extract --dataset synthetic`, or `data.synthetic`
/ `data.generate` in an experiment config).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from sseft.core.config import StrictModel
from sseft.core.hookspecs import hookimpl
from sseft.core.protocols import Item, TaskInfo

if TYPE_CHECKING:
    from sseft.core.features.store import FeatureStore

SPLITS = ("train", "valid", "test")


class SyntheticModality(StrictModel):
    """One generated modality: sequences of `dim`-wide frames, lengths uniform in [min_len, max_len]."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    dim: int = Field(default=32, ge=2, le=4096)
    min_len: int = Field(default=5, ge=1)
    max_len: int = Field(default=40, ge=1)

    @model_validator(mode="after")
    def _lengths(self) -> SyntheticModality:
        if self.max_len < self.min_len:
            raise ValueError(f"max_len {self.max_len} < min_len {self.min_len}")
        return self


def _default_modalities() -> list[SyntheticModality]:
    return [
        SyntheticModality(name="text", dim=32, min_len=5, max_len=40),
        SyntheticModality(name="speech", dim=24, min_len=8, max_len=40),
        SyntheticModality(name="face", dim=16, min_len=5, max_len=30),
    ]


class SyntheticConfig(StrictModel):
    """Options of the synthetic dataset (also `data.synthetic` of an experiment config)."""

    seed: int = 0
    task: Literal["multiclass", "regression", "multilabel"] = "multiclass"
    modalities: list[SyntheticModality] = Field(
        default_factory=_default_modalities, min_length=2, max_length=16
    )
    n_train: int = Field(default=2000, ge=1)
    n_valid: int = Field(default=400, ge=1)
    n_test: int = Field(default=400, ge=1)
    noise: float = Field(default=1.0, gt=0, description="std of the background frames")
    cue_scale: float = Field(default=1.5, gt=0, description="cue amplitude, in units of a noise frame's norm")
    redundancy: float = Field(
        default=0.0, ge=0, description="amplitude of the copy of the next modality's sign (0: none)"
    )
    label_noise: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="classes: fraction of labels redrawn at random; regression: noise std",
    )
    shard_size: int = Field(default=512, ge=1)

    @field_validator("modalities")
    @classmethod
    def _unique(cls, mods: list[SyntheticModality]) -> list[SyntheticModality]:
        names = [m.name for m in mods]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"modality names must be unique, {sorted(dup)} repeated")
        return mods

    def n_items(self, split: str) -> int:
        return {"train": self.n_train, "valid": self.n_valid, "test": self.n_test}[split]


def as_config(config: SyntheticConfig | dict[str, Any] | None) -> SyntheticConfig:
    """A SyntheticConfig from a config, a plain mapping (e.g. `data.synthetic`) or None (defaults)."""
    if isinstance(config, SyntheticConfig):
        return config
    from sseft.core.config import validate

    return validate(SyntheticConfig, dict(config or {}), source="synthetic dataset config")


def n_pairs(cfg: SyntheticConfig) -> int:
    """How many neighbouring-modality sign products make up the label."""
    m = len(cfg.modalities)
    return min(m - 1, 3) if cfg.task == "multiclass" else m - 1


def task_info(cfg: SyntheticConfig) -> TaskInfo:
    names = [m.name for m in cfg.modalities]
    k = n_pairs(cfg)
    if cfg.task == "multiclass":
        return TaskInfo("multiclass", tuple(f"class_{i}" for i in range(2**k)))
    if cfg.task == "multilabel":
        return TaskInfo("multilabel", tuple(f"agree_{names[i]}_{names[i + 1]}" for i in range(k)))
    return TaskInfo("regression", ("score",))


class SyntheticDataset:
    """Dataset plugin "synthetic": items hold precomputed (L, D) float32 numpy arrays as inputs."""

    name = "synthetic"
    config_model = SyntheticConfig
    description = (
        "generated sequences whose label needs an interaction between modalities (built-in demo data)"
    )

    def task(self, config: SyntheticConfig | dict[str, Any] | None = None) -> TaskInfo:
        return task_info(as_config(config))

    def items(self, config: SyntheticConfig | dict[str, Any] | None = None) -> Iterator[Item]:
        from .synthetic_gen import iter_items

        return iter_items(as_config(config))


def write_synthetic_store(config: SyntheticConfig | dict[str, Any] | None, root: str | Path) -> FeatureStore:
    """Generate the dataset into a feature store at `root` through the extraction engine (resumes;
    no-op when complete; refuses a store generated with other options)."""
    from sseft.core.extraction.generate import generate_store

    cfg = as_config(config)
    return generate_store("synthetic", cfg.model_dump(mode="json"), root, shard_size=cfg.shard_size)


DATASET = SyntheticDataset()


@hookimpl
def register_datasets(register: Any) -> None:
    register(DATASET)
