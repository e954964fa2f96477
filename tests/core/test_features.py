"""Feature store: round trip, refusals, clear errors, verify, sampler, collate."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from features_util import MODS, ODD, TASK, make_items
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from sseft.core.batch import collate
from sseft.core.errors import FeatureStoreError
from sseft.core.features import FeatureStore, FeatureStoreWriter, LengthBucketSampler, ModalityInfo
from sseft.core.files import sha256_file
from sseft.core.protocols import TaskInfo


def write(root: Path, items, shard_size: int = 3, mods=MODS, task=TASK) -> None:
    with FeatureStoreWriter(root, mods, task, shard_size=shard_size) as w:
        for it in items:
            assert w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])


def test_round_trip_identical_tensors(tmp_path: Path) -> None:
    items = make_items(20)
    write(tmp_path, items)
    store = FeatureStore.open(tmp_path)
    assert store.splits == ["train", "valid", "test"]
    assert list(store.modalities) == ["a", "b"] and store.modalities["a"].fingerprint == {
        "source": "test",
        "v": 1,
    }
    assert store.task == TASK
    for it in items:
        got = store.get(it["id"])
        assert got["id"] == it["id"] and got["label"] == it["label"]
        for m in ("a", "b"):
            assert got["features"][m].dtype == torch.float32
            assert torch.equal(got["features"][m], it["features"][m])
    train = [it for it in items if it["split"] == "train"]
    assert store.ids("train") == sorted(it["id"] for it in train)  # tables are sorted by id
    by_id = {it["id"]: it for it in train}
    assert store.lengths("train", "a") == [by_id[i]["features"]["a"].shape[0] for i in store.ids("train")]
    assert store.labels("train") == [by_id[i]["label"] for i in store.ids("train")]
    assert set(ODD) <= set(store.ids("train") + store.ids("valid") + store.ids("test"))
    assert store.meta("train")[0] == by_id[store.ids("train")[0]]["meta"]
    assert store.verify() == []


@settings(max_examples=15, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=12),
    shard_size=st.integers(1, 5),
    half=st.booleans(),
)
def test_round_trip_property(tmp_path_factory, lengths, shard_size, half) -> None:
    root = tmp_path_factory.mktemp("prop")
    mods = {"m": ModalityInfo(dim=2, dtype="float16" if half else "float32")}
    task = TaskInfo("regression", ("v",))
    xs = [torch.randn(n, 2) for n in lengths]
    with FeatureStoreWriter(root, mods, task, shard_size=shard_size) as w:
        for i, x in enumerate(xs):
            w.add(f"id{i}", "train", {"m": x}, float(i))
    store = FeatureStore.open(root)
    assert len(store.index["shards"]) == -(-len(xs) // shard_size)
    for i, x in enumerate(xs):
        got = store.get(f"id{i}")
        want = x.half().float() if half else x
        assert got["label"] == float(i) and torch.equal(got["features"]["m"], want)


def test_dataset_subset_of_modalities_and_errors(tmp_path: Path) -> None:
    write(tmp_path, make_items(9))
    store = FeatureStore.open(tmp_path)
    ds = store.dataset("valid", ["b"])
    assert list(ds[0]["features"]) == ["b"] and len(ds) == 3
    with pytest.raises(FeatureStoreError, match="modality 'c' not in the store; it holds a, b"):
        store.dataset("train", ["a", "c"])
    with pytest.raises(FeatureStoreError, match="split 'dev' not in the store; it has train, valid, test"):
        store.dataset("dev")
    with pytest.raises(FeatureStoreError, match="feature store directory not found"):
        FeatureStore.open(tmp_path / "nope")
    (tmp_path / "index.json").unlink()
    with pytest.raises(FeatureStoreError, match="index.json is missing"):
        FeatureStore.open(tmp_path)
    with pytest.raises(FeatureStoreError, match="not a feature store"):
        FeatureStore.open(tmp_path / "shards")


def test_refuses_other_dims_fingerprint_task(tmp_path: Path) -> None:
    write(tmp_path, make_items(4))
    other_fp = {"a": ModalityInfo(dim=4, fingerprint={"source": "test", "v": 2}), "b": MODS["b"]}
    other_dim = {"a": MODS["a"], "b": ModalityInfo(dim=5)}
    for mods, task, what in [
        (other_fp, TASK, "fingerprint"),
        (other_dim, TASK, "dim 5 != 3"),
        ({"b": MODS["b"], "a": MODS["a"]}, TASK, "modalities"),
        (MODS, TaskInfo("multiclass", ("x", "y")), "task"),
    ]:
        with pytest.raises(FeatureStoreError, match=f"refusing to append.*{what}"):
            FeatureStoreWriter(tmp_path, mods, task)
    # The same settings append fine, and skip what is there.
    with FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="late") as w:
        assert w.has("plain") and not w.has("new")
        w.add("new", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, 2)
    assert "new" in FeatureStore.open(tmp_path)


def test_nan_inf_and_bad_labels_are_item_failures(tmp_path: Path) -> None:
    bad = torch.ones(3, 4)
    bad[1, 2] = float("nan")
    inf = torch.ones(2, 3)
    inf[0, 0] = float("inf")
    with FeatureStoreWriter(tmp_path, MODS, TASK) as w:
        assert w.add("ok", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, 1)
        assert not w.add("nan", "train", {"a": bad, "b": torch.ones(1, 3)}, 1)
        assert not w.add("inf", "train", {"a": torch.ones(2, 4), "b": inf}, 1)
        assert not w.add("label", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, float("nan"))
        assert not w.add("object", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, object())
        # Class 3 of a 3-class task is stored as it is: the store keeps plain JSON, the head judges it.
        assert w.add("class3", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, np.int64(3))
        assert not w.has("nan")
        with pytest.raises(FeatureStoreError, match=r"modality 'a' has shape \(2, 5\).*\(L, 4\)"):
            w.add("dim", "train", {"a": torch.ones(2, 5), "b": torch.ones(1, 3)}, 1)
        with pytest.raises(FeatureStoreError, match="features for"):
            w.add("mods", "train", {"a": torch.ones(2, 4)}, 1)
        with pytest.raises(FeatureStoreError, match="already in"):
            w.add("ok", "train", {"a": torch.ones(2, 4), "b": torch.ones(1, 3)}, 1)
    store = FeatureStore.open(tmp_path)
    assert store.ids("train") == ["class3", "ok"] and store.labels("train") == [3, 1]
    assert type(store.labels("train")[0]) is int  # numpy scalars become plain JSON
    lines = [json.loads(x) for x in (tmp_path / "failures.jsonl").read_text().splitlines()]
    assert [x["id"] for x in lines] == ["nan", "inf", "label", "object"]
    assert "NaN/Inf" in lines[0]["reason"] and "not a plain JSON value" in lines[2]["reason"]


def test_reader_refuses_nan_smuggled_into_a_shard(tmp_path: Path) -> None:
    write(tmp_path, make_items(3, splits=("train",)), shard_size=8)
    index = json.loads((tmp_path / "index.json").read_text())
    shard = index["shards"][0]
    store = FeatureStore.open(tmp_path)
    tensors = {}
    for pos, item_id in enumerate(shard["ids"]):
        feats = store.get(item_id)["features"]
        tensors |= {f"{pos}/{m}": x for m, x in feats.items()}
    tensors["1/b"] = torch.full_like(tensors["1/b"], float("nan"))
    save_file(tensors, tmp_path / shard["file"], metadata={"ids": json.dumps(shard["ids"])})
    ds = FeatureStore.open(tmp_path).dataset("train")
    with pytest.raises(FeatureStoreError, match=r"item .* modality 'b' holds NaN/Inf"):
        ds[ds.ids.index(shard["ids"][1])]
    assert ds[ds.ids.index(shard["ids"][0])]["features"]["b"].isfinite().all()
    assert any("NaN/Inf" in p for p in FeatureStore.open(tmp_path).verify())


def test_verify_catches_flipped_byte_and_truncation(tmp_path: Path) -> None:
    write(tmp_path, make_items(12), shard_size=2)
    store = FeatureStore.open(tmp_path)
    assert store.verify() == []
    files = store.shard_files
    p0, p1 = tmp_path / files[0], tmp_path / files[1]
    data = bytearray(p0.read_bytes())
    data[-3] ^= 0x40  # inside tensor data: only the checksum can tell
    p0.write_bytes(bytes(data))
    p1.write_bytes(p1.read_bytes()[:-10])
    (tmp_path / files[2]).unlink()
    problems = FeatureStore.open(tmp_path).verify()
    assert any(files[0] in p and "sha256" in p for p in problems)
    assert any(files[1] in p and "truncated" in p for p in problems)
    assert any(files[1] in p and "unreadable" in p for p in problems)
    assert any(files[2] in p and "missing" in p for p in problems)
    assert not any(files[3] in p for p in problems)
    assert sha256_file(tmp_path / files[3]) == store.index["shards"][3]["sha256"]


def test_verify_checks_shapes_dtypes_and_ids(tmp_path: Path) -> None:
    write(tmp_path, make_items(3, splits=("train",)), shard_size=8)
    index = json.loads((tmp_path / "index.json").read_text())
    shard = index["shards"][0]
    store = FeatureStore.open(tmp_path)
    ids = shard["ids"]
    tensors = {f"{p}/{m}": x for p, i in enumerate(ids) for m, x in store.get(i)["features"].items()}
    tensors["0/a"] = torch.zeros(99, 4)
    tensors["1/b"] = tensors["1/b"].double()
    del tensors["2/a"]
    save_file(tensors, tmp_path / shard["file"], metadata={"ids": json.dumps(ids[::-1])})
    problems = FeatureStore.open(tmp_path).verify(checksums=False)
    text = "\n".join(problems)
    assert "(99, 4)" in text and "torch.float64" in text and "ids inside the shard differ" in text
    assert "holds 5 tensors, the index expects 6" in text


def test_length_bucket_sampler_covers_once_and_groups() -> None:
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(1, 200, (1000,), generator=g).tolist()
    s = LengthBucketSampler(lengths, batch_size=16, shuffle=True, seed=3, pool_batches=10)
    epochs = []
    for e in range(2):
        s.set_epoch(e)
        batches = list(s)
        assert len(batches) == len(s)
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(1000))  # every index exactly once
        epochs.append(batches)
    assert epochs[0] != epochs[1]
    s.set_epoch(0)
    assert list(s) == epochs[0]  # reproducible
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in epochs[0]) / len(epochs[0])
    perm = torch.randperm(1000, generator=g).tolist()
    rand = [perm[i : i + 16] for i in range(0, 1000, 16)]
    rand_spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in rand) / len(rand)
    assert spread < rand_spread / 4
    ordered = list(LengthBucketSampler(lengths, 16, shuffle=False))
    assert [lengths[i] for b in ordered for i in b] == sorted(lengths)
    dropped = LengthBucketSampler(lengths, 16, seed=1, drop_last=True, pool_batches=7)
    assert all(len(b) == 16 for b in dropped) and len(list(dropped)) == len(dropped)


def test_dataloader_with_bucket_sampler_pads_to_batch_max(tmp_path: Path) -> None:
    items = make_items(30, splits=("train",))
    write(tmp_path, items, shard_size=7)
    ds = FeatureStore.open(tmp_path).dataset("train")
    sampler = LengthBucketSampler(ds.bucket_lengths(), batch_size=4, seed=0)
    loader = torch.utils.data.DataLoader(
        ds, batch_sampler=sampler, collate_fn=lambda b: collate(b, ["a", "b"])
    )
    seen = []
    for batch in loader:
        for m in ("a", "b"):
            assert batch.features[m].shape[1] == max(int(batch.lengths[m].max()), 1)
            for r, item_id in enumerate(batch.ids):
                n = int(batch.lengths[m][r])
                want = next(it for it in items if it["id"] == item_id)["features"][m]
                assert torch.equal(batch.features[m][r, :n], want)
                assert not batch.features[m][r, n:].any()
        assert batch.labels.dtype == torch.long
        seen += batch.ids
    assert sorted(seen) == sorted(it["id"] for it in items)


@settings(max_examples=20, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), min_size=0, max_size=80),
    batch_size=st.integers(1, 9),
    pool=st.integers(1, 4),
    seed=st.integers(0, 5),
    drop_last=st.booleans(),
)
def test_bucket_sampler_partitions_every_epoch(lengths, batch_size, pool, seed, drop_last) -> None:
    s = LengthBucketSampler(lengths, batch_size, seed=seed, drop_last=drop_last, pool_batches=pool)
    batches = list(s)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat)) and len(batches) == len(s)
    assert all(1 <= len(b) <= batch_size for b in batches)
    if not drop_last:
        assert sorted(flat) == list(range(len(lengths)))


def test_dataset_pickles_without_open_handles(tmp_path: Path) -> None:
    import pickle

    write(tmp_path, make_items(6, splits=("train",)))
    ds = FeatureStore.open(tmp_path).dataset("train")
    first = ds[0]
    assert ds._handles  # a shard is open now
    clone = pickle.loads(pickle.dumps(ds))
    assert not clone._handles and torch.equal(clone[0]["features"]["a"], first["features"]["a"])


def test_cached_dataset_reads_each_shard_item_once(tmp_path: Path) -> None:
    write(tmp_path, make_items(8, splits=("train",)))
    ds = FeatureStore.open(tmp_path).dataset("train", cache=True)
    first = [ds[i] for i in range(len(ds))]
    for p in (tmp_path / "shards").rglob("*.safetensors"):
        p.unlink()  # everything now comes from the cache
    ds._handles.clear()
    again = [ds[i] for i in range(len(ds))]
    assert all(torch.equal(a["features"]["a"], b["features"]["a"]) for a, b in zip(first, again, strict=True))


@pytest.mark.parametrize(
    ("names", "labels", "expected"),
    [
        (["x", "y", "z"], [0, 2, 2], {"x": 1, "y": 0, "z": 2}),  # class indices
        (["h", "s"], [[1, 0], [1, 1], [0, 0]], {"h": 2, "s": 1}),  # 0/1 vectors
        (["score"], [0.5, -1.5, 1.0], {"min": -1.5, "mean": 0.0, "max": 1.0, "std": 1.0801}),
        (["v", "a"], [[1.0, 0.0], [3.0, 2.0]], {"min": 1.0, "mean": 2.0, "max": 3.0, "std": 1.0}),
        (["a", "b"], ["low", "high", "low"], {'"low"': 2, '"high"': 1}),  # a new task's own values
        (["x", "y"], [], {}),
    ],
)
def test_label_counts_from_the_json_shape_alone(names, labels, expected) -> None:
    from sseft.core.features.summary import label_counts

    assert label_counts(names, labels) == expected
