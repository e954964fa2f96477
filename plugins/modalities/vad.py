"""Voice-activity trimming for the speech extractors: `speech.vad` = true / "energy" (an energy gate)
or "silero" (Silero VAD, MIT, a trained model whose TorchScript weights ship in the `silero-vad`
wheel: install it with `pip install --no-deps silero-vad`, its `[audio]` extra pins an old torchaudio).

Both cut only leading and trailing non-speech: everything between the first and the last speech
sample is kept, so pauses inside an utterance stay.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from sseft.core.errors import ExtractionError
from sseft.core.files import sha256_file

from .wheels import wheel_file

SILERO_RATE = 16000


def vad_method(cfg: Any) -> str | None:
    """'energy', 'silero' or None (no trimming) from `speech.vad` (True means 'energy')."""
    if cfg.vad is True or cfg.vad == "energy":
        return "energy"
    return "silero" if cfg.vad == "silero" else None


def record(cfg: Any) -> dict[str, Any] | None:
    """The fingerprint's `vad` entry (unchanged for the energy gate)."""
    m = vad_method(cfg)
    if m == "energy":
        return {"method": "energy", "threshold_db": cfg.vad_threshold_db}
    if m == "silero":
        return {"method": "silero", **silero_identity()}
    return None


def trim(wave: np.ndarray, sr: int, cfg: Any) -> np.ndarray:
    """`wave` without leading/trailing non-speech per `cfg.vad` (unchanged when nothing is found)."""
    m = vad_method(cfg)
    if m == "energy":
        from ._speech_impl import energy_trim

        return energy_trim(wave, sr, cfg.vad_threshold_db)
    if m == "silero":
        return silero_trim(wave, sr)
    return wave


@lru_cache(maxsize=1)
def _silero() -> Any:
    import torch

    threads = torch.get_num_threads()
    try:
        import silero_vad  # sets torch to one thread for the whole process when imported
    except ImportError:
        raise ExtractionError(
            "speech.vad=silero needs the silero-vad package: pip install --no-deps silero-vad"
        ) from None
    finally:
        torch.set_num_threads(threads)
    return silero_vad, silero_vad.load_silero_vad()


def silero_identity() -> dict[str, Any]:
    path, version = wheel_file(
        "silero-vad",
        "silero_vad/data/silero_vad.jit",
        "speech.vad=silero needs the silero-vad package: pip install --no-deps silero-vad",
    )
    return {"package": "silero-vad", "package_version": version, "weights_sha256": sha256_file(path)}


def silero_trim(wave: np.ndarray, sr: int) -> np.ndarray:
    import torch

    lib, model = _silero()
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    if sr != SILERO_RATE:  # Silero runs at 16 kHz: find the speech there, cut the original
        import torchaudio.functional as AF

        x = AF.resample(x, sr, SILERO_RATE)
    with torch.inference_mode():
        model.reset_states()
        spans = lib.get_speech_timestamps(x, model, sampling_rate=SILERO_RATE)
    if not spans:
        return wave
    scale = sr / SILERO_RATE
    start, end = int(spans[0]["start"] * scale), int(np.ceil(spans[-1]["end"] * scale))
    return wave[start : max(end, start + 1)]


def silero_available() -> bool:
    """True when the silero-vad package (and its weights) can be imported."""
    import importlib.util

    return importlib.util.find_spec("silero_vad") is not None


def speech_spans(wave: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """(start, end) seconds of every speech span Silero finds in a mono `wave` (sorted; [] for none).
    Used to cut long recordings into utterances (sseft/serve/media.py)."""
    import torch

    lib, model = _silero()
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    if sr != SILERO_RATE:
        import torchaudio.functional as AF

        x = AF.resample(x, sr, SILERO_RATE)
    with torch.inference_mode():
        model.reset_states()
        spans = lib.get_speech_timestamps(x, model, sampling_rate=SILERO_RATE)
    return [(s["start"] / SILERO_RATE, s["end"] / SILERO_RATE) for s in spans]
