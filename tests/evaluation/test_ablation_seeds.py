"""`sseft ablate CONFIG --seeds`: presets over seeds as mean ± std, each compared with full."""

from __future__ import annotations

import json
from pathlib import Path

from evalhelpers import run_cli, write_config


def test_ablate_over_seeds(grouped_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", grouped_store)
    out = tmp_path / "abl"
    args = ["--seeds", "0,1", "--only", "full", "--only", "a-only", "--output-dir", str(out)]
    r = run_cli("ablate", str(cfg), *args)
    assert r.returncode == 0, r.stderr
    assert "| full |" in r.stdout and " ± " in r.stdout and "Each preset vs full" in r.stdout
    assert "[preset 2/2] a-only" in r.stderr
    data = json.loads((out / "ablation.json").read_text())
    assert list(data["presets"]) == ["full", "a-only"] and data["seeds"] == [0, 1]
    assert data["presets"]["a-only"]["metrics"]["accuracy"]["n"] == 2
    vs = data["vs_full"]["a-only"]
    assert vs["matched"] == ["seed 0", "seed 1"] and vs["bootstrap"]["resamples"] == 10_000
    for s in (0, 1):
        assert (out / "a-only" / f"seed-{s}" / "test_predictions.jsonl").is_file()
    for ext in ("md", "csv", "tex", "png"):
        assert (out / f"ablation.{ext}").stat().st_size > 0
