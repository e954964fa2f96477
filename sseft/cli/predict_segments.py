"""`sseft predict --segments MODE`: a long recording predicted segment by segment, as a timeline
(a table, `--out timeline.csv`, `--plot timeline.png`, or `--json`).

    sseft predict --model my-first-model --video talk.mp4 --segments vad --transcript talk.srt --out tl.csv --plot tl.png

`with_segments` adds the options to `sseft predict` and takes over when `--segments` is given; the
work is `sseft.serve.media.predict_timeline`, the same the service and the Python API use.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def with_segments(command: Callable[..., None]) -> Callable[..., None]:
    """Add --segments/--segment-seconds/--transcript/--plot to `sseft predict`'s callback."""

    @click.option(
        "--segments",
        type=click.Choice(["auto", "vad", "fixed", "none"]),
        default=None,
        help="Predict a long --audio/--video per segment (vad: Silero speech spans; fixed: windows; auto: vad if installed).",
    )
    @click.option(
        "--segment-seconds",
        type=float,
        default=None,
        help="Segment window (default: the model's utterance length).",
    )
    @click.option(
        "--transcript",
        type=click.Path(dir_okay=False, path_type=Path),
        help="SRT or WebVTT transcript: each segment gets its words (--segments).",
    )
    @click.option(
        "--plot", type=click.Path(dir_okay=False, path_type=Path), help="Timeline plot PNG (--segments)."
    )
    @functools.wraps(command)
    def wrapper(
        *args: Any,
        segments: str | None,
        segment_seconds: float | None,
        transcript: Path | None,
        plot: Path | None,
        **kw: Any,
    ) -> None:
        if segments is None:
            if transcript is not None or plot is not None or segment_seconds is not None:
                raise click.UsageError("--transcript, --plot and --segment-seconds go with --segments MODE")
            command(*args, **kw)
            return
        run(kw, segments, segment_seconds, transcript, plot)

    return wrapper


def run(
    kw: dict[str, Any], mode: str, window: float | None, transcript: Path | None, plot: Path | None
) -> None:
    if kw.get("manifest") is not None:
        raise click.UsageError("--segments predicts one recording: drop --manifest")
    if kw.get("audio") is None and kw.get("video") is None:
        raise click.UsageError("--segments needs a recording: --audio or --video")
    if window is not None and window <= 0:
        raise click.UsageError("--segment-seconds must be > 0")
    from sseft.api import load_predictor
    from sseft.core.inference.requests import item_inputs
    from sseft.serve.media import predict_timeline

    text = item_inputs(kw.get("text"), kw.get("text_file")).get("text")
    predictor = load_predictor(
        kw["model_ref"], kw.get("sets") or (), preset=kw.get("preset"),
        allow_missing=bool(kw.get("allow_missing")), device=kw.get("device"),
    )  # fmt: skip
    tl = predict_timeline(
        predictor, audio=kw.get("audio"), video=kw.get("video"), text=text, transcript=transcript,
        segments=mode, window=window, batch_size=kw.get("batch_size") or 8,
    )  # fmt: skip
    if kw.get("out") is not None:
        tl.write_csv(kw["out"])
    if plot is not None:
        tl.write_plot(plot)
    if kw.get("as_json"):
        click.echo(json.dumps({"model": predictor.ref, **tl.to_dict()}, indent=2, ensure_ascii=False))
        return
    click.echo(tl.report_text(predictor.ref))
    for p in (kw.get("out"), plot):
        if p is not None:
            click.echo(f"wrote {p}")
