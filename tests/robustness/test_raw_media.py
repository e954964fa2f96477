"""Raw-level audio and video noise: a speech-only model re-extracted per level through its own tiny
wav2vec2 (audio handed over as decoded arrays), and video noise on a real mp4's decoded frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sseft
from sseft.core.robustness.noise import rng_for
from sseft.robustness_media import AudioNoise, VideoNoise

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402
import robhelpers as rh  # noqa: E402


@pytest.fixture(scope="module")
def speech_model(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("rawspeech")
    w2v = mf.tiny_wav2vec2(root / "w2v")
    lines = ["id,split,label,speech"]
    for i in range(12):
        mf.write_audio(root / f"a{i}.wav", 0.5 + 0.05 * i, 16000, channels=1, seed=i)
        lines.append(f"a{i},{'train' if i < 8 else 'test'},{'pos' if i % 2 else 'neg'},a{i}.wav")
    manifest = root / "items.csv"
    manifest.write_text("\n".join(lines) + "\n")

    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.common import resolve_dataset

    plugin, dcfg = resolve_dataset("manifest", manifest)
    store = root / "store"
    summary = extract_items(list(plugin.items(dcfg)), plugin.task(dcfg), {"speech": {"model": str(w2v)}}, store,
                            batch_size=8, threads=1, progress=False)  # fmt: skip
    assert summary.failed == 0, summary.line()
    model = rh.saved(rh.fit(rh.build(store, fusion={"heads": 2}), store, epochs=2), root / "model")
    return {"model": model, "store": store, "manifest": manifest}


def test_audio_noise_is_reextracted_and_level_zero_is_clean(speech_model) -> None:
    r = sseft.robustness(speech_model["model"], speech_model["store"], kinds=["gaussian"], n_levels=3,
                         raw=speech_model["manifest"], limit=4)  # fmt: skip
    raw = r.data["raw_noise"]
    curve = raw["curves"]["model"]["white_noise"]["speech"]
    assert len(curve) == 3 and raw["absent"]["white_noise"]["speech"] == [0, 0, 0]
    # level 0 re-extracted from the files = the stored features (on these 4 items: the test split)
    assert curve[0] == pytest.approx(r.data["models"]["model"]["clean"]["weighted_f1"], abs=1e-12)


def test_video_noise_decodes_the_clip_at_the_extractors_rate(tmp_path: Path) -> None:
    clip = mf.write_mp4(tmp_path / "c.mp4", faces=[True] * 10, fps=5)
    g = rng_for(0, "c", "face", "raw:occlusion")
    occ = VideoNoise().perturb(clip, "occlusion", 5, 10, g, {"frame_rate": 5.0})
    assert isinstance(occ, np.ndarray) and occ.shape[0] == 10 and occ.shape[-1] == 3
    dropped = VideoNoise().perturb(clip, "frame_drop", 9, 10, rng_for(0, "c", "face", "raw:frame_drop"), {})
    assert dropped is None or len(dropped) < 10
    wav = mf.write_audio(tmp_path / "a.wav", 0.5, 8000, channels=2)
    arr, sr = AudioNoise().perturb(
        wav, "white_noise", 9, 10, rng_for(0, "a", "speech", "raw:white_noise"), {}
    )
    assert sr == 8000 and arr.shape == (2, 4000)
