"""Long recordings: the clip is cut into segments (core/serving/segments.py), every segment is
predicted through the one prediction path (`Predictor.predict_items`, each segment a MediaSlice of
the same file) and the answer is a `Timeline` (core/serving/timeline.py). A transcript with timings
(SRT / WebVTT cues) gives each segment its words; plain text goes to every segment.

Decoding the file (its duration, the speech spans of a voice-activity detector) is the caller's:
`sseft.serve.media` does it for the CLI, the Python API and the service alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ItemError
from ..protocols import MediaSlice
from ..serving.segments import Segment
from ..serving.subtitles import Cue, assign_words
from ..serving.timeline import Timeline, TimelineRow
from .explain import frame_rate

SAME_TEXT_NOTE = (
    "the same text went to every segment; give an SRT or WebVTT transcript to give each segment its words"
)


def utterance_seconds(predictor: Any) -> float | None:
    """The longest span the model was trained to see: min over time-based modalities of
    max_len / frame rate (None for a model without a time-based modality, e.g. text only)."""
    spans = []
    for s in predictor.specs:
        rate = frame_rate(s, predictor.extractors.get(s.name))
        if rate:
            spans.append(s.max_len / rate)
    return min(spans) if spans else None


def segment_items(
    media: Mapping[str, str | Path],
    segments: Sequence[Segment],
    text: str | None = None,
    cues: Sequence[Cue] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """One raw-input item per segment (each media kind as a MediaSlice) and each segment's words."""
    spans = [(s.start, s.end) for s in segments]
    words = assign_words(cues, spans) if cues else [text or "" for _ in segments]
    items = []
    for seg, w in zip(segments, words, strict=True):
        raw: dict[str, Any] = {k: MediaSlice(str(p), seg.start, seg.end) for k, p in media.items()}
        if w:
            raw["text"] = w
        items.append(raw)
    return items, words


def predict_segments(
    predictor: Any,
    media: Mapping[str, str | Path],
    segments: Sequence[Segment],
    *,
    mode: str,
    duration: float,
    text: str | None = None,
    cues: Sequence[Cue] | None = None,
    batch_size: int = 8,
    notes: Sequence[str] = (),
) -> Timeline:
    """Every segment predicted (in batches of `batch_size`); a failed segment keeps its row with
    the error, the others go on."""
    items, words = segment_items(media, segments, text, cues)
    rows: list[TimelineRow] = []
    for k in range(0, len(items), max(1, batch_size)):
        chunk = items[k : k + batch_size]
        ids = [f"segment{k + j}" for j in range(len(chunk))]
        for j, res in enumerate(predictor.predict_items(chunk, ids=ids)):
            seg = segments[k + j]
            if isinstance(res, ItemError):
                rows.append(TimelineRow(seg.start, seg.end, text=words[k + j], error=res.reason))
            else:
                rows.append(TimelineRow.from_prediction(seg.start, seg.end, res, words[k + j]))
    all_notes = list(notes)
    if text and not cues and len(segments) > 1:
        all_notes.append(SAME_TEXT_NOTE)
    return Timeline(rows, list(predictor.label_names), mode, duration, all_notes)
