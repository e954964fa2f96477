"""Robustness test fixtures: a tiny store and two tiny trained models (with and without modality
dropout), built once per module run; helpers live in robhelpers.py (a unique module name)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import robhelpers as rh  # noqa: E402


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("rob")
    store = rh.easy_store(root / "store", n={"train": 320, "valid": 20, "test": 80})
    plain = rh.saved(rh.fit(rh.build(store), store, epochs=8), root / "plain")
    drop = rh.saved(
        rh.fit(rh.build(store, seed=1), store, epochs=8, dropout=0.4, seed=1), root / "drop", dropout=0.4
    )
    return {
        "store": store,
        "plain": plain,
        "drop": drop,
        "plain_dir": root / "plain",
        "drop_dir": root / "drop",
    }
