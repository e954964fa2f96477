"""Bad input to `sseft train`: one clear error line each, exit code 2, no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from safetensors.torch import load_file, save_file
from trainhelpers import write_config

from sseft.cli.main import cli


def run_train(cfg: Path, *args: str):
    return CliRunner().invoke(cli, ["train", str(cfg), "--no-export", *args])


def assert_one_line_error(res, *needles: str) -> str:
    assert res.exit_code == 2, res.output
    err = res.output.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    for n in needles:
        assert n in err, err
    return err


def test_store_dims_disagree_with_config(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, modalities=[{"name": "a", "dim": 99}, "b"])
    assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), "'a'", "dim 8", "99")


def test_modality_missing_from_store(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, modalities=["a", "speech"])
    assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), "'speech'", "modalities")


def test_missing_split(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, data={"store": str(tiny_store), "valid_split": "dev"})
    err = assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), "'dev'", "valid_split")
    assert "train" in err and "test" in err  # says which splits exist


def test_missing_store(tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tmp_path / "nowhere")
    assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), "nowhere")


def test_nan_features(tiny_store: Path, tmp_path: Path) -> None:
    # The writer refuses NaN, so corrupt a finished shard the way a faulty tool or disk would.
    index = json.loads((tiny_store / "index.json").read_text())
    shard = next(s for s in index["shards"] if s["split"] == "train")
    path = tiny_store / shard["file"]
    tensors = load_file(str(path))
    key = sorted(tensors)[0]  # "<pos>/<modality>"
    tensors[key][0, 0] = float("nan")
    save_file(tensors, str(path), {"format": "pt"})
    bad_id = shard["ids"][int(key.split("/")[0])]
    cfg = write_config(tmp_path / "c.yaml", tiny_store)
    assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), bad_id, "NaN")


@pytest.mark.parametrize("bad", [7, -1, 1.5])
def test_label_outside_head_range(tiny_store: Path, tmp_path: Path, bad: float) -> None:
    index = json.loads((tiny_store / "index.json").read_text())
    index["splits"]["valid"]["labels"][2] = bad
    (tiny_store / "index.json").write_text(json.dumps(index))
    cfg = write_config(tmp_path / "c.yaml", tiny_store)
    assert_one_line_error(
        run_train(cfg, "--output-dir", str(tmp_path / "run")), "'valid'", "item 2", str(bad)
    )


def test_config_typo_is_one_line(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, train={"epochs": 1, "batchsize": 4})
    assert_one_line_error(run_train(cfg), "train.batchsize", "unknown field")


def test_nothing_written_before_checks_pass(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, data={"store": str(tiny_store), "test_split": "eval"})
    assert_one_line_error(run_train(cfg, "--output-dir", str(tmp_path / "run")), "'eval'")
    assert not (tmp_path / "run").exists()
