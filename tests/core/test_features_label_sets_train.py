"""Label sets end to end: a MELD-like store extracted ONCE (emotion and sentiment label sets) trains an
emotion model and a sentiment model (`data.labels`), and the store is not touched in between."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
import torch

from sseft.core.errors import SseftError
from sseft.core.features import FeatureStore, FeatureStoreWriter, ModalityInfo
from sseft.core.protocols import TaskInfo

os.environ.setdefault("OMP_NUM_THREADS", "1")
EMOTIONS = ("neutral", "joy", "anger", "sadness")
SENTIMENTS = ("negative", "neutral", "positive")


def meld_like_store(root: Path) -> Path:
    """Emotion shows in modality `a` (a bump on feature e), sentiment in `b` (a bump on feature s)."""
    g = torch.Generator().manual_seed(0)
    task = TaskInfo.several(
        "emotion",
        {"emotion": TaskInfo("multiclass", EMOTIONS), "sentiment": TaskInfo("multiclass", SENTIMENTS)},
    )
    mods = {"a": ModalityInfo(dim=6, fingerprint={"source": "test"}), "b": ModalityInfo(dim=4)}
    with FeatureStoreWriter(root, mods, task, shard_size=8) as w:
        for i in range(72):
            e, s = i % 4, (i // 4) % 3
            a = torch.randn(3 + i % 3, 6, generator=g) * 0.3
            b = torch.randn(2 + i % 2, 4, generator=g) * 0.3
            a[:, e] += 3.0
            b[:, s] += 3.0
            split = ("train", "train", "train", "train", "valid", "test")[i // 12]  # 12 = every (e, s) once
            assert w.add(
                f"d{i // 6}_u{i % 6}", split, {"a": a, "b": b}, None, labels={"emotion": e, "sentiment": s}
            )
    return root


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock")
    }


def config(store: Path, labels: str | None) -> object:
    from sseft.core.training.config import ExperimentConfig

    return ExperimentConfig.model_validate(
        {
            "name": f"meld-{labels}",
            "data": {"store": str(store), "labels": labels},
            "fusion": {
                "n_self": 1,
                "n_ima": 1,
                "heads": 2,
                "ffn_dim": 16,
                "dropout": 0.0,
                "attn_dropout": 0.0,
            },
            "head": {"name": "multiclass", "config": {"primary_metric": "accuracy"}},
            "train": {"epochs": 25, "batch_size": 8, "lr": 1e-2, "seed": 0, "num_threads": 1},
        }
    )


def test_one_extraction_trains_emotion_and_sentiment(tmp_path: Path) -> None:
    from sseft.core.training.trainer import train

    store = meld_like_store(tmp_path / "store")
    before = files(store)
    fs = FeatureStore.open(store)
    results = {}
    for labels, names in (("emotion", EMOTIONS), ("sentiment", SENTIMENTS)):
        res = train(config(store, labels), tmp_path / labels, progress=False, plots=False)
        mcfg = json.loads((tmp_path / labels / "model_config.json").read_text())
        assert mcfg["label_names"] == list(names) and res.model.head.out_proj.out_features == len(names)
        rows = [
            json.loads(x) for x in (tmp_path / labels / "test_predictions.jsonl").read_text().splitlines()
        ]
        truth = dict(zip(fs.ids("test"), fs.labels("test", labels), strict=True))
        assert {r["id"]: r["truth"] for r in rows} == truth and {r["label"] for r in rows} <= set(names)
        results[labels] = res.test_metrics
    assert files(store) == before  # nothing re-extracted, nothing rewritten
    # Each model learnt its own label set (chance: 1/4 and 1/3).
    assert results["emotion"]["accuracy"] >= 0.6 and results["sentiment"]["accuracy"] >= 0.6, results


def test_unknown_label_set_is_one_clear_error(tmp_path: Path) -> None:
    from sseft.core.training.trainer import train

    store = meld_like_store(tmp_path / "store")
    with pytest.raises(SseftError, match="no label set 'speaker'.*emotion, sentiment"):
        train(config(store, "speaker"), tmp_path / "run", progress=False, plots=False)
