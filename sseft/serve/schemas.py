"""The API's answers as pydantic models: they document every field in the OpenAPI schema
(`GET /openapi.json`, browsable at `/docs`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sseft.core.config import StrictModel

from .uploads import PredictJSON


class ErrorOut(StrictModel):
    error: str = Field(description="One line: the field or item at fault and what to do.")
    request_id: str = Field(
        description="The id of this request in the server log (also the X-Request-ID header)."
    )


class ModalityOut(StrictModel):
    name: str = Field(description="Modality name (text, speech, face, ...).")
    inputs: list[str] = Field(
        description="Request fields that feed it, best first (text, audio, video, ...)."
    )
    plugin: str | None = Field(description="The modality plugin that extracts its features.")
    encoder: str = Field(description="The encoder the model was trained on (model id or path).")
    dim: int = Field(description="Feature width.")
    max_len: int = Field(description="Longest sequence the model takes (frames or tokens).")


class ModelOut(StrictModel):
    name: str = Field(description="Registry name; use it in /v1/models/{name}/predict.")
    version: int | None = Field(description="Registry version.")
    ref: str = Field(description="name@version.")
    task: str = Field(description="The head's task (multiclass, multilabel, regression, ...).")
    label_names: list[str] = Field(description="The label set, in the head's order.")
    modalities: list[ModalityOut] = Field(description="What the model reads, in its order.")
    allow_missing: bool = Field(
        description="True: a modality without input is fed as empty instead of an error."
    )
    metrics: dict[str, Any] = Field(description="Test metrics recorded when the model was trained.")
    utterance_seconds: float | None = Field(
        description="Longest clip predicted in one piece; longer clips answer a timeline of segments."
    )
    context: str | None = Field(
        None, description="Its dialogue context (POST /v1/models/{name}/conversation); null: none."
    )


class ModelsOut(StrictModel):
    models: list[ModelOut] = Field(description="Every model this process serves.")


class SegmentOut(StrictModel):
    start: float = Field(description="Segment start (seconds).")
    end: float = Field(description="Segment end (seconds).")
    label: str | None = Field(description="Predicted label of the segment (null when it failed).")
    probabilities: dict[str, float] = Field(description="Per-label probabilities (regression: scores).")
    text: str = Field(description="The segment's words (from the transcript) or ''.")
    error: str | None = Field(None, description="Why this segment could not be predicted.")


class TimelineOut(StrictModel):
    mode: str = Field(description="How the clip was cut: vad, fixed or none.")
    duration: float = Field(description="Clip length (seconds).")
    label_names: list[str] = Field(description="The label set, in the head's order.")
    segments: list[SegmentOut] = Field(description="One entry per segment, in time order.")
    notes: list[str] = Field(description="How the segmentation went (e.g. no speech found: fixed windows).")


class PredictionOut(StrictModel):
    request_id: str = Field(
        description="The id of this request in the server log (also the X-Request-ID header)."
    )
    model: str = Field(description="name@version that answered.")
    task: str = Field(description="The head's task (multiclass, multilabel, regression, ...).")
    label_names: list[str] = Field(description="The label set, in the head's order.")
    label: str | None = Field(
        description="The predicted label (multiclass); for a timeline, of the whole clip."
    )
    probabilities: dict[str, float] = Field(
        description="Per-label probabilities; for a timeline, the duration-weighted mean over segments."
    )
    summary: str = Field(description="The head's one-line description of the prediction.")
    record: dict[str, Any] = Field(description="The head's full record (labels, scores, ... by task).")
    contributions: dict[str, float] = Field(
        description="Per modality: how much the predicted label's probability drops when that modality is hidden."
    )
    modalities_used: list[str] = Field(description="Modalities that had an input.")
    missing: list[str] = Field(description="Modalities without input, fed as empty sequences.")
    inputs: dict[str, str] = Field(description="Which request field fed each modality.")
    notes: list[str] = Field(
        description="Things worth knowing (cropped sequences, empty faces, unused fields)."
    )
    attention_png: str | None = Field(
        None, description="The attention picture as base64 PNG, when asked for."
    )
    timeline: TimelineOut | None = Field(None, description="Per-segment predictions of a long clip.")
    duration: float | None = Field(None, description="Clip length (seconds), when media was sent.")
    elapsed_ms: float = Field(description="Time spent on this request in the service.")


MULTIPART_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "video": {"type": "string", "format": "binary", "description": "A video (mp4, webm, mov, mkv, avi): face, and speech from its audio track when no audio is sent."},
        "audio": {"type": "string", "format": "binary", "description": "Audio (wav, flac, ogg, webm, mp3, m4a) for speech."},
        "text": {"type": "string", "description": "The transcript of the utterance."},
        "transcript": {"type": "string", "format": "binary", "description": "SRT or WebVTT transcript: each segment of a long clip gets its words."},
        "attention": {"type": "boolean", "default": False, "description": "Also answer the attention picture (PNG, base64)."},
        "segments": {"type": "string", "enum": ["auto", "vad", "fixed", "none"], "description": "How a clip longer than the model's utterance length is cut (auto: vad when Silero is installed)."},
        "segment_seconds": {"type": "number", "description": "Window length for fixed segments (default: the model's utterance length)."},
    },
}  # fmt: skip

PREDICT_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {"schema": MULTIPART_SCHEMA},
            "application/json": {"schema": PredictJSON.model_json_schema()},
        },
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": what}
    for code, what in {
        401: "Missing or wrong bearer token.",
        404: "Unknown model (the message names the closest ones).",
        413: "Request body over the size limit.",
        422: "A field is missing, malformed or over a limit (the message names it).",
        503: "Busy (queue full; see Retry-After) or not ready yet.",
    }.items()
}
