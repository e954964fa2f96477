"""Media decoding for the modality plugins: audio with soundfile (wav/flac/ogg) or PyAV (the audio
track of a video), video frames with PyAV. torchaudio.load is not used (it needs torchcodec + a system
FFmpeg); PyAV ships its own FFmpeg.

Every function raises `DataError` with a one-line reason naming the file; the extractors turn it into
a per-item failure.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sseft.core.errors import DataError
from sseft.core.protocols import MediaSlice

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".aiff", ".aif"}
VIDEO_SUFFIXES = {".mp4", ".avi", ".mkv", ".mov", ".webm", ".m4a", ".mp3"}


def split_source(raw: Any) -> tuple[Path, float | None, float | None]:
    """A raw media input (path, str or MediaSlice) -> (path, start seconds, end seconds)."""
    if isinstance(raw, MediaSlice):
        return Path(raw.path), float(raw.start), float(raw.end)
    if isinstance(raw, str | Path):
        return Path(raw), None, None
    raise DataError(f"expected a media path or MediaSlice, got {type(raw).__name__}")


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if not path.is_file():
        raise DataError(f"{path}: not a regular file")
    try:
        with path.open("rb") as f:
            f.read(1)
    except OSError as e:
        raise DataError(f"{path}: cannot read file ({e.strerror or e})") from None
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")


def _check_wav_complete(path: Path) -> None:
    """libsndfile silently reads a WAV whose data chunk was cut short; say so instead.

    Walks the RIFF chunks: the `data` chunk's declared size must fit in the file."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return  # not a RIFF/WAVE file: let soundfile report what it is
        endian = "<" if head[:4] == b"RIFF" else ">"
        pos = 12
        while pos + 8 <= size:
            f.seek(pos)
            cid, csize = struct.unpack(endian + "4sI", f.read(8))
            if cid == b"data":
                have = size - pos - 8
                if csize != 0xFFFFFFFF and csize > have:
                    raise DataError(
                        f"{path}: truncated WAV: the header declares {csize} bytes of audio but the file "
                        f"holds {have}; re-export or re-download it"
                    )
                return
            pos += 8 + csize + (csize & 1)


def load_audio(raw: Any) -> tuple[np.ndarray, int]:
    """Decode audio -> ((channels, samples) float32, sample_rate). Raw: path, MediaSlice, or a
    `(array, sample_rate)` pair / {"array", "sample_rate"} mapping of precomputed samples."""
    if isinstance(raw, dict) and "array" in raw:
        raw = (raw["array"], raw.get("sample_rate"))
    if isinstance(raw, tuple) and len(raw) == 2 and not isinstance(raw[0], str | Path):
        arr, sr = np.asarray(raw[0], dtype=np.float32), raw[1]
        if not isinstance(sr, int) or sr <= 0:
            raise DataError("precomputed audio needs a positive integer sample_rate")
        return (arr[None] if arr.ndim == 1 else arr), sr
    path, start, end = split_source(raw)
    _check_readable(path)
    suffix = path.suffix.lower()
    if suffix in AUDIO_SUFFIXES:
        return _load_soundfile(path, start, end)
    return _load_av_audio(path, start, end)


def check_audio(data: np.ndarray, name: str) -> str | None:
    """What extraction refuses in decoded audio (DataError naming the file), or a note for audio it
    keeps but that is worth knowing (all zeros). Shared by the speech extractor and `--probe`."""
    if data.size == 0 or data.shape[-1] == 0:
        raise DataError(f"{name}: audio is empty (0 samples)")
    if not np.isfinite(data).all():
        raise DataError(f"{name}: audio holds NaN or infinite samples")
    if not np.any(data):
        return "audio is all zeros (silent)"
    return None


def source_name(raw: Any) -> str:
    """The file a raw input names (for messages), or a generic word."""
    p = getattr(raw, "path", raw)
    return str(p) if isinstance(p, str) or hasattr(p, "__fspath__") else "audio"


