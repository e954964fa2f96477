"""`sseft data make-demo-clips`: the offline quickstart's raw material."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sseft.cli.main import cli
from sseft.core.config import validate
from sseft.core.errors import DataError


def test_clips_manifest_experiment_and_encoder(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    r = CliRunner().invoke(cli, ["data", "make-demo-clips", str(out), "--items", "8"])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("wrote 8 clips")
    with open(out / "items.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["id", "split", "label", "text", "speech", "face", "dialogue", "turn", "speaker"]
    # dialogues never cross a split; turns count from 0 within each
    assert {(r["dialogue"], r["split"]) for r in rows} == {(f"d0-{s}", s) for s in ("train", "valid", "test")}
    assert [r["turn"] for r in rows] == ["0", "1", "2", "3", "0", "1", "0", "1"]
    by_split = Counter((row["split"], row["label"]) for row in rows)
    assert by_split == {
        (s, lab): n for s, n in [("train", 2), ("valid", 1), ("test", 1)] for lab in ("positive", "negative")
    }
    for row in rows:  # paths relative to the manifest, files that decode
        assert (out / row["speech"]).is_file() and (out / row["face"]).is_file()
    import av
    import soundfile as sf

    with av.open(str(out / rows[0]["face"])) as c:
        assert len(c.streams.video) == 1 and len(c.streams.audio) == 1
        frames = list(c.decode(video=0))
    assert frames and frames[0].width == 96 and frames[0].height == 64
    audio, sr = sf.read(str(out / rows[0]["speech"]))
    assert sr == 16000 and len(audio) == 16000
    from sseft.core.training.config import ExperimentConfig

    cfg = validate(ExperimentConfig, yaml.safe_load((out / "experiment.yaml").read_text()))
    assert cfg.data.store == "features"
    ctx = validate(ExperimentConfig, yaml.safe_load((out / "experiment-context.yaml").read_text()))
    assert ctx.data.store == "features" and ctx.context is not None and ctx.context.window > 0
    from sseft.core.inference.conversation import read_conversation

    assert len(read_conversation(out / "conversation.jsonl")) >= 4
    from transformers import AutoConfig

    assert AutoConfig.from_pretrained(out / "speech-encoder").model_type == "wav2vec2"


def test_refuses_a_used_directory_and_too_few_items(tmp_path: Path) -> None:
    from sseft.plugins.datasets.demo_clips import make_demo_clips

    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "x").write_text("")
    with pytest.raises(DataError, match="already exists and is not empty"):
        make_demo_clips(tmp_path / "used")
    with pytest.raises(DataError, match="need at least 8"):
        make_demo_clips(tmp_path / "new", n_items=3)
    assert not (tmp_path / "new").exists()
