"""Synthetic dataset: cheap plugin import, determinism, tasks, the store, and the interaction property."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from sseft.core.errors import ConfigError
from sseft.core.features.writer import label_problem
from sseft.core.plugins import get_dataset
from sseft.core.protocols import Item
from sseft.plugins.datasets.synthetic import SyntheticConfig, task_info, write_synthetic_store
from sseft.plugins.datasets.synthetic_gen import cue_directions, iter_samples, label_from_cues, sample

SMALL = {"n_train": 60, "n_valid": 20, "n_test": 20}


def test_entry_point_module_imports_cheaply() -> None:
    code = (
        "import sys, sseft.plugins.datasets.synthetic as s; "
        "bad = [m for m in ('torch', 'numpy', 'safetensors', 'sklearn') if m in sys.modules]; "
        "assert not bad, bad; print(s.DATASET.name)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "synthetic", out.stderr


def test_registered_plugin_yields_items() -> None:
    ds = get_dataset("synthetic")
    cfg = ds.config_model(**SMALL, seed=1)
    assert ds.task(cfg).type == "multiclass" and len(ds.task(cfg).label_names) == 4
    items = list(ds.items(cfg))
    assert [i.split for i in items].count("valid") == 20 and len(items) == 100
    it = items[0]
    assert isinstance(it, Item) and set(it.inputs) == {"text", "speech", "face"}
    assert it.inputs["text"].features.dtype == np.float32 and it.inputs["speech"].features.shape[1] == 24
    assert all(5 <= x.inputs["face"].features.shape[0] <= 30 for x in items)
    with pytest.raises(ConfigError, match="modalities"):
        ds.items({"modalities": [{"name": "a"}, {"name": "a"}]})


def test_deterministic_from_seed_and_order_free() -> None:
    cfg = SyntheticConfig(seed=5, **SMALL)
    a, b = list(iter_samples(cfg)), list(iter_samples(cfg))
    assert all(
        np.array_equal(x.features["text"], y.features["text"]) and x.label == y.label
        for x, y in zip(a, b, strict=True)
    )
    alone = sample(cfg, "test", 7)  # one item regenerated on its own equals the one in the sequence
    same = next(s for s in a if s.id == "test-00007")
    assert np.array_equal(alone.features["face"], same.features["face"]) and alone.label == same.label
    other = next(iter_samples(SyntheticConfig(seed=6, **SMALL)))
    assert not np.array_equal(other.features["text"][:3], a[0].features["text"][:3])


@pytest.mark.parametrize("task", ["multiclass", "multilabel", "regression"])
def test_tasks_and_any_number_of_modalities(task: str) -> None:
    mods = [{"name": f"m{i}", "dim": 4 + i, "min_len": 2, "max_len": 6} for i in range(5)]
    cfg = SyntheticConfig(task=task, modalities=mods, **SMALL)
    info = task_info(cfg)
    assert len(info.label_names) == {"multiclass": 8, "multilabel": 4, "regression": 1}[task]
    for s in iter_samples(cfg):
        assert label_problem(info, s.label) is None
        assert [x.shape[1] for x in s.features.values()] == [4, 5, 6, 7, 8]
        assert all(2 <= x.shape[0] <= 6 for x in s.features.values())


def test_write_store_fingerprint_and_resume(tmp_path: Path) -> None:
    cfg = {"task": "regression", "shard_size": 16, **SMALL}
    store = write_synthetic_store(cfg, tmp_path)
    assert store.splits == ["train", "valid", "test"] and len(store.ids("train")) == 60
    fp = store.modalities["speech"].fingerprint
    assert fp["source"] == "synthetic" and fp["seed"] == 0 and "modality" not in fp
    assert store.task.type == "regression" and store.verify() == []
    shards = sorted(p.name for p in tmp_path.rglob("*.safetensors"))
    write_synthetic_store(cfg, tmp_path)  # complete: nothing is rewritten
    assert sorted(p.name for p in tmp_path.rglob("*.safetensors")) == shards
    s = sample(SyntheticConfig(**cfg), "valid", 3)
    got = store.get("valid-00003")
    assert np.array_equal(got["features"]["face"].numpy(), s.features["face"]) and got["label"] == s.label
    assert store.meta("valid")[3]["cues"]["text"]["sign"] == s.signs["text"]
    from sseft.core.errors import FeatureStoreError

    with pytest.raises(FeatureStoreError, match="refusing to append"):
        write_synthetic_store({**cfg, "seed": 1}, tmp_path)


def _recovered_cues(cfg: SyntheticConfig, samples) -> dict[str, np.ndarray]:
    """Per modality (N, 2): the cue's sign and strength, read at the frame that best matches the marker."""
    dirs = cue_directions(cfg)
    out = {}
    for m in dirs:
        rows = []
        for s in samples:
            marker, sign_dir = dirs[m]
            p = int(np.argmax(s.features[m] @ marker))  # (L,) -> the cue's position
            v = float(s.features[m][p] @ sign_dir)
            rows.append([np.sign(v), abs(v)])
        out[m] = np.array(rows)
    return out


