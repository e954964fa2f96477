"""Media checks and long-recording segmentation shared by the service, `sseft predict --segments`
and the Python API (`sseft.predict_timeline`):

    tl = sseft.predict_timeline("my-first-model", video="talk.mp4", transcript="talk.srt", segments="vad")
    tl.write_csv("timeline.csv"); tl.write_plot("timeline.png")

Durations come from the container (PyAV / soundfile) without decoding when it records one; speech
spans from the Silero VAD of plugins/modalities/vad.py. Segments are predicted by
core/inference/segments.py through the one prediction path.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sseft.core.errors import DataError
from sseft.core.serving.segments import Segment, choose_mode, plan
from sseft.core.serving.subtitles import Cue, parse_subtitles
from sseft.core.serving.timeline import Timeline

CONTENT_TYPES = {  # what a browser's MediaRecorder or a file picker sends -> the suffix decoders need
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/flac": ".flac",
    "audio/ogg": ".ogg", "audio/webm": ".webm", "audio/mpeg": ".mp3", "audio/mp4": ".m4a",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-matroska": ".mkv",
}  # fmt: skip


def allowed_suffixes() -> set[str]:
    from sseft.plugins.modalities.media import AUDIO_SUFFIXES, VIDEO_SUFFIXES

    return set(AUDIO_SUFFIXES) | set(VIDEO_SUFFIXES)


def media_duration(path: Path, kind: str, limit: float | None = None) -> float:
    """Seconds of `path`'s audio (kind 'audio') or video ('video'); DataError (naming `kind`) when it
    cannot be read or lacks that stream. Without a recorded duration (a MediaRecorder webm) the
    packets are walked (no decoding), stopping past `limit`."""
    from sseft.plugins.modalities.media import AUDIO_SUFFIXES

    if path.stat().st_size == 0:
        raise DataError(f"{kind}: the file is empty (0 bytes)")
    if path.suffix.lower() in AUDIO_SUFFIXES:
        import soundfile as sf

        try:
            info = sf.info(str(path))
        except Exception as e:  # libsndfile's own message; the path is ours, not the client's
            raise DataError(f"{kind}: cannot decode the audio ({str(e).replace(str(path), kind)})") from None
        if info.frames <= 0:
            raise DataError(f"{kind}: the audio holds no samples")
        return float(info.frames) / float(info.samplerate)
    return _av_duration(path, kind, limit)


def _av_duration(path: Path, kind: str, limit: float | None) -> float:
    import av

    want = "video" if kind == "video" else "audio"
    try:
        with av.open(str(path)) as container:
            streams = container.streams.video if want == "video" else container.streams.audio
            if not streams:
                have = ", ".join(sorted({s.type for s in container.streams})) or "none"
                raise DataError(f"{kind}: the file has no {want} stream (streams: {have})")
            stream = streams[0]
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return float(container.duration) / 1e6
            end = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None and packet.time_base is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
                if limit is not None and end > limit:
                    break
            if end <= 0:
                raise DataError(f"{kind}: no {want} data could be read from the file")
            return end
    except DataError:
        raise
    except Exception as e:  # FFmpeg's reason, without our temp path
        raise DataError(f"{kind}: cannot decode the file ({str(e).replace(str(path), kind)})") from None


def vad_spans(path: Path) -> list[tuple[float, float]]:
    """Speech spans (seconds) Silero finds in the audio of `path` (an audio file or a video's track)."""
    from sseft.plugins.modalities.media import load_audio
    from sseft.plugins.modalities.vad import speech_spans

    wave, sr = load_audio(path)
    return speech_spans(wave.mean(axis=0), sr)


def have_vad() -> bool:
    from sseft.plugins.modalities.vad import silero_available

    return silero_available()


def plan_segments(
    predictor: Any, media: Mapping[str, Path], duration: float, mode: str, window: float | None
) -> tuple[list[Segment], str, list[str]]:
    """The segments of a clip of `duration` seconds: one whole-clip segment when it fits the model's
    utterance length (or mode 'none'); else per `mode` ('auto': vad when Silero is installed)."""
    from sseft.core.inference.segments import utterance_seconds

    utter = utterance_seconds(predictor)
    win = window or utter
    if mode == "none" or win is None or (window is None and duration <= win + 1e-6):
        return [Segment(0.0, round(duration, 6))], "none", []
    chosen = choose_mode(mode, have_vad())
    speech = vad_spans(next(iter(media.values()))) if chosen == "vad" else None
    segs, note = plan(duration, chosen, win, speech)
    return segs, chosen, [note] if note else []


def read_transcript(path: str | Path) -> list[Cue]:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: transcript file not found")
    return parse_subtitles(p.read_text(encoding="utf-8-sig"), p.name)


def predict_timeline(
    model: Any,
    *,
    audio: str | Path | None = None,
    video: str | Path | None = None,
    text: str | None = None,
    transcript: str | Path | None = None,
    segments: str = "auto",
    window: float | None = None,
    batch_size: int = 8,
) -> Timeline:
    """A long recording predicted segment by segment (a `Timeline`). `model`: a registry reference,
    a loaded model or a Predictor; `transcript`: an SRT or WebVTT file giving each segment its words."""
    from sseft.core.inference import Predictor
    from sseft.core.inference.segments import predict_segments

    predictor = _predictor(model)
    assert isinstance(predictor, Predictor)
    media = {k: Path(v) for k, v in (("audio", audio), ("video", video)) if v is not None}
    if not media:
        raise DataError("a timeline needs a recording: give audio= or video=")
    for kind, p in media.items():
        if not p.is_file():
            raise DataError(f"{p}: {kind} file not found")
    kind, first = next(iter(media.items()))
    duration = media_duration(first, kind)
    cues = read_transcript(transcript) if transcript is not None else None
    segs, mode, notes = plan_segments(predictor, media, duration, segments, window)
    return predict_segments(
        predictor,
        media,
        segs,
        mode=mode,
        duration=duration,
        text=text,
        cues=cues,
        batch_size=batch_size,
        notes=notes,
    )


def _predictor(model: Any) -> Any:
    from sseft.core.inference import Predictor

    if isinstance(model, Predictor):
        return model
    if isinstance(model, str | Path):
        import sseft

        model = sseft.load(model)
    return model.predictor()
