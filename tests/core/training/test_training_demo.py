"""`sseft demo` end to end (on a shrunken synthetic set) and the config it ships with."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from sseft.cli.main import cli

REPO = Path(__file__).resolve().parents[3]


def test_packaged_demo_config_is_configs_synthetic_yaml() -> None:
    packaged = resources.files("sseft.core.training").joinpath("synthetic.yaml").read_text(encoding="utf-8")
    assert packaged == (REPO / "configs" / "synthetic.yaml").read_text(encoding="utf-8")


def test_demo_config_is_valid_and_three_modal() -> None:
    from sseft.core.training.experiment import load_experiment

    cfg = load_experiment(REPO / "configs" / "synthetic.yaml")
    assert cfg.modalities == ["text", "speech", "face"]
    assert cfg.data.synthetic is not None and cfg.fusion.ima and cfg.fusion.reduce == "hadamard"


@pytest.mark.slow
def test_demo_trains_publishes_and_loads_back_by_name(tmp_path: Path) -> None:
    small = [
        "train.epochs=2", "data.synthetic.n_train=64", "data.synthetic.n_valid=16", "data.synthetic.n_test=20",
    ]  # fmt: skip
    args = ["demo", "--name", "demo-test", "--output-dir", str(tmp_path / "demo")]
    for s in small:
        args += ["--set", s]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    assert "published demo-test@1" in res.output
    assert "loaded from the registry" in res.output
    assert (tmp_path / "demo" / "features" / "index.json").is_file()
    import sseft

    model = sseft.load("demo-test")
    assert model.modality_names == ["text", "speech", "face"]
