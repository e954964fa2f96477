"""A finished feature store is the same bytes whatever the number of writers, and a merge killed
mid-way leaves a readable store that the next merge finishes to those bytes."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from features_util import MODS, TASK, content, make_items
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sseft.core.features.canonical as canonical
from sseft.core.features import FeatureStore, FeatureStoreWriter, merge_partial_indexes

N = 17


def files(root: Path) -> dict[str, bytes]:
    """Every file under `root` (hidden ones included), by sorted relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write(root: Path, items: list[dict], writers: list[int], shard_size: int) -> None:
    """Items written by len(set(writers)) writers open at once (item k by writer writers[k]), then merged."""
    ws = {w: FeatureStoreWriter(root, MODS, TASK, shard_size=shard_size, writer_id=str(w), merge_on_close=False)
          for w in sorted(set(writers))}  # fmt: skip
    for it, w in zip(items, writers, strict=True):
        ws[w].add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    for w in ws.values():
        w.close()
    merge_partial_indexes(root)


def test_two_writers_write_the_bytes_of_one(tmp_path: Path) -> None:
    items = make_items(N)
    write(tmp_path / "one", items, [0] * N, 3)
    write(tmp_path / "two", items, [k % 2 for k in range(N)], 3)
    one, two = files(tmp_path / "one"), files(tmp_path / "two")
    assert sorted(one) == sorted(two)
    shards = [n for n in one if n.startswith("shards/")]
    assert len(shards) == 6 and all(canonical.CANONICAL_RE.match(n.split("/")[-1]) for n in shards)
    for name in one:
        assert one[name] == two[name], name
    assert not any(n.startswith("partial/") for n in one)  # the writers' bookkeeping is gone
    assert FeatureStore.open(tmp_path / "two").verify() == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 12),
    shard_size=st.integers(1, 5),
    assignment=st.lists(st.integers(0, 3), min_size=12, max_size=12),
)
def test_any_writers_any_split_of_the_work_same_bytes(n: int, shard_size: int, assignment: list[int]) -> None:
    items = make_items(n)
    with tempfile.TemporaryDirectory() as d:
        write(Path(d) / "one", items, [0] * n, shard_size)
        write(Path(d) / "many", items, assignment[:n], shard_size)
        assert files(Path(d) / "many") == files(Path(d) / "one")


def test_merge_killed_before_or_after_its_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    items = make_items(N)
    write(tmp_path / "ref", items, [0] * N, 4)
    ref = files(tmp_path / "ref")
    root = tmp_path / "store"
    write(root, items[:9], [0] * 9, 4)  # a finished store ...
    first = content(root)
    for k, it in enumerate(items[9:]):  # ... and two writers adding to it
        w = FeatureStoreWriter(root, MODS, TASK, shard_size=4, writer_id=str(k % 2), merge_on_close=False)
        w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
        w.close()

    class Killed(Exception):
        pass

    def dies(*a: object, **k: object) -> None:
        raise Killed

    # Killed before the commit (the new shards written, index.json not yet): the old store reads as before.
    monkeypatch.setattr(canonical, "atomic_write_json", dies)
    with pytest.raises(Killed):
        merge_partial_indexes(root)
    monkeypatch.undo()
    assert content(root)["tables"] == first["tables"]
    before = tmp_path / "before"
    shutil.copytree(root, before)
    # Killed after the commit, before the absorbed partial indexes and writer shards were deleted.
    merge_partial_indexes(root)
    shutil.copytree(before / "partial", root / "partial")
    for p in (before / "shards").glob("*/*-*.safetensors"):
        shutil.copy2(p, root / p.relative_to(before))
    assert FeatureStore.open(root).verify() != []  # stale partial indexes are reported ...
    assert content(root)["tables"] == content(tmp_path / "ref")["tables"]  # ... but the store reads whole
    with FeatureStoreWriter(root, MODS, TASK, shard_size=4, writer_id="1") as w:  # a rerun finishes it
        assert all(w.has(it["id"]) for it in items)
    assert files(root) == ref


def test_a_store_written_before_canonical_shards_loads_and_grows_canonical(tmp_path: Path) -> None:
    """A store as earlier versions left it (writer shards listed with their writer in index.json)."""
    from sseft.core.features.index import HEADER_KEYS, build_index, read_partials

    items = make_items(N)
    write(tmp_path / "ref", items, [0] * N, 4)
    old = tmp_path / "old"
    with FeatureStoreWriter(old, MODS, TASK, shard_size=4, merge_on_close=False) as w:
        for it in items[:10]:
            w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    part = read_partials(old)["0"]
    legacy = build_index({k: part[k] for k in HEADER_KEYS if k in part}, part["shards"])
    (old / "index.json").write_text(json.dumps(legacy))
    shutil.rmtree(old / "partial")
    store = FeatureStore.open(old)
    assert store.verify() == [] and len(store) == 10 and store.index["shards"][0]["writer"] == "0"
    with FeatureStoreWriter(old, MODS, TASK, shard_size=4, writer_id="late") as w:
        for it in items[10:]:
            w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    assert files(old) == files(tmp_path / "ref")
