"""Label sets: one extraction keeps every label set of a corpus; the set is chosen when reading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from features_util import MODS, TASK, make_items
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.errors import FeatureStoreError
from sseft.core.features import FeatureStore, FeatureStoreWriter, merge_partial_indexes
from sseft.core.features.summary import format_store_summary, summarize
from sseft.core.protocols import TaskInfo

EMO = TaskInfo("multiclass", ("neutral", "joy", "anger"))
SENT = TaskInfo("multiclass", ("negative", "neutral", "positive"))
SETS = TaskInfo.several("emotion", {"emotion": EMO, "sentiment": SENT})


def meld_like(n: int = 9) -> list[dict]:
    items = make_items(n)
    for i, it in enumerate(items):
        it["labels"] = {"emotion": i % 3, "sentiment": (i * 2 + 1) % 3}
    return items


def write(root: Path, items, task=SETS, writer_id: str = "0", merge: bool = True) -> None:
    with FeatureStoreWriter(root, MODS, task, shard_size=2, writer_id=writer_id, merge_on_close=merge) as w:
        for it in items:
            assert w.add(it["id"], it["split"], it["features"], None, it["meta"], labels=it["labels"])


def test_one_store_serves_every_label_set(tmp_path: Path) -> None:
    items = meld_like()
    write(tmp_path, items)
    store = FeatureStore.open(tmp_path)
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["default_label_set"] == "emotion"
    assert index["label_sets"]["sentiment"] == {"type": "multiclass", "label_names": list(SENT.label_names)}
    assert index["task"] == {
        "type": "multiclass",
        "label_names": list(EMO.label_names),
    }  # old readers: default
    assert store.task.label_names == EMO.label_names and store.default_label_set == "emotion"
    assert store.label_set("sentiment").label_names == SENT.label_names
    assert store.label_set(None).label_names == store.label_set("emotion").label_names == EMO.label_names
    by_id = {it["id"]: it for it in items}
    for split in store.splits:
        ids = store.ids(split)
        assert store.labels(split) == [by_id[i]["labels"]["emotion"] for i in ids]
        assert store.labels(split, "emotion") == store.labels(split)
        assert store.labels(split, "sentiment") == [by_id[i]["labels"]["sentiment"] for i in ids]
        ds = store.dataset(split, label_set="sentiment")
        assert [ds[k]["label"] for k in range(len(ds))] == store.labels(split, "sentiment")
        assert torch.equal(ds[0]["features"]["a"], store.get(ids[0])["features"]["a"])
    with pytest.raises(FeatureStoreError, match="no label set 'speaker'.*emotion, sentiment"):
        store.labels("train", "speaker")
    assert store.verify() == []
    s = summarize(tmp_path)
    assert s["splits"]["train"]["label_sets"]["sentiment"] == {
        n: sum(1 for i in store.ids("train") if by_id[i]["labels"]["sentiment"] == k)
        for k, n in enumerate(SENT.label_names)
    }
    assert "label set sentiment: multiclass" in format_store_summary(
        s
    ) and "labels (sentiment):" in format_store_summary(s)


def test_old_single_task_stores_still_open(tmp_path: Path) -> None:
    items = make_items(6)
    with FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=2) as w:
        for it in items:
            w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    index = json.loads((tmp_path / "index.json").read_text())
    assert "label_sets" not in index and "label_sets" not in index["splits"]["train"]  # format unchanged
    store = FeatureStore.open(tmp_path)
    assert store.label_sets == {} and store.default_label_set is None
    assert store.label_set(None) == TASK and store.labels("train", None) == store.labels("train")
    with pytest.raises(
        FeatureStoreError, match="no label set 'sentiment'; the store has only its default set"
    ):
        store.label_set("sentiment")


def test_missing_conflicting_and_undeclared_label_sets(tmp_path: Path) -> None:
    f = {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}
    with FeatureStoreWriter(tmp_path / "s", MODS, SETS) as w:
        assert w.add("ok", "train", f, 1, labels={"sentiment": 2})  # label = the default set's value
        assert not w.add("nosent", "train", f, 1, labels={"emotion": 1})
        assert not w.add("differ", "train", f, 1, labels={"emotion": 2, "sentiment": 0})
        assert not w.add("nan", "train", f, 1, labels={"sentiment": float("nan")})
        with pytest.raises(FeatureStoreError, match="label set 'speaker' is not declared"):
            w.add("undeclared", "train", f, 1, labels={"sentiment": 0, "speaker": "A"})
    store = FeatureStore.open(tmp_path / "s")
    assert store.ids("train") == ["ok"] and store.labels("train", "sentiment") == [2]
    reasons = {
        x["id"]: x["reason"]
        for x in map(json.loads, (tmp_path / "s" / "failures.jsonl").read_text().splitlines())
    }
    assert "no label in label set 'sentiment'" in reasons["nosent"]
    assert "differs from its 'emotion' label 2" in reasons["differ"]
    assert "label set 'sentiment'" in reasons["nan"] and "NaN" in reasons["nan"]
    with (
        FeatureStoreWriter(tmp_path / "t", MODS, TASK) as w,
        pytest.raises(FeatureStoreError, match="declares none"),
    ):
        w.add("x", "train", f, 1, labels={"sentiment": 0})
    # A store made with other label sets is another store: appending is refused.
    other = TaskInfo.several("sentiment", {"emotion": EMO, "sentiment": SENT})
    with pytest.raises(FeatureStoreError, match="refusing to append.*"):
        FeatureStoreWriter(tmp_path / "s", MODS, other)


@settings(max_examples=10, deadline=None)
@given(
    n=st.integers(1, 10),
    writers=st.integers(1, 3),
    seed=st.integers(0, 1000),
    drop_partials=st.booleans(),
)
def test_label_sets_survive_many_writers_merges_and_lost_partials(
    n: int, writers: int, seed: int, drop_partials: bool
) -> None:
    """Whatever the writers, shards and merges, every set reads back each item's own value."""
    import random
    import tempfile

    rng = random.Random(seed)
    items = make_items(n, seed=seed)
    for it in items:
        it["labels"] = {"emotion": rng.randrange(3), "sentiment": rng.randrange(3)}
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "store"
        for w in range(writers):
            write(root, items[w::writers], writer_id=str(w), merge=False)
        merge_partial_indexes(root)
        if drop_partials:  # a copied store: the index alone must carry the label sets
            shutil.rmtree(root / "partial", ignore_errors=True)  # a finished store has none
            write(root, [], writer_id="late")
        store = FeatureStore.open(root)
        by_id = {it["id"]: it for it in items}
        for split in store.splits:
            for name in ("emotion", "sentiment"):
                assert store.labels(split, name) == [by_id[i]["labels"][name] for i in store.ids(split)]
        assert store.verify() == []


def test_the_extraction_engine_stores_every_label_set(tmp_path: Path) -> None:
    """Item.labels reaches the store through the engine (precomputed inputs: no encoder needed)."""
    import numpy as np

    from sseft.core.extraction import extract_items
    from sseft.core.protocols import Item, Precomputed

    rng = np.random.default_rng(0)
    items = [
        Item(
            f"u{i}",
            "train",
            None,
            {"a": Precomputed(rng.standard_normal((3, 4)).astype(np.float32))},
            labels={"emotion": i % 3, "sentiment": (i + 1) % 3},
        )  # fmt: skip
        for i in range(5)
    ]
    summary = extract_items(items, SETS, {"a": None}, tmp_path / "s", progress=False, threads=1)
    assert (summary.done, summary.failed) == (5, 0), summary.line()
    store = FeatureStore.open(tmp_path / "s")
    assert store.labels("train", "emotion") == [0, 1, 2, 0, 1]
    assert store.labels("train", "sentiment") == [1, 2, 0, 1, 2]
