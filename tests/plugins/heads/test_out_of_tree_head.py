"""Shown: a head with a task type sseft does not know (ordinal regression over 5 levels), from
a package outside the tree (tests/fixtures/sseft-ordinal), found through its `sseft` entry point,
trains on a tiny store, publishes, loads, predicts and evaluates; core, registry and CLI unchanged.

The package is pip-installed (a real wheel, real dist-info and entry point) into a temporary
directory that only the subprocesses see (PYTHONPATH): the shared environment is never modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from sseft.core.features import FeatureStoreWriter, ModalityInfo
from sseft.core.protocols import TaskInfo

REPO = Path(__file__).resolve().parents[3]
PKG = REPO / "tests" / "fixtures" / "sseft-ordinal"
LEVELS = ("very_low", "low", "mid", "high", "very_high")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """pip install the package into a private target directory (a copy of the source is built, so
    no build/ or egg-info lands in the repository)."""
    tmp = tmp_path_factory.mktemp("ordinal")
    src, target = tmp / "src", tmp / "site"
    shutil.copytree(PKG, src)
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    eps = next(target.glob("sseft_ordinal-0.1.0.dist-info")) / "entry_points.txt"
    assert "ordinal = sseft_ordinal" in eps.read_text()
    return target


def run(site: Path, home: Path, *args: str, code: str | None = None) -> subprocess.CompletedProcess[str]:
    """`sseft ARGS` (or `python -c CODE`) with the package on PYTHONPATH and a private registry."""
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "SSEFT_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sseft", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


def write_store(root: Path, n: int = 90) -> None:
    """Two modalities; modality `a` carries the level as a pattern (a bump on feature `level`: a
    shift of every feature would vanish in the fusion's LayerNorm), so a tiny model can learn it."""
    g = torch.Generator().manual_seed(0)
    mods = {"a": ModalityInfo(dim=8, fingerprint={"source": "test"}), "b": ModalityInfo(dim=4)}
    with FeatureStoreWriter(root, mods, TaskInfo("ordinal", LEVELS)) as w:
        for i in range(n):
            level = i % 5
            split = ("train", "train", "train", "valid", "test")[(i // 5) % 5]
            a = torch.randn(3 + i % 4, 8, generator=g) * 0.3
            a[:, level] += 3.0
            b = torch.randn(2, 4, generator=g)
            assert w.add(f"u{i:03d}", split, {"a": a, "b": b}, level)


def test_a_new_task_through_the_entry_point(site: Path, tmp_path: Path) -> None:
    from sseft.core.plugins import get_manager

    assert "ordinal" not in get_manager().names("head")  # the shared environment does not have it
    home = tmp_path / "home"
    res = run(site, home, "plugins")
    assert res.returncode == 0 and "sseft-ordinal 0.1.0" in res.stdout, res.stdout + res.stderr

    write_store(tmp_path / "store")
    cfg = {
        "name": "ordinal-demo",
        "data": {"store": str(tmp_path / "store")},
        "fusion": {"n_self": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        "head": {"name": "ordinal"},
        "train": {"epochs": 25, "batch_size": 9, "lr": 0.003, "seed": 0, "num_threads": 1},
    }
    (tmp_path / "exp.yaml").write_text(json.dumps(cfg))
    res = run(site, home, "train", str(tmp_path / "exp.yaml"), "--output-dir", str(tmp_path / "run"),
              "--register", "ordinal-demo")  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "registered: ordinal-demo@1" in res.stdout
    run_dir = tmp_path / "run"
    rows = [json.loads(x) for x in (run_dir / "test_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 15 and {"id", "label", "level", "expected_level"} <= set(rows[0])
    assert (run_dir / "levels.png").is_file()  # the head's own picture (`report`)
    test = json.loads((run_dir / "test_metrics.json").read_text())
    assert test["qwk"] > 0.8 and test["mae_levels"] < 0.5, test

    res = run(site, home, "evaluate", "ordinal-demo", "--data", str(tmp_path / "store"), "--json")
    assert res.returncode == 0, res.stderr[-3000:]
    again = json.loads(res.stdout)
    assert again["qwk"] == pytest.approx(test["qwk"]) and again["n"] == 15

    code = textwrap.dedent(
        f"""
        import json, sseft
        from sseft.core.features import FeatureStore
        from sseft.core.inference.prediction import csv_columns
        m = sseft.load("ordinal-demo")
        store = FeatureStore.open({str(tmp_path / "store")!r})
        ids = store.ids("test")
        preds = m.predict_features([store.get(i) for i in ids])
        print(json.dumps({{
            "task": m.config.task, "label_names": m.label_names,
            "preds": [p.to_dict() for p in preds], "rows": [p.csv_row() for p in preds],
            "columns": csv_columns(m.head), "summary": preds[0].summary(),
            "truth": store.labels("test"),
        }}))
        """
    )
    res = run(site, home, code=code)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout)
    assert out["task"] == "ordinal" and out["label_names"] == list(LEVELS)
    assert out["columns"] == ["id", "prediction", "level", "expected_level", "modalities_used", "missing"]
    assert all(list(r) == out["columns"] for r in out["rows"])
    assert out["summary"].startswith("level ")
    levels = [p["level"] for p in out["preds"]]
    assert [p["label"] for p in out["preds"]] == [LEVELS[k] for k in levels]
    hits = sum(a == b for a, b in zip(levels, out["truth"], strict=True))
    assert hits >= 10  # learnt: chance would be 3 of 15
