"""The speech extractor (heavy half of `speech.py`)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.core.protocols import Extracted, Prepared

from . import _hf, vad
from .media import check_audio, load_audio, source_name
from .speech import SpeechConfig


def frame_geometry(kernels: Sequence[int], strides: Sequence[int]) -> tuple[int, int]:
    """(receptive field, hop) in samples of a stack of 1-d convolutions without padding."""
    field, hop = 1, 1
    for k, s in zip(kernels, strides, strict=True):
        field += (k - 1) * hop
        hop *= s
    return field, hop


def n_frames(n_samples: int, field: int, hop: int) -> int:
    """Frames the conv stack yields for `n_samples` (0 when shorter than one receptive field)."""
    return 0 if n_samples < field else (n_samples - field) // hop + 1


def plan_windows(total: int, chunk: int, context: int) -> list[tuple[int, int, int, int]]:
    """Cover frames [0, total) with windows: (a, b, keep_from, keep_to) in frames, where the window
    computes frames [a, b) and frames [keep_from, keep_to) of it are kept. Kept ranges tile [0, total)
    exactly once, so no real frame is dropped or duplicated; context frames on both sides give each
    kept frame real audio around it."""
    out = []
    for f0 in range(0, total, chunk):
        f1 = min(total, f0 + chunk)
        a, b = max(0, f0 - context), min(total, f1 + context)
        out.append((a, b, f0 - a, f1 - a))
    return out


def energy_trim(wave: np.ndarray, sr: int, threshold_db: float) -> np.ndarray:
    """Cut leading/trailing 20 ms frames whose RMS is `threshold_db` below the loudest frame.
    A simple energy gate, not a trained VAD: keeps everything between the first and last loud frame."""
    hop = max(1, int(0.02 * sr))
    n = len(wave) // hop
    if n < 2:
        return wave
    rms = np.sqrt(np.mean(wave[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = np.nonzero(20 * np.log10(rms / rms.max()) > threshold_db)[0]
    if len(loud) == 0:
        return wave
    return wave[loud[0] * hop : min(len(wave), (loud[-1] + 1) * hop)]


class SpeechExtractor:
    """audio -> (T, dim) float32, T = encoder frames (20 ms each for wav2vec2 at 16 kHz)."""

    def __init__(self, cfg: SpeechConfig, device: str | torch.device = "cpu") -> None:
        from transformers import AutoModel

        self.cfg = cfg
        self.device = torch.device(device)
        self.model = (
            _hf.load_pretrained(AutoModel, cfg.model, cfg.revision, "speech model").eval().to(self.device)
        )
        mc = self.model.config
        if not hasattr(mc, "conv_kernel"):
            raise ExtractionError(
                f"speech model {cfg.model!r} ({mc.model_type}) is not a wav2vec2-style encoder "
                "(wav2vec2, HuBERT, WavLM, data2vec-audio)"
            )
        n_layers = int(mc.num_hidden_layers)
        if not -(n_layers + 1) <= cfg.layer <= n_layers:
            raise ExtractionError(
                f"speech.layer={cfg.layer} is out of range: {cfg.model} has layers 0..{n_layers}"
            )
        self.field, self.hop = frame_geometry(mc.conv_kernel, mc.conv_stride)
        self.dim = int(mc.hidden_size)
        self.normalize = cfg.normalize if cfg.normalize is not None else self._model_normalizes()
        rate = cfg.sample_rate / self.hop  # frames per second
        self.chunk_frames = max(1, int(cfg.chunk_seconds * rate))
        self.context_frames = int(cfg.context_seconds * rate)
        self._ident = _hf.identity(cfg.model, cfg.model, self.model, cfg.revision)

    def _model_normalizes(self) -> bool:
        try:
            from transformers import AutoFeatureExtractor

            return bool(AutoFeatureExtractor.from_pretrained(self.cfg.model).do_normalize)
        except Exception:  # a bare model dir (no preprocessor_config.json): wav2vec2's usual setting
            return True

    def fingerprint(self) -> dict[str, Any]:
        c = self.cfg
        settings = {
            "layer": c.layer,
            "sample_rate": c.sample_rate,
            "mono": "mean",
            "resample": "torchaudio.functional.resample",
            "normalize": self.normalize,
            "chunk_frames": self.chunk_frames,
            "context_frames": self.context_frames,
            "vad": vad.record(c),  # energy gate or Silero (vad.py)
            "dim": self.dim,
        }
        return _hf.extractor_fingerprint("speech", self._ident, c, settings)

    def prepare(self, raw: Any) -> Prepared:
        """raw -> (N,) float32 mono wave at the model rate, trimmed and normalised, with notes
        (silent audio, VAD trim) for its Extracted. Pure: the engine runs it in a background thread."""
        import torchaudio.functional as AF

        notes: dict[str, Any] = {}
        data, sr = load_audio(raw)  # (C, N)
        note = check_audio(data, _name(raw))  # empty / NaN / inf: DataError
        if note:  # kept, but said in the item's extract meta (an all-zero wav)
            notes["note"] = note
        wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=0)))  # mono mix
        if sr != self.cfg.sample_rate:
            wave = AF.resample(wave, sr, self.cfg.sample_rate)
        w = wave.numpy()
        if self.cfg.vad:
            trimmed = vad.trim(w, self.cfg.sample_rate, self.cfg)
            if len(trimmed) < len(w):
                notes["vad_trimmed"] = True
            w = trimmed
        if len(w) < self.field:
            raise DataError(
                f"{_name(raw)}: audio too short ({len(w)} samples at {self.cfg.sample_rate} Hz; "
                f"the encoder needs at least {self.field})"
            )
        wave = torch.from_numpy(np.ascontiguousarray(w, dtype=np.float32))
        if self.normalize:
            wave = (wave - wave.mean()) / torch.sqrt(wave.var(unbiased=False) + 1e-7)
        return Prepared(wave, notes)

    @torch.inference_mode()
    def __call__(self, raw: Sequence[Any]) -> list[Extracted | Exception]:
        """Per input: its features with notes (seconds, windows; chunked, vad_trimmed, note when
        so), or its exception."""
        out: list[Extracted | Exception] = [DataError("not processed")] * len(raw)
        notes: dict[int, dict[str, Any]] = {}
        # window length (samples) -> [(item, window start sample, keep_from, keep_to, slot)]
        groups: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
        waves: dict[int, torch.Tensor] = {}
        parts: dict[int, list[torch.Tensor | None]] = {}
        for i, r in enumerate(raw):
            try:
                p = r if isinstance(r, Prepared) else self.prepare(r)
            except Exception as e:
                out[i] = e
                continue
            wave = p.value
            total = n_frames(len(wave), self.field, self.hop)
            windows = plan_windows(total, self.chunk_frames, self.context_frames)
            waves[i], parts[i] = wave, [None] * len(windows)
            notes[i] = {
                "seconds": round(len(wave) / self.cfg.sample_rate, 3),
                "windows": len(windows),
                **({"chunked": True} if len(windows) > 1 else {}),
                **p.notes,
            }
            for slot, (a, b, k0, k1) in enumerate(windows):
                n = (b - a - 1) * self.hop + self.field
                groups[n].append((i, a * self.hop, k0, k1, slot))
        for n, entries in sorted(groups.items()):
            for s in range(0, len(entries), self.cfg.batch_size):
                batch = entries[s : s + self.cfg.batch_size]
                x = torch.stack([waves[i][a : a + n] for i, a, *_ in batch]).to(self.device)  # (B, n)
                try:
                    hidden = self._forward(x)  # (B, frames, D)
                except Exception as e:
                    for i, *_ in batch:
                        out[i] = e
                    continue
                for b_idx, (i, _a, k0, k1, slot) in enumerate(batch):
                    parts[i][slot] = hidden[b_idx, k0:k1].float().cpu()
        for i, ps in parts.items():
            if any(p is None for p in ps):
                continue  # a window's forward pass failed: its error is already in out[i]
            out[i] = Extracted(torch.cat(ps, dim=0).contiguous(), notes[i])  # type: ignore[arg-type]
        return out

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        want_hidden = self.cfg.layer != -1
        res = self.model(x, output_hidden_states=want_hidden)
        return _hf.hidden_layer(res, self.cfg.layer) if want_hidden else res.last_hidden_state


_name = source_name


def expected_frames(seconds: float, sample_rate: int = 16000, field: int = 400, hop: int = 320) -> int:
    """Frames a whole utterance yields (used by tests and the benchmark)."""
    return n_frames(int(math.floor(seconds * sample_rate)), field, hop)
