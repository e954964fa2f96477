"""Raw-level audio and video noise: a speech-only model re-extracted per level through its own tiny
wav2vec2 (audio handed over as decoded arrays), and video noise on a real mp4's decoded frames."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import sseft
from sseft.core.errors import DataError
from sseft.core.robustness.noise import rng_for
from sseft.plugins.modalities.media import load_audio
from sseft.plugins.modalities.raw_noise import AudioNoise, VideoNoise

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
    babble = raw["curves"]["model"]["babble"]["speech"]  # the other 3 items' speech as the crowd
    assert len(babble) == 3 and babble[0] == curve[0]
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


def test_babble_is_a_crowd_of_other_items_at_the_level_snr(tmp_path: Path) -> None:
    """Babble = other utterances of the subset (never the item itself), looped to the item's
    length, the same crowd at every level, mixed at snr_db(level)."""
    from sseft.plugins.modalities.raw_noise import babble_for, snr_db

    rates = [16000, 8000, 22050, 16000, 16000]
    wavs = [mf.write_audio(tmp_path / f"b{i}.wav", 0.3 + 0.1 * i, sr, seed=i) for i, sr in enumerate(rates)]
    me, pool = wavs[0], list(wavs)
    noise = AudioNoise()
    clean, sr = load_audio(me)

    def mixed(level: int) -> np.ndarray:
        arr, rate = noise.perturb(
            me, "babble", level, 10, rng_for(0, "b0", "speech", "raw:babble"), {"pool": pool}
        )
        assert rate == sr and arr.shape == clean.shape
        return arr - clean

    for level in (1, 5, 9):
        added = mixed(level)
        snr = 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(added.astype(np.float64) ** 2))
        assert snr == pytest.approx(snr_db(level, 10), abs=0.05)
    a, b = mixed(3), mixed(7)
    cos = float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
    assert cos > 0.9999  # one crowd, only its gain changes with the level
    # the crowd never includes the item itself: a 1000 Hz item among 440 Hz talkers hears only 440 Hz
    import soundfile as sf

    t = np.arange(8000) / 8000
    tone = tmp_path / "tone1000.wav"
    sf.write(tone, np.sin(2 * np.pi * 1000 * t).astype(np.float32), 8000)
    talkers = []
    for k in range(3):
        talkers.append(tmp_path / f"tone440-{k}.wav")
        sf.write(talkers[-1], np.sin(2 * np.pi * 440 * t[: 4000 + 1000 * k]).astype(np.float32), 8000)
    crowd = babble_for(tone, [tone, *talkers], np.random.default_rng(1))
    spectrum = np.abs(np.fft.rfft(crowd))  # 1 Hz bins (8000 samples at 8 kHz)
    assert len(crowd) == 8000 and abs(int(np.argmax(spectrum)) - 440) < 5
    assert spectrum[995:1006].max() < 0.01 * spectrum[435:446].max()
    with pytest.raises(DataError, match="needs other utterances"):
        babble_for(me, [me], np.random.default_rng(0))
