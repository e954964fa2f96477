"""One store, two label sets: `data.labels` picks the set at training time (no re-extraction), the
model, its predictions and `sseft evaluate --labels` follow that set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from trainhelpers import tiny_experiment

from sseft.cli.main import cli
from sseft.core.training.trainer import train

EMOTIONS = ("anger", "joy", "neutral")
SENTIMENTS = ("negative", "positive")


@pytest.fixture
def two_sets(tmp_path: Path) -> Path:
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    task = TaskInfo.several(
        "emotion",
        {"emotion": TaskInfo("multiclass", EMOTIONS), "sentiment": TaskInfo("multiclass", SENTIMENTS)},
    )
    infos = {"a": ModalityInfo(dim=8, max_len=16, fingerprint={"source": "t"})}
    g = torch.Generator().manual_seed(0)
    root = tmp_path / "store"
    with FeatureStoreWriter(root, infos, task) as w:
        for split, n in (("train", 24), ("valid", 8), ("test", 8)):
            for i in range(n):
                feats = {"a": torch.randn(4, 8, generator=g)}
                w.add(f"{split}-{i}", split, feats, None, labels={"emotion": i % 3, "sentiment": i % 2})
    return root


def test_training_on_the_second_label_set(two_sets: Path, tmp_path: Path) -> None:
    cfg = tiny_experiment(tmp_path, two_sets, data={"store": str(two_sets), "labels": "sentiment"})
    res = train(cfg, tmp_path / "run", progress=False, plots=False)
    assert res.model.label_names == list(SENTIMENTS)
    rows = [json.loads(x) for x in (tmp_path / "run" / "test_predictions.jsonl").read_text().splitlines()]
    assert [r["truth"] for r in rows] == [i % 2 for i in range(8)]
    assert all(r["label"] in SENTIMENTS and len(r["outputs"]) == 2 for r in rows)

    import sseft

    sseft.save(res.model, tmp_path / "model")
    ok = CliRunner().invoke(
        cli, ["evaluate", str(tmp_path / "model"), "--data", str(two_sets), "--labels", "sentiment", "--json"]
    )
    assert ok.exit_code == 0 and json.loads(ok.output)["accuracy"] == res.test_metrics["accuracy"], ok.output
    bad = CliRunner().invoke(
        cli, ["evaluate", str(tmp_path / "model"), "--data", str(two_sets)]
    )  # default: emotion
    assert bad.exit_code == 2 and "['anger', 'joy', 'neutral']" in bad.output, bad.output


def test_unknown_label_set_is_one_line(two_sets: Path, tmp_path: Path) -> None:
    from sseft.core.errors import SseftError

    cfg = tiny_experiment(tmp_path, two_sets, data={"store": str(two_sets), "labels": "arousal"})
    with pytest.raises(SseftError, match="arousal"):
        train(cfg, tmp_path / "run", progress=False, plots=False)
    assert not (tmp_path / "run").exists()
