"""The service's settings: which models, the limits and the security options (`sseft serve --help`
sets them; `SSEFT_SERVE_TOKEN` gives the bearer token without putting it on a command line)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field, field_validator

from sseft.core.config import StrictModel

TOKEN_ENV = "SSEFT_SERVE_TOKEN"
SETTINGS_ENV = "SSEFT_SERVE_SETTINGS"  # JSON settings handed to each `--workers` process


class ServeSettings(StrictModel):
    """What `create_app` serves and how (every limit is per request unless said otherwise)."""

    models: list[str] = Field(
        min_length=1, description="Registry references (name or name@version) to serve."
    )
    device: str = "cpu"
    allow_missing: bool | None = Field(
        None,
        description="Predict without a modality that has no input; None: when the model was trained with modality dropout.",
    )
    max_body_mb: float = Field(64.0, gt=0, description="Largest request body; larger: 413.")
    max_seconds: float = Field(900.0, gt=0, description="Longest clip (seconds); longer: 422.")
    max_text_chars: int = Field(
        5000, ge=1, description="Longest text or transcript (characters); longer: 422."
    )
    max_batch: int = Field(8, ge=1, description="Dynamic batcher: most items per forward pass.")
    max_wait_ms: float = Field(
        0.0,
        ge=0,
        description="Dynamic batcher: optional extra wait for a batch to fill; 0: continuous batching "
        "(an idle worker runs what is queued at once, items arriving while a batch runs form the next).",
    )
    max_queue: int = Field(32, ge=1, description="Requests waiting per model beyond which the answer is 503.")
    max_in_flight: int = Field(
        64, ge=1, description="Requests in progress (uploading included) beyond which: 503."
    )
    segments: Literal["auto", "vad", "fixed", "none"] = Field(
        "auto", description="Default segmentation of a clip longer than the model's utterance length."
    )
    segment_seconds: float | None = Field(
        None, gt=0, description="Window length for segments; default: the model's utterance length."
    )
    token: str | None = Field(None, description=f"Bearer token the API requires (or ${TOKEN_ENV}).")
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty: CORS off."
    )
    tmp_dir: str | None = Field(
        None, description="Where uploads are written while a request runs (removed after)."
    )
    log_requests: bool = True

    @field_validator("token")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and len(v.strip()) < 8:
            raise ValueError("the token must hold at least 8 characters")
        return v.strip() if v else None

    @classmethod
    def with_env(cls, **values: object) -> ServeSettings:
        """Settings with the token taken from $SSEFT_SERVE_TOKEN when none is given."""
        if values.get("token") is None and os.environ.get(TOKEN_ENV):
            values["token"] = os.environ[TOKEN_ENV]
        return cls.model_validate(values)

    @property
    def max_body_bytes(self) -> int:
        return int(self.max_body_mb * 1024 * 1024)