def _pooled(samples, m: str) -> np.ndarray:
    # (N, D): mean over time, the usual unimodal summary.
    return np.stack([s.features[m].mean(0) for s in samples])


@pytest.mark.slow
def test_label_needs_an_interaction_of_modalities() -> None:
    cfg = SyntheticConfig(seed=11, n_train=1000, n_valid=1, n_test=800)
    train = list(iter_samples(cfg, ("train",)))
    test = list(iter_samples(cfg, ("test",)))
    y_tr = np.array([s.label for s in train])
    y_te = np.array([s.label for s in test])
    names = [m.name for m in cfg.modalities]
    cues_tr, cues_te = _recovered_cues(cfg, train), _recovered_cues(cfg, test)

    # 1) The cues of all modalities jointly determine the label exactly.
    signs = np.stack([cues_te[m][:, 0] for m in names], 1)
    joint = [label_from_cues(cfg, list(map(int, r)), [1.0] * len(names)) for r in signs]
    assert np.mean(np.array(joint) == y_te) > 0.99

    # 2) Any single modality carries no label information: a classifier on its pooled features,
    #    or even on its exact cue (sign, strength), scores chance (0.25 for 4 balanced classes).
    for m in names:
        for x_tr, x_te in [(_pooled(train, m), _pooled(test, m)), (cues_tr[m], cues_te[m])]:
            clf = LogisticRegression(max_iter=300).fit(x_tr, y_tr)
            assert clf.score(x_te, y_te) < 0.32, m
        for sgn in (-1, 1):  # the label distribution is the same whatever this modality's cue sign
            counts = np.bincount(y_te[cues_te[m][:, 0] == sgn], minlength=4) / np.sum(cues_te[m][:, 0] == sgn)
            assert np.abs(counts - 0.25).max() < 0.1, (m, counts)

    # 3) A linear model on every modality's exact cue (late fusion without interaction) stays far
    #    from solving it, while the products of
    #    neighbouring cue signs (an interaction) solve it.
    x_all_tr = np.concatenate([cues_tr[m] for m in names], 1)
    x_all_te = np.concatenate([cues_te[m] for m in names], 1)
    assert LogisticRegression(max_iter=300).fit(x_all_tr, y_tr).score(x_all_te, y_te) < 0.45

    def products(c):
        return np.stack([c[names[0]][:, 0] * c[names[1]][:, 0], c[names[1]][:, 0] * c[names[2]][:, 0]], 1)

    assert LogisticRegression(max_iter=300).fit(products(cues_tr), y_tr).score(products(cues_te), y_te) > 0.99
    # Two modalities explain one of the two label bits: 0.5 at best.
    pair = (cues_te[names[0]][:, 0] * cues_te[names[1]][:, 0] > 0).astype(int)
    assert np.mean(pair == (y_te & 1)) > 0.99 and abs(np.mean((pair * 2) == (y_te & 2)) - 0.5) < 0.1


def test_regression_label_is_symmetric_given_one_modality() -> None:
    cfg = SyntheticConfig(task="regression", seed=2, n_train=2000, n_valid=1, n_test=1)
    samples = list(iter_samples(cfg, ("train",)))
    y = np.array([s.label for s in samples])
    assert y.std() > 1.0
    for m in ("text", "speech", "face"):
        sgn = np.array([s.signs[m] for s in samples])
        for v in (-1, 1):
            assert abs(y[sgn == v].mean()) < 0.15


def test_redundancy_copies_the_next_modalitys_sign_and_zero_changes_nothing() -> None:
    from sseft.plugins.datasets.synthetic_gen import copy_directions

    plain = SyntheticConfig(seed=5, n_train=40, n_valid=1, n_test=1)
    copied = plain.model_copy(update={"redundancy": 0.6})
    a, b = list(iter_samples(plain, ("train",))), list(iter_samples(copied, ("train",)))
    again = list(iter_samples(plain.model_copy(update={"redundancy": 0.0}), ("train",)))
    assert all(
        np.array_equal(x.features[m], y.features[m])
        for x, y in zip(a, again, strict=True)
        for m in x.features
    )
    names = [m.name for m in plain.modalities]
    dirs, copies = cue_directions(plain), copy_directions(plain)
    for x, y in zip(a, b, strict=True):
        assert x.label == y.label and x.signs == y.signs  # same items, labels and cues
        for j, m in enumerate(names):
            marker, sign_dir = dirs[m]
            assert abs(copies[m] @ marker) < 1e-6 and abs(copies[m] @ sign_dir) < 1e-6
            p = x.positions[m]
            read = float((y.features[m][p] - x.features[m][p]) @ copies[m])  # only the cue frame changed
            assert np.sign(read) == x.signs[names[(j + 1) % len(names)]]
            rest = np.delete(y.features[m] - x.features[m], p, axis=0)
            assert not rest.any()
