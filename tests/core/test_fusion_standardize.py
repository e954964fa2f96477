"""Per-feature standardisation with training-split statistics (`standardize: true`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import DataError
from sseft.core.fusion import SSEFTFusion
from sseft.core.fusion.standardize import Standardize, feature_statistics
from sseft.core.specs import FusionConfig, ModalitySpec

torch.set_num_threads(1)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=1, max_size=5).filter(lambda ls: sum(ls) >= 2),
    st.integers(0, 2**16),
    st.floats(1e-2, 1e3),
)
def test_statistics_are_exact_and_applied_to_real_frames_only(
    lengths: list[int], seed: int, scale: float
) -> None:
    """Statistics over every real frame (float64, = numpy's); the module applies them to real frames
    and leaves padding (here garbage) at zero."""
    rng = np.random.default_rng(seed)
    seqs = [torch.from_numpy(rng.normal(7.0, scale, size=(n, 3))) for n in lengths]
    stats = feature_statistics(seqs, "speech", "train")
    allf = np.concatenate([s.numpy() for s in seqs])
    np.testing.assert_allclose(stats.mean, allf.mean(0), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(stats.std, np.where(allf.std(0) < 1e-6, 1.0, allf.std(0)), rtol=1e-7)
    assert (stats.items, stats.frames) == (len(lengths), sum(lengths))
    mod = Standardize(ModalitySpec(name="speech", dim=3, standardize=stats))
    longest = max(lengths)
    x = torch.full((len(lengths), longest, 3), 1e6, dtype=torch.float64)  # padding holds garbage
    for b, s in enumerate(seqs):
        x[b, : len(s)] = s
    frames = torch.arange(longest)[None] < torch.tensor(lengths)[:, None]
    y = mod(x, frames)
    torch.testing.assert_close(y[frames], (x[frames] - mod.mean.double()) / mod.std.double())
    assert torch.equal(y[~frames], torch.zeros_like(y[~frames]))


def test_constant_features_and_empty_splits() -> None:
    seqs = [torch.tensor([[1.0, 2.0], [3.0, 2.0]]), torch.zeros(0, 2), torch.tensor([[5.0, 2.0]])]
    stats = feature_statistics(seqs, "speech", "train")
    np.testing.assert_allclose(stats.mean, [3.0, 2.0])
    assert stats.std[1] == 1.0 and stats.std[0] == pytest.approx(
        np.std([1.0, 3.0, 5.0])
    )  # constant: not scaled
    with pytest.raises(DataError, match="'speech'.*no frames"):
        feature_statistics([torch.zeros(0, 2)], "speech", "train")
    with pytest.raises(DataError, match="2 features but the modality has dim 3"):
        Standardize(ModalitySpec(name="speech", dim=3, standardize=stats))


def test_the_fusion_model_standardises_before_projecting_and_adds_no_parameters() -> None:
    stats = feature_statistics([torch.randn(9, 5) * 40 + 100], "audio", "train")
    plain = [ModalitySpec(name="text", dim=8), ModalitySpec(name="audio", dim=5, project={"dim": 8})]
    std = [plain[0], plain[1].model_copy(update={"standardize": stats})]
    cfg = FusionConfig(heads=2, ffn_dim=16, n_self=1)
    torch.manual_seed(0)
    a = SSEFTFusion(plain, cfg).eval()
    b = SSEFTFusion(std, cfg).eval()
    b.load_state_dict(a.state_dict())  # same keys: the statistics are not weights
    assert a.parameter_count() == b.parameter_count()
    feats = {"text": torch.randn(2, 3, 8), "audio": torch.randn(2, 4, 5) * 40 + 100}
    lens = {"text": torch.tensor([3, 2]), "audio": torch.tensor([4, 1])}
    mean, sd = torch.tensor(stats.mean, dtype=torch.float32), torch.tensor(stats.std, dtype=torch.float32)
    by_hand = {**feats, "audio": (feats["audio"] - mean) / sd}
    with torch.no_grad():
        torch.testing.assert_close(b(feats, lens), a(by_hand, lens), atol=1e-5, rtol=1e-5)
    assert "standardize[audio]" in b.summary() and "9 frames" in b.summary()
