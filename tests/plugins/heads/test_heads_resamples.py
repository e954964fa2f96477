"""The built-in heads' vectorised `score_resamples` equal their own `metrics` on every resample."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.head import HeadDefaults, resample_scorer
from sseft.core.plugins import get_head


def make_scorer(head, metric: str, outputs: np.ndarray, truth: np.ndarray):
    """What the comparisons use: the head's scorer over its collated labels."""
    return resample_scorer(head, metric, outputs, head.collate_labels(truth.tolist()))


def generic_scorer(head, metric: str, outputs: np.ndarray, truth: np.ndarray):
    """The default for any head: `metrics` once per resample."""
    labels = head.collate_labels(truth.tolist())
    return lambda idx: HeadDefaults.score_resamples(head, outputs, labels, idx, [metric])[metric]


def _head(name: str, labels: list[str], **config):
    plugin = get_head(name)
    return plugin.build(4, labels, plugin.config_model.model_validate(config))


def _same(fast: np.ndarray, slow: list[float]) -> None:
    for f, s in zip(fast, slow, strict=True):
        assert (math.isnan(f) and math.isnan(s)) or f == pytest.approx(s, abs=1e-12)


def _check(head, metric: str, outputs: np.ndarray, truth: np.ndarray, idx: np.ndarray) -> None:
    fast = make_scorer(head, metric, outputs, truth)(idx)
    slow = [float(head.metrics(torch.as_tensor(outputs[r]), torch.as_tensor(truth[r]))[metric]) for r in idx]
    _same(fast, slow)


@settings(max_examples=40, deadline=None)
@given(
    c=st.integers(2, 5),
    n=st.integers(1, 25),
    seed=st.integers(0, 10_000),
    metric=st.sampled_from(["accuracy", "weighted_f1", "macro_f1"]),
    compat=st.sampled_from(["none", "mult"]),
)
def test_multiclass(c: int, n: int, seed: int, metric: str, compat: str) -> None:
    rng = np.random.default_rng(seed)
    head = _head("multiclass", [f"c{i}" for i in range(c)], compat=compat)
    outputs, truth = rng.normal(size=(n, c)), rng.integers(0, c, n)
    _check(head, metric, outputs, truth, rng.integers(0, n, size=(4, n)))


@settings(max_examples=25, deadline=None)
@given(k=st.integers(1, 4), n=st.integers(1, 20), seed=st.integers(0, 10_000),
       metric=st.sampled_from(["accuracy", "weighted_f1"]), compat=st.sampled_from(["none", "mult"]))  # fmt: skip
def test_multilabel(k: int, n: int, seed: int, metric: str, compat: str) -> None:
    rng = np.random.default_rng(seed)
    head = _head("multilabel-binary", [f"l{i}" for i in range(k)], compat=compat)
    outputs, truth = rng.normal(size=(n, k, 2)), rng.integers(0, 2, (n, k))
    _check(head, metric, outputs, truth, rng.integers(0, n, size=(4, n)))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 25), seed=st.integers(0, 10_000), compat=st.sampled_from(["none", "mult"]),
       metric=st.sampled_from(["mae", "corr", "acc7", "acc7_cmu", "acc5", "acc5_cmu", "acc2_has0", "f1_has0",
                               "acc2_non0", "f1_non0"]))  # fmt: skip
def test_regression(n: int, seed: int, compat: str, metric: str) -> None:
    rng = np.random.default_rng(seed)
    head = _head("regression", ["score"], compat=compat)
    # Scores on a half-integer grid: exact zeros (non0 drops them) and rounding ties occur.
    outputs = np.round(rng.uniform(-3.5, 3.5, (n, 1)) * 2) / 2
    truth = np.round(rng.uniform(-3.5, 3.5, n) * 2) / 2
    _check(head, metric, outputs, truth, rng.integers(0, n, size=(4, n)))


def test_other_metrics_fall_back_to_the_head() -> None:
    rng = np.random.default_rng(0)
    head = _head("multiclass", ["a", "b", "c"])
    outputs, truth = rng.normal(size=(12, 3)), rng.integers(0, 3, 12)
    idx = rng.integers(0, 12, size=(3, 12))
    slow = generic_scorer(head, "accuracy", outputs, truth)(idx)
    _same(make_scorer(head, "accuracy", outputs, truth)(idx), list(slow))


