"""The out-of-tree fusion (examples/sseft-fusion-gated): one file and one entry point. pip-installed
into a temporary folder (never into the shared environment), it is listed by `sseft plugins`, gets
the fusion contract tests, and trains from the CLI with no change to sseft."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PKG = REPO / "examples" / "sseft-fusion-gated"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """PYTHONPATH with a real `pip install` of a copy of the example in a temporary target first."""
    src = tmp_path_factory.mktemp("src") / "sseft-fusion-gated"
    shutil.copytree(PKG, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index",
         "--target", str(target), str(src)],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    path = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def _sseft(env: dict[str, str], *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sseft", *args], capture_output=True, text=True, env=env, timeout=300, cwd=cwd
    )


def test_the_example_is_one_file_and_one_entry_point() -> None:
    files = sorted(p.name for p in PKG.iterdir() if p.name not in ("build", "__pycache__"))
    assert files == ["README.md", "pyproject.toml", "sseft_fusion_gated.py"]
    assert 'gated = "sseft_fusion_gated"' in (PKG / "pyproject.toml").read_text()


def test_listed_and_shown(env: dict[str, str]) -> None:
    res = _sseft(env, "plugins")
    assert res.returncode == 0, res.stderr
    assert "gated        sseft-fusion-gated 0.1.0  [ok]  (sseft_fusion_gated)" in res.stdout
    assert "    fusions     gated" in res.stdout
    assert "    fusions     sseft, late-fusion, concat-pool, tfn, lmf, mult" in res.stdout  # the built-ins
    show = _sseft(env, "plugins", "show", "gated")
    assert show.returncode == 0, show.stderr
    assert "fusion gated  (package sseft-fusion-gated" in show.stdout and "dim " in show.stdout


def test_it_gets_the_contract_tests(env: dict[str, str]) -> None:
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-k", "gated",
         str(REPO / "tests" / "contract" / "test_fusion_contract.py")],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout[-3000:]
    # 4 modality counts + 5 contract checks, all for `gated` (-v's per-test lines are off in this config)
    assert "9 passed, 55 deselected" in res.stdout or " 9 passed" in res.stdout, res.stdout[-3000:]


def test_it_trains_from_the_cli(env: dict[str, str], tmp_path: Path) -> None:
    cfg = tmp_path / "gated.yaml"
    cfg.write_text(
        "name: gated-demo\n"
        f"output_dir: {tmp_path / 'run'}\n"
        f"data:\n  store: {tmp_path / 'store'}\n  synthetic:\n    n_train: 48\n    n_valid: 16\n    n_test: 16\n"
        "    modalities:\n      - {name: a, dim: 6, min_len: 2, max_len: 5}\n"
        "      - {name: b, dim: 4, min_len: 2, max_len: 5}\n"
        "fusion: {name: gated, dim: 8, dropout: 0.0}\n"
        "head: {name: multiclass}\n"
        "train: {epochs: 2, batch_size: 16, lr: 1.0e-3, num_threads: 1}\n"
    )
    res = _sseft(env, "train", str(cfg), cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    recorded = [json.loads(p.read_text()) for p in (tmp_path / "run").rglob("config.json")]
    fusions = [r["model"]["fusion"] for r in recorded if "model" in r]
    assert fusions and all(f == {"name": "gated", "dim": 8, "dropout": 0.0} for f in fusions)
    assert any(
        r.get("plugins", {}).get("fusion:gated", "").startswith("sseft-fusion-gated 0.1.0") for r in recorded
    )
