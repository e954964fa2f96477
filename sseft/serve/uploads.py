"""One predict request's inputs: a multipart form (files `video`, `audio`, `transcript`; fields
`text`, `attention`, `segments`, `segment_seconds`) or a JSON body (text-only models). Uploads are
written into the request's own temp folder under names the service chooses (`video.mp4`): of the
client's file name only a suffix from the decoders' list is kept, so no client-given path reaches the
filesystem. Every problem is a `FieldError`: one line naming the field and what to do (422).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

from sseft.core.config import StrictModel
from sseft.core.errors import DataError
from sseft.core.serving.subtitles import Cue, parse_subtitles

from .media import CONTENT_TYPES, allowed_suffixes
from .settings import ServeSettings

FILE_FIELDS = ("video", "audio", "transcript")
VALUE_FIELDS = ("text", "attention", "segments", "segment_seconds")


class FieldError(DataError):
    """A request field is missing, malformed or over a limit (HTTP 422)."""


class PredictJSON(StrictModel):
    """The JSON body of a prediction from text alone."""

    text: str = Field(description="The utterance's transcript.")
    attention: bool = Field(False, description="Also answer the attention picture (PNG, base64).")


@dataclass
class Parsed:
    """What the request asked for; media paths live in `tmp`, a folder of its own under `root` made
    at the first upload (a JSON text request touches no disk); the caller calls `remove()`."""

    root: Path
    raw: dict[str, Any] = field(default_factory=dict)  # kind -> text or Path
    attention: bool = False
    segments: str | None = None
    segment_seconds: float | None = None
    cues: list[Cue] | None = None
    folder: Path | None = None

    @property
    def tmp(self) -> Path:
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="sseft-serve-", dir=self.root))
        return self.folder

    def remove(self) -> None:
        """Remove the request's folder (if one was made) and everything in it."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


def _bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise FieldError(f"field {name}: expected true or false, got {value[:20]!r}")


def _copy(src: BinaryIO, dest: Path) -> None:
    src.seek(0)
    with dest.open("wb") as f:
        shutil.copyfileobj(src, f, 1024 * 1024)


def suffix_for(name: str, filename: str | None, content_type: str | None) -> str:
    """The decoder suffix of an upload, from its file name's suffix or its content type."""
    allowed = allowed_suffixes()
    suffix = Path(filename or "").suffix.lower()
    if suffix in allowed:
        return suffix
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in CONTENT_TYPES:
        return CONTENT_TYPES[ctype]
    raise FieldError(
        f"field {name}: unsupported type (suffix {suffix or 'none'!r}, content type {ctype or 'none'!r}); "
        f"upload one of {', '.join(sorted(allowed))}"
    )


async def parse_predict(request: Request, settings: ServeSettings, parsed: Parsed) -> None:
    """Fill `parsed` from the request body (JSON or multipart)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json":
        await _parse_json(request, settings, parsed)
    elif ctype in ("multipart/form-data", "application/x-www-form-urlencoded"):  # the latter: fields only
        await _parse_form(request, settings, parsed)
    else:
        raise FieldError(
            f"body: content type {ctype or 'none'!r} is not accepted; send multipart/form-data "
            '(files video/audio/transcript, fields text/attention/segments) or application/json {"text": ...}'
        )


async def _parse_json(request: Request, settings: ServeSettings, parsed: Parsed) -> None:
    body = await request.body()
    try:
        data = PredictJSON.model_validate(json.loads(body or b"null"))
    except json.JSONDecodeError as e:
        raise FieldError(
            f'body: not valid JSON ({e.msg} at character {e.pos}); send {{"text": "..."}}'
        ) from None
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "body"
        raise FieldError(
            f'field {where}: {err["msg"].lower()}; send {{"text": "...", "attention": false}}'
        ) from None
    parsed.raw["text"] = data.text
    parsed.attention = data.attention


async def _parse_form(request: Request, settings: ServeSettings, parsed: Parsed) -> None:
    try:
        form = await request.form(
            max_files=len(FILE_FIELDS),
            max_fields=len(VALUE_FIELDS),
            max_part_size=settings.max_text_chars * 4 + 1024,
        )
    except HTTPException as e:  # starlette's multipart limits (too many files or fields)
        raise FieldError(
            f"body: {e.detail.rstrip('.')}; send at most the files {', '.join(FILE_FIELDS)} and the fields {', '.join(VALUE_FIELDS)}"
        ) from None
    try:
        seen: set[str] = set()
        for name, value in form.multi_items():
            if name in seen:
                raise FieldError(f"field {name}: given twice; send it once")
            seen.add(name)
            if name in FILE_FIELDS:
                await _take_file(name, value, settings, parsed)
            elif name in VALUE_FIELDS:
                if not isinstance(value, str):
                    raise FieldError(f"field {name}: expected a plain value, got a file")
                _take_value(name, value, parsed)
            else:
                raise FieldError(f"field {name}: not known; fields: {', '.join(FILE_FIELDS + VALUE_FIELDS)}")
    finally:
        await form.close()


async def _take_file(name: str, value: Any, settings: ServeSettings, parsed: Parsed) -> None:
    if isinstance(value, str):
        if name == "transcript":  # a transcript pasted as text is fine too
            parsed.cues = _cues(value, settings)
            return
        raise FieldError(f"field {name}: expected a file upload (multipart file part), got a plain value")
    if name == "transcript":
        data = await value.read(settings.max_text_chars * 8 + 1)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FieldError("field transcript: not UTF-8 text; upload an SRT or WebVTT file") from None
        parsed.cues = _cues(text, settings)
        return
    suffix = suffix_for(name, value.filename, value.content_type)
    dest = parsed.tmp / f"{name}{suffix}"
    await run_in_threadpool(_copy, value.file, dest)
    parsed.raw[name] = dest


def _cues(text: str, settings: ServeSettings) -> list[Cue]:
    if len(text) > settings.max_text_chars * 4:
        raise FieldError(
            f"field transcript: {len(text)} characters, over the limit of {settings.max_text_chars * 4}; shorten it"
        )
    try:
        return parse_subtitles(text, "field transcript")
    except DataError as e:
        raise FieldError(str(e)) from None


def _take_value(name: str, value: str, parsed: Parsed) -> None:
    if name == "text":
        if value.strip():
            parsed.raw["text"] = value
    elif name == "attention":
        parsed.attention = _bool(name, value)
    elif name == "segments":
        modes: tuple[Literal["auto", "vad", "fixed", "none"], ...] = ("auto", "vad", "fixed", "none")
        if value not in modes:
            raise FieldError(f"field segments: {value[:20]!r} is not one of {', '.join(modes)}")
        parsed.segments = value
    elif name == "segment_seconds":
        try:
            parsed.segment_seconds = float(value)
        except ValueError:
            parsed.segment_seconds = None
        if parsed.segment_seconds is None or not 0.2 <= parsed.segment_seconds <= 600:
            raise FieldError(
                f"field segment_seconds: expected a number of seconds between 0.2 and 600, got {value[:20]!r}"
            )
