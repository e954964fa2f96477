"""Config models shared by the engine: what a modality looks like to the fusion model, and the
fusion hyper-parameters. Pure pydantic (no torch), so configs load without importing torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .config import StrictModel
from .errors import ConfigError


class ProjectionSpec(StrictModel):
    """A learned input projection of a modality's frozen features (then LayerNorm), before step 1.

    For low-dimensional features (COVAREP 5/74, FACET 20/35, eGeMAPS 25, EEG channels) whose width
    is too small or not divisible by the attention heads: the modality then runs at width `dim`.
    `conv1d` also mixes `kernel` neighbouring frames ("same" zero padding at the sequence ends), as
    MulT's temporal convolutions do; `linear` projects every frame on its own.
    """

    dim: int = Field(gt=0)
    kind: Literal["linear", "conv1d"] = "linear"
    kernel: int = Field(default=1, ge=1, description="frames per output frame (conv1d); odd")

    @model_validator(mode="after")
    def _check_kernel(self) -> ProjectionSpec:
        if self.kind == "linear" and self.kernel != 1:
            raise ValueError(f"kernel {self.kernel} needs kind: conv1d (a linear projection reads one frame)")
        if self.kernel % 2 == 0:
            # an even kernel has no centre frame: "same" padding would shift the sequence by half a frame
            raise ValueError(
                f"kernel must be odd (got {self.kernel}), so output frame t is centred on frame t"
            )
        return self


class Standardization(StrictModel):
    """Per-feature (x - mean) / std applied to a modality's features first (statistics of `split`)."""

    mean: list[float]
    std: list[float]
    split: str = "train"
    items: int = Field(default=0, ge=0)
    frames: int = Field(default=0, ge=0)


class StoredFeatures(StrictModel):
    """What a feature store knows about one modality's features: (L, dim) sequences made by the
    extractor `fingerprint`. The one declaration of these fields: the store's ModalityInfo
    (core/features/index.py) adds the storage dtype, ModalitySpec adds how the model uses them."""

    dim: int = Field(gt=0)
    # Position 0 of the sequence already summarises it (RoBERTa's <s>, BERT's [CLS]).
    provides_cls: bool = False
    max_len: int = Field(default=512, gt=0)
    # Identity of the extractor that produced the features (model id/path, revision or sha256, settings).
    fingerprint: dict[str, Any] | None = None

    def stored_fields(self) -> dict[str, Any]:
        """This object's StoredFeatures fields (a ModalitySpec or a store's ModalityInfo alike)."""
        return {k: getattr(self, k) for k in StoredFeatures.model_fields}


class ModalitySpec(StoredFeatures):
    """One modality as the fusion model sees it: an embedding sequence of width `dim` (the stored
    features), optionally projected to `project.dim` (the width the model works at, `width`)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # auto: prepend a learned CLS (plus self-attention) unless the modality provides one.
    prepend_cls: Literal["auto", "always", "never"] = "auto"
    # Optional learned input projection (+ LayerNorm); None: the features as they are (the authors' model).
    project: ProjectionSpec | None = None
    # Attention heads of the layers that run at this modality's width (its step-1 self-attention and
    # the IMA blocks it queries); None: fusion.heads.
    heads: int | None = Field(default=None, ge=1)
    # Per-feature standardisation with training-split statistics (hand-crafted descriptors: eGeMAPS);
    # None: the features as they are.
    standardize: Standardization | None = None

    @classmethod
    def from_store(cls, name: str, stored: StoredFeatures, **model: Any) -> ModalitySpec:
        """The spec of store modality `name`: the store's fields as they are, plus the model's
        choices `model` (prepend_cls, project, heads, standardize)."""
        fields = stored.stored_fields()
        fields["fingerprint"] = dict(fields["fingerprint"] or {}) or None
        return cls(name=name, **fields, **model)

    @property
    def width(self) -> int:
        """The width the fusion model works at for this modality (after the projection, if any)."""
        return self.project.dim if self.project is not None else self.dim

    def n_heads(self, default: int) -> int:
        """This modality's attention heads (`heads`, else the fusion default)."""
        return self.heads if self.heads is not None else default

    @property
    def uses_own_cls(self) -> bool:
        """True when the sequence is used as is (no learned CLS, no self-attention layers)."""
        if self.prepend_cls == "always":
            return False
        if self.prepend_cls == "never":
            return True
        return self.provides_cls


class SSEFTConfig(StrictModel):
    """SSE-FT hyper-parameters (the `sseft` fusion plugin's config). Defaults: the authors' released
    training commands."""

    n_self: int = Field(default=2, ge=0, description="self-attention layers after the CLS prepend")
    n_ima: int = Field(default=1, ge=1, description="layers per inter-modality-attention block")
    heads: int = Field(default=4, ge=1)
    ffn_dim: int = Field(default=1024, gt=0)
    dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    attn_dropout: float = Field(default=0.1, ge=0.0, lt=1.0)
    # false: concatenate the step-1 CLS tokens (paper Table 8, "without IMA").
    ima: bool = True
    # How the N-1 cross tokens of a query modality are combined (Eq. 3 uses the Hadamard product).
    reduce: Literal["hadamard", "concat", "mean"] = "hadamard"
    init_std: float = Field(default=0.02, gt=0.0)


class FusionConfig(BaseModel):
    """Which fusion plugin and its options, as one flat mapping: `fusion: {name: mult, layers: 4}`.

    `name` picks a registered fusion (`sseft plugins`; default `sseft`); every other key is an option
    of that fusion, validated by the plugin's own config model (`extra="forbid"`), so a typo is an
    error naming the fusion. Validation fills in the plugin's defaults, so an artifact records the
    complete config it rebuilds from. The options are readable as attributes (`cfg.fusion.heads`).

    Configs written before fusions were plugins keep working: a mapping without `name` is SSE-FT's,
    and `kind: late-fusion` is read as `name: late-fusion` (keeping only the options that fusion has,
    as the old baselines ignored the rest).
    """

    model_config = ConfigDict(extra="allow", protected_namespaces=())

    name: str = "sseft"

    if TYPE_CHECKING:  # the options are extra fields: let the type checker accept them

        def __init__(self, **data: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    @model_validator(mode="before")
    @classmethod
    def _resolve(cls, data: Any) -> Any:
        if isinstance(data, FusionConfig):
            return {"name": data.name, **data.options()}
        if isinstance(data, BaseModel):  # a plugin config object (SSEFTConfig(...)): its fields
            data = data.model_dump()
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping like {{name: sseft, ...}}, got {type(data).__name__}")
        from .fusion.options import resolve_options

        name, options = resolve_options(dict(data))
        return {"name": name, **options}

    def options(self) -> dict[str, Any]:
        """The fusion's options (everything but `name`), with the plugin's defaults filled in."""
        return dict(self.__pydantic_extra__ or {})

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> FusionConfig:
        """A copy with `update` applied to the options and validated again (an ablation preset)."""
        if not update:
            return super().model_copy(deep=deep)
        try:
            return FusionConfig.model_validate({"name": self.name, **self.options(), **dict(update)})
        except ValidationError as e:  # e.g. an SSE-FT ablation preset (ima, reduce) on another fusion
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise ConfigError(f"fusion {self.name!r} does not take {dict(update)}: {problems}") from None
