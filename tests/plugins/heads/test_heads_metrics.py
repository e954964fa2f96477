"""Metric definitions (plugins/heads/metrics.py): hand-computed values on small vectors, edge cases,
and property tests against scikit-learn and an independent re-derivation of MMSA's code."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from sseft.core.errors import DataError
from sseft.plugins.heads import metrics as M

# -- sentiment binning: the two rounding conventions ---------------------------------------------
X = [-3.7, -2.5, -1.5, -0.5, -0.2, 0.0, 0.2, 0.5, 1.0, 1.5, 2.5, 3.2]


@pytest.mark.parametrize(
    ("bound", "rounding", "expected"),
    [
        # half to even after clipping: -2.5 -> -2, -1.5 -> -2, +-0.5 -> 0, 1.5 -> 2, 2.5 -> 2
        (3, "half_even", [-3, -2, -2, 0, 0, 0, 0, 0, 1, 2, 2, 3]),
        # away from zero to the next integer: (0, 1] -> 1, [-1, 0) -> -1, beyond +-3 clipped
        (3, "cmu", [-3, -3, -2, -1, -1, 0, 1, 1, 1, 2, 3, 3]),
        (2, "half_even", [-2, -2, -2, 0, 0, 0, 0, 0, 1, 2, 2, 2]),
        (2, "cmu", [-2, -2, -2, -1, -1, 0, 1, 1, 1, 2, 2, 2]),
    ],
)
def test_sentiment_classes_hand_computed(bound: int, rounding: str, expected: list[int]) -> None:
    assert M.sentiment_classes(np.array(X), bound, rounding).tolist() == expected  # type: ignore[arg-type]


# y: a label exactly 0, +-0.5, 1.5, -2.5 and one beyond +3; p: predictions around them.
Y = [0.0, 0.5, -0.5, 1.5, -2.5, 3.5]
P = [0.2, -0.1, -0.6, 2.5, -2.5, 2.0]


def test_regression_metrics_hand_computed() -> None:
    m = M.regression_metrics(np.array(P), np.array(Y))
    assert m["n"] == 6
    assert m["mae"] == pytest.approx((0.2 + 0.6 + 0.1 + 1.0 + 0.0 + 1.5) / 6)
    # half-even classes  y: 0 0 0 2 -2 3   p: 0 0 -1 2 -2 2  -> 4 of 6 agree
    assert m["acc7"] == pytest.approx(4 / 6)
    # CMU classes        y: 0 1 -1 2 -3 3  p: 1 -1 -1 3 -3 2 -> 2 of 6 agree
    assert m["acc7_cmu"] == pytest.approx(2 / 6)
    # clipped to +-2     y: 0 0 0 2 -2 2   p: 0 0 -1 2 -2 2  -> 5 of 6
    assert m["acc5"] == pytest.approx(5 / 6)
    #                    y: 0 1 -1 2 -2 2  p: 1 -1 -1 2 -2 2 -> 4 of 6
    assert m["acc5_cmu"] == pytest.approx(4 / 6)
    # has0: y>=0 T T F T F T, p>=0 T F F T F T -> 5/6; F1(T)=6/7 (support 4), F1(F)=4/5 (support 2)
    assert m["acc2_has0"] == pytest.approx(5 / 6)
    assert m["f1_has0"] == pytest.approx((4 * 6 / 7 + 2 * 0.8) / 6)
    # non0 drops the 0 label: y>0 T F T F T, p>0 F F T F T -> 4/5; F1(T)=0.8, F1(F)=0.8
    assert m["acc2_non0"] == pytest.approx(4 / 5)
    assert m["f1_non0"] == pytest.approx(0.8)
    assert "compat" not in m


def test_mult_compat_swaps_f1_arguments_and_is_recorded() -> None:
    m = M.regression_metrics(np.array(P), np.array(Y), compat="mult")
    # weights now come from the predicted supports (T: 3, F: 3)
    assert m["f1_has0"] == pytest.approx((3 * 6 / 7 + 3 * 0.8) / 6)
    assert m["compat"] == "mult"
    assert m["acc2_has0"] == pytest.approx(5 / 6)  # accuracy is symmetric


def test_zero_labels_count_in_has0_and_are_dropped_in_non0() -> None:
    m = M.regression_metrics([-0.1, 0.1, 1.0, -1.0], [0.0, 0.0, 1.0, -1.0])
    assert m["acc2_has0"] == pytest.approx(3 / 4)  # -0.1 is negative, its 0 label is non-negative
    assert m["acc2_non0"] == 1.0 and m["f1_non0"] == 1.0


def test_all_zero_labels_give_nan_non0_not_a_crash() -> None:
    m = M.regression_metrics([0.3, -0.2], [0.0, 0.0])
    assert math.isnan(m["acc2_non0"]) and math.isnan(m["f1_non0"])
    assert m["acc2_has0"] == pytest.approx(0.5)


def test_single_class_present_in_regression() -> None:
    m = M.regression_metrics([0.5, 1.0, 2.0], [1.0, 2.0, 3.0])
    assert m["acc2_has0"] == 1.0 and m["f1_has0"] == 1.0 and m["acc2_non0"] == 1.0
    m = M.regression_metrics([-1.0, 1.0, 2.0], [1.0, 2.0, 3.0])
    # only "positive" in the truth: its F1 = 2 * 1 * (2/3) / (1 + 2/3) = 0.8, weight 1
    assert m["acc2_has0"] == pytest.approx(2 / 3) and m["f1_has0"] == pytest.approx(0.8)


def test_corr_values_and_constant_predictions_give_nan_without_warning() -> None:
    y = np.array([-2.0, 0.0, 1.0, 3.0])
    assert M.pearson(2 * y + 1, y) == pytest.approx(1.0)
    assert M.pearson(-y, y) == pytest.approx(-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(M.pearson(np.zeros(4), y))
        assert math.isnan(M.pearson([1.0], [2.0]))
        assert math.isnan(M.regression_metrics(np.ones(4), y)["corr"])


@pytest.mark.parametrize(
    "fn",
    [
        lambda: M.regression_metrics([], []),
        lambda: M.classification_metrics(np.zeros((0, 3)), [], ["a", "b", "c"]),
        lambda: M.multilabel_metrics(np.zeros((0, 2, 2)), np.zeros((0, 2)), ["a", "b"]),
        lambda: M.weighted_f1([], []),
    ],
)
def test_empty_split_is_a_clear_error(fn) -> None:
    with pytest.raises(DataError, match="empty split"):
        fn()


def test_length_mismatch_and_nan_labels_are_data_errors() -> None:
    with pytest.raises(DataError, match="3 predictions but 2 labels"):
        M.regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(DataError, match="position 1 is nan"):
        M.regression_metrics([1.0, 2.0], [1.0, float("nan")])


def test_classification_hand_computed() -> None:
    labels = [0, 0, 1, 2, 2, 2]
    preds = [0, 1, 1, 2, 2, 0]
    m = M.classification_metrics(torch.tensor(preds), torch.tensor(labels), ["neg", "neu", "pos"])
    assert m["accuracy"] == pytest.approx(4 / 6)
    # per class F1: neg 0.5 (support 2), neu 2/3 (support 1), pos 0.8 (support 3)
    assert m["per_class_f1"] == pytest.approx({"neg": 0.5, "neu": 2 / 3, "pos": 0.8})
    assert m["weighted_f1"] == pytest.approx((2 * 0.5 + 2 / 3 + 3 * 0.8) / 6)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]  # rows truth, columns prediction
    swapped = M.classification_metrics(preds, labels, ["neg", "neu", "pos"], compat="mult")
    assert swapped["weighted_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)  # predicted supports 2, 2, 2
    assert swapped["compat"] == "mult"


def test_classification_single_class_present() -> None:
    m = M.classification_metrics([1, 1, 1], [1, 1, 1], ["a", "b", "c"])
    assert m["accuracy"] == 1.0 and m["weighted_f1"] == 1.0 and m["macro_f1"] == 1.0
    assert m["per_class_f1"] == {"a": 0.0, "b": 1.0, "c": 0.0}  # absent classes: 0.0, not in the macro mean
    assert m["confusion_matrix"] == [[0, 0, 0], [0, 3, 0], [0, 0, 0]]


def test_multilabel_hand_computed_from_logits() -> None:
    labels = np.array([[1, 0], [0, 0], [1, 1], [0, 1]])
    pred = np.array([[1, 0], [1, 0], [1, 1], [0, 0]])
    logits = np.stack([1 - pred, pred], axis=-1).astype(np.float32)  # (4, 2, 2): argmax = pred
    m = M.multilabel_metrics(logits, labels, ["happy", "sad"])
    # happy: truth 1 0 1 0 vs 1 1 1 0 -> acc 3/4, F1(1) = 0.8, F1(0) = 2/3, supports 2/2
    # sad:   truth 0 0 1 1 vs 0 0 1 0 -> acc 3/4, F1(1) = 2/3, F1(0) = 0.8, supports 2/2
    assert m["per_label_accuracy"] == pytest.approx({"happy": 0.75, "sad": 0.75})
    assert m["per_label_weighted_f1"] == pytest.approx({"happy": (0.8 + 2 / 3) / 2, "sad": (0.8 + 2 / 3) / 2})
    assert m["accuracy"] == pytest.approx(0.75) and m["weighted_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    # the same from 0/1 predictions, and a label with one class only works
    assert M.multilabel_metrics(pred, labels, ["happy", "sad"])["accuracy"] == pytest.approx(0.75)
    one = M.multilabel_metrics(np.ones((3, 1)), np.ones((3, 1)), ["x"])
    assert one["accuracy"] == 1.0 and one["weighted_f1"] == 1.0


def test_tensor_inputs_equal_numpy_inputs_including_bf16() -> None:
    p = [0.25, -0.125, -0.625, 2.5, -2.5, 2.0]  # exactly representable in bf16
    a = M.regression_metrics(torch.tensor(p, dtype=torch.bfloat16), torch.tensor(Y))
    b = M.regression_metrics(np.array(p), np.array(Y))
    assert a == pytest.approx(b)


# -- property tests ------------------------------------------------------------------------------
def _mmsa_multiclass_acc(y_pred: np.ndarray, y_true: np.ndarray) -> float:
    # MMSA metricsTop.__multiclass_acc
    return np.sum(np.round(y_pred) == np.round(y_true)) / float(len(y_true))


def _mmsa_regression(test_preds: np.ndarray, test_truth: np.ndarray) -> dict[str, float]:
    """A straight re-derivation of MMSA's __eval_mosei_regression (no code shared with sseft)."""
    out = {
        "acc7": _mmsa_multiclass_acc(np.clip(test_preds, -3.0, 3.0), np.clip(test_truth, -3.0, 3.0)),
        "acc5": _mmsa_multiclass_acc(np.clip(test_preds, -2.0, 2.0), np.clip(test_truth, -2.0, 2.0)),
        "mae": np.mean(np.absolute(test_preds - test_truth)),
    }
    non_zeros = np.array([i for i, e in enumerate(test_truth) if e != 0], dtype=int)
    if len(non_zeros):
        nz_truth, nz_preds = test_truth[non_zeros] > 0, test_preds[non_zeros] > 0
        out["acc2_non0"] = accuracy_score(nz_preds, nz_truth)
        out["f1_non0"] = f1_score(nz_truth, nz_preds, average="weighted")
    binary_truth, binary_preds = test_truth >= 0, test_preds >= 0
    out["acc2_has0"] = accuracy_score(binary_preds, binary_truth)
    out["f1_has0"] = f1_score(binary_truth, binary_preds, average="weighted")
    return out