def test_class_names_as_truth() -> None:
    rng = np.random.default_rng(1)
    head = _head("multiclass", ["neg", "neu", "pos"])
    outputs, truth = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    names = np.asarray(["neg", "neu", "pos"])[truth]
    idx = rng.integers(0, 10, size=(3, 10))
    _same(
        make_scorer(head, "weighted_f1", outputs, names)(idx),
        list(make_scorer(head, "weighted_f1", outputs, truth)(idx)),
    )


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 15), seed=st.integers(0, 10_000), compat=st.sampled_from(["none", "mult"]))
def test_every_metric_of_a_two_label_regression_head(n: int, seed: int, compat: str) -> None:
    """names=None: every number `metrics` reports (means, per-label values, n), all at once."""
    rng = np.random.default_rng(seed)
    head = _head("regression", ["valence", "arousal"], compat=compat)
    outputs = np.round(rng.uniform(-3.5, 3.5, (n, 2)) * 2) / 2
    truth = np.round(rng.uniform(-3.5, 3.5, (n, 2)) * 2) / 2
    labels = head.collate_labels(truth.tolist())
    idx = rng.integers(0, n, size=(3, n))
    fast = head.score_resamples(outputs, labels, idx)
    slow = HeadDefaults.score_resamples(head, outputs, labels, idx)
    assert set(fast) == set(slow) and {"mae", "mae/arousal", "f1_non0/valence", "n"} <= set(fast)
    for name in slow:
        _same(fast[name], list(slow[name]))


def test_degenerate_resamples_match_the_head() -> None:
    """A resample whose labels are all 0 (non0 empty: NaN), constant scores (corr NaN), one class."""
    head = _head("regression", ["score"])
    outputs, truth = np.array([[0.0], [1.0], [1.0], [-2.0]]), np.array([0.0, 1.0, 2.0, -1.0])
    idx = np.array([[0, 0, 0, 0], [1, 1, 2, 2], [1, 2, 3, 0]])
    for metric in ("acc2_non0", "f1_non0", "corr", "f1_has0", "acc7"):
        _check(head, metric, outputs, truth, idx)
    clf = _head("multiclass", ["a", "b", "c"])
    logits, labels = np.eye(3)[[0, 0, 1, 2]], np.array([0, 0, 1, 2])
    for metric in ("accuracy", "weighted_f1", "macro_f1"):
        _check(clf, metric, logits, labels, np.array([[0, 1, 0, 1], [2, 3, 2, 3]]))


def test_a_metric_without_a_vectorised_form_goes_through_metrics() -> None:
    head = _head("regression", ["score"])
    outputs, truth = np.array([[0.5], [1.0], [-1.0]]), np.array([0.0, 1.0, -2.0])
    idx = np.array([[0, 1, 2], [2, 2, 1]])
    with pytest.raises(Exception, match="'qwk' is not a number the head reports"):
        make_scorer(head, "qwk", outputs, truth)(idx)


def test_direction_of_each_metric() -> None:
    head = _head("regression", ["score"])
    assert head.greater_is_better_for("corr") and not head.greater_is_better_for("mae")
    assert not head.greater_is_better_for("mae/score") and not head.greater_is_better_for("loss")


class MetricsOnly:
    """A head with `metrics` and nothing else of the resampling API (no HeadDefaults)."""

    primary_metric, greater_is_better = "hits", False

    def metrics(self, outputs, labels) -> dict:
        return {"hits": float(np.mean(outputs == labels)), "n": len(labels), "note": "text"}


def test_a_head_with_only_metrics_gets_the_defaults() -> None:
    from sseft.core.head import method

    head, out, lab = MetricsOnly(), np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])
    idx = np.array([[0, 0, 2, 2], [1, 3, 1, 3], [0, 1, 2, 3]])
    assert resample_scorer(head, "hits", out, lab)(idx).tolist() == [1.0, 0.0, 0.5]
    every = method(head, "score_resamples")(out, lab, idx)
    assert set(every) == {"hits", "n"} and every["n"].tolist() == [4.0, 4.0, 4.0]
    better = method(head, "greater_is_better_for")
    assert not better("hits") and better("recall") and not better("loss")
