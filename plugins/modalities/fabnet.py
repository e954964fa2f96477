"""FAb-Net face encoder (Wiles, Koepke, Zisserman, BMVC 2018), as used by SSE-FT (paper Sec. II-C):
one 256-d embedding per face crop.

The architecture is the encoder of the authors' `FrontaliseModelMasks_wider` (FAb-Net/code/
models_multiview.py): eight 4x4 stride-2 convolutions taking a 256x256 RGB crop in [0, 1] down to a
1x1x256 map, with batch norm after conv2..conv7 and LeakyReLU(0.2) between. Module indices match the
authors' `nn.Sequential`, so their state-dict keys (`encoder.<i>.weight`) load unchanged once converted
with `convert_checkpoint` (only `torch.load(weights_only=True)`: no pickle code runs).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sseft.core.errors import ExtractionError
from sseft.core.files import atomic_write_bytes

INPUT_SIZE = 256
EMBED_DIM = 256


def _encoder_layers(num_filters: int, out_dim: int) -> list[nn.Module]:
    f = num_filters
    chans = [3, f, 2 * f, 4 * f, 8 * f, 8 * f, 8 * f, 8 * f]
    layers: list[nn.Module] = []
    for i in range(8):
        c_out = out_dim if i == 7 else chans[i + 1]
        layers.append(nn.Conv2d(chans[i], c_out, 4, 2, 1))  # (B, C, H, W) -> (B, c_out, H/2, W/2)
        if 1 <= i <= 6:
            layers.append(nn.BatchNorm2d(c_out))
        if i < 7:
            layers.append(nn.LeakyReLU(0.2))
    return layers


class FabNetEncoder(nn.Module):
    """(B, 3, 256, 256) RGB in [0, 1] -> (B, 256) embeddings."""

    def __init__(self, num_filters: int = 32, out_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.num_filters = num_filters
        self.encoder = nn.Sequential(*_encoder_layers(num_filters, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.encoder(x)  # (B, 256, H/256, W/256): (B, 256, 1, 1) at the native 256x256
        return y.flatten(2).mean(-1)  # (B, 256)


def num_filters_of(state: dict[str, torch.Tensor]) -> int:
    w = state.get("encoder.0.weight")
    if w is None or w.ndim != 4:
        raise ExtractionError("not a FAb-Net encoder state dict: 'encoder.0.weight' is missing")
    return int(w.shape[0])


def load_fabnet(path: str | Path, device: str | torch.device = "cpu") -> FabNetEncoder:
    """Load a converted FAb-Net safetensors file (see `convert_checkpoint`)."""
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise ExtractionError(
            f"{p}: FAb-Net weights file not found (convert the authors' checkpoint with "
            "`sseft extract convert-fabnet CKPT OUT.safetensors`)"
        )
    try:
        state = load_file(str(p))
    except Exception as e:
        raise ExtractionError(f"{p}: not a readable safetensors file ({e})") from None
    model = FabNetEncoder(num_filters_of(state), int(state["encoder.20.weight"].shape[0]))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ExtractionError(
            f"{p}: FAb-Net weights do not match the encoder: missing {missing[:4]}, "
            f"unexpected {unexpected[:4]}"
        )
    return model.eval().to(device)


def _find_state_dict(obj: Any) -> dict[str, torch.Tensor]:
    """The authors' files hold {'state_dict': ...} (sometimes under DataParallel's 'module.')."""
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "model_state_dict"):
            if key in obj and isinstance(obj[key], dict):
                return _find_state_dict(obj[key])
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return obj
    raise ExtractionError(
        "no state dict of tensors found in the checkpoint (expected keys like 'encoder.0.weight')"
    )


def convert_checkpoint(ckpt: str | Path, out: str | Path) -> dict[str, Any]:
    """Authors' PyTorch checkpoint -> encoder-only safetensors file. Returns the written metadata."""
    from safetensors.torch import save

    src = Path(ckpt)
    if not src.is_file():
        raise ExtractionError(f"{src}: checkpoint not found")
    try:
        obj = torch.load(str(src), map_location="cpu", weights_only=True)
    except Exception as e:  # pickled classes other than tensors/containers are refused, by design
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ExtractionError(
            f"{src}: cannot be loaded with weights_only=True ({first}); only plain "
            "tensor checkpoints are accepted"
        ) from None
    state = {k.removeprefix("module."): v for k, v in _find_state_dict(obj).items()}
    enc = {k: v.contiguous() for k, v in state.items() if k.startswith("encoder.")}
    model = FabNetEncoder(
        num_filters_of(enc),
        int(enc["encoder.20.weight"].shape[0]) if "encoder.20.weight" in enc else EMBED_DIM,
    )
    missing, unexpected = model.load_state_dict(enc, strict=False)
    if missing or unexpected:
        raise ExtractionError(
            f"{src}: encoder keys do not match FAb-Net: missing {missing[:4]}, unexpected {unexpected[:4]}"
        )
    meta = {
        "format": "pt",
        "architecture": "fabnet-encoder",
        "num_filters": str(model.num_filters),
        "source_sha256": hashlib.sha256(src.read_bytes()).hexdigest(),
        "source_name": src.name,
    }
    dst = atomic_write_bytes(out, save(model.state_dict(), metadata=meta))
    return {**meta, "tensors": len(model.state_dict()), "out": str(dst)}
