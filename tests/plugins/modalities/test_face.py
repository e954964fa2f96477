"""Face plugin: RetinaFace (random weights) + FAb-Net (random init) on generated videos; face choice,
no-face handling and alignment with a stub detector; the FAb-Net checkpoint conversion."""

from __future__ import annotations

import math
from collections import OrderedDict

import media_factory as mf
import numpy as np
import pytest
import torch

from sseft.core.errors import DataError, ExtractionError
from sseft.plugins.modalities._face_impl import Detection, FaceExtractor, align_crop, choose
from sseft.plugins.modalities.fabnet import FabNetEncoder, convert_checkpoint, load_fabnet
from sseft.plugins.modalities.face import PLUGIN, FaceConfig


def bright_blob_detector(frame: np.ndarray) -> list[Detection]:
    """Stub detector: a face wherever the drawn skin-toned oval is (red channel > 200)."""
    ys, xs = np.nonzero(frame[..., 0] > 200)
    if len(xs) == 0:
        return []
    eyes = np.array([[xs.min() + 5, ys.min() + 5], [xs.max() - 5, ys.min() + 5]], np.float32)
    return [Detection((float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max())), 0.99, eyes)]


def stub(cfg: dict) -> FaceExtractor:
    torch.set_num_threads(1)
    return FaceExtractor(FaceConfig(random_init=True, fps=5, **cfg), detector=bright_blob_detector)


@pytest.mark.slow
def test_retinaface_and_fabnet_random_weights_on_a_video(tmp_path) -> None:
    torch.set_num_threads(1)
    video = mf.write_mp4(tmp_path / "v.mp4", faces=[True, False, True, True], audio_seconds=0.8)
    audio_only = mf.write_mp4(tmp_path / "a.mp4", faces=None, audio_seconds=0.5)
    ex = PLUGIN.build_extractor({"random_init": True, "detector_max_size": 96, "confidence": 0.5, "fps": 5})
    out = ex([video, audio_only, tmp_path / "missing.mp4"])
    first = out[0].features
    assert first.ndim == 2 and first.shape[1] == 256 and first.shape[0] <= 4
    assert out[0].notes["frames"] == 4
    assert isinstance(out[1], DataError) and "no video stream" in str(out[1])
    assert isinstance(out[2], DataError) and "not found" in str(out[2])
    fp = ex.fingerprint()
    assert fp["random_init"] is True and fp["settings"]["detector"]["random_init"] is True
    # Seeded random init: a second extractor computes the same tensors (multi-process jobs rely on it).
    again = PLUGIN.build_extractor(
        {"random_init": True, "detector_max_size": 96, "confidence": 0.5, "fps": 5}
    )
    assert torch.equal(again([video])[0].features, first)


def test_weights_are_required_unless_random_init_is_explicit() -> None:
    with pytest.raises(ExtractionError, match="fabnet_weights"):
        FaceExtractor(FaceConfig(), detector=bright_blob_detector)


@pytest.mark.parametrize("mode", ["skip", "zero"])
def test_frames_without_a_face_are_skipped_or_zero_filled(tmp_path, mode: str) -> None:
    video = mf.write_mp4(tmp_path / "v.mp4", faces=[True, False, True, False, True])
    ex = stub({"no_face": mode})
    (got,) = ex([video])
    out = got.features
    assert got.notes == {"frames": 5, "no_face_frames": 2}
    if mode == "skip":
        assert out.shape == (3, 256)
    else:
        assert (
            out.shape == (5, 256)
            and torch.all(out[1] == 0)
            and torch.all(out[3] == 0)
            and out[0].abs().sum() > 0
        )


def test_a_clip_with_no_face_at_all_is_an_empty_sequence(tmp_path) -> None:
    video = mf.write_mp4(tmp_path / "v.mp4", faces=[False, False, False])
    for mode in ("skip", "zero"):
        ex = stub({"no_face": mode})
        (out,) = ex([video])
        assert out.features.shape == (0, 256)
        assert out.notes == {"frames": 3, "no_face_frames": 3, "no_face": True}


