"""`data.generate` / `data.synthetic`: a configured dataset generated into its store through the
plugin manager and the extraction engine; reused when finished, resumed when not, refused when
generated with other options."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from sseft.core.errors import FeatureStoreError
from sseft.core.extraction.generate import ensure_store, generate_spec
from sseft.core.features import FeatureStore

TINY = {
    "seed": 3, "n_train": 6, "n_valid": 3, "n_test": 3, "shard_size": 4,
    "modalities": [{"name": "a", "dim": 4, "min_len": 2, "max_len": 5},
                   {"name": "b", "dim": 3, "min_len": 2, "max_len": 5}],
}  # fmt: skip


class Acc:
    """The two things ensure_store asks of an accelerate.Accelerator."""

    is_main_process = True

    def __init__(self) -> None:
        self.waits = 0

    def wait_for_everyone(self) -> None:
        self.waits += 1


def test_generate_spec_reads_both_spellings() -> None:
    assert generate_spec(SimpleNamespace(store="s", synthetic={"seed": 1})) == ("synthetic", {"seed": 1}, {})
    gen = SimpleNamespace(dataset="synthetic", config={"seed": 2}, modalities=None)
    assert generate_spec(SimpleNamespace(store="s", generate=gen, synthetic=None)) == (
        "synthetic",
        {"seed": 2},
        {},
    )
    assert generate_spec(SimpleNamespace(store="s", synthetic=None)) is None


def test_generated_through_the_engine_then_reused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    acc = Acc()
    ensure_store(SimpleNamespace(store=str(root), generate={"dataset": "synthetic", "config": TINY}), acc)
    assert acc.waits == 1
    fs = FeatureStore.open(root)
    assert len(fs) == 12 and fs.source == {"dataset": "synthetic", "config": fs.source["config"]}
    # The engine wrote the fingerprint: precomputed input, the modality key, the generator's identity.
    fp = fs.modalities["a"].fingerprint
    assert fp["input"] == "precomputed" and fp["key"] == "a" and fp["source"] == "synthetic"
    assert "modality" not in fp and fs.modalities["a"].max_len == 5 and fs.modalities["b"].dim == 3
    before = {p.name: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    ensure_store(SimpleNamespace(store=str(root), synthetic=TINY), acc)  # the shorthand, same options
    after = {p.name: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert after == before  # finished: nothing rewritten


def test_unfinished_store_is_resumed(tmp_path: Path) -> None:
    from sseft.core.extraction import extract_items
    from sseft.core.extraction.distributed import DistContext
    from sseft.core.plugins import get_dataset

    ds = get_dataset("synthetic")
    cfg = ds.config_model.model_validate(TINY)
    items = list(ds.items(cfg))
    source = {"dataset": "synthetic", "config": json.loads(cfg.model_dump_json())}
    root = tmp_path / "store"
    extract_items(items[:5], ds.task(cfg), {"a": None, "b": None}, root, source=source, progress=False,
                  ctx=DistContext())  # fmt: skip
    assert len(FeatureStore.open(root)) == 5
    ensure_store(SimpleNamespace(store=str(root), synthetic=TINY), Acc())
    assert len(FeatureStore.open(root)) == 12


def test_other_options_are_refused_in_one_line(tmp_path: Path) -> None:
    root = tmp_path / "store"
    ensure_store(SimpleNamespace(store=str(root), synthetic=TINY), Acc())
    with pytest.raises(FeatureStoreError, match="other options") as e:
        ensure_store(SimpleNamespace(store=str(root), synthetic={**TINY, "n_train": 7}), Acc())
    msg = str(e.value)
    assert "\n" not in msg and "config.n_train: 6 -> 7" in msg and str(root) in msg


def test_only_the_main_process_generates(tmp_path: Path) -> None:
    acc = Acc()
    acc.is_main_process = False
    ensure_store(SimpleNamespace(store=str(tmp_path / "s"), synthetic=TINY), acc)
    assert acc.waits == 1 and not (tmp_path / "s").exists()
