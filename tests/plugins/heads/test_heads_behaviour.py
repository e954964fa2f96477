"""Head-specific behaviour: losses, label validation, predictions, configs, model selection."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sseft.core.errors import ConfigError, DataError
from sseft.core.plugins import get_head

EMOS = ["neutral", "joy", "sadness", "anger", "surprise", "fear", "disgust"]


def test_builtin_module_imports_without_torch_or_sklearn() -> None:
    code = (
        "import sys, sseft.plugins.heads.builtin as b; "
        "assert not {'torch', 'sklearn', 'numpy'} & set(sys.modules), sorted(m for m in sys.modules if m in {'torch','sklearn','numpy'}); "
        "print(len(b.REGRESSION.name))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr


def test_default_layers_are_the_authors_head() -> None:
    head = get_head("multiclass").build(16, EMOS, {"dropout": 0.2})
    assert head.dense.in_features == 16 and head.dense.out_features == 16
    assert head.out_proj.out_features == 7 and head.dropout.p == 0.2
    head.eval()
    x = torch.randn(3, 16)
    expected = head.out_proj(torch.tanh(head.dense(x)))
    assert torch.allclose(head(x), expected)
    wide = get_head("multiclass").build(16, EMOS, {"hidden_dim": 5})
    assert wide.dense.out_features == 5 and wide.out_proj.in_features == 5


def test_regression_losses_and_model_selection() -> None:
    plugin = get_head("regression")
    out = torch.tensor([[0.5], [-1.0]])
    y = torch.tensor([1.5, -1.0])
    assert plugin.build(4, ["s"]).loss(out, y).item() == pytest.approx(0.5)  # L1 by default
    assert plugin.build(4, ["s"], {"loss": "mse"}).loss(out, y).item() == pytest.approx(0.5)
    assert plugin.build(4, ["s"], {"loss": "mse"}).loss(
        out, torch.tensor([2.5, -1.0])
    ).item() == pytest.approx(2.0)
    h = plugin.build(4, ["s"])
    assert (h.primary_metric, h.greater_is_better) == ("mae", False)
    h = plugin.build(4, ["s"], {"primary_metric": "acc7"})
    assert (h.primary_metric, h.greater_is_better) == ("acc7", True)
    with pytest.raises(ConfigError, match="primary_metric"):
        plugin.build(4, ["s"], {"primary_metric": "acc3"})
    with pytest.raises(ConfigError, match="unknown field"):
        plugin.build(4, ["s"], {"dropuot": 0.1})


def test_regression_predict_and_several_labels() -> None:
    h = get_head("regression").build(4, ["s"])
    pred = h.predict(torch.tensor([[0.5], [1.5], [-3.7], [2.5]]))
    assert pred["acc7_class"] == [0, 2, -3, 2] and pred["score"][1] == 1.5
    h2 = get_head("regression").build(4, ["valence", "arousal"], {"compat": "mult"})
    out = torch.tensor([[0.5, 1.0], [-1.0, 2.0], [2.0, -1.0]])
    y = torch.tensor([[1.0, 1.0], [-1.0, 2.0], [2.0, 0.0]])
    m = h2.metrics(out, y)
    assert set(h2.metric_names) <= set(m) and m["compat"] == "mult"
    assert m["mae/valence"] == pytest.approx(0.5 / 3) and m["mae/arousal"] == pytest.approx(1 / 3)
    assert m["mae"] == pytest.approx((0.5 / 3 + 1 / 3) / 2)
    assert h2.loss(out, y).item() == pytest.approx(1.5 / 6)
    with pytest.raises(DataError, match="do not match outputs"):
        h2.loss(out, torch.tensor([1.0, 2.0, 3.0]))  # one column for two label names: no broadcasting


def test_regression_label_validation_names_the_value() -> None:
    h = get_head("regression").build(4, ["s"])
    with pytest.raises(DataError, match=r"item 1 is nan"):
        h.validate_labels([0.5, float("nan"), 1.0])
    with pytest.raises(DataError, match=r"item 0 is inf"):
        h.metrics(np.zeros((1, 1)), [float("inf")])
    with pytest.raises(DataError, match="shape"):
        h.validate_labels(np.zeros((3, 2)))
    h.validate_labels([4.0, -5.0])  # beyond +-3 is allowed (metrics clip)


def test_multiclass_loss_with_class_weights_and_label_smoothing() -> None:
    plugin = get_head("multiclass")
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))
    y = torch.tensor([0, 1, 2, 2, 0])
    w = [1.0, 2.0, 0.5]
    h = plugin.build(4, ["a", "b", "c"], {"class_weights": w, "label_smoothing": 0.1})
    expect = F.cross_entropy(logits, y, weight=torch.tensor(w), label_smoothing=0.1)
    assert h.loss(logits, y).item() == pytest.approx(expect.item())
    assert "class_weights" not in h.state_dict()  # from the config, not stored as weights
    with pytest.raises(ConfigError, match="class_weights"):
        plugin.build(4, ["a", "b", "c"], {"class_weights": [1.0, 2.0]})
    with pytest.raises(ConfigError, match="at least 2"):
        plugin.build(4, ["only"])


def test_multiclass_label_validation_and_predict() -> None:
    h = get_head("multiclass").build(4, EMOS)
    with pytest.raises(DataError, match=r"item 2 is 9: not a class index for 7 classes"):
        h.validate_labels(torch.tensor([0, 6, 9]))
    with pytest.raises(DataError, match=r"-1"):
        h.validate_labels([0, -1])
    with pytest.raises(DataError, match=r"1\.5"):
        h.validate_labels([0.0, 1.5])
    with pytest.raises(DataError, match="numbers"):
        h.validate_labels(["joy", "anger"])
    logits = torch.zeros(2, 7)
    logits[0, 3] = 5.0
    logits[1, 1] = 5.0
    pred = h.predict(logits)
    assert pred["label"] == ["anger", "joy"] and pred["index"] == [3, 1]
    assert np.allclose(np.sum(pred["probabilities"], axis=1), 1.0)
    m = h.metrics(logits, [3, 0])
    assert m["accuracy"] == 0.5 and m["per_class_f1"]["anger"] == 1.0 and len(m["confusion_matrix"]) == 7


def test_multilabel_loss_predict_and_validation() -> None:
    names = ["neutral", "happy", "sad", "angry"]
    h = get_head("multilabel-binary").build(8, names)
    logits = torch.randn(3, 4, 2, generator=torch.Generator().manual_seed(2))
    y = torch.tensor([[1, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0]])
    # MulT: CrossEntropyLoss over outputs.view(-1, 2)
    assert h.loss(logits, y).item() == pytest.approx(F.cross_entropy(logits.view(-1, 2), y.view(-1)).item())
    pred = h.predict(logits)
    present = logits.argmax(-1)
    assert pred["present"] == present.tolist()
    assert pred["labels"][0] == [n for n, v in zip(names, present[0].tolist(), strict=True) if v]
    with pytest.raises(DataError, match=r"item 1, label 2 \('sad'\) is 2"):
        h.validate_labels([[0, 0, 0, 0], [0, 1, 2, 0]])
    with pytest.raises(DataError, match=r"shape \(2, 3\)"):
        h.validate_labels(np.zeros((2, 3)))
    m = h.metrics(logits, y)
    assert set(m["per_label_accuracy"]) == set(names)
    assert m["weighted_f1"] == pytest.approx(np.mean(list(m["per_label_weighted_f1"].values())))


def test_metrics_mismatched_lengths_are_data_errors() -> None:
    h = get_head("multiclass").build(4, ["a", "b"])
    with pytest.raises(DataError, match="3 outputs but 2 labels"):
        h.metrics(torch.zeros(3, 2), [0, 1])


def test_records_and_their_renderings_hand_computed() -> None:
    """The built-in heads' records and renderings keep the prediction format users had (predict
    --json keys, CSV columns, the one-line summary), now produced by the head instead of core."""
    mc = get_head("multiclass").build(4, ["neg", "pos"])
    logits = torch.tensor([[0.0, math.log(3.0)]])  # softmax -> 0.25 / 0.75
    (rec,) = mc.records(logits, ["c1"])
    assert rec["id"] == "c1" and rec["label"] == "pos"
    assert rec["probabilities"] == pytest.approx({"neg": 0.25, "pos": 0.75})
    assert mc.describe(rec) == "pos (p=0.75)"
    assert mc.csv_row(rec) == {"prediction": "pos", "prob_neg": "0.250000", "prob_pos": "0.750000"}
    assert mc.table(rec).splitlines()[2].split() == ["pos", "0.7500", "*"]

    rg = get_head("regression").build(4, ["s"])
    (rec,) = rg.records(torch.tensor([[1.26]]), ["r"])
    assert rec["label"] == rec["score"] == pytest.approx(1.26) and rec["acc7_class"] == 1
    assert rg.describe(rec) == "score +1.260 (Acc7 class +1)"
    assert rg.csv_row(rec) == {"prediction": "1.260000", "score_s": "1.260000", "acc7_s": 1}
    two = get_head("regression").build(4, ["valence", "arousal"])
    (rec,) = two.records(torch.tensor([[0.5, -2.6]]), ["r"])
    assert rec["acc7"] == {"valence": 0, "arousal": -3} and "score" not in rec
    assert two.describe(rec) == "valence score +0.500 (Acc7 class +0), arousal score -2.600 (Acc7 class -3)"

    ml = get_head("multilabel-binary").build(4, ["happy", "sad"])
    (rec,) = ml.records(torch.tensor([[[0.0, 2.0], [1.0, 0.0]]]), ["m"])
    assert rec["label"] == rec["labels"] == ["happy"] and rec["probabilities"]["sad"] < 0.5
    assert ml.describe(rec) == "labels: happy"
    assert list(ml.csv_row(rec)) == ["prediction", "prob_happy", "prob_sad"]
    assert mc.summary({"weighted_f1": 0.5, "accuracy": 0.25, "macro_f1": 0.125, "n_items": 8}) == (
        "weighted_f1 0.5000  accuracy 0.2500  macro_f1 0.1250  (n=8)"
    )


def test_labels_arrive_as_plain_json_and_collate_per_head() -> None:
    mc = get_head("multiclass").build(4, ["a", "b", "c"])
    assert mc.collate_labels([2, 0, 1]).tolist() == [2, 0, 1] and mc.collate_labels([2]).dtype == torch.long
    rg = get_head("regression").build(4, ["v", "a"])
    assert rg.collate_labels([[0.5, 1.0], [2.0, -1.0]]).shape == (2, 2)
    ml = get_head("multilabel-binary").build(4, ["x", "y"])
    assert ml.collate_labels([[0, 1], [1, 1]]).tolist() == [[0, 1], [1, 1]]
    with pytest.raises(DataError, match="not numbers of one shape"):
        rg.collate_labels([[0.5, 1.0], [2.0]])
