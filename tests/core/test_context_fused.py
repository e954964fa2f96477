"""`context.turns: fused`: whole-dialogue batches (core/context/batches.py), the turn vectors read from
the batch, and evaluation that scores every item once whatever the batch sizes. The leak properties
and the artifact round trip run for both kinds of turns in test_context.py and tests/inference."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.core.contexthelpers import write_dialogue_store
from tests.core.test_context import context_model, outputs

os.environ.setdefault("OMP_NUM_THREADS", "1")


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 9), min_size=1, max_size=20),
    batch_size=st.integers(1, 12),
    seed=st.integers(0, 1000),
    epoch=st.integers(0, 5),
    shuffle=st.booleans(),
)
def test_dialogue_batches_keep_groups_whole_and_cover_each_item_once(
    sizes: list[int], batch_size: int, seed: int, epoch: int, shuffle: bool
) -> None:
    from sseft.core.context.batches import DialogueBatchSampler

    starts = [sum(sizes[:k]) for k in range(len(sizes))]
    groups = [list(range(s, s + n)) for s, n in zip(starts, sizes, strict=True)]
    sampler = DialogueBatchSampler(groups, batch_size, seed, shuffle=shuffle)
    sampler.set_epoch(epoch)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(sum(sizes)))  # every item, once
    where = {i: k for k, b in enumerate(batches) for i in b}
    for g in groups:
        assert len({where[i] for i in g}) == 1  # a group is never cut
    for b in batches:  # full up to batch_size, unless one group alone is larger
        assert len(b) <= batch_size or any(b == g for g in groups)
    again = DialogueBatchSampler(groups, batch_size, seed, shuffle=shuffle)
    again.set_epoch(epoch)
    assert list(again) == batches  # (seed, epoch) decides the order: a resumed run replays it
    if not shuffle:
        assert flat == list(range(sum(sizes)))


def test_dialogue_batches_change_order_between_epochs() -> None:
    from sseft.core.context.batches import DialogueBatchSampler

    sampler = DialogueBatchSampler([[i] for i in range(50)], 8, seed=0)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_a_fused_models_output_does_not_depend_on_how_dialogues_are_packed(tmp_path: Path) -> None:
    """Batches of one dialogue or of many: each item gets the same output (its context turns are in
    its batch either way, and nothing else in the batch reaches it)."""
    store = write_dialogue_store(tmp_path / "s", seed=2)
    model = context_model(store, window=3, turns="fused")
    # train: 30 items, so the 64-item batch is also fused in length chunks (core/model.py fuse_by_length)
    small, large = outputs(model, store, "train", batch_size=1), outputs(model, store, "train", batch_size=64)
    assert small.keys() == large.keys() and len(small) == 30
    for item in small:
        torch.testing.assert_close(small[item], large[item], atol=1e-5, rtol=1e-5)


def test_a_fused_model_refuses_a_batch_without_the_context_turns_in_one_line(tmp_path: Path) -> None:
    """A batch cut out of a dialogue (not made by the dialogue sampler) is refused, not given a
    silently shorter context."""
    from sseft.core.context import ContextConfig
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import ItemsDataset, collate_items

    store = write_dialogue_store(tmp_path / "s", seed=2)
    model = context_model(store, window=3, turns="fused")
    ds = ItemsDataset(FeatureStore.open(store), FeatureStore.open(store).ids("test"), ["text"], None,
                      ContextConfig(window=3, turns="fused"))  # fmt: skip
    assert ds.context is not None and ds.context.pooled == {}  # fused: no pooled features read
    batch = collate_items([ds[3], ds[4]], ["text"], context=ds.context)  # turns 3, 4 without 0..2
    with pytest.raises(ValueError) as e, torch.no_grad():
        model(batch.features, batch.lengths, context=batch.context)
    assert "\n" not in str(e.value) and "whole dialogues" in str(e.value)
    whole = collate_items([ds[k] for k in range(5)], ["text"], context=ds.context)
    assert whole.context.local[4].tolist() == [1, 2, 3]  # turn 4 reads turns 1..3 from this batch
    with torch.no_grad():
        assert torch.isfinite(model(whole.features, whole.lengths, context=whole.context)).all()


def test_groups_are_the_dialogues_of_the_items(tmp_path: Path) -> None:
    from sseft.core.context import ContextConfig
    from sseft.core.features import FeatureStore
    from sseft.core.training.data import ItemsDataset

    fs = FeatureStore.open(write_dialogue_store(tmp_path / "s"))
    ids = fs.ids("train")[:10] + ["train-d5-t0"]
    ds = ItemsDataset(fs, ids, ["text"], None, ContextConfig(window=1, turns="fused"))
    assert ds.context is not None
    groups = [[ids[i] for i in g] for g in ds.context.groups()]
    assert sorted(map(sorted, groups)) == sorted(
        [[f"train-d0-t{t}" for t in range(5)], [f"train-d1-t{t}" for t in range(5)], ["train-d5-t0"]]
    )


def test_evaluation_keeps_each_item_once_and_drops_padding() -> None:
    from sseft.core.training.evaluate import first_of_each

    index = torch.tensor([3, 0, 1, -1, 3, 0, 2])
    out = torch.arange(7.0)[:, None]
    lab = torch.arange(7)
    o, lb, i = first_of_each(index, out, lab)
    assert (
        i.tolist() == [3, 0, 1, 2]
        and o[:, 0].tolist() == [0.0, 1.0, 2.0, 6.0]
        and lb.tolist() == [0, 1, 2, 6]
    )


def test_training_with_fused_turns_scores_every_item(tmp_path: Path) -> None:
    """Whole-dialogue batches are of uneven sizes; evaluation still scores every item of each split
    exactly once (accelerate's own end-of-loader cut assumed even batches and dropped items)."""
    from sseft.core.features import FeatureStore
    from sseft.core.training import train
    from tests.core.contexthelpers import context_config

    store = write_dialogue_store(tmp_path / "store")  # dialogues of 5 turns, batch_size 4: batches of 5
    res: Any = train(
        context_config(tmp_path, store, window=2, turns="fused"), tmp_path / "run", progress=False
    )
    fs = FeatureStore.open(store)
    assert [row["valid"]["n_items"] for row in res.history] == [len(fs.ids("valid"))] * len(res.history)
    assert res.test_metrics is not None and res.test_metrics["n_items"] == len(fs.ids("test"))


def test_summaries_and_cards_say_the_turns_are_fused() -> None:
    from sseft.core.context import ContextConfig

    assert ContextConfig(window=4, turns="fused").describe() == (
        "context: 4 preceding turns (each turn's fused vector; speaker marked)"
    )
    assert "pooled" not in ContextConfig(window=4).describe()  # the pooled line is unchanged
    assert "OFFLINE ANALYSIS ONLY" in ContextConfig(window=2, turns="fused", direction="both").describe()


def test_two_processes_with_fused_turns_score_every_item_once(tmp_path: Path) -> None:
    """Two processes get whole-dialogue batches of different sizes; the gathered evaluation still
    holds every item of each split exactly once (padding marked and dropped, duplicates dropped)."""
    import json
    import subprocess
    import sys

    import yaml

    from sseft.core.features import FeatureStore
    from tests.core.contexthelpers import context_config

    store = write_dialogue_store(tmp_path / "store")
    cfg = context_config(tmp_path, store, window=2, turns="fused")
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json", exclude_none=True)))
    run = tmp_path / "run2"
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "sseft", "train", str(path), "--output-dir", str(run)]  # fmt: skip
    p = subprocess.run(
        cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300
    )
    assert p.returncode == 0, p.stderr[-3000:]
    summary = json.loads((run / "summary.json").read_text())
    fs = FeatureStore.open(store)
    assert summary["world_size"] == 2
    assert summary["best_valid"]["n_items"] == len(fs.ids("valid"))
    assert summary["test"]["n_items"] == len(fs.ids("test"))
    preds = [json.loads(x)["id"] for x in (run / "test_predictions.jsonl").read_text().splitlines()]
    assert preds == fs.ids("test")  # each once, in the split's order


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 50), chunk=st.integers(1, 20), seed=st.integers(0, 1000))
def test_fusing_in_length_chunks_equals_fusing_the_batch(n: int, chunk: int, seed: int) -> None:
    """Two modalities, lengths from 0 to 12: chunked fusion gives the whole batch's rows, in order."""
    from sseft.core.fusion.build import build_fusion
    from sseft.core.model import fuse_by_length
    from sseft.core.specs import ModalitySpec

    torch.manual_seed(seed)
    specs = [ModalitySpec(name="a", dim=6, max_len=16), ModalitySpec(name="b", dim=4, max_len=16)]
    fusion = build_fusion(
        specs, {"n_self": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0}
    )
    fusion.eval()
    g = torch.Generator().manual_seed(seed)
    lengths = {"a": torch.randint(0, 13, (n,), generator=g), "b": torch.randint(1, 13, (n,), generator=g)}
    feats = {}
    for m, d in (("a", 6), ("b", 4)):
        x = torch.randn(n, 12, d, generator=g)
        feats[m] = x * (torch.arange(12)[None, :, None] < lengths[m][:, None, None])  # zero padding
    with torch.no_grad():
        whole, chunked = fusion(feats, lengths), fuse_by_length(fusion, feats, lengths, chunk=chunk)
    torch.testing.assert_close(chunked, whole, atol=1e-5, rtol=1e-5)
