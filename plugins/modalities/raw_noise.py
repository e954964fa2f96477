"""Raw-level noise on audio and video inputs for robustness runs (core/robustness/raw.py), handed
to the extractors as decoded arrays (the modality plugins' media readers take `(samples,
sample_rate)` pairs and `(T, H, W, 3)` frame arrays), so nothing is written to disk. Beside the
speech and face plugins because it decodes media with their readers (core imports no plugin);
`sseft.robustness` passes `media_perturbers()` to core.

Audio: additive noise at an SNR that falls with the level, 30 dB at l_1 to 0 dB at l_{n-1}
(docs/robustness.md): ``white_noise`` (Gaussian) or ``babble`` (the sum of BABBLE_TALKERS other utterances
of the same subset, each mono, resampled to the item's rate, looped to its length and scaled to the
same power: a crowd of the corpus's own speakers, as NOISEX babble is a crowd recording; the talkers
are drawn per item with its seeded generator, so every level and every model hears the same crowd).
Video (frames sampled at the face extractor's own rate): ``frame_drop`` (every frame removed with
probability l), ``occlusion`` (one black square covering a share l of the frame area, at a seeded
position, the same on every frame of the item and at every level), ``blur`` (Gaussian blur, sigma = l * 5% of the
shorter side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sseft.core.errors import ConfigError

AUDIO_KINDS: tuple[str, ...] = ("white_noise", "babble")
BABBLE_TALKERS = 6
VIDEO_KINDS: tuple[str, ...] = ("frame_drop", "occlusion", "blur")


def snr_db(level_index: int, n_levels: int) -> float:
    """30 dB at level 1 falling linearly to 0 dB at level n-1."""
    if level_index < 1:
        return float("inf")
    if n_levels <= 2:
        return 30.0
    return 30.0 - 30.0 * (level_index - 1) / (n_levels - 2)


def _key(raw: Any) -> Any:
    """What identifies an input: its path (or media slice) text; an in-memory array by identity."""
    return id(raw) if isinstance(raw, tuple | np.ndarray) else str(raw)


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(x, dtype=np.float64))) if x.size else 0.0


def noisy_audio(
    raw: Any, level_index: int, n_levels: int, g: np.random.Generator, babble: np.ndarray | None = None
) -> tuple[np.ndarray, int]:
    """The decoded input plus noise at `snr_db(level)`: white Gaussian, or `babble` ((N,) at the
    input's rate) scaled to that SNR. A (C, N) float32 array and its rate."""
    from .media import load_audio

    data, sr = load_audio(raw)
    target = _power(data) / 10 ** (snr_db(level_index, n_levels) / 10.0)  # the noise power wanted
    if babble is None:
        noise = g.standard_normal(data.shape) * np.sqrt(target)
    else:
        noise = np.broadcast_to(babble * np.sqrt(target / max(_power(babble), 1e-20)), data.shape)
    return (data + noise).astype(np.float32), int(sr)


def babble_for(
    raw: Any, pool: list[Any], g: np.random.Generator, talkers: int = BABBLE_TALKERS
) -> np.ndarray:
    """(N,) float32 at the input's rate: the sum of `talkers` other pool utterances (mono, resampled,
    looped to the input's length, each scaled to unit power). DataError when the pool holds no
    other audio."""
    import torch
    import torchaudio.functional as AF

    from sseft.core.errors import DataError

    from .media import load_audio, source_name

    data, sr = load_audio(raw)
    others = [p for p in pool if p is not None and _key(p) != _key(raw)]
    if not others:
        raise DataError(
            f"{source_name(raw)}: babble noise needs other utterances in the subset; use --limit >= 2"
        )
    picks = g.choice(len(others), size=min(talkers, len(others)), replace=False)
    out = np.zeros(data.shape[-1], np.float64)
    for k in sorted(int(i) for i in picks):
        other, osr = load_audio(others[k])
        mono = other.mean(axis=0).astype(np.float32)
        if osr != sr:
            mono = AF.resample(torch.from_numpy(mono), int(osr), int(sr)).numpy()
        if not mono.size or _power(mono) == 0.0:
            continue
        start = int(g.integers(0, len(mono)))  # a random point of the other utterance, looped
        looped = np.resize(np.roll(mono, -start), data.shape[-1])
        out += looped / np.sqrt(_power(looped) or 1.0)
    return out.astype(np.float32)


def video_frames(raw: Any, fps: float) -> np.ndarray:
    from .media import iter_video_frames

    frames = [f for _t, f in iter_video_frames(raw, fps)]
    if not frames:
        return np.zeros((0, 1, 1, 3), np.uint8)
    return np.stack(frames)


def noisy_video(raw: Any, kind: str, level: float, fps: float, g: np.random.Generator) -> np.ndarray | None:
    """(T, H, W, 3) uint8 frames of the input with `kind` at `level`; None when no frame is left."""
    if kind not in VIDEO_KINDS:
        raise ConfigError(f"video noise {kind!r} unknown; choose from {', '.join(VIDEO_KINDS)}")
    frames = video_frames(raw, fps)
    u, fy, fx = g.random(len(frames)), float(g.random()), float(g.random())  # shared by every level
    if kind == "frame_drop":
        keep = u >= level
        frames = frames[keep]
        return frames if len(frames) else None
    out = frames.copy()
    t, h, w = out.shape[:3]
    if kind == "occlusion":
        side = np.sqrt(level)  # a square of side sqrt(l) covers a share l of the area
        bh, bw = int(round(side * h)), int(round(side * w))
        if bh and bw:
            y, x = min(int(fy * (h - bh + 1)), h - bh), min(int(fx * (w - bw + 1)), w - bw)
            out[:, y : y + bh, x : x + bw] = 0
        return out
    import cv2

    sigma = level * 0.05 * min(h, w)
    if sigma <= 0:
        return out
    for k in range(t):
        out[k] = cv2.GaussianBlur(out[k], (0, 0), sigmaX=sigma)
    return out


class AudioNoise:
    """Raw perturber (core/robustness/raw_inputs.py RawNoise) for the `audio` input kind. Babble
    mixtures are built once per input (the same crowd at every level) and kept."""

    kinds = AUDIO_KINDS
    defaults = AUDIO_KINDS

    def __init__(self) -> None:
        self._crowds: dict[Any, np.ndarray] = {}

    def perturb(
        self, raw: Any, kind: str, level_index: int, n_levels: int, g: np.random.Generator,
        context: Mapping[str, Any],
    ) -> tuple[np.ndarray, int]:  # fmt: skip
        if kind not in AUDIO_KINDS:
            raise ConfigError(f"audio noise {kind!r} unknown; choose from {', '.join(AUDIO_KINDS)}")
        if kind == "white_noise":
            return noisy_audio(raw, level_index, n_levels, g)
        key = _key(raw)
        if key not in self._crowds:
            self._crowds[key] = babble_for(raw, list(context.get("pool") or []), g)
        return noisy_audio(raw, level_index, n_levels, g, babble=self._crowds[key])


class VideoNoise:
    """Raw perturber for the `video` input kind, frames sampled at the extractor's frame rate."""

    kinds = VIDEO_KINDS
    defaults = VIDEO_KINDS

    def perturb(
        self, raw: Any, kind: str, level_index: int, n_levels: int, g: np.random.Generator,
        context: Mapping[str, Any],
    ) -> np.ndarray | None:  # fmt: skip
        fps = float(context.get("frame_rate") or 5.0)
        return noisy_video(raw, kind, level_index / n_levels, fps, g)


def media_perturbers() -> dict[str, Any]:
    """Input kind -> raw perturber, for `robustness(raw_noise=...)`."""
    return {"audio": AudioNoise(), "video": VideoNoise()}
