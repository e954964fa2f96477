"""Serving building blocks shared by `sseft serve`, `sseft predict --segments` and the Python API:
a dynamic batcher (batcher.py), segments of a long recording (segments.py), subtitles in SRT or
WebVTT (subtitles.py) and the timeline a segmented prediction answers (timeline.py). No web
framework here: the FastAPI app lives in sseft/serve/.
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "DynamicBatcher": ".batcher",
        "Overloaded": ".batcher",
        "Segment": ".segments",
        "fixed_windows": ".segments",
        "split_long": ".segments",
        "Cue": ".subtitles",
        "parse_subtitles": ".subtitles",
        "assign_words": ".subtitles",
        "Timeline": ".timeline",
        "TimelineRow": ".timeline",
    },
)
