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

from pydantic import Field, model_validator

from ..config import StrictModel
from ..context import ContextConfig
from ..model import HeadSpec
from ..specs import FusionConfig, ProjectionSpec
from .folds import FoldsConfig


class GenerateConfig(StrictModel):
    dataset: str
    config: dict[str, Any] = Field(default_factory=dict)


class DataConfig(StrictModel):
    # A feature store directory (relative paths resolve against the config file's folder).
    store: str
    train_split: str = "train"
    valid_split: str = "valid"
    test_split: str | None = "test"
    # The label set to train on (a store may hold several, e.g. MELD emotion and sentiment);
    # None: the store's default set.
    labels: str | None = None
    # Generate the store first when it does not exist yet: {dataset: NAME, config: {...}} through
    # the dataset plugin and the extraction engine. `synthetic: {...}` is shorthand for
    # `generate: {dataset: synthetic, config: {...}}`.
    generate: GenerateConfig | None = None
    synthetic: dict[str, Any] | None = None
    # Cross-validation over a grouping the items carry (IEMOCAP leave-one-session-out: {by: session});
    # the experiment runner then trains fold by fold (core/training/folds.py).
    folds: FoldsConfig | None = None

    @model_validator(mode="after")
    def _synthetic_is_generate(self) -> DataConfig:
        if self.synthetic is not None and self.generate is None:
            self.generate = GenerateConfig(dataset="synthetic", config=dict(self.synthetic))
        return self


class ModalityChoice(StrictModel):
    name: str
    prepend_cls: Literal["auto", "always", "never"] = "auto"
    # Optional: the width this experiment expects; a store with another width is refused.
    dim: int | None = Field(default=None, gt=0)
    # Optional learned input projection (+ LayerNorm) before step 1, e.g. {dim: 64, kind: conv1d,
    # kernel: 3} for 5-d COVAREP audio; and this modality's attention heads (default fusion.heads).
    project: ProjectionSpec | None = None
    heads: int | None = Field(default=None, ge=1)
    # Standardise each feature with mean/std over the training split's frames, recorded in the model
    # (hand-crafted descriptors such as eGeMAPS live on very different scales).
    standardize: bool = False


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
    # Train once per seed (runs/<name>/seed-<s>/, with a summary over seeds); None: `seed` only.
    seeds: list[int] | None = Field(default=None, min_length=1)
    # Experiment trackers through Accelerate (tensorboard, mlflow, wandb, aim), writing under the
    # run directory where the tracker is file-based; nothing is logged anywhere unless listed here.
    log_with: list[Literal["tensorboard", "mlflow", "wandb", "aim"]] = Field(default_factory=list)
    # MLflow only: a tracking server (`http://host:5000`) or database URL; None: MLFLOW_TRACKING_URI,
    # else a file store in the run directory.
    tracking_uri: str | None = None


class ExperimentConfig(StrictModel):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    data: DataConfig
    # None: every modality in the store, in the store's order.
    modalities: list[str | ModalityChoice] | None = None
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    head: HeadSpec
    train: TrainConfig = Field(default_factory=TrainConfig)
    # Dialogue context (core/context/config.py): `{window: 8, direction: past, speaker: true}`;
    # None or window 0: each utterance alone.
    context: ContextConfig | None = None
    output_dir: str | None = None  # default: runs/<name>
    # Publish the best model to the registry under this name (YAML key `register`; the attribute
    # has another name because pydantic's BaseModel already has a `register` classmethod).
    register_name: str | None = Field(default=None, alias="register")

    model_config = {**StrictModel.model_config, "populate_by_name": True}
