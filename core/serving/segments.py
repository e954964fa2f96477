"""Segments of a long recording: fixed windows, or speech spans (from a voice-activity detector the
caller passes in, e.g. plugins/modalities/vad.py's Silero) cut to at most the model's utterance
length. Pure arithmetic on seconds: decoding happens in the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ConfigError

SEGMENT_MODES = ("auto", "vad", "fixed", "none")


@dataclass(frozen=True)
class Segment:
    """A time span of the recording, in seconds (`end` exclusive)."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def fixed_windows(duration: float, window: float, min_last: float | None = None) -> list[Segment]:
    """Back-to-back windows of `window` seconds covering [0, duration]; a last piece shorter than
    `min_last` seconds (default: a quarter window) joins the window before it, so no segment is a
    sliver and none is longer than 1.25 windows."""
    if window <= 0:
        raise ConfigError(f"segment window must be > 0 seconds, got {window}")
    if duration <= 0:
        return []
    min_last = window / 4 if min_last is None else min_last
    n = max(1, math.ceil(duration / window - 1e-9))
    bounds = [min(duration, k * window) for k in range(n + 1)]
    segs = [Segment(round(a, 6), round(b, 6)) for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    if len(segs) > 1 and segs[-1].duration < min_last:
        last = segs.pop()
        segs[-1] = Segment(segs[-1].start, last.end)
    return segs


def split_long(
    spans: Iterable[tuple[float, float]], window: float, min_last: float | None = None
) -> list[Segment]:
    """Speech spans (start, end seconds), sorted and overlaps merged, each cut into windows of at
    most `window` seconds."""
    merged: list[list[float]] = []
    for a, b in sorted((float(a), float(b)) for a, b in spans):
        if b <= a:
            continue
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    out: list[Segment] = []
    for a, b in merged:
        out += [
            Segment(round(a + s.start, 6), round(a + s.end, 6))
            for s in fixed_windows(b - a, window, min_last)
        ]
    return out


def choose_mode(mode: str, have_vad: bool) -> str:
    """`auto` -> `vad` when a detector is available, else `fixed`; other modes as given."""
    if mode not in SEGMENT_MODES:
        raise ConfigError(f"segments must be one of {', '.join(SEGMENT_MODES)}, got {mode!r}")
    if mode == "auto":
        return "vad" if have_vad else "fixed"
    return mode


def plan(
    duration: float,
    mode: str,
    window: float,
    speech: Sequence[tuple[float, float]] | None = None,
) -> tuple[list[Segment], str | None]:
    """The segments for `mode` ('vad' needs the detector's `speech` spans) and a note when the plan
    had to differ (no speech found: fixed windows instead)."""
    if mode == "none":
        return [Segment(0.0, round(duration, 6))], None
    if mode == "vad":
        segs = split_long(speech or [], window)
        if segs:
            return segs, None
        return fixed_windows(
            duration, window
        ), "the voice-activity detector found no speech: fixed windows instead"
    return fixed_windows(duration, window), None
