"""MultiBench's formulas against hand computation, and the paired bootstrap's fast path against
the head's own metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.robustness.bootstrap import level_scorer, paired_bootstrap_area
from sseft.core.robustness.evaluate import Scorer
from sseft.core.robustness.summary import effective_robustness, relative_robustness, trapezoid


def test_trapezoid_by_hand() -> None:
    assert trapezoid([1.0] * 10) == pytest.approx(0.9)  # 9 intervals of width 0.1 at height 1
    m = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]
    # 0.1 * ((1+0.9) + (0.9+0.8) + ... + (0.2+0.1)) / 2 = 0.05 * (1 + 2*(0.9+...+0.2) + 0.1)
    assert relative_robustness(m) == pytest.approx(0.05 * (1.0 + 2 * 4.4 + 0.1))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=10, max_size=10))
def test_relative_robustness_is_the_formats_md_sum(m: list[float]) -> None:
    want = sum(0.1 * (m[i] + m[i + 1]) / 2 for i in range(9))
    assert relative_robustness(m) == pytest.approx(want, abs=1e-12)


def test_effective_robustness_by_hand() -> None:
    m = [0.9, 0.9, 0.8, 0.8, 0.7, 0.7, 0.6, 0.6, 0.5, 0.5]
    b = [0.7, 0.6, 0.5, 0.4, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3]
    d = [mi - (bi + 0.2) for mi, bi in zip(m, b, strict=True)]  # m_0 - b_0 = 0.2
    assert d[0] == pytest.approx(0.0)
    assert effective_robustness(m, b) == pytest.approx(sum(0.1 * (d[i] + d[i + 1]) / 2 for i in range(9)))
    assert effective_robustness(m, m) == pytest.approx(0.0)
    shifted = [x - 0.3 for x in m]  # the same degradation from a lower start: no difference
    assert effective_robustness(m, shifted) == pytest.approx(0.0)


class _Model:
    """Just enough of a model for Scorer: a head with metrics and the label names."""

    def __init__(self, head: torch.nn.Module, names: list[str]) -> None:
        self.head, self.label_names = head, names


@pytest.fixture
def head() -> torch.nn.Module:
    from sseft.core.plugins import get_head

    plugin = get_head("multiclass")
    return plugin.build(4, ["a", "b", "c"], plugin.config_model.model_validate({}))


@pytest.mark.parametrize("metric", ["accuracy", "weighted_f1", "macro_f1"])
def test_vectorised_bootstrap_metric_equals_the_heads(head: torch.nn.Module, metric: str) -> None:
    g = torch.Generator().manual_seed(0)
    out = torch.randn(50, 3, generator=g)
    labels = torch.randint(0, 3, (50,), generator=g).tolist()
    s = Scorer(_Model(head, ["a", "b", "c"]), labels, metric, "test")
    idx = np.random.default_rng(0).integers(0, 50, (20, 50))
    fast = level_scorer(s, out)(idx)
    slow = np.array([s(out, torch.from_numpy(r)) for r in idx])
    assert np.allclose(fast, slow, atol=1e-12)


def test_bootstrap_of_a_model_against_itself_and_against_a_worse_one(head: torch.nn.Module) -> None:
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 3, (60,), generator=g)
    good = [
        torch.nn.functional.one_hot(labels, 3).float() + 0.1 * k * torch.randn(60, 3, generator=g)
        for k in range(5)
    ]
    bad = [torch.randn(60, 3, generator=g) for _ in range(5)]
    s = Scorer(_Model(head, ["a", "b", "c"]), labels.tolist(), "accuracy", "test")
    same = paired_bootstrap_area(good, good, s, s, n_boot=200, seed=0)
    assert same["observed"] == 0.0 and same["ci95"] == [0.0, 0.0] and same["p_le_0"] == 1.0
    diff = paired_bootstrap_area(good, bad, s, s, n_boot=200, seed=0)
    assert diff["observed"] > 0.2 and diff["ci95"][0] > 0 and diff["p_le_0"] == 0.0
    again = paired_bootstrap_area(good, bad, s, s, n_boot=200, seed=0)
    assert again == diff  # seeded
