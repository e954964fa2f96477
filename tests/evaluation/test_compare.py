"""`compare` on run directories written here by hand (no training): items are paired by id whatever
order each run lists its predictions in, and the metric comes from the run's own head."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sseft.core.evaluation.compare import compare_runs, load_head
from sseft.core.files import atomic_write_json, atomic_write_jsonl
from sseft.core.head import method
from sseft.core.model import HeadSpec, ModelConfig
from sseft.core.specs import ModalitySpec

CLASSES = ["neg", "neu", "pos"]


def write_run(
    d: Path, ids: list[str], outputs: np.ndarray, truth: list, order: np.ndarray, head: str = "multiclass",
    task: str = "multiclass", label_names: list[str] = CLASSES,
) -> Path:  # fmt: skip
    """A finished single run: model_config.json, test_metrics.json from the head, and
    test_predictions.jsonl listing the items in `order`."""
    d.mkdir(parents=True)
    cfg = ModelConfig(modalities=[ModalitySpec(name="a", dim=4)], head=HeadSpec(name=head), task=task,
                      label_names=label_names)  # fmt: skip
    (d / "model_config.json").write_text(cfg.model_dump_json())
    h = load_head(d)
    atomic_write_json(d / "test_metrics.json", h.metrics(outputs, method(h, "collate_labels")(truth)))
    rows = [{"id": ids[i], "label": "x", "outputs": outputs[i].tolist(), "truth": truth[i]} for i in order]
    atomic_write_jsonl(d / "test_predictions.jsonl", rows)
    return d


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A (good), B (noisier) in item order, and B again with its lines shuffled."""
    rng = np.random.default_rng(0)
    n = 40
    ids = [f"item{i:02d}" for i in range(n)]
    truth = rng.integers(0, 3, n).tolist()
    onehot = np.eye(3)[truth]
    good, noisy = onehot + 0.8 * rng.normal(size=(n, 3)), onehot + 1.5 * rng.normal(size=(n, 3))
    root = tmp_path_factory.mktemp("compare")
    ordered = np.arange(n)
    return {
        "a": write_run(root / "a", ids, good, truth, ordered),
        "b": write_run(root / "b", ids, noisy, truth, ordered),
        "b_shuffled": write_run(root / "b_shuffled", ids, noisy, truth, rng.permutation(n)),
        "a_reversed": write_run(root / "a_reversed", ids, good, truth, ordered[::-1]),
    }


def test_items_are_paired_by_id_not_by_line(runs: dict[str, Path]) -> None:
    lines = (runs["b_shuffled"] / "test_predictions.jsonl").read_text().splitlines()
    assert [json.loads(x)["id"] for x in lines] != sorted(json.loads(x)["id"] for x in lines)
    want = compare_runs(runs["a"], runs["b"], resamples=500)
    got = compare_runs(runs["a"], runs["b_shuffled"], resamples=500)
    assert got["bootstrap"] == {**want["bootstrap"]} and got["bootstrap"]["observed_difference"] > 0
    assert compare_runs(runs["b_shuffled"], runs["a"], resamples=500)["bootstrap"]["observed_difference"] == (
        pytest.approx(-want["bootstrap"]["observed_difference"])
    )


def test_a_run_against_itself_in_another_order_differs_by_nothing(runs: dict[str, Path]) -> None:
    r = compare_runs(runs["a"], runs["a_reversed"], "macro_f1", resamples=300)
    b = r["bootstrap"]
    assert b["observed_difference"] == 0.0 and b["mean_difference"] == 0.0 and b["ci95"] == [0.0, 0.0]
    assert b["p_one_sided"] == 1.0 and r["metric"] == "macro_f1"


