"""Real-looking test media for the lite encoders: a face MTCNN finds (skimage's astronaut, a
public-domain NASA portrait) and voice-like audio (harmonics of a pitch contour)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def harmonic(seconds: float, f0: float = 150.0, sr: int = 16000, vibrato: float = 30.0) -> np.ndarray:
    """7 harmonics (1/k amplitudes) of f0 + vibrato sin(1.5 Hz t): voiced, with a pitch contour."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 + vibrato * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


def astronaut(side: int = 256) -> np.ndarray:
    """(side, side, 3) uint8 RGB portrait with one face (at about x 90-134, y 31-86 for side 256)."""
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), (side, side), interpolation=cv2.INTER_AREA)


def write_clip(
    path: Path,
    faces: list[bool],
    fps: int = 5,
    side: int = 256,
    seconds: float | None = None,
    f0: float = 150.0,
) -> Path:
    """An mp4: one frame per entry of `faces` (the portrait, or a blank grey frame), and an aac track of
    harmonic audio lasting the video (or `seconds`)."""
    import av

    img, blank = astronaut(side), np.full((side, side, 3), 90, np.uint8)
    sr = 16000
    audio = harmonic(seconds if seconds is not None else len(faces) / fps, f0=f0, sr=sr)
    with av.open(str(path), "w") as c:
        vs = c.add_stream("mpeg4", rate=fps)
        vs.width = vs.height = side
        vs.pix_fmt = "yuv420p"
        vs.bit_rate = 2_000_000
        ast = c.add_stream("aac", rate=sr, layout="mono")
        for f in faces:
            for p in vs.encode(av.VideoFrame.from_ndarray(img if f else blank, format="rgb24")):
                c.mux(p)
        for p in vs.encode():
            c.mux(p)
        fr = av.AudioFrame.from_ndarray(audio[None, :], format="fltp", layout="mono")
        fr.sample_rate = sr
        for p in ast.encode(fr):
            c.mux(p)
        for p in ast.encode(None):
            c.mux(p)
    return path
