"""Speech plugin: a tiny wav2vec2 on real wav/flac/mp4 files at several rates, chunking, VAD, bad files."""

from __future__ import annotations

import media_factory as mf
import numpy as np
import pytest
import soundfile as sf
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.protocols import Extracted
from sseft.plugins.modalities._speech_impl import energy_trim, expected_frames, frame_geometry, plan_windows
from sseft.plugins.modalities.speech import PLUGIN


@pytest.fixture(scope="module")
def w2v_dir(tmp_path_factory: pytest.TempPathFactory):
    torch.set_num_threads(1)
    return mf.tiny_wav2vec2(tmp_path_factory.mktemp("w2v"))


@pytest.fixture(scope="module")
def ex(w2v_dir):
    return PLUGIN.build_extractor({"model": str(w2v_dir)})


def test_wav2vec2_geometry() -> None:
    assert frame_geometry((10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2)) == (400, 320)


@given(total=st.integers(0, 400), chunk=st.integers(1, 60), context=st.integers(0, 30))
@settings(max_examples=25, deadline=None)
def test_windows_tile_every_frame_exactly_once(total: int, chunk: int, context: int) -> None:
    kept: list[int] = []
    for a, b, k0, k1 in plan_windows(total, chunk, context):
        assert 0 <= a < b <= total and 0 <= k0 < k1 <= b - a
        kept.extend(range(a + k0, a + k1))
    assert kept == list(range(total))


@pytest.mark.parametrize("suffix", ["wav", "flac"])
def test_stereo_files_at_any_rate_give_16k_frames(ex, tmp_path, suffix: str) -> None:
    paths = [
        mf.write_audio(tmp_path / f"a{sr}.{suffix}", 1.0, sr, channels=2, seed=sr)
        for sr in (8000, 22050, 44100)
    ]
    out = [o.features for o in ex(paths)]
    n = expected_frames(1.0)  # 49 frames of 20 ms after resampling to 16 kHz
    assert [tuple(o.shape) for o in out] == [(n, 32)] * 3
    assert all(torch.isfinite(o).all() for o in out)
    fp = ex.fingerprint()
    assert (
        fp["modality"] == "speech"
        and fp["settings"]["sample_rate"] == 16000
        and len(fp["weights_sha256"]) == 64
    )


def test_mono_mix_means_channels(ex, tmp_path) -> None:
    x = mf.noise(0.5, 16000, 2, seed=3)
    sf.write(tmp_path / "st.wav", x, 16000, subtype="FLOAT")  # float: no 16-bit rounding in the comparison
    sf.write(tmp_path / "mono.wav", x.mean(axis=1), 16000, subtype="FLOAT")
    a, b = ex([tmp_path / "st.wav", tmp_path / "mono.wav"])
    assert torch.allclose(a.features, b.features, atol=1e-4)


def test_audio_track_of_an_mp4(ex, tmp_path) -> None:
    path = mf.write_mp4(tmp_path / "clip.mp4", faces=[True, False, True], audio_seconds=0.8)
    (out,) = (o.features for o in ex([path]))
    # AAC adds encoder priming, so allow a few frames more than 0.8 s.
    assert out.shape[1] == 32 and expected_frames(0.8) <= out.shape[0] <= expected_frames(0.8) + 8


def test_chunked_audio_keeps_every_frame(w2v_dir, tmp_path) -> None:
    path = mf.write_audio(tmp_path / "long.wav", 3.0, 16000, channels=1)
    one = PLUGIN.build_extractor({"model": str(w2v_dir), "chunk_seconds": 60})([path])[0]
    whole = one.features
    wide = PLUGIN.build_extractor({"model": str(w2v_dir), "chunk_seconds": 1.0, "context_seconds": 5})
    (got,) = wide([path])
    chunked = got.features
    assert got.notes["windows"] == 3 and got.notes["chunked"] is True and "chunked" not in one.notes
    assert chunked.shape == whole.shape == (expected_frames(3.0), 32)
    # With context covering the whole clip, chunking changes nothing.
    assert torch.allclose(chunked, whole, atol=1e-4)
    tight = PLUGIN.build_extractor({"model": str(w2v_dir), "chunk_seconds": 1.0, "context_seconds": 0})(
        [path]
    )[0].features
    assert tight.shape == whole.shape  # no frame dropped at chunk borders


def test_energy_vad_trims_leading_and_trailing_silence(w2v_dir, tmp_path) -> None:
    sr = 16000
    speechy = mf.noise(0.5, sr, 1)[:, 0]
    wave = np.concatenate([np.zeros(sr // 2), speechy, np.zeros(sr // 2)]).astype(np.float32)
    trimmed = energy_trim(wave, sr, -40.0)
    assert abs(len(trimmed) - len(speechy)) <= int(0.02 * sr)
    sf.write(tmp_path / "pad.wav", wave, sr)
    ex = PLUGIN.build_extractor({"model": str(w2v_dir), "vad": True})
    (out,) = ex([tmp_path / "pad.wav"])
    assert out.features.shape[0] <= expected_frames(0.52) and out.notes["vad_trimmed"] is True
    (kept,) = ex([mf.write_audio(tmp_path / "busy.wav", 0.5, sr, channels=1)])
    assert "vad_trimmed" not in kept.notes
    assert ex.fingerprint()["settings"]["vad"]["method"] == "energy"


def test_bad_audio_files_are_per_item_errors(ex, tmp_path) -> None:
    good = mf.write_audio(tmp_path / "good.wav", 0.5, 16000)
    truncated = mf.truncated_copy(good, tmp_path / "trunc.wav", 0.5)
    header_only = mf.truncated_copy(good, tmp_path / "hdr.wav", 0.001)
    sf.write(tmp_path / "zero.wav", np.zeros((0, 2), np.float32), 16000)
    (tmp_path / "empty.flac").write_bytes(b"")
    short = mf.write_audio(tmp_path / "short.wav", 0.01, 16000)
    novideo = mf.write_mp4(tmp_path / "silent.mp4", faces=[True, True])  # video only, no audio track
    paths = [
        good,
        truncated,
        header_only,
        tmp_path / "zero.wav",
        tmp_path / "empty.flac",
        short,
        tmp_path / "missing.wav",
        novideo,
    ]
    out = ex(paths)
    assert isinstance(out[0], Extracted) and isinstance(out[0].features, torch.Tensor)
    reasons = [str(o) for o in out[1:]]
    assert all(isinstance(o, DataError) for o in out[1:])
    assert "truncated WAV" in reasons[0]
    assert "cannot decode audio" in reasons[1]
    assert "0 samples" in reasons[2]
    assert "empty" in reasons[3]
    assert "too short" in reasons[4]
    assert "file not found" in reasons[5]
    assert "no audio stream" in reasons[6]


def test_all_zero_audio_is_stored_with_a_note(ex, tmp_path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(str(silent), np.zeros(16000, np.float32), 16000)
    loud = mf.write_audio(tmp_path / "loud.wav", 1.0, 16000, channels=1)
    out = ex([silent, loud])
    assert all(isinstance(o, Extracted) and torch.isfinite(o.features).all() for o in out)  # kept, finite
    assert out[0].notes["note"] == "audio is all zeros (silent)"
    assert "note" not in out[1].notes
    assert PLUGIN.probe(silent) == "audio is all zeros (silent)" and PLUGIN.probe(loud) is None
