"""Absent modalities end to end: dataset policy -> extraction engine -> feature store / failures.jsonl.

Two third-party-like modalities with cheap fake extractors (`alpha` reads inline text, `beta` reads
`.bin` files), so the real engine and store run in well under a second.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from pydantic import BaseModel

from sseft.core import plugins as core_plugins
from sseft.core.errors import DataError
from sseft.core.extraction import extract_items
from sseft.core.extraction.engine import run_batch
from sseft.core.features import FeatureStore
from sseft.core.plugins import PluginInfo, get_manager
from sseft.plugins.datasets.manifest import MANIFEST, ManifestConfig


class _Cfg(BaseModel):
    pass


class _Extractor:
    dim = 3

    def fingerprint(self) -> dict[str, Any]:
        return {"model": "fake", "config": {}}

    def __call__(self, raws: list[Any]) -> list[Any]:
        out: list[Any] = []
        for r in raws:
            text = r if isinstance(r, str) else Path(r).read_text()
            if "bad" in text:  # a decoder error that does not name the file
                out.append(DataError("cannot decode: corrupt header"))
            elif "nan" in text:  # an encoder that produces NaN for this input
                out.append(torch.full((2, self.dim), float("nan")))
            else:
                out.append(torch.ones(len(text.split()), self.dim))
        return out


class _Fake:
    provides_cls = False
    max_len = 64
    dim = 3
    config_model = _Cfg

    def __init__(self, name: str, suffixes: tuple[str, ...]) -> None:
        self.name, self.suffixes = name, suffixes

    def build_extractor(self, config: Any, device: str = "cpu") -> _Extractor:
        return _Extractor()


class _Module:
    def register_modalities(self, register: Any) -> None:
        register(_Fake("alpha", ()))
        register(_Fake("beta", (".bin",)))


@pytest.fixture
def fakes() -> Any:
    core_plugins.reset_manager()
    get_manager().load().add_plugin(_Module(), PluginInfo("fakes", "sseft-fakes", "0", "sseft_fakes"))
    yield
    core_plugins.reset_manager()


def corpus(tmp_path: Path, rows: list[str]) -> Path:
    for name, text in (("b1", "one two"), ("b4", "bad bytes")):
        (tmp_path / f"{name}.bin").write_text(text)
    m = tmp_path / "m.csv"
    m.write_text("id,split,label,alpha,beta\n" + "\n".join(rows) + "\n")
    return m


def extract(cfg: ManifestConfig, out: Path) -> Any:
    items = list(MANIFEST.items(cfg))
    mods = {"alpha": {}, "beta": {}}
    return extract_items(items, MANIFEST.task(cfg), mods, out, batch_size=2, progress=False, threads=1)


def failures(out: Path) -> list[dict[str, Any]]:
    p = out / "failures.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.is_file() else []


ROWS = [
    "u1,train,a,hello there,b1.bin",
    "u2,train,b,no beta here,",  # empty cell: lacks beta
    "u3,train,a,missing file,gone.bin",  # a named file that does not exist
    "u4,test,b,broken file,b4.bin",  # a file the extractor cannot decode
]


def test_partial_stores_absent_modalities_empty(tmp_path: Path, fakes: Any) -> None:
    m = corpus(tmp_path, [*ROWS, "u5,train,a,,"])  # u5 has nothing at all
    cfg = ManifestConfig(root=m, missing_media="partial", label_names=["a", "b"])
    s = extract(cfg, tmp_path / "store")
    assert (s.done, s.failed) == (3, 2), s.line()
    store = FeatureStore.open(tmp_path / "store")
    ids = store.ids("train")
    lengths = dict(zip(ids, store.lengths("train", "beta"), strict=True))
    assert lengths == {"u1": 2, "u2": 0, "u3": 0}  # absent: an empty (0, D) sequence
    meta = dict(zip(ids, store.meta("train"), strict=True))
    assert meta["u2"]["missing"] == ["beta"] and "missing" not in meta["u1"]
    assert "gone.bin not found (m.csv line 4)" in meta["u3"]["missing_reason"]["beta"]
    f, f5 = sorted(failures(tmp_path / "store"), key=lambda x: x["id"])
    # the reason names the file even though the extractor's error did not
    assert f["id"] == "u4" and f["modality"] == "beta" and str(tmp_path / "b4.bin") in f["reason"]
    assert f["reason"].endswith("(m.csv line 5)")  # and the manifest line it came from
    # an item left with nothing is recorded, never silently dropped
    assert f5["id"] == "u5" and "every extracted modality is absent" in f5["reason"]
    assert "empty cell in column alpha (m.csv line 6)" in f5["reason"]
    # a rerun retries u4 and u5, they fail again for the same reasons, and no line is duplicated
    again = extract(cfg, tmp_path / "store")
    assert (again.skipped, again.failed) == (3, 2)
    assert len(failures(tmp_path / "store")) == 2


def test_error_policy_makes_an_empty_cell_a_failure_with_its_reason(tmp_path: Path, fakes: Any) -> None:
    m = corpus(tmp_path, [ROWS[0], ROWS[1]])
    cfg = ManifestConfig(root=m, label_names=["a", "b"])  # missing_media: error (default)
    s = extract(cfg, tmp_path / "store")
    assert (s.done, s.failed) == (1, 1)
    [f] = failures(tmp_path / "store")
    assert f["id"] == "u2" and f["modality"] == "beta"
    assert "no beta input: empty cell in column beta (m.csv line 3)" in f["reason"]
    assert "missing_media" in f["reason"]
    # a named file that does not exist stops the job before any work, naming file and line
    with pytest.raises(DataError, match=r"u3: beta file \S*gone.bin not found \(m.csv line 4\)"):
        extract(ManifestConfig(root=corpus(tmp_path, ROWS), label_names=["a", "b"]), tmp_path / "s2")


def test_every_modality_absent_is_a_failure(tmp_path: Path, fakes: Any) -> None:
    from sseft.core.protocols import Item

    it = Item("x", "train", 0, {}, {"missing": ["alpha", "beta"], "missing_reason": {"beta": "beta gone"}})
    ok = Item("y", "train", 0, {"alpha": "a b", "beta": tmp_path / "b1.bin"})
    (tmp_path / "b1.bin").write_text("one")
    res = run_batch({"alpha": _Extractor(), "beta": _Extractor()}, [it, ok])
    assert isinstance(res[0], tuple) and "every extracted modality is absent" in res[0][1]
    assert "beta gone" in res[0][1]
    assert isinstance(res[1], dict) and res[1]["features"]["alpha"].shape == (2, 3)


def test_nan_features_name_the_input_file(tmp_path: Path, fakes: Any) -> None:
    (tmp_path / "n.bin").write_text("nan nan")
    ok = make_item("u1", {"alpha": "a b", "beta": tmp_path / "n.bin"})
    [res] = run_batch({"alpha": _Extractor(), "beta": _Extractor()}, [ok])
    assert isinstance(res, tuple) and res[0] == "beta"
    assert res[1] == f"{tmp_path / 'n.bin'}: beta features hold NaN or Inf"


def make_item(item_id: str, inputs: dict[str, Any]) -> Any:
    from sseft.core.protocols import Item

    return Item(item_id, "train", 0, inputs)
