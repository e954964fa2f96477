"""`sseft models ...` end to end (in-process through click, plus one fresh interpreter for imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from regtools import make_model

import sseft
from sseft.cli.main import cli


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, ["models", *args], input=input)


@pytest.fixture
def art(engine, tmp_path: Path) -> Path:
    return sseft.save(
        make_model(engine, "multiclass", 2), tmp_path / "My-Model", metrics={"weighted_f1": 0.61}
    )


def test_cli_lifecycle(art: Path, tmp_path: Path) -> None:
    r = run("publish", str(art), "meld")
    assert r.exit_code == 0 and "published meld@1" in r.output
    assert run("import", str(art)).output.strip().endswith("as my-model@1")  # name from the directory
    assert "meld@2" in run("import", str(art), "meld").output
    r = run("tag", "meld@1", "prod")
    assert r.exit_code == 0 and "meld@prod -> meld@1" in r.output
    r = run("list")
    assert r.exit_code == 0 and "meld@1" in r.output and "prod" in r.output and "weighted_f1=0.61" in r.output
    listed = json.loads(run("list", "meld", "--json").output)
    assert [(e["ref"], e["aliases"], e["latest"]) for e in listed] == [
        ("meld@1", ["prod"], False),
        ("meld@2", [], True),
    ]
    r = run("show", "meld@prod")
    assert r.exit_code == 0 and "meld@1" in r.output and "neutral, joy, anger" in r.output
    assert json.loads(run("show", "meld", "--json").output)["config"]["model"]["task"] == "multiclass"
    r = run("export", "meld@prod", str(tmp_path / "exported"))
    assert r.exit_code == 0 and sseft.load(tmp_path / "exported").label_names == ["neutral", "joy", "anger"]
    r = run("verify")
    assert r.exit_code == 0 and r.output.count("ok ") == 3
    r = run("rm", "meld@prod")
    assert "removed meld@prod" in r.output
    assert run("rm", "meld", input="n\n").exit_code != 0  # asks first
    r = run("rm", "meld", "--yes")
    assert "removed meld@1" in r.output and "removed meld@2" in r.output
    assert "no models match" in run("list", "meld").output
    assert run("gc").exit_code == 0


def test_cli_errors_are_one_line(art: Path) -> None:
    r = run("publish", str(art), "../evil")
    assert r.exit_code == 2 and "invalid model name '../evil'" in r.output
    for args in (["publish", str(art), "evil\n"], ["rm", "evil\n", "--yes"], ["tag", "m", "prod\n"]):
        r = run(*args)
        assert r.exit_code == 2 and r.output.count("\n") == 1 and "invalid" in r.output, (args, r.output)
    assert not (Path(os.environ["SSEFT_HOME"]) / "models").exists()
    r = run("show", "nothing-here")
    assert r.exit_code == 2 and "unknown model 'nothing-here'" in r.output
    run("publish", str(art), "m")
    weights = Path(sseft.list_models("m")[0].path) / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1])
    r = run("verify", "m")
    assert r.exit_code == 2 and "FAIL m@1" in r.output and "model.safetensors" in r.output
    assert "1 of 1 artifacts failed verification" in r.output


def test_cli_module_does_not_import_torch() -> None:
    code = "import sys, sseft.cli.models; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nested_metrics_are_listed_and_in_the_model_card(engine, tmp_path: Path) -> None:
    """What training records: metrics grouped by split ({"test": {...}})."""
    metrics = {"test": {"accuracy": 0.875, "weighted_f1": 0.8612, "n": 8}, "valid": {"accuracy": 0.5}}
    art = sseft.save(make_model(engine, "multiclass", 2), tmp_path / "nested", metrics=metrics)
    card = (art / "README.md").read_text()
    assert "| test | accuracy | 0.875 |" in card and "| test | weighted_f1 | 0.8612 |" in card
    assert "| valid | accuracy | 0.5 |" in card and "| test | n | 8 |" in card
    run("publish", str(art), "nested")
    row = next(x for x in run("list").output.splitlines() if x.startswith("nested@1"))
    assert "accuracy=0.875 weighted_f1=0.8612 valid.accuracy=0.5" in row, row
    assert "metric      test.accuracy = 0.875" in run("show", "nested").output