def test_frame_sequences_as_arrays_and_image_dirs(tmp_path) -> None:
    import cv2

    frames = np.stack([mf.frame_with_face(64, 96, f) for f in (True, True, False)])
    d = tmp_path / "frames"
    d.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(d / f"{i:03d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    ex = stub({})
    a, b = (o.features for o in ex([frames, d]))
    assert a.shape == b.shape == (2, 256)
    assert torch.allclose(a, b, atol=1e-5)  # png is lossless: same pixels, same embeddings


def test_choice_largest_or_tracked() -> None:
    small = Detection((0, 0, 10, 10), 0.9)
    big = Detection((50, 50, 80, 80), 0.9)
    near_small = Detection((1, 1, 11, 11), 0.9)
    assert choose([small, big], None, "largest") is big
    assert choose([near_small, big], small, "tracked") is near_small
    assert choose([near_small, big], small, "largest") is big
    assert choose([], small, "tracked") is None


def test_alignment_levels_the_eyes() -> None:
    # Two dark eyes on a bright square, tilted by 30 degrees about the centre.
    img = np.full((100, 100, 3), 255, np.uint8)
    c, r, a = np.array([50.0, 50.0]), 15.0, math.radians(30)
    left = c + r * np.array([-math.cos(a), -math.sin(a)])
    right = c + r * np.array([math.cos(a), math.sin(a)])
    for p in (left, right):
        img[int(p[1]) - 2 : int(p[1]) + 3, int(p[0]) - 2 : int(p[0]) + 3] = 0
    det = Detection((20, 20, 80, 80), 1.0, np.stack([left, right]).astype(np.float32))
    crop = align_crop(img, det, 64, 0.0, align=True)
    ys, xs = np.nonzero(crop[..., 0] < 100)
    lefts, rights = ys[xs < 32], ys[xs >= 32]
    assert abs(lefts.mean() - rights.mean()) < 1.5  # level after alignment
    unaligned = align_crop(img, det, 64, 0.0, align=False)
    ys2, xs2 = np.nonzero(unaligned[..., 0] < 100)
    assert abs(ys2[xs2 < 32].mean() - ys2[xs2 >= 32].mean()) > 8


def test_fabnet_architecture_and_checkpoint_conversion(tmp_path) -> None:
    torch.manual_seed(0)
    model = FabNetEncoder(num_filters=8).eval()
    x = torch.rand(2, 3, 256, 256)
    assert model(x).shape == (2, 256)
    assert model.encoder[20].out_channels == 256 and len(model.encoder) == 21
    # The authors' file: {'state_dict': DataParallel keys, encoder + decoder}, plus training bookkeeping.
    state = OrderedDict((f"module.{k}", v) for k, v in model.state_dict().items())
    state["module.decoder.0.weight"] = torch.zeros(3)
    ckpt = tmp_path / "fabnet.pth"
    torch.save({"state_dict": state, "epoch": 7}, ckpt)
    meta = convert_checkpoint(ckpt, tmp_path / "fabnet.safetensors")
    assert meta["num_filters"] == "8" and meta["format"] == "pt"
    loaded = load_fabnet(tmp_path / "fabnet.safetensors")
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    # Used by the plugin through face.fabnet_weights, with its sha256 in the fingerprint.
    ex = FaceExtractor(
        FaceConfig(fabnet_weights=str(tmp_path / "fabnet.safetensors"), random_init=True),
        detector=bright_blob_detector,
    )
    assert len(ex.fingerprint()["weights_sha256"]) == 64 and "random_init" not in ex.fingerprint()


class Opaque:
    """A pickled class: weights_only=True must refuse it."""


def test_conversion_refuses_pickled_code(tmp_path) -> None:
    torch.save({"state_dict": {"encoder.0.weight": torch.zeros(1)}, "opt": Opaque()}, tmp_path / "evil.pth")
    with pytest.raises(ExtractionError, match="weights_only"):
        convert_checkpoint(tmp_path / "evil.pth", tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_slow_face_extraction_warns_once_with_the_cost_and_options(tmp_path, caplog, capsys) -> None:
    import logging
    import time

    def slow_detector(frame: np.ndarray) -> list[Detection]:
        time.sleep(0.05)  # 0.05 s per frame at fps 5 = 0.25 s per second of video: "slow"
        return bright_blob_detector(frame)

    video = mf.write_mp4(tmp_path / "v.mp4", faces=[True, True, False])
    ex = FaceExtractor(FaceConfig(random_init=True, fps=5), detector=slow_detector)
    ex.progress = True  # the per-clip bar, also when not on a terminal
    with caplog.at_level(logging.WARNING, logger="sseft.face"):
        ex([video, video])
        ex([video])
    warnings = [r.getMessage() for r in caplog.records if r.name == "sseft.face"]
    assert len(warnings) == 1, warnings  # once per extractor, not per clip
    w = warnings[0]
    assert "face extraction on CPU" in w and "s per sampled frame" in w and "per minute of video" in w
    assert "face.fps=2" in w and "face.detector_max_size=320" in w and "--device cuda" in w
    err = capsys.readouterr().err
    assert "frames/s" in err and "3 frames" in err  # progress per clip, with its frame rate
    caplog.clear()
    fast = stub({})
    with caplog.at_level(logging.WARNING, logger="sseft.face"):
        fast([video])
    assert not [r for r in caplog.records if r.name == "sseft.face"]  # fast enough: no warning
