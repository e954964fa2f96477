"""Feature-, text- and media-level noise: level 0 is the identity, every perturbation is a function
of (seed, item, modality, kind, level) only, and each kind does what its name says."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.robustness.noise import FEATURE_KINDS, feature_std, feature_stds, perturb, rng_for
from sseft.core.robustness.text_noise import TEXT_KINDS, TYPOS, perturb_text, typo
from sseft.plugins.modalities.raw_noise import noisy_audio, noisy_video, snr_db


def _x(n: int, d: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed))


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(FEATURE_KINDS), n=st.integers(0, 12), keep=st.booleans())
def test_level_zero_is_the_input_itself(kind: str, n: int, keep: bool) -> None:
    x = _x(n)
    out = perturb(x, kind, 0, 10, seed=1, item_id="a", modality="m", std=torch.ones(4), keep_first=keep)
    assert out is x


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(FEATURE_KINDS), level=st.integers(1, 9), seed=st.integers(0, 99))
def test_noise_is_a_function_of_seed_item_modality_kind_level(kind: str, level: int, seed: int) -> None:
    x, std = _x(10), torch.full((4,), 2.0)
    kw = {"seed": seed, "item_id": "it-1", "modality": "m", "std": std}
    a = perturb(x, kind, level, 10, **kw)
    perturb(_x(7, seed=3), kind, level, 10, **{**kw, "item_id": "other"})  # another item in between
    assert torch.equal(a, perturb(x.clone(), kind, level, 10, **kw))


def test_levels_share_their_random_numbers() -> None:
    x = torch.arange(200.0)[:, None]
    kept = [
        set(perturb(x, "frame_drop", i, 10, seed=0, item_id="a", modality="m")[:, 0].tolist())
        for i in range(10)
    ]
    assert all(kept[i + 1] <= kept[i] for i in range(9))
    z1 = perturb(torch.zeros(50, 2), "gaussian", 1, 10, seed=0, item_id="a", modality="m", std=torch.ones(2))
    z7 = perturb(torch.zeros(50, 2), "gaussian", 7, 10, seed=0, item_id="a", modality="m", std=torch.ones(2))
    assert torch.allclose(z7, 7 * z1, atol=1e-6)
    words = " ".join(f"word{i}" for i in range(100))
    texts = [
        perturb_text(words, "word_drop", i / 10, rng_for(0, "a", "text", "word_drop")).split()
        for i in range(10)
    ]
    assert all(set(texts[i + 1]) <= set(texts[i]) for i in range(9))


def test_different_items_or_modalities_get_different_noise() -> None:
    x, std = _x(30), torch.ones(4)
    a = perturb(x, "gaussian", 5, 10, seed=0, item_id="a", modality="m", std=std)
    assert not torch.equal(a, perturb(x, "gaussian", 5, 10, seed=0, item_id="b", modality="m", std=std))
    assert not torch.equal(a, perturb(x, "gaussian", 5, 10, seed=0, item_id="a", modality="n", std=std))
    assert not torch.equal(a, perturb(x, "gaussian", 5, 10, seed=1, item_id="a", modality="m", std=std))


def test_gaussian_noise_is_scaled_to_the_feature_std() -> None:
    x = torch.zeros(20000, 3)
    std = torch.tensor([0.5, 1.0, 4.0])
    out = perturb(x, "gaussian", 3, 10, seed=0, item_id="a", modality="m", std=std)
    assert torch.allclose(out.std(dim=0), 0.3 * std, rtol=0.03)


def test_frame_drop_removes_a_share_of_frames_and_keeps_an_own_cls() -> None:
    x = torch.arange(2000.0)[:, None].repeat(1, 2)
    out = perturb(x, "frame_drop", 3, 10, seed=0, item_id="a", modality="m")
    assert 0.66 < out.shape[0] / 2000 < 0.74
    assert bool((out[1:, 0] > out[:-1, 0]).all())  # kept frames stay in order
    short = torch.arange(1.0, 5.0)[:, None]
    for lvl in range(1, 10):
        kept = perturb(short, "frame_drop", lvl, 10, seed=lvl, item_id="a", modality="m", keep_first=True)
        assert float(kept[0, 0]) == 1.0


def test_temporal_mask_zeroes_one_contiguous_span() -> None:
    x = torch.ones(20, 3)
    for lvl in range(1, 10):
        out = perturb(x, "temporal_mask", lvl, 10, seed=0, item_id=f"i{lvl}", modality="m")
        zero = (out == 0).all(dim=1).nonzero().flatten().tolist()
        assert len(zero) == round(lvl / 10 * 20)
        assert zero == list(range(zero[0], zero[0] + len(zero)))
    own = perturb(x, "temporal_mask", 9, 10, seed=0, item_id="a", modality="m", keep_first=True)
    assert bool((own[0] == 1).all())


def test_feature_std_equals_the_std_over_all_real_frames() -> None:
    items = [{"m": _x(n, seed=n)} for n in (0, 3, 5, 9)]
    want = torch.cat([it["m"] for it in items]).std(dim=0)
    assert torch.allclose(feature_std(items, "m", 4), want, atol=1e-5)


def test_feature_stds_streams_and_survives_a_large_mean() -> None:
    g = torch.Generator().manual_seed(0)
    items = ({"a": 1e6 + 0.5 * torch.randn(n, 3, generator=g), "b": torch.zeros(n, 2)} for n in (40, 0, 60))
    out = feature_stds(items, {"a": 3, "b": 2})  # a generator: one pass
    assert torch.allclose(out["a"], torch.full((3,), 0.5), rtol=0.15) and torch.equal(
        out["b"], torch.zeros(2)
    )


# -- text ---------------------------------------------------------------------------------------
SENT = "the quick brown foxes jumped over lazy sleeping dogs today"


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(TEXT_KINDS), seed=st.integers(0, 999))
def test_text_level_zero_identity_and_determinism(kind: str, seed: int) -> None:
    assert perturb_text(SENT, kind, 0.0, rng_for(seed, "a", "text", kind)) == SENT
    a = perturb_text(SENT, kind, 0.5, rng_for(seed, "a", "text", kind))
    assert a == perturb_text(SENT, kind, 0.5, rng_for(seed, "a", "text", kind))


def test_word_drop_drops_a_share_of_words() -> None:
    words = " ".join(f"w{i}" for i in range(4000))
    out = perturb_text(words, "word_drop", 0.3, np.random.default_rng(0)).split()
    assert 0.67 < len(out) / 4000 < 0.73
    assert perturb_text("a b", "word_drop", 0.99, np.random.default_rng(1)) in ("", "a", "b", "a b")


@pytest.mark.parametrize("kind", TYPOS)
def test_each_typo_changes_only_long_words_as_named(kind: str) -> None:
    g = np.random.default_rng(3)
    for w in ("hello", "keyboard", "sseft"):
        t = typo(w, kind, g)
        if kind == "omission":
            assert len(t) == len(w) - 1
        elif kind == "sticky":
            assert len(t) == len(w) + 1
        else:
            assert len(t) == len(w)
        if kind in ("swap", "mid_shuffle"):
            assert t[0] == w[0] and t[-1] == w[-1] and sorted(t) == sorted(w)
        if kind == "swap":
            assert sum(a != b for a, b in zip(t, w, strict=True)) in (0, 2)
    out = perturb_text("a an the hello", kind, 1.0, np.random.default_rng(0)).split()
    assert out[:3] == ["a", "an", "the"]  # words of 3 letters or fewer are left alone (as MultiBench)


# -- media --------------------------------------------------------------------------------------
def test_snr_schedule_is_30_db_at_level_1_and_0_db_at_level_9() -> None:
    assert snr_db(1, 10) == 30.0 and snr_db(9, 10) == 0.0
    assert all(snr_db(i, 10) > snr_db(i + 1, 10) for i in range(1, 9))


@pytest.mark.parametrize("level", [1, 5, 9])
def test_audio_noise_has_the_target_snr(level: int) -> None:
    sr = 16000
    wave = np.sin(np.linspace(0, 2000, 4 * sr)).astype(np.float32)[None]
    noisy, rate = noisy_audio((wave, sr), level, 10, np.random.default_rng(0))
    noise = noisy - wave
    measured = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise.astype(np.float64) ** 2))
    assert rate == sr and abs(measured - snr_db(level, 10)) < 0.2


def test_video_occlusion_covers_the_share_and_frame_drop_removes_frames() -> None:
    frames = np.full((40, 50, 60, 3), 200, np.uint8)
    occ = noisy_video(frames, "occlusion", 0.25, 5.0, np.random.default_rng(0))
    assert occ is not None and occ.shape == frames.shape
    share = float((occ[0] == 0).all(axis=-1).mean())
    assert abs(share - 0.25) < 0.03 and bool((occ == occ[0]).all())  # the same box on every frame
    dropped = noisy_video(frames, "frame_drop", 0.5, 5.0, np.random.default_rng(0))
    assert dropped is not None and 10 < len(dropped) < 30
    blurred = noisy_video(
        np.random.default_rng(0).integers(0, 255, (2, 50, 60, 3)).astype(np.uint8),
        "blur",
        0.9,
        5.0,
        np.random.default_rng(0),
    )
    assert blurred is not None and blurred.std() < 60
