"""`robustness` and its paired bootstrap with the out-of-tree ordinal head (tests/fixtures/sseft-ordinal):
curves, areas and the comparison in the head's own metrics, with no change to core."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import robhelpers as rh
import torch

ORDINAL_PKG = Path(__file__).resolve().parents[1] / "fixtures" / "sseft-ordinal"


@pytest.fixture(scope="module")
def ordinal(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The plugin registered in this process as its entry point would register it; two tiny ordinal
    models over the two-level (neg < pos) easy store, one trained and one barely."""
    from sseft.core.model import HeadSpec, build_model
    from sseft.core.plugins import PluginInfo, get_manager, reset_manager

    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(ORDINAL_PKG))
    import sseft_ordinal

    reset_manager()
    get_manager().load().add_plugin(
        sseft_ordinal, PluginInfo("ordinal", "sseft-ordinal", "0.1.0", "sseft_ordinal")
    )
    torch.set_num_threads(1)
    store = rh.easy_store(tmp_path_factory.mktemp("ord") / "store", n={"train": 160, "valid": 10, "test": 60})
    models = []
    for seed, epochs in ((0, 6), (1, 1)):
        cfg = rh.build(store, seed=seed).config.model_copy(
            update={"head": HeadSpec(name="ordinal"), "task": "ordinal"}
        )
        torch.manual_seed(seed)
        models.append(
            rh.fit(build_model(cfg), store, epochs=epochs, seed=seed, lr=1e-3 if epochs == 1 else 3e-3)
        )
    yield {"store": store, "good": models[0], "weak": models[1], "module": sseft_ordinal}
    mp.undo()
    reset_manager()
    for name in [m for m in sys.modules if m.startswith("sseft_ordinal")]:
        del sys.modules[name]


def test_curves_and_the_comparison_in_the_heads_metric(ordinal: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import sseft
    from sseft.core.robustness.summary import relative_robustness

    head_cls = type(ordinal["good"].head)
    calls: list[Any] = []
    own = head_cls.score_resamples
    monkeypatch.setattr(
        head_cls, "score_resamples", lambda self, *a, **k: calls.append(a[3]) or own(self, *a, **k)
    )
    r = sseft.robustness(ordinal["good"], ordinal["store"], compare=ordinal["weak"], metric="mae_levels",
                         kinds=["gaussian"], n_levels=3, n_boot=100, batch_size=32)  # fmt: skip
    d = r.data
    assert d["metric"] == "mae_levels" and d["greater_is_better"] is False
    clean = d["models"]["model"]["clean"]
    assert set(clean) >= {"qwk", "mae_levels", "accuracy", "within_one"} and clean["mae_levels"] < 0.2
    curve, other = (
        d["feature_noise"]["model"]["gaussian"]["text"],
        d["feature_noise"]["compare"]["gaussian"]["text"],
    )
    assert curve[0] == clean["mae_levels"] and len(curve) == 3
    comp = d["compare"]["gaussian"]["text"]
    assert comp["observed"] == pytest.approx(relative_robustness(curve) - relative_robustness(other))
    assert calls and all(c == ["mae_levels"] for c in calls)  # the head's own resample scorer

    qwk = sseft.robustness(ordinal["good"], ordinal["store"], compare=ordinal["good"], kinds=["gaussian"],
                           n_levels=2, n_boot=50, batch_size=32).data  # fmt: skip
    assert qwk["metric"] == "qwk" and qwk["greater_is_better"] is True
    same = qwk["compare"]["gaussian"]["text"]
    assert same["observed"] == 0.0 and same["ci95"] == [0.0, 0.0]