def test_the_direction_comes_from_the_head(tmp_path: Path) -> None:
    """mae is lower-is-better for the regression head: A (closer) is better, p small."""
    rng = np.random.default_rng(1)
    n = 30
    ids = [f"u{i}" for i in range(n)]
    truth = rng.uniform(-3, 3, n).round(1).tolist()
    close = (np.asarray(truth) + 0.1 * rng.normal(size=n))[:, None]
    far = (np.asarray(truth) + 1.5 * rng.normal(size=n))[:, None]
    kw = {"head": "regression", "task": "regression", "label_names": ["sentiment"]}
    a = write_run(tmp_path / "a", ids, close, truth, np.arange(n), **kw)
    b = write_run(tmp_path / "b", ids, far, truth, rng.permutation(n), **kw)
    r = compare_runs(a, b, "mae", resamples=300)
    assert r["greater_is_better"] is False and r["bootstrap"]["observed_difference"] < 0
    assert r["bootstrap"]["p_one_sided"] == 0.0
    assert compare_runs(a, b, resamples=300)["greater_is_better"] is False  # the primary metric, mae


ORDINAL_PKG = Path(__file__).resolve().parents[1] / "fixtures" / "sseft-ordinal"
LEVELS = ["very_low", "low", "mid", "high", "very_high"]


@pytest.fixture
def ordinal_head(monkeypatch: pytest.MonkeyPatch):
    """The out-of-tree ordinal head (tests/fixtures/sseft-ordinal) registered in this process as its
    entry point would register it; core is not told anything about it."""
    import sys

    from sseft.core.plugins import PluginInfo, get_manager, reset_manager

    monkeypatch.syspath_prepend(str(ORDINAL_PKG))
    import sseft_ordinal

    reset_manager()
    get_manager().load().add_plugin(
        sseft_ordinal, PluginInfo("ordinal", "sseft-ordinal", "0.1.0", "sseft_ordinal")
    )
    yield sseft_ordinal
    reset_manager()
    for name in [m for m in sys.modules if m.startswith("sseft_ordinal")]:
        del sys.modules[name]


def test_an_out_of_tree_head_is_compared_with_its_own_metrics(
    ordinal_head, tmp_path: Path, monkeypatch
) -> None:
    """qwk (through the head's `metrics` per resample) and mae_levels (the head's own vectorised
    scorer, lower is better by the head's word); the runs list their items in different orders."""
    from sseft_ordinal.head import OrdinalHead

    rng = np.random.default_rng(2)
    n = 25
    ids = [f"o{i}" for i in range(n)]
    truth = rng.integers(0, 5, n).tolist()
    # cumulative logits (N, 4): level k predicted when the first k logits are > 0
    sharp = np.where(np.arange(4)[None, :] < np.asarray(truth)[:, None], 3.0, -3.0)
    kw = {"head": "ordinal", "task": "ordinal", "label_names": LEVELS}
    a = write_run(tmp_path / "a", ids, sharp, truth, np.arange(n), **kw)
    b = write_run(
        tmp_path / "b", ids, sharp + rng.normal(scale=3.0, size=sharp.shape), truth, rng.permutation(n), **kw
    )
    calls: list[list[str] | None] = []
    own = OrdinalHead.score_resamples
    monkeypatch.setattr(
        OrdinalHead, "score_resamples", lambda self, *a, **k: calls.append(a[3]) or own(self, *a, **k)
    )

    qwk = compare_runs(a, b, resamples=200)
    assert qwk["metric"] == "qwk" and qwk["greater_is_better"] is True
    assert qwk["a_runs"]["mean"] == 1.0 and qwk["bootstrap"]["observed_difference"] > 0.05
    assert calls and all(c == ["qwk"] for c in calls)
    mae = compare_runs(a, b, "mae_levels", resamples=200)
    assert mae["greater_is_better"] is False and mae["bootstrap"]["observed_difference"] < 0
    assert mae["bootstrap"]["p_one_sided"] < 0.05
    assert mae["b_runs"]["mean"] == pytest.approx(-mae["bootstrap"]["observed_difference"])
