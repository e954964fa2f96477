"""`sseft features info|verify|merge`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from features_util import MODS, TASK, make_items

from sseft.cli.main import cli
from sseft.core.features import FeatureStore, FeatureStoreWriter


def _store(root: Path, merge: bool = True) -> None:
    with FeatureStoreWriter(root, MODS, TASK, shard_size=4, merge_on_close=merge) as w:
        for it in make_items(12):
            w.add(it["id"], it["split"], it["features"], it["label"])
        w.record_failure("lost-item", "could not decode")


def test_info_text_and_json(tmp_path: Path) -> None:
    _store(tmp_path)
    r = CliRunner().invoke(cli, ["features", "info", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "12 items" in r.output and "split valid: 4 items" in r.output
    assert "a: dim 4" in r.output and '"source": "test"' in r.output
    assert "failures: 1 item(s) not stored" in r.output
    r = CliRunner().invoke(cli, ["features", "info", "--json", str(tmp_path)])
    s = json.loads(r.output)
    assert s["splits"]["train"]["items"] == 4 and sum(s["splits"]["train"]["labels"].values()) == 4
    assert s["splits"]["test"]["lengths"]["b"]["min"] >= 1
    assert s["modalities"]["b"]["dim"] == 3 and s["failures"]["ids"] == ["lost-item"]


def test_verify_exit_codes_and_one_line_per_problem(tmp_path: Path) -> None:
    _store(tmp_path)
    r = CliRunner().invoke(cli, ["features", "verify", str(tmp_path)])
    assert r.exit_code == 0 and r.output.startswith("ok:")
    files = FeatureStore.open(tmp_path).shard_files
    for f in files[:2]:
        p = tmp_path / f
        data = bytearray(p.read_bytes())
        data[-1] ^= 1
        p.write_bytes(bytes(data))
    r = CliRunner().invoke(cli, ["features", "verify", str(tmp_path)])
    assert r.exit_code == 1
    lines = [x for x in r.stdout.splitlines() if x]
    assert len(lines) == 2 and all("sha256" in x for x in lines)
    r = CliRunner().invoke(cli, ["features", "verify", "--no-checksums", str(tmp_path)])
    assert r.exit_code == 0


def test_merge_and_clear_errors(tmp_path: Path) -> None:
    _store(tmp_path, merge=False)
    r = CliRunner().invoke(cli, ["features", "info", str(tmp_path)])
    assert r.exit_code == 2 and "index.json not found" in r.output and "features merge" in r.output
    r = CliRunner().invoke(cli, ["features", "merge", str(tmp_path)])
    assert r.exit_code == 0 and "index.json" in r.output
    assert CliRunner().invoke(cli, ["features", "verify", str(tmp_path)]).exit_code == 0
    r = CliRunner().invoke(cli, ["features", "verify", str(tmp_path / "missing")])
    assert r.exit_code == 2 and "feature store directory not found" in r.output


def test_data_check_of_an_experiment_config_verifies_its_store(tmp_path: Path) -> None:
    _store(tmp_path / "features" / "s")
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("data:\n  store: features/s\n")  # relative to the config's folder
    r = CliRunner().invoke(cli, ["data", "check", str(cfg)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == f"store {tmp_path / 'features' / 's'}: multiclass over x, y, z"
    assert lines[1] == "modalities: a (4-d), b (3-d)" and lines[-1] == "ok"
    assert [ln.split() for ln in lines[2:5]] == [["train", "4"], ["valid", "4"], ["test", "4"]]
    shard = sorted((tmp_path / "features" / "s" / "shards").rglob("*.safetensors"))[0]
    shard.write_bytes(shard.read_bytes()[:-8])  # truncated shard: verify names it
    r = CliRunner().invoke(cli, ["data", "check", "--json", str(cfg)])
    out = json.loads(r.output)
    assert r.exit_code == 1 and out["splits"] == {"train": 4, "valid": 4, "test": 4}
    assert out["problems"] and shard.name in " ".join(out["problems"])
