"""Fixture helpers for the dataset-plugin tests: real media files written with soundfile / PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

MELD_DIR = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "meld"


def write_wav(path: Path, seconds: float = 0.25, sr: int = 16000) -> Path:
    """A real mono 16-bit wav (a 220 Hz tone)."""
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), sr, subtype="PCM_16")
    return path


def write_video(
    path: Path, seconds: float = 0.4, fps: int = 10, audio: bool = True, fmt: str | None = None
) -> Path:
    """A real tiny video (32x32 mpeg4 frames, optional AAC/PCM audio track) written with PyAV."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format=fmt) as c:
        vs = c.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = 32, 32, "yuv420p"
        a_s = None
        if audio:
            a_s = c.add_stream("aac" if fmt is None else "pcm_s16le", rate=16000)
            a_s.layout = "mono"
        for i in range(int(seconds * fps)):
            img = np.full((32, 32, 3), (i * 20) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for p in vs.encode(frame):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        if a_s is not None:
            n = int(seconds * 16000)
            samples = (np.sin(np.arange(n) / 10) * 3000).astype(np.int16).reshape(1, -1)
            for start in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="s16", layout="mono")
                af.sample_rate = 16000
                af.time_base = Fraction(1, 16000)
                af.pts = start
                for p in a_s.encode(af):
                    c.mux(p)
            for p in a_s.encode():
                c.mux(p)
    return path


@pytest.fixture
def media():
    """Access to the writers inside tests: media.wav(path), media.video(path)."""

    class _Media:
        wav = staticmethod(write_wav)
        video = staticmethod(write_video)

    return _Media
