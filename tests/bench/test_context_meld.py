"""bench/context_meld.py's pieces on a tiny dialogue store: both arms over seeds, their paired
comparison, the target line, and the window x speaker sweep that reuses the arms' runs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("context_meld", REPO / "bench" / "context_meld.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["context_meld"] = mod
    spec.loader.exec_module(mod)
    return mod


def paired(diff: float | None, p: float | None) -> dict[str, Any]:
    return {"mean_difference": diff, "ttest": {"p": p}}


def test_target_needs_the_gain_and_the_p_value() -> None:
    bench = load_bench()
    assert bench.target_met(paired(0.02, 0.01))
    assert bench.target_met(paired(0.015, 0.049))
    assert not bench.target_met(paired(0.014, 0.001))  # significant but too small
    assert not bench.target_met(paired(0.03, 0.2))  # large but not significant
    assert not bench.target_met(paired(0.03, None))  # one seed: no test, no claim


def test_cell_config_switches_context_only() -> None:
    from sseft.core.model import HeadSpec
    from sseft.core.training.config import DataConfig, ExperimentConfig

    bench = load_bench()
    base = ExperimentConfig(name="m", data=DataConfig(store="s"), head=HeadSpec(name="multiclass"))
    assert bench.cell_config(base, bench.Cell(0)).context is None
    ctx = bench.cell_config(base, bench.Cell(4, speaker=False)).context
    assert (ctx.window, ctx.direction, ctx.speaker) == (4, "past", False)
    assert bench.cell_config(base, bench.Cell(4)).name == "m-w4-speaker"
    both = bench.cell_config(base, bench.Cell(2), direction="both").context
    assert both.direction == "both"
    assert base.context is None  # the base config is left as it was


@pytest.mark.slow
def test_tiny_measurement_prints_both_arms_and_the_sweep(tmp_path: Path) -> None:
    from sseft.core.files import read_json
    from tests.core.contexthelpers import write_dialogue_store
    from tests.core.training.trainhelpers import tiny_experiment

    bench = load_bench()
    store = write_dialogue_store(tmp_path / "store")
    bench.check_store(store)
    base = tiny_experiment(
        tmp_path, store, train={"epochs": 2, "batch_size": 4, "lr": 3e-3, "num_threads": 1}
    )
    root = tmp_path / "runs"
    r = bench.measure(base, root, [0, 1], [0], window=2, windows=(0, 2), resamples=200, progress=False)
    text = bench.report(r)
    bench.write_results(tmp_path, r, text)

    assert "| no context |" in text and "| context (w2-speaker, past) |" in text
    assert "| weighted_f1 |" in text and "| accuracy |" in text
    assert "target: +1.5 weighted F1, paired t p < 0.05: " in text
    assert "| 0 (no context) |" in text and "\n| 2 | " in text
    assert r["models"]["w0"]["weighted_f1"]["n"] == 2  # the arms: over --seeds
    assert set(r["sweep"]["cells"]) == {"w0", "w2-speaker", "w2-nospeaker"}
    assert r["sweep"]["cells"]["w2-nospeaker"]["weighted_f1"]["n"] == 1  # the sweep: over --sweep-seeds
    # the sweep reused the arms' runs instead of training them again
    trained = {c: v["trained"] for c, v in r["sweep"]["runs"].items()}
    assert trained == {"w0": 0, "w2-speaker": 0, "w2-nospeaker": 1}
    assert all(row["reused"] for c in ("w0", "w2-speaker") for row in r["sweep"]["runs"][c]["rows"])
    assert {c: v["trained"] for c, v in r["runs"].items()} == {"w0": 2, "w2-speaker": 2}
    assert all(row["epoch_s"] > 0 for row in r["sweep"]["runs"]["w2-nospeaker"]["rows"])
    # each cell is the model it names
    ctx = {
        c: read_json(root / c / "protocol.json", "protocol")["experiment"]["context"]
        for c in r["sweep"]["cells"]
    }
    assert ctx["w0"] is None
    assert (ctx["w2-speaker"]["window"], ctx["w2-speaker"]["speaker"]) == (2, True)
    assert (ctx["w2-nospeaker"]["window"], ctx["w2-nospeaker"]["speaker"]) == (2, False)
    assert read_json(tmp_path / "results.json", "results")["arms"] == {"none": "w0", "context": "w2-speaker"}
    assert (tmp_path / "results.md").read_text() == text


def test_fused_cells_and_other_epochs_keep_their_own_runs_and_results() -> None:
    """A fused-turns cell never reuses a pooled cell's runs, and each measurement (turns, epochs)
    writes its own results files, so one never overwrites another."""
    bench = load_bench()
    assert bench.Cell(8, turns="fused").name == "w8-speaker-fused" != bench.Cell(8).name
    assert bench.Cell(0, turns="fused").name == "w0"  # no context: the same baseline runs
    stems = {bench.results_stem(t, e) for t in ("pooled", "fused") for e in (4, 8)}
    assert stems == {"results", "results-fused", "results-e8", "results-fused-e8"}
