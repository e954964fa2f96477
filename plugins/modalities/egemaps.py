"""openSMILE speech encoders for the speech modality: `--set speech.model=egemaps` (eGeMAPSv02, 25
low-level descriptors) or `speech.model=compare` (ComParE_2016, 65 LLDs), at 100 frames/s; with
`+crepe` (`egemaps+crepe`) two more channels per frame, CREPE pitch and periodicity (crepe.py).

Real, field-standard affect features that ship inside the `opensmile` wheel (the `lite` extra) and run
offline on a CPU. The values are raw descriptors on very different scales (loudness ~1, F0 in
semitones ~30, spectral slopes ~0.01): train with `standardize: true` on the speech modality, which
computes per-feature statistics on the training split and stores them with the model (see
core/fusion/standardize.py). Licence: openSMILE's own, free for research and education only, not for
commercial use (whatever PyPI's classifier says).

The same audio front end as the wav2vec2 path: any audio file or a video's audio track, mono mix,
resampled to `sample_rate` with torchaudio, optional leading/trailing silence trim (`vad`: energy or
silero, vad.py).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.core.protocols import Extracted, Prepared

from . import vad
from .media import check_audio, load_audio, source_name

# speech.model value -> (opensmile FeatureSet name, LLDs per frame)
FEATURE_SETS = {"egemaps": ("eGeMAPSv02", 25), "compare": ("ComParE_2016", 65)}
FRAMES_PER_SECOND = 100  # both sets: 10 ms hop


def config_sha256(config_path: str | Path) -> str:
    """sha256 over the feature set's .conf file and every include beside it (the 'weights' of openSMILE:
    the configuration fully defines the features)."""
    root = Path(config_path).parent
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.suffix in (".conf", ".inc"):
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


class OpenSmileExtractor:
    """audio -> (T, 25 | 65) float32 LLD frames at 100 frames/s (T = about 100 x seconds - 4)."""

    def __init__(self, cfg: Any, device: str | torch.device = "cpu") -> None:
        try:
            import opensmile
        except ImportError:
            raise ExtractionError(
                f"speech.model={cfg.model} needs the opensmile package: pip install 'sseft[lite]' "
                "(openSMILE's licence: research and education only)"
            ) from None
        self.cfg = cfg
        base, _, extra = cfg.model.partition("+")
        if base not in FEATURE_SETS or extra not in ("", "crepe"):
            raise ExtractionError(
                f"speech.model={cfg.model!r}: expected egemaps, compare, egemaps+crepe or compare+crepe"
            )
        set_name, self.dim = FEATURE_SETS[base]
        self.smile = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, set_name),
            feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
        )
        if len(self.smile.feature_names) != self.dim:
            raise ExtractionError(
                f"opensmile {set_name} gives {len(self.smile.feature_names)} LLDs, expected {self.dim}"
            )
        self.set_name = set_name
        self.feature_names = list(self.smile.feature_names)
        self.crepe: Any = None
        crepe_id: dict[str, Any] = {}
        if extra == "crepe":
            from .crepe import FEATURES, load_crepe

            self.crepe, crepe_id = load_crepe(torch.device(device))
            self.feature_names += list(FEATURES)
            self.dim += len(FEATURES)
        # Positions the fusion model learns for this modality: 30 s at 100 frames/s (longer clips are
        # refused at training with a message; crop them or raise max_len in the store).
        self.max_len = 30 * FRAMES_PER_SECOND
        self._ident: dict[str, Any] = {
            "model": f"opensmile/{set_name}",
            "package": "opensmile",
            "package_version": metadata.version("opensmile"),
            "weights_sha256": config_sha256(self.smile.config_path),
        }
        if crepe_id:
            self._ident["pitch"] = crepe_id

    def fingerprint(self) -> dict[str, Any]:
        from . import _hf

        c = self.cfg
        settings = {
            "feature_set": self.set_name,
            "feature_level": "lld",
            "frames_per_second": FRAMES_PER_SECOND,
            "sample_rate": c.sample_rate,
            "mono": "mean",
            "resample": "torchaudio.functional.resample",
            "vad": vad.record(c),  # energy gate or Silero (vad.py)
            "dim": self.dim,
        }
        return _hf.extractor_fingerprint("speech", self._ident, c, settings)

    def prepare(self, raw: Any) -> Prepared:
        """raw -> (N,) float32 mono wave at `sample_rate` with notes for the item's Extracted.
        Pure: the extraction engine runs it in a background thread, one batch ahead."""
        import torchaudio.functional as AF

        data, sr = load_audio(raw)
        note = check_audio(data, source_name(raw))  # empty / NaN / inf: DataError; all zeros: a note
        notes: dict[str, Any] = {"note": note} if note else {}
        wave = torch.from_numpy(np.ascontiguousarray(data.mean(axis=0)))
        if sr != self.cfg.sample_rate:
            wave = AF.resample(wave, sr, self.cfg.sample_rate)
        w = wave.numpy().astype(np.float32)
        if self.cfg.vad:
            trimmed = vad.trim(w, self.cfg.sample_rate, self.cfg)
            if len(trimmed) < len(w):
                notes["vad_trimmed"] = True
            w = trimmed
        notes["seconds"] = round(len(w) / self.cfg.sample_rate, 3)
        return Prepared(w, notes)

    def __call__(self, raw: Sequence[Any]) -> list[Extracted | Exception]:
        out: list[Extracted | Exception] = []
        for r in raw:
            try:
                p = r if isinstance(r, Prepared) else self.prepare(r)
                wave, notes = p.value, dict(p.notes)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    x = self.smile.process_signal(wave, self.cfg.sample_rate).to_numpy(dtype=np.float32)
                # opensmile answers a too-short signal with one NaN row and a "Segment too short" warning
                if x.shape[0] == 0 or any("too short" in str(w.message) for w in caught):
                    raise DataError(
                        f"{source_name(r)}: audio too short for openSMILE ({len(wave)} samples at "
                        f"{self.cfg.sample_rate} Hz): no complete LLD window"
                    )
                if not np.isfinite(x).all():
                    raise DataError(f"{source_name(r)}: openSMILE gave non-finite descriptors")
                if self.crepe is not None:
                    from .crepe import frames_aligned, pitch_track

                    if self.cfg.sample_rate != 16000:
                        raise DataError(
                            "speech.model=...+crepe needs speech.sample_rate=16000 (CREPE's rate)"
                        )
                    x = np.concatenate([x, frames_aligned(pitch_track(self.crepe, wave), len(x))], axis=1)
                out.append(Extracted(torch.from_numpy(np.ascontiguousarray(x)), notes))
            except Exception as e:
                out.append(e)
        return out