def probe_audio(raw: Any) -> str | None:
    """Decode `raw` exactly as the speech extractor does (no model): DataError or an optional note."""
    data, _ = load_audio(raw)
    return check_audio(data, source_name(raw))


def probe_video(raw: Any, fps: float) -> str | None:
    """Decode every frame the face extractor would sample: DataError when none decodes."""
    n = sum(1 for _ in iter_video_frames(raw, fps))
    if n == 0:
        raise DataError(f"{source_name(raw)}: the video has no decodable frames")
    return None


def _load_soundfile(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    import soundfile as sf

    if path.suffix.lower() == ".wav":
        _check_wav_complete(path)
    try:
        info = sf.info(str(path))
        sr = int(info.samplerate)
        a = 0 if start is None else max(0, int(round(start * sr)))
        b = None if end is None else int(round(end * sr))
        data, sr = sf.read(str(path), start=a, stop=b, dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError, ValueError) as e:
        raise DataError(f"{path}: cannot decode audio ({e})") from None
    return np.ascontiguousarray(data.T), int(sr)  # (C, N)


def _load_av_audio(path: Path, start: float | None, end: float | None) -> tuple[np.ndarray, int]:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise DataError(f"{path}: no audio stream in this file (streams: {_stream_kinds(container)})")
            stream = container.streams.audio[0]
            # Resample to planar float so every codec/layout arrives as (C, N) float32.
            resampler = av.AudioResampler(format="fltp", layout="mono" if stream.channels == 1 else None)
            chunks: list[np.ndarray] = []
            sr = stream.rate or stream.codec_context.sample_rate
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray())
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray())
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot decode audio track ({e})") from None
    if not chunks:
        return np.zeros((1, 0), np.float32), int(sr)
    data = np.concatenate(chunks, axis=1).astype(np.float32)
    a = 0 if start is None else max(0, int(round(start * sr)))
    b = data.shape[1] if end is None else int(round(end * sr))
    return data[:, a:b], int(sr)


def _stream_kinds(container: Any) -> str:
    kinds = [s.type for s in container.streams]
    return ", ".join(kinds) if kinds else "none"


def iter_video_frames(raw: Any, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time seconds, RGB uint8 (H, W, 3)) frames sampled at `fps` (at most; never duplicates).

    Raw: a video path, a MediaSlice, a (T, H, W, 3) uint8 array, or a directory of image files
    (a frame sequence, sorted by name, taken as `fps` frames per second)."""
    if isinstance(raw, np.ndarray):
        if raw.ndim != 4 or raw.shape[-1] != 3:
            raise DataError(f"frame array must be (T, H, W, 3), got shape {tuple(raw.shape)}")
        for i, fr in enumerate(raw):
            yield i / fps, np.ascontiguousarray(fr, dtype=np.uint8)
        return
    path, start, end = split_source(raw)
    if path.is_dir():
        yield from _iter_image_dir(path, fps)
        return
    _check_readable(path)
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream in this file (streams: {_stream_kinds(container)})")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            time_base = stream.time_base  # None only when FFmpeg reports no time base (0 denominator)
            if time_base is None:
                raise DataError(f"{path}: video stream has no time base; cannot place frames in time")
            if start:
                container.seek(int(start / time_base), stream=stream, any_frame=False, backward=True)
            next_t = start or 0.0
            step = 1.0 / fps
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * time_base)
                if start is not None and t < start - 1e-6:
                    continue
                if end is not None and t >= end:
                    break
                if t + 1e-6 >= next_t:
                    # Skip ahead in whole steps, so a low-fps source is never duplicated.
                    next_t += step * max(1, int((t - next_t) // step) + 1)
                    yield t, frame.to_ndarray(format="rgb24")
    except DataError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise DataError(f"{path}: cannot decode video ({e})") from None


def _iter_image_dir(path: Path, fps: float) -> Iterator[tuple[float, np.ndarray]]:
    import cv2

    files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".bmp"})
    if not files:
        raise DataError(f"{path}: frame directory holds no .png/.jpg images")
    for i, f in enumerate(files):
        img = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"{f}: cannot decode image")
        yield i / fps, cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
