"""Transcripts with timings: SRT and WebVTT cues, and the words a time span covers.

cues = parse_subtitles(text)            # format told by the content (WEBVTT header or not)
assign_words(cues, [(0, 2), (2, 4)])    # each span's words; every cue goes to one span
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import DataError

_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{1,3})")
_ARROW = re.compile(r"^\s*(\S+)\s+-->\s+(\S+)")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True)
class Cue:
    """One subtitle: its span in seconds and its text (tags removed, lines joined)."""

    start: float
    end: float
    text: str


def _seconds(stamp: str, where: str) -> float:
    m = _TIME.fullmatch(stamp.strip())
    if not m:
        raise DataError(
            f"{where}: bad timestamp {stamp!r}; expected HH:MM:SS,mmm (SRT) or HH:MM:SS.mmm (WebVTT)"
        )
    h, mi, s, ms = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + int(ms.ljust(3, "0")) / 1000.0


def parse_subtitles(text: str, name: str = "transcript") -> list[Cue]:
    """SRT or WebVTT text -> cues sorted by start. WebVTT NOTE/STYLE/REGION blocks are skipped;
    a file with no cue at all is an error naming `name`."""
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    blocks = [b.strip("\n") for b in re.split(r"\n\s*\n", text) if b.strip()]
    if blocks and blocks[0].startswith("WEBVTT"):
        blocks = blocks[1:]
    cues: list[Cue] = []
    for n, block in enumerate(blocks, 1):
        lines = block.split("\n")
        if lines[0].startswith(("NOTE", "STYLE", "REGION")):
            continue
        at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if at is None:
            raise DataError(f"{name}: block {n} has no 'start --> end' line; is this an SRT or WebVTT file?")
        m = _ARROW.match(lines[at])
        if not m:
            raise DataError(f"{name}: block {n}: cannot read the timing line {lines[at]!r}")
        start, end = _seconds(m.group(1), f"{name} block {n}"), _seconds(m.group(2), f"{name} block {n}")
        if end < start:
            raise DataError(f"{name}: block {n} ends ({end:.3f}s) before it starts ({start:.3f}s)")
        words = " ".join(_TAG.sub("", line).strip() for line in lines[at + 1 :] if line.strip())
        cues.append(Cue(start, end, words))
    if not cues:
        raise DataError(
            f"{name}: no cue found; give an SRT or WebVTT file with at least one 'start --> end' line"
        )
    return sorted(cues, key=lambda c: (c.start, c.end))


def assign_words(cues: Sequence[Cue], spans: Sequence[tuple[float, float]]) -> list[str]:
    """The words of each span (start, end seconds): every cue goes to exactly one span, the one
    holding its midpoint, else the one it overlaps most (ties: the earlier); a cue overlapping no
    span is left out. Cues keep their order inside a span."""
    texts: list[list[str]] = [[] for _ in spans]
    for c in cues:
        mid = (c.start + c.end) / 2
        home = next((k for k, (a, b) in enumerate(spans) if a <= mid < b), None)
        if home is None:
            overlaps = [min(c.end, b) - max(c.start, a) for a, b in spans]
            best = max(range(len(spans)), key=lambda k: (overlaps[k], -k), default=None)
            home = best if best is not None and overlaps[best] > 0 else None
        if home is not None and c.text:
            texts[home].append(c.text)
    return [" ".join(t) for t in texts]
