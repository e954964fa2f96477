"""What POST /v1/models/{name}/predict does once the model is found: read the request into its own
temp folder, check the limits and that the model gets what it needs, predict (one item through the
batcher, or a long clip's segments as a timeline) and shape the answer. The temp folder is removed
whatever happens (the caller's `finally`)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sseft.core.errors import DataError
from sseft.core.serving.segments import Segment
from sseft.core.serving.timeline import Timeline, TimelineRow

from .media import media_duration, plan_segments
from .served import Job, Outcome, ServedModel, png_b64
from .settings import ServeSettings
from .uploads import FieldError, Parsed, parse_predict

MEDIA = ("video", "audio")


class Scrub:
    """Replaces the request's temp paths in messages with the field that sent the file."""

    def __init__(self, parsed: Parsed) -> None:
        self.pairs = [(str(p), k) for k, p in parsed.raw.items() if isinstance(p, Path)]
        if parsed.folder is not None:
            self.pairs.append((str(parsed.folder), "upload"))

    def __call__(self, text: str) -> str:
        for path, name in self.pairs:
            text = text.replace(path, name)
        return text


def check_inputs(served: ServedModel, parsed: Parsed, settings: ServeSettings) -> None:
    """Text over the length limit, no input at all, or a modality the model needs without input: 422."""
    text = parsed.raw.get("text")
    if isinstance(text, str) and len(text) > settings.max_text_chars:
        raise FieldError(
            f"field text: {len(text)} characters, over the limit of {settings.max_text_chars}; shorten it"
        )
    kinds = served.predictor.input_kinds()
    given = set(parsed.raw) | ({"text"} if parsed.cues else set())
    feeds = {m: [k for k in (m, *ks) if k in given] for m, ks in kinds.items()}
    if not any(feeds.values()):
        wanted = sorted({k for ks in kinds.values() for k in ks})
        raise FieldError(f"body: no input for any modality of {served.ref}; send {', '.join(wanted)}")
    if not served.predictor.allow_missing:
        for m, got in feeds.items():
            if not got:
                alts = " or ".join(kinds[m])
                raise FieldError(
                    f"field {alts}: missing; {served.ref} needs modality {m!r} (it was not trained with modality "
                    f"dropout): send {alts}"
                )


def durations(parsed: Parsed, settings: ServeSettings) -> dict[str, float]:
    """Seconds of each uploaded clip (decodability checked); over the limit: 422 naming the field."""
    out = {}
    for kind in MEDIA:
        path = parsed.raw.get(kind)
        if isinstance(path, Path):
            d = media_duration(path, kind, limit=settings.max_seconds)
            if d > settings.max_seconds:
                raise FieldError(
                    f"field {kind}: {d:.1f} s, over the limit of {settings.max_seconds:g} s; cut the clip"
                )
            out[kind] = d
    return out


async def predict_request(
    request: Request, served: ServedModel, settings: ServeSettings, parsed: Parsed
) -> dict[str, Any]:
    t0 = time.perf_counter()
    rid = request.state.request_id
    await parse_predict(request, settings, parsed)
    scrub = Scrub(parsed)
    check_inputs(served, parsed, settings)
    has_media = any(isinstance(parsed.raw.get(k), Path) for k in MEDIA)
    try:  # probing media is blocking I/O (a thread); a text-only request skips the thread hop
        lengths = await run_in_threadpool(durations, parsed, settings) if has_media else {}
    except FieldError:
        raise
    except DataError as e:
        raise FieldError(
            f"field {scrub(str(e))}; upload a complete clip in a common format (mp4, webm, wav, ...)"
        ) from None
    duration = next((lengths[k] for k in MEDIA if k in lengths), None)
    media = {k: p for k, p in parsed.raw.items() if k in MEDIA and isinstance(p, Path)}
    segments: list[Segment] = []
    mode, notes = "none", list[str]()
    if media and duration is not None:
        segments, mode, notes = await run_in_threadpool(
            plan_segments, served.predictor, media, duration, parsed.segments or settings.segments,
            parsed.segment_seconds or settings.segment_seconds,
        )  # fmt: skip
    if len(segments) > 1:
        out = await _timeline(served, parsed, segments, mode, duration or 0.0, notes, rid, scrub)
    else:
        raw = dict(parsed.raw)
        if parsed.cues and "text" not in raw:
            raw["text"] = " ".join(c.text for c in parsed.cues)
        outcome = await served.batcher.submit(Job(rid, raw, parsed.attention))
        out = _single(served, outcome, scrub)
    out.update(
        request_id=rid,
        model=served.ref,
        duration=duration,
        elapsed_ms=round((time.perf_counter() - t0) * 1000, 2),
    )
    return out


