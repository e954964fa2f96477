"""Intervals, paired tests and the paired bootstrap against hand computations and scipy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as sps

from sseft.core.evaluation.stats import describe_runs, paired_bootstrap, paired_tests

T975_DF2 = 4.302652729911275  # t(0.975, 2) from the t table


def test_describe_by_hand() -> None:
    d = describe_runs([0.5, 0.6, 0.7])
    assert d["n"] == 3 and d["min"] == 0.5 and d["max"] == 0.7
    assert d["mean"] == pytest.approx(0.6)
    assert d["std"] == pytest.approx(0.1)  # sample std, ddof = 1 (population std would be 0.0816)
    half = T975_DF2 * 0.1 / math.sqrt(3)
    assert d["ci95"] == pytest.approx([0.6 - half, 0.6 + half])


def test_describe_one_value_has_no_spread() -> None:
    d = describe_runs([0.42])
    assert d["mean"] == 0.42 and d["std"] is None and d["ci95"] is None and d["n"] == 1
    assert describe_runs([])["mean"] is None


def test_paired_t_by_hand_and_scipy() -> None:
    a, b = [0.61, 0.64, 0.59, 0.66], [0.58, 0.60, 0.60, 0.61]
    d = np.subtract(a, b)
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    r = paired_tests(a, b)
    assert r["ttest"]["statistic"] == pytest.approx(t)
    assert r["ttest"]["p"] == pytest.approx(2 * sps.t.sf(abs(t), len(d) - 1))
    assert r["mean_difference"] == pytest.approx(d.mean())


def test_wilcoxon_exact_by_hand() -> None:
    # differences 1, 2, 3, -0.5: ranks of |d| 2, 3, 4, 1 -> W+ = 9, W- = 1; exact two-sided p over the
    # 16 sign patterns: W <= 1 happens for {} and {rank 1}, so p = 2 * 2 / 16 = 0.25
    a, b = [2.0, 3.0, 4.0, 0.5], [1.0, 1.0, 1.0, 1.0]
    r = paired_tests(a, b)
    assert r["wilcoxon"]["statistic"] == 1.0
    assert r["wilcoxon"]["p"] == pytest.approx(0.25)


def test_undefined_tests_are_none() -> None:
    r = paired_tests([0.5, 0.6], [0.4, 0.5])  # equal differences: no variance
    assert r["ttest"]["p"] is None and r["wilcoxon"]["p"] is not None
    assert paired_tests([0.5, 0.6], [0.5, 0.6])["wilcoxon"]["p"] is None  # all differences zero
    assert paired_tests([0.5], [0.4])["ttest"]["p"] is None  # one pair


def _acc_scorer(correct: np.ndarray):
    return lambda idx: correct[idx].mean(axis=1)


def test_bootstrap_certain_difference() -> None:
    n = 50
    r = paired_bootstrap([n], [_acc_scorer(np.ones(n))], [_acc_scorer(np.zeros(n))], resamples=1000)
    assert r["mean_difference"] == 1.0 and r["ci95"] == [1.0, 1.0] and r["p_one_sided"] == 0.0
    r = paired_bootstrap([n], [_acc_scorer(np.zeros(n))], [_acc_scorer(np.ones(n))], resamples=1000)
    assert r["p_one_sided"] == 1.0


def test_bootstrap_matches_the_normal_theory_of_a_mean() -> None:
    # The metric difference is a mean of per-item differences d_i: its bootstrap distribution is
    # centred on mean(d) with spread sd(d)/sqrt(n) (population sd, as resampling uses).
    rng = np.random.default_rng(5)
    n = 400
    ca, cb = (rng.random(n) < 0.62).astype(float), (rng.random(n) < 0.55).astype(float)
    r = paired_bootstrap([n], [_acc_scorer(ca)], [_acc_scorer(cb)], resamples=10_000, seed=1)
    d = ca - cb
    se = d.std() / math.sqrt(n)
    assert r["observed_difference"] == pytest.approx(d.mean())
    assert r["mean_difference"] == pytest.approx(d.mean(), abs=0.1 * se)
    lo, hi = r["ci95"]
    assert (hi - lo) / 2 == pytest.approx(1.96 * se, rel=0.1)
    assert r["p_one_sided"] == pytest.approx(sps.norm.sf(d.mean() / se), abs=0.02)


def test_bootstrap_is_seeded_and_pairs_the_draws() -> None:
    rng = np.random.default_rng(0)
    c = (rng.random(60) < 0.5).astype(float)
    same = paired_bootstrap([60], [_acc_scorer(c)], [_acc_scorer(c)], resamples=500, seed=3)
    # The same draw for A and B: identical models differ by exactly 0 on every resample.
    assert same["ci95"] == [0.0, 0.0] and same["p_one_sided"] == 1.0
    other = (rng.random(60) < 0.5).astype(float)
    r1 = paired_bootstrap([60], [_acc_scorer(c)], [_acc_scorer(other)], resamples=500, seed=3)
    r2 = paired_bootstrap([60], [_acc_scorer(c)], [_acc_scorer(other)], resamples=500, seed=3)
    r3 = paired_bootstrap([60], [_acc_scorer(c)], [_acc_scorer(other)], resamples=500, seed=4)
    assert r1 == r2 and r1["ci95"] != r3["ci95"]


def test_bootstrap_lower_is_better_flips_the_p_value() -> None:
    n = 30
    small, big = np.full(n, 0.1), np.full(n, 0.9)
    r = paired_bootstrap(
        [n], [_acc_scorer(small)], [_acc_scorer(big)], resamples=200, greater_is_better=False
    )
    assert r["mean_difference"] == pytest.approx(-0.8) and r["p_one_sided"] == 0.0
