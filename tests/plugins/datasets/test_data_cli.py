"""`sseft data check|info` and the ready experiment configs in configs/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import MELD_DIR, write_wav

from sseft.cli.main import cli

REPO = Path(__file__).resolve().parents[3]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def test_check_manifest_reports_and_exit_codes(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav")
    m = tmp_path / "m.csv"
    m.write_text(
        "id,split,label,text,speech\nu1,train,pos,hi,a.wav\nu2,dev,neg,yo,b.wav\nu1,test,neg,x,a.wav\n"
    )
    res = invoke("data", "check", str(m), "--set", "missing_media=partial")
    assert res.exit_code == 1
    out = res.output
    assert "duplicate ids (1):" in out and "u1 (m.csv line 2, m.csv line 4)" in out
    assert "u2: speech file" in out and "b.wav not found" in out
    assert "train" in out and "NOT OK" in out
    m.write_text("id,split,label,text,speech\nu1,train,pos,hi,a.wav\nu2,dev,neg,yo,a.wav\n")
    res = invoke("data", "check", str(m), "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["counts"] == {"train": {"pos": 1}, "valid": {"neg": 1}}
    assert rep["coverage"]["valid"] == {"speech": 1, "text": 1} and rep["ok"]
    assert rep["missing_policy"] == "error"  # the manifest default: a missing file would stop the job


def test_check_dataset_config_with_relative_root(tmp_path: Path) -> None:
    data = tmp_path / "corpus"
    data.mkdir()
    (data / "label.csv").write_text(
        "video_id,clip_id,text,label,mode\nv,1,hello,1.5,train\nv,2,bye,-0.5,test\n"
    )
    cfg = tmp_path / "mosi.yaml"
    cfg.write_text(yaml.safe_dump({"dataset": "mosi", "root": "corpus", "modalities": ["text"]}))
    res = invoke("data", "check", str(cfg))
    assert res.exit_code == 0, res.output
    assert "regression over sentiment" in res.output and "~+2 1" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"dataset": "mosi", "root": "corpus", "labls": "x"}))
    res = invoke("data", "check", str(bad))
    assert res.exit_code == 2 and "labls: unknown field" in res.output
    res = invoke("data", "check", str(tmp_path / "nothing.yaml"))
    assert res.exit_code == 2 and "config file not found" in res.output


def test_info_unknown_dataset_and_bad_root(tmp_path: Path) -> None:
    res = invoke("data", "info", "meldd", "--root", str(tmp_path))
    assert res.exit_code == 2 and "did you mean 'meld'" in res.output
    res = invoke("data", "info", "iemocap", "--root", str(tmp_path / "nope"))
    assert res.exit_code == 2 and "IEMOCAP root folder not found" in res.output


@pytest.mark.skipif(
    not (MELD_DIR / "train_sent_emo.csv").is_file(), reason=f"real MELD CSVs not found in {MELD_DIR}"
)
def test_info_real_meld() -> None:
    res = invoke("data", "info", "meld", "--root", str(MELD_DIR), "--set", "labels=sentiment", "--json")
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert rep["counts"]["train"] == {"negative": 2945, "neutral": 4710, "positive": 2334}
    assert rep["coverage"]["valid"] == {"text": 1109}  # no clips in the shared folder: kept text-only
    assert any("test_sent_emo.csv not found" in n for n in rep["notes"])


@pytest.mark.parametrize("name", ["meld-emotion", "meld-sentiment", "iemocap", "mosi", "mosei"])
def test_ready_configs_validate(name: str) -> None:
    from sseft.core.config import load_config
    from sseft.core.plugins import get_head
    from sseft.core.training.config import ExperimentConfig

    path = REPO / "configs" / f"{name}.yaml"
    cfg = load_config(ExperimentConfig, path)
    head = get_head(cfg.head.name)
    head.config_model.model_validate(cfg.head.config)
    expected = {"meld-emotion": "multiclass", "meld-sentiment": "multiclass", "iemocap": "multilabel",
                "mosi": "regression", "mosei": "regression"}[name]  # fmt: skip
    assert head.task == expected
    assert "sseft extract" in path.read_text()  # says which command produces its store
    # pointing `data check` at it checks the store, with a clear error while it does not exist
    if not (path.parent / cfg.data.store).exists():
        res = invoke("data", "check", str(path))
        assert res.exit_code == 2 and "does not exist yet" in res.output