def _single(served: ServedModel, outcome: Outcome, scrub: Scrub) -> dict[str, Any]:
    if outcome.error is not None:
        raise FieldError(scrub(outcome.error))
    pred = outcome.prediction
    rec = dict(pred.record)
    given = rec.get("probabilities")
    probs: dict[str, Any] = given if isinstance(given, dict) else dict(rec.get("scores") or {})
    notes = _notes(pred.notes)
    if outcome.attention_note:
        notes.append(outcome.attention_note)
    return {
        "task": pred.task, "label_names": list(pred.label_names),
        "label": rec.get("label") if isinstance(rec.get("label"), str) else None,
        "probabilities": {str(k): float(v) for k, v in dict(probs).items()}, "summary": pred.summary(),
        "record": rec, "contributions": dict(pred.notes.get("contributions", {})),
        "modalities_used": list(pred.modalities_used), "missing": list(pred.missing),
        "inputs": {str(k): str(v) for k, v in pred.notes.get("inputs", {}).items()},
        "notes": [scrub(n) for n in notes], "attention_png": png_b64(outcome.attention_png), "timeline": None,
    }  # fmt: skip


def _notes(notes: dict[str, Any]) -> list[str]:
    out = []
    if notes.get("unused_inputs"):
        out.append(f"fields this model does not use: {', '.join(notes['unused_inputs'])}")
    for m in notes.get("empty", []):
        out.append(f"{m} gave an empty sequence (e.g. no face found); the model relied on its CLS")
    for m, c in notes.get("cropped", {}).items():
        out.append(f"{m} cropped from {c['from']} to {c['to']} frames (the model's max_len)")
    for m, n in notes.get("extract", {}).items():
        told = ", ".join(f"{k} {v}" for k, v in n.items()) if isinstance(n, dict) else str(n)
        out.append(f"{m}: {told}")
    return out


async def _timeline(
    served: ServedModel, parsed: Parsed, segments: list[Segment], mode: str, duration: float,
    notes: list[str], rid: str, scrub: Scrub,
) -> dict[str, Any]:  # fmt: skip
    """Every segment through the batcher (in waves of max_batch, so one long clip cannot fill the
    queue), rows as `sseft predict --segments` makes them."""
    from sseft.core.inference.segments import SAME_TEXT_NOTE, segment_items

    text = parsed.raw.get("text") if isinstance(parsed.raw.get("text"), str) else None
    media = {k: p for k, p in parsed.raw.items() if k in MEDIA}
    items, words = segment_items(media, segments, text, parsed.cues)
    wave = served.batcher.max_batch
    outcomes: list[Outcome] = []
    for k in range(0, len(items), wave):
        jobs = [Job(f"{rid}-{k + j}", raw) for j, raw in enumerate(items[k : k + wave])]
        outcomes += await asyncio.gather(*(served.batcher.submit(j) for j in jobs))
    rows = []
    for seg, w, o in zip(segments, words, outcomes, strict=True):
        if o.error is not None:
            rows.append(TimelineRow(seg.start, seg.end, text=w, error=scrub(o.error)))
        else:
            rows.append(TimelineRow.from_prediction(seg.start, seg.end, o.prediction, w))
    if all(r.error for r in rows):
        raise FieldError(f"every segment failed; first: {rows[0].error}")
    if text and not parsed.cues:
        notes.append(SAME_TEXT_NOTE)
    if parsed.attention:
        notes.append("attention pictures are per segment and not drawn for a timeline; send a shorter clip")
    tl = Timeline(rows, list(served.predictor.label_names), mode, duration, notes)
    return _overall(served, tl, [o for o in outcomes if o.error is None])


def _overall(served: ServedModel, tl: Timeline, ok: list[Outcome]) -> dict[str, Any]:
    """The whole clip: duration-weighted mean of the segments' probabilities and contributions."""
    good = [r for r in tl.rows if r.error is None]
    total = sum(r.end - r.start for r in good) or 1.0
    probs: dict[str, float] = {}
    contrib: dict[str, float] = {}
    for r, o in zip(good, ok, strict=True):
        w = (r.end - r.start) / total
        for k, v in r.values.items():
            probs[k] = probs.get(k, 0.0) + w * v
        for m, v in o.prediction.notes.get("contributions", {}).items():
            contrib[m] = contrib.get(m, 0.0) + w * float(v)
    label = max(probs, key=lambda k: probs[k]) if probs else None
    first = ok[0].prediction
    used = sorted({m for o in ok for m in o.prediction.modalities_used})
    summary = (
        f"{label} (p={probs[label]:.2f}) over {len(tl.rows)} segments"
        if label
        else f"{len(tl.rows)} segments"
    )
    return {
        "task": first.task, "label_names": list(first.label_names), "label": label,
        "probabilities": {k: round(v, 6) for k, v in probs.items()}, "summary": summary,
        "record": {"label": label, "probabilities": probs}, "contributions": {k: round(v, 6) for k, v in contrib.items()},
        "modalities_used": used, "missing": [s.name for s in served.predictor.specs if s.name not in used],
        "inputs": {str(k): str(v) for k, v in first.notes.get("inputs", {}).items()},
        "notes": list(tl.notes), "attention_png": None, "timeline": tl.to_dict(),
    }  # fmt: skip
