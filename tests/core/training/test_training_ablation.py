"""The core acceptance: on the 3-modality synthetic data, SSE-FT clearly beats every unimodal model
and the no-IMA ablation on test (the label is a product of cue signs across modalities)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.slow
def test_sseft_beats_unimodal_and_no_ima(tmp_path: Path) -> None:
    from sseft.core.experiment import ExperimentOptions, run_experiment
    from sseft.core.training.experiment import load_experiment

    cfg = load_experiment(REPO / "configs" / "synthetic.yaml", [f"data.store={tmp_path / 'store'}"])
    presets = ["full", "text-only", "speech-only", "face-only", "no-ima"]
    opts = ExperimentOptions(ablate=True, only=presets, progress=False)
    table = run_experiment(cfg, tmp_path / "abl", opts).report
    assert table is not None and all(p in table for p in presets)
    runs = json.loads((tmp_path / "abl" / "ablation.json").read_text())["runs"]
    assert list(runs) == presets  # the full model heads the table
    acc = {name: r["test"]["accuracy"] for name, r in runs.items()}
    assert all(r["test"]["n_items"] == 300 for r in runs.values())
    others = max(v for k, v in acc.items() if k != "full")
    # 4 balanced classes: chance is 0.25; one learned sign product alone gives 0.5.
    assert acc["full"] >= others + 0.15, acc
    assert (tmp_path / "abl" / "ablation.md").read_text().count("|") > 10