def _cmu_class(x: float, bound: int) -> int:
    if x == 0:
        return 0
    c = math.ceil(abs(x))
    return int(math.copysign(min(bound, c), x))


# Sentiment-like values with many exact 0, +-k/2 and out-of-range points.
SENT = st.one_of(
    st.sampled_from([k / 2 for k in range(-8, 9)]),
    st.floats(-4.0, 4.0, allow_nan=False, allow_subnormal=False),
)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(SENT, SENT), min_size=1, max_size=30))
def test_regression_matches_mmsa_rederivation(pairs: list[tuple[float, float]]) -> None:
    p = np.array([a for a, _ in pairs])
    y = np.array([b for _, b in pairs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ill-defined-F1 warnings in the reference
        ref = _mmsa_regression(p, y)
    got = M.regression_metrics(p, y)
    for key, val in ref.items():
        assert got[key] == pytest.approx(val), key
    if "acc2_non0" not in ref:
        assert math.isnan(got["acc2_non0"]) and math.isnan(got["f1_non0"])
    for bound, key in ((3, "acc7_cmu"), (2, "acc5_cmu")):
        expect = np.mean([_cmu_class(a, bound) == _cmu_class(b, bound) for a, b in pairs])
        assert got[key] == pytest.approx(expect)


@settings(max_examples=25, deadline=None)
@given(
    st.integers(2, 6).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)), min_size=1, max_size=40),
        )
    )
)
def test_classification_matches_sklearn(case: tuple[int, list[tuple[int, int]]]) -> None:
    c, pairs = case
    y = np.array([a for a, _ in pairs])
    p = np.array([b for _, b in pairs])
    names = [f"c{i}" for i in range(c)]
    got = M.classification_metrics(p, y, names)
    swapped = M.classification_metrics(p, y, names, compat="mult")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got["accuracy"] == pytest.approx(accuracy_score(y, p))
        assert got["weighted_f1"] == pytest.approx(f1_score(y, p, average="weighted"))
        assert got["macro_f1"] == pytest.approx(f1_score(y, p, average="macro"))
        assert swapped["weighted_f1"] == pytest.approx(f1_score(p, y, average="weighted"))
    assert got["confusion_matrix"] == confusion_matrix(y, p, labels=list(range(c))).tolist()
    assert np.sum(got["confusion_matrix"]) == len(y)


def test_float64_inputs_are_not_cast_to_float32() -> None:
    """Acc7 of [2.5000001, 0.5000001, -1.4999999] vs [3, 1, -1] is 1.0 in float64 (float32
    would round the predictions onto the half-to-even boundaries 2.5, 0.5, -1.5 -> 2, 0, -2)."""
    pred = torch.tensor([2.5000001, 0.5000001, -1.4999999], dtype=torch.float64)
    truth = torch.tensor([3.0, 1.0, -1.0], dtype=torch.float64)
    assert M.to_numpy(pred).dtype == np.float64
    assert M.sentiment_acc(pred, truth, 3, "half_even") == 1.0
    assert M.regression_metrics(pred, truth)["acc7"] == 1.0
    assert M.to_numpy(pred.half()).dtype == np.float32  # half precision is still widened
    assert M.to_numpy(pred.bfloat16()).dtype == np.float32
