"""Shared test fixtures: offline mode, a private registry home, fake plugin distributions."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own registry root, so nothing touches the user's cache."""
    monkeypatch.setenv("SSEFT_HOME", str(tmp_path_factory.mktemp("sseft_home")))
    monkeypatch.delenv("SSEFT_PLUGINS", raising=False)
    monkeypatch.delenv("SSEFT_STRICT_PLUGINS", raising=False)


def make_fake_distribution(
    root: Path, dist: str, modules: dict[str, str], entry_points: dict[str, str]
) -> Path:
    """Write an installed-looking distribution (dist-info + modules) under `root`; add `root` to
    PYTHONPATH and importlib.metadata sees its `sseft` entry points exactly as for a pip-installed plugin."""
    root.mkdir(parents=True, exist_ok=True)
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"  # wheel-normalised name
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    eps = "[sseft]\n" + "".join(f"{k} = {v}\n" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(eps)
    for name, src in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(src))
    return root


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `python -m sseft ARGS` in a fresh interpreter (entry points, env vars and imports as a user sees them)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "sseft", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
