"""sseft-eeg: an EEG modality for sseft, as a separate package with one module and one entry point.

Raw input: a multichannel recording, channels x samples, as a `.npy` file (read with
`allow_pickle=False`), a `.safetensors` file (tensor `eeg`, or its only tensor) or an array.
Encoder: non-overlapping patches of `patch_seconds` across all channels, each embedded by
Linear -> GELU -> LayerNorm into a `dim`-wide vector: one sequence element per patch.

This module imports only pydantic and sseft at import time (`sseft plugins` imports every plugin);
torch and numpy load in `build_extractor`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import Field

from sseft.core.config import StrictModel
from sseft.core.errors import DataError, ExtractionError
from sseft.core.hookspecs import hookimpl

__version__ = "0.1.0"


class EEGConfig(StrictModel):
    """Extractor options (`--set eeg.<field>=...` on `sseft extract`)."""

    sample_rate: float = Field(default=256.0, gt=0, description="samples per second of the recordings")
    channels: int = Field(default=8, gt=0, description="channels every recording must have")
    patch_seconds: float = Field(default=0.25, gt=0, description="length of one patch (one sequence element)")
    dim: int = Field(default=64, gt=0, description="embedding width")
    normalize: bool = Field(default=True, description="z-score each channel over the recording")
    key: str = Field(default="eeg", description="tensor name inside a .safetensors recording")
    weights: str | None = Field(default=None, description="encoder weights (.safetensors)")
    random_init: bool = Field(default=False, description="seeded random weights (demos and tests)")
    seed: int = 0


def read_recording(raw: Any, key: str) -> Any:
    """raw -> (channels, samples) float32 numpy array."""
    import numpy as np

    if isinstance(raw, str | Path):
        p = Path(raw)
        if not p.is_file():
            raise DataError(f"{p}: EEG file not found")
        if p.suffix == ".npy":
            try:
                arr = np.load(p, allow_pickle=False)  # never unpickle a data file
            except ValueError as e:
                raise DataError(f"{p}: not a plain numeric .npy array ({e})") from None
        elif p.suffix == ".safetensors":
            from safetensors.numpy import load_file

            tensors = load_file(str(p))
            if key not in tensors and len(tensors) != 1:
                raise DataError(f"{p}: no tensor {key!r} (has {sorted(tensors)}); set eeg.key")
            arr = tensors.get(key, next(iter(tensors.values())))
        else:
            raise DataError(f"{p}: EEG recordings must be .npy or .safetensors")
    else:
        arr = np.asarray(raw)
    if arr.ndim != 2:
        raise DataError(f"EEG recording must be channels x samples, got shape {tuple(arr.shape)}")
    return arr.astype(np.float32, copy=False)


class EEGExtractor:
    """recordings -> (patches, dim) float32 each."""

    def __init__(self, cfg: EEGConfig, device: str = "cpu") -> None:
        import torch
        from torch import nn

        self.cfg = cfg
        self.dim = cfg.dim
        self.patch = max(1, round(cfg.patch_seconds * cfg.sample_rate))  # samples per patch
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)  # same random weights in every process of a multi-process job
        self.encoder = nn.Sequential(  # (N, C*P) -> (N, dim)
            nn.Linear(cfg.channels * self.patch, cfg.dim), nn.GELU(), nn.LayerNorm(cfg.dim)
        )
        if cfg.weights:
            from safetensors.torch import load_file

            self.encoder.load_state_dict(load_file(cfg.weights))
            self.identity = {"weights_sha256": hashlib.sha256(Path(cfg.weights).read_bytes()).hexdigest()}
        elif cfg.random_init:
            self.identity = {"weights_sha256": None, "random_init": True, "seed": cfg.seed}
        else:
            raise ExtractionError("eeg.weights is not set: pass a .safetensors file, or eeg.random_init=true")
        self.encoder.eval().to(self.device)

    def fingerprint(self) -> dict[str, Any]:
        c = self.cfg
        config = c.model_dump(mode="json")
        if c.weights:  # absolute, so a trained model rebuilds this extractor from any directory
            config["weights"] = str(Path(c.weights).expanduser().resolve())
        return {
            "modality": "eeg",
            "model": "sseft-eeg/patch-embed",
            **self.identity,
            # The extractor config as JSON: `sseft predict` rebuilds exactly this extractor from it.
            "config": config,
            "settings": {
                "sample_rate": c.sample_rate,
                "channels": c.channels,
                "patch_samples": self.patch,
                "normalize": c.normalize,
                "dim": c.dim,
                "version": __version__,
            },
        }

    def embed(self, raw: Any) -> Any:
        import torch

        x = torch.from_numpy(read_recording(raw, self.cfg.key))  # (C, T)
        if x.shape[0] != self.cfg.channels:
            raise DataError(f"EEG recording has {x.shape[0]} channels, eeg.channels is {self.cfg.channels}")
        if x.shape[1] == 0:
            raise DataError("EEG recording is empty (0 samples)")
        if not torch.isfinite(x).all():
            raise DataError("EEG recording holds NaN or infinite samples")
        if self.cfg.normalize:
            x = (x - x.mean(1, keepdim=True)) / (x.std(1, keepdim=True, unbiased=False) + 1e-6)
        n = -(-x.shape[1] // self.patch)  # the last partial patch is zero-padded, not dropped
        x = torch.nn.functional.pad(x, (0, n * self.patch - x.shape[1]))
        patches = x.reshape(x.shape[0], n, self.patch).permute(1, 0, 2).reshape(n, -1)  # (n, C*P)
        with torch.inference_mode():
            return self.encoder(patches.to(self.device)).float().cpu()  # (n, dim)

    def __call__(self, raw: list[Any]) -> list[Any]:
        out: list[Any] = []
        for r in raw:  # one bad recording never kills the batch
            try:
                out.append(self.embed(r))
            except Exception as e:
                out.append(e)
        return out


class EEGModality:
    name = "eeg"
    dim = 64
    provides_cls = False
    max_len = 512
    config_model = EEGConfig
    # The raw input kind that feeds it in `sseft predict --input eeg=rec.npy` / model.predict(eeg=...).
    input_kinds = ("eeg",)
    # The files it reads: the manifest passes a column of these to the extractor as paths.
    suffixes = (".npy", ".safetensors")

    def build_extractor(
        self, config: EEGConfig | dict[str, Any] | None = None, device: str = "cpu"
    ) -> EEGExtractor:
        cfg = config if isinstance(config, EEGConfig) else EEGConfig.model_validate(config or {})
        return EEGExtractor(cfg, device)


PLUGIN = EEGModality()


@hookimpl
def register_modalities(register: Any) -> None:
    register(PLUGIN)
