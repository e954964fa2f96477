"""The experiment config: what `sseft train CONFIG` reads (YAML or JSON, `--set` overrides).

name: meld-text
data: {store: features/meld-minilm}
modalities: [text]                 # subset of the store's modalities, in fusion order
fusion: {n_self: 2, n_ima: 1, heads: 4, ffn_dim: 1024, dropout: 0.1}
head: {name: multiclass, config: {}}
train: {epochs: 10, batch_size: 32, lr: 1e-4}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..config import StrictModel
from ..model import HeadSpec
from ..specs import FusionConfig


class DataConfig(StrictModel):
    # A feature store directory (relative paths resolve against the config file's folder).
    store: str
    train_split: str = "train"
    valid_split: str = "valid"
    test_split: str | None = "test"
    # Built-in default data: when set and `store` does not exist yet, the synthetic dataset
    # plugin generates it first (options of the synthetic dataset's config model).
    synthetic: dict[str, Any] | None = None


class ModalityChoice(StrictModel):
    name: str
    prepend_cls: Literal["auto", "always", "never"] = "auto"
    # Optional: the width this experiment expects; a store with another width is refused.
    dim: int | None = Field(default=None, gt=0)


class TrainConfig(StrictModel):
    epochs: int = Field(default=10, ge=1)
    batch_size: int = Field(default=32, ge=1)
    eval_batch_size: int | None = None
    lr: float = Field(default=1e-4, gt=0)
    # The authors' optimizer: Adam(0.9, 0.98), eps 1e-6, decoupled weight decay 0.1.
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    weight_decay: float = 0.1
    warmup_ratio: float = Field(default=0.06, ge=0, lt=1)
    schedule: Literal["linear", "cosine", "constant"] = "linear"
    grad_accum: int = Field(default=1, ge=1)
    clip_grad_norm: float | None = 1.0
    seed: int = 42
    bucket_by_length: bool = False
    num_workers: int = 0
    checkpoint_every: int | None = Field(
        default=None, ge=1, description="optimizer steps; None: per epoch only"
    )
    keep_checkpoints: int = Field(default=2, ge=1)
    early_stopping_patience: int | None = Field(default=None, ge=1)
    log_every: int = 20
    # Probability of hiding each modality of a training item (its sequence becomes empty; at least
    # one modality is always kept). A model trained with it predicts with modalities missing.
    modality_dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    # Intra-op CPU threads (torch.set_num_threads); None: torch's default. For small fusion models
    # one thread is faster, and far faster when other processes share the cores (no spin-waiting).
    num_threads: int | None = Field(default=None, ge=1)
    # None: take mixed precision from the launch config (`accelerate launch --mixed_precision ...`
    # or ACCELERATE_MIXED_PRECISION); a value here is passed to Accelerator explicitly.
    mixed_precision: Literal["no", "fp16", "bf16"] | None = None


class ExperimentConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    data: DataConfig
    # None: every modality in the store, in the store's order.
    modalities: list[str | ModalityChoice] | None = None
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    head: HeadSpec
    train: TrainConfig = Field(default_factory=TrainConfig)
    output_dir: str | None = None  # default: runs/<name>
    # Publish the best model to the registry under this name (YAML key `register`; the attribute
    # has another name because pydantic's BaseModel already has a `register` classmethod).
    register_name: str | None = Field(default=None, alias="register")

    model_config = {**StrictModel.model_config, "populate_by_name": True}
