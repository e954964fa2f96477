"""Feature store: atomic shards, resume after a crash (fault hook and real SIGKILL), N writers + merge."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from features_util import MODS, TASK, assert_same_content, content, make_items

from sseft.core.errors import FeatureStoreError
from sseft.core.features import FeatureStore, FeatureStoreWriter, merge_partial_indexes
from sseft.core.features.summary import summarize

N = 22


class Crash(Exception):
    pass


def run_writer(root: Path, items, *, writer_id: str = "0", shard_size: int = 4, merge: bool = True) -> int:
    """Add every item not yet stored; returns how many were added."""
    added = 0
    with FeatureStoreWriter(
        root, MODS, TASK, shard_size=shard_size, writer_id=writer_id, merge_on_close=merge
    ) as w:
        for it in items:
            if not w.has(it["id"]):
                added += w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    return added


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("reference")
    run_writer(root, make_items(N))
    return content(root)


@pytest.mark.parametrize("stage", ["shard_written", "partial_written"])
def test_crash_inside_a_flush_then_resume(tmp_path: Path, reference, stage: str) -> None:
    items = make_items(N)
    calls = []

    def hook(s: str) -> None:
        calls.append(s)
        if s == stage and calls.count(s) == 2:
            raise Crash(s)

    with pytest.raises(Crash), FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=4) as w:
        w._fault_hook = hook
        for it in items:
            w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    assert not (tmp_path / "index.json").exists()  # an interrupted write is not a finished store
    n_files = len(list((tmp_path / "shards").glob("*/*.safetensors")))
    partial = json.loads((tmp_path / "partial" / "0.json").read_text())
    # "shard_written": the second shard file is there but unindexed; it is discarded on resume.
    assert len(partial["shards"]) == (1 if stage == "shard_written" else 2) and n_files == 2
    added = run_writer(tmp_path, items)
    assert added == N - 4 * len(partial["shards"])
    assert_same_content(content(tmp_path), reference)
    assert FeatureStore.open(tmp_path).verify() == []


def test_crash_between_items_loses_only_the_buffer(tmp_path: Path, reference) -> None:
    items = make_items(N)
    with pytest.raises(Crash), FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=4) as w:
        for k, it in enumerate(items):
            if k == 14:
                raise Crash("killed between items")
            w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    with FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=4, merge_on_close=False) as w:
        # Shards fill per split (items alternate train/valid/test): the full ones are kept.
        assert sum(w.has(it["id"]) for it in items) == 12
    # A temp file of a shard cut mid-write is never visible and is cleaned up by the resume.
    tmp = tmp_path / "shards" / "train" / ".0-00009.safetensors.12345.tmp"
    tmp.write_bytes(b"half a shard")
    # ... and so is a partial index write of this writer killed mid-way (another writer's is not ours)
    part, other = tmp_path / "partial" / ".0.json.12345.tmp", tmp_path / "partial" / ".1.json.777.tmp"
    part.write_bytes(b'{"half": ')
    other.write_bytes(b'{"half": ')
    run_writer(tmp_path, items)
    assert not tmp.exists() and not part.exists() and other.exists()
    assert_same_content(content(tmp_path), reference)
    assert FeatureStore.open(tmp_path).verify() == []


@pytest.mark.slow
def test_sigkill_mid_shard_then_resume(tmp_path: Path, reference) -> None:
    """A real SIGKILL (no cleanup at all) in the middle of the second shard's write."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from features_util import MODS, TASK, make_items
        from sseft.core.features import FeatureStoreWriter
        from sseft.core import files
        real = files.atomic_write_bytes
        count = [0]
        def dying_write(path, data):
            count[0] += 1
            if count[0] == 4:  # writes: partial index, shard 1, partial index, shard 2 <- dies here
                with open(path.with_name("." + path.name + ".{{}}.tmp".format(os.getpid())), "wb") as f:
                    f.write(data[: len(data) // 2])
                os.kill(os.getpid(), signal.SIGKILL)
            return real(path, data)
        import sseft.core.features.writer as wmod
        wmod.atomic_write_bytes = dying_write
        with FeatureStoreWriter(sys.argv[1], MODS, TASK, shard_size=4) as w:
            for it in make_items({N}):
                w.add(it["id"], it["split"], it["features"], it["label"], it["meta"])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert len(list((tmp_path / "shards").glob("*/.*.tmp"))) == 1
    assert not (tmp_path / "index.json").exists()
    run_writer(tmp_path, make_items(N))
    assert_same_content(content(tmp_path), reference)
    assert FeatureStore.open(tmp_path).verify() == []
    assert not list((tmp_path / "shards").glob("*/.*.tmp"))


def test_two_writers_and_merge_equal_one_writer(tmp_path: Path, reference) -> None:
    items = make_items(N)
    # Both writers open at once, interleaved, as two processes would be.
    w0 = FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=3, writer_id="0", merge_on_close=False)
    w1 = FeatureStoreWriter(tmp_path, MODS, TASK, shard_size=3, writer_id="1", merge_on_close=False)
    for k, it in enumerate(items):
        (w0, w1)[k % 2].add(it["id"], it["split"], it["features"], it["label"], it["meta"])
    w0.record_failure("broken-0", "decoder error")
    w1.record_failure("broken-1", "empty file")
    w0.close()
    w1.close()
    files = sorted(p.name for p in (tmp_path / "shards").glob("*/*.safetensors"))
    assert {f.split("-")[0] for f in files} == {"0", "1"}  # each writer wrote only its own files
    with pytest.raises(FeatureStoreError, match="index.json is missing"):
        FeatureStore.open(tmp_path)
    merge_partial_indexes(tmp_path)
    assert_same_content(content(tmp_path), reference)
    assert FeatureStore.open(tmp_path).verify() == []
    one = tmp_path.parent / "one"
    run_writer(one, items, shard_size=3)
    s_many, s_one = summarize(tmp_path), summarize(one)
    assert s_many["failures"]["ids"] == ["broken-0", "broken-1"]
    s_one["failures"] = s_many["failures"]  # only the two-writer store had failures
    assert {k: v for k, v in s_many.items() if k != "root"} == {k: v for k, v in s_one.items() if k != "root"}


def test_unmerged_partial_is_reported_and_duplicates_refused(tmp_path: Path) -> None:
    items = make_items(6)
    run_writer(tmp_path, items[:3])
    run_writer(tmp_path, items[3:], writer_id="b", merge=False)
    problems = FeatureStore.open(tmp_path).verify()
    assert any("partial index b" in p and "merge" in p for p in problems)
    # A partial index listing an item the store also holds: the merge names both shards.
    part = tmp_path / "partial" / "b.json"
    good = part.read_text()
    data = json.loads(good)
    data["shards"][0]["items"].append(data["shards"][0]["items"][0] | {"id": items[0]["id"]})
    part.write_text(json.dumps(data))
    with pytest.raises(FeatureStoreError, match=f"item {items[0]['id']!r} is stored twice"):
        merge_partial_indexes(tmp_path)
    part.write_text(good)
    merge_partial_indexes(tmp_path)
    assert len(FeatureStore.open(tmp_path)) == 6 and FeatureStore.open(tmp_path).verify() == []
    assert not (tmp_path / "partial").exists()  # absorbed: a finished store has no partial index


def test_index_without_partials_survives_an_append(tmp_path: Path) -> None:
    items = make_items(8)
    run_writer(tmp_path, items[:5])
    assert not (tmp_path / "partial").exists()  # the merge absorbed it: the index alone is the store
    assert run_writer(tmp_path, items[:6], writer_id="0") == 1  # the stored five are known
    run_writer(tmp_path, items[6:], writer_id="next")
    store = FeatureStore.open(tmp_path)
    assert len(store) == 8 and store.verify() == []
    assert torch.equal(store.get(items[0]["id"])["features"]["a"], items[0]["features"]["a"])


def test_one_live_writer_per_writer_id(tmp_path: Path) -> None:
    w = FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="7")
    with pytest.raises(FeatureStoreError, match="another process is writing with writer id '7'"):
        FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="7")
    FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="8").close()
    w.close()
    FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="7").close()  # free again once closed
    with pytest.raises(FeatureStoreError, match="writer id '../x' is not allowed"):
        FeatureStoreWriter(tmp_path, MODS, TASK, writer_id="../x")
