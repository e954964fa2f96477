"""`RobustnessConfig`: every option of one robustness run, validated in one place (unknown fields
are errors). The models, the store object, raw perturbers and the progress callback are not
options: `run_robustness()` (api.py) takes them beside the config.

    cfg = RobustnessConfig(kinds=["frame_drop"], n_levels=5, out="rob/")
    cfg = RobustnessConfig.build(None, n_levels=5)    # keyword overrides, one ConfigError line if bad
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from ..config import StrictModel, validate
from ..errors import ConfigError
from .noise import FEATURE_KINDS, check_kinds


class RobustnessConfig(StrictModel):
    """Options of `run_robustness()`, `sseft.robustness()` and `sseft robustness` (the CLI flags are
    these names, dashed)."""

    split: str = Field(default="test", description="store split to evaluate")
    metric: str | None = Field(default=None, description="metric (default: the head's primary metric)")
    kinds: list[str] = Field(default_factory=lambda: list(FEATURE_KINDS), description="feature noise kinds")
    n_levels: int = Field(default=10, ge=2, description="noise levels i/n, i = 0..n-1")
    seed: int = Field(default=0, description="noise and bootstrap seed")
    batch_size: int = Field(default=64, ge=1)
    std_split: str | None = Field(default=None, description="split whose std scales gaussian noise")
    n_boot: int = Field(default=1000, ge=0, description="bootstrap resamples of the `compare` model")
    device: str = "cpu"
    out: Path | None = Field(default=None, description="write robustness.json, .md and PNGs here")
    # raw-level noise: re-extract perturbed media through each model's own encoders
    raw: Path | None = Field(default=None, description="manifest or dataset root for raw-level noise")
    raw_dataset: str | None = Field(default=None, description="dataset plugin of `raw` (default: manifest)")
    raw_kinds: list[str] | None = Field(default=None, description="raw noise kinds (default: per input kind)")
    raw_split: str | None = Field(
        default=None, description="split name in `raw` when it differs from `split`"
    )
    raw_options: list[str] = Field(default_factory=list, description="options of the raw dataset, KEY=VALUE")
    limit: int | None = Field(
        default=None, ge=1, description="raw-level noise on the first N items of the split"
    )
    overrides: list[str] = Field(default_factory=list, description="extractor overrides MOD.FIELD=VALUE")

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        try:
            return check_kinds(kinds)
        except ConfigError as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _raw_options_need_raw(self) -> RobustnessConfig:
        given = [f for f in ("raw_dataset", "raw_kinds", "raw_split", "limit") if getattr(self, f)]
        given += [f for f in ("raw_options", "overrides") if getattr(self, f)]
        if self.raw is None and given:
            raise ValueError(
                f"{', '.join(given)} given without raw: set raw (--raw), a manifest or dataset root"
            )
        return self

    @classmethod
    def build(cls, config: RobustnessConfig | None = None, **options: Any) -> RobustnessConfig:
        """`config` (default: the defaults) with `options` on top, validated (ConfigError naming
        the field)."""
        base = config.model_dump() if config is not None else {}
        return validate(cls, {**base, **options}, source="robustness options")


__all__ = ["RobustnessConfig"]
