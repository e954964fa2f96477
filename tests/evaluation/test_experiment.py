"""The one experiment runner (core/experiment/runner.py): a plain run trains once into its run
directory and publishes through the registry it is handed; a repeated one refuses to publish; the
CLI commands only parse, call the runner and print."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from evalhelpers import write_config

from sseft.core.errors import ConfigError
from sseft.core.experiment import ExperimentOptions, run_experiment
from sseft.core.training.experiment import load_experiment

REPO = Path(__file__).resolve().parents[2]


class FakeRegistry:
    """Records what the runner asks of the registry (registry/api.py's save and publish)."""

    def __init__(self) -> None:
        self.saved: list[Path] = []
        self.published: list[tuple[Path, str]] = []

    def save(self, model: Any, directory: Any, metrics: Any = None, training: Any = None, *,
             overwrite: bool = False) -> Path:  # fmt: skip
        assert metrics["test"]["accuracy"] >= 0.0 and training["experiment"] == "tiny"
        p = Path(directory)
        p.mkdir(parents=True, exist_ok=True)
        self.saved.append(p)
        return p

    def publish(self, source: Any, name: str, metrics: Any = None, training: Any = None) -> str:
        self.published.append((Path(source), name))
        return f"{name}@1"


def test_a_plain_run_trains_once_and_publishes_through_the_registry(
    grouped_store: Path, tmp_path: Path
) -> None:
    cfg = load_experiment(write_config(tmp_path / "c.yaml", grouped_store))
    out = tmp_path / "run"
    reg = FakeRegistry()
    res = run_experiment(cfg, out, ExperimentOptions(register="mine", progress=False), registry=reg)
    assert (out / "test_metrics.json").is_file() and not list(out.glob("seed-*"))  # one run, no protocol
    assert reg.saved == [out / "model"] and reg.published == [(out / "model", "mine")]
    assert res.report.startswith(f"run: {out}") and res.report.endswith("registered: mine@1\n")
    assert list(res.runs) == [""] and res.runs[""].output_dir == out
    # Without a registry (the Python API) nothing is exported.
    again = run_experiment(cfg, tmp_path / "bare", ExperimentOptions(progress=False))
    assert "model:" not in again.report and not (tmp_path / "bare" / "model").exists()


def test_a_repeated_experiment_refuses_to_publish_before_training(
    grouped_store: Path, tmp_path: Path
) -> None:
    cfg = load_experiment(write_config(tmp_path / "c.yaml", grouped_store))
    with pytest.raises(ConfigError, match="--register: a multi-seed/fold protocol"):
        run_experiment(cfg, tmp_path / "run", ExperimentOptions(seeds=[0, 1], register="mine"))
    assert not (tmp_path / "run").exists()


def test_the_experiment_commands_hold_no_pipeline_and_no_publishing() -> None:
    """sseft/cli/train.py reaches training only through core/experiment (no trainer, no evaluation
    package, no registry save/publish of its own)."""
    tree = ast.parse((REPO / "sseft" / "cli" / "train.py").read_text(encoding="utf-8"))
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    core = {m for m in modules if m.startswith("sseft.core.")}
    assert core <= {
        "sseft.core.experiment.plan",
        "sseft.core.experiment.runner",
        "sseft.core.training.experiment",  # reading the config file
        "sseft.core.training.run_eval",  # `sseft evaluate`
        "sseft.core.training.evaluate",
        "sseft.core.training.report",
    }, core
    called = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    assert not called & {"publish", "save"}, called & {"publish", "save"}
