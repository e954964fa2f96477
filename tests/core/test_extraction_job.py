"""core/extraction/job.py: `sseft extract`'s job resolved in core (dataset plugin by name, options,
overrides) and run through the engine; the CLI only parses and prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from sseft.core.errors import ConfigError
from sseft.core.extraction.job import extract_dataset, resolve_dataset, split_extract_overrides


def test_split_overrides_tells_extractor_options_from_dataset_options() -> None:
    per, data = split_extract_overrides(
        ["text.model=x", "dataset.root=r", "seed=3", "text.batch_size=2", "a.b=c=d"]
    )
    assert per == {"text": ["model=x", "batch_size=2"], "a": ["b=c=d"]}
    assert data == ["root=r", "seed=3"]


def test_resolve_dataset_roots_relative_to_the_options_file(tmp_path: Path) -> None:
    plugin, cfg = resolve_dataset("manifest", None, ["task=regression"], {"root": "m.csv"}, base=tmp_path)
    assert plugin.name == "manifest" and Path(cfg.root) == tmp_path / "m.csv" and cfg.task == "regression"
    _, cfg = resolve_dataset("manifest", "/abs/m.csv", data={"root": "ignored.csv"}, base=tmp_path)
    assert Path(cfg.root) == Path("/abs/m.csv")  # --root wins, absolute stays


def test_extract_dataset_generates_a_store_through_the_engine(tmp_path: Path) -> None:
    opts = tmp_path / "synthetic.yaml"
    opts.write_text("n_train: 3\nn_valid: 2\nn_test: 2\n")
    sets = ["seed=4", "modalities=[{name: a, dim: 4, max_len: 6}, {name: b, dim: 3, max_len: 6}]"]
    summary = extract_dataset(
        "synthetic", tmp_path / "store", dataset_config=opts, sets=sets, limit=5, progress=False
    )
    assert (summary.total, summary.done, summary.failed) == (5, 5, 0)
    from sseft.core.features import FeatureStore

    store = FeatureStore.open(tmp_path / "store")
    assert len(store) == 5 and {m: i.dim for m, i in store.modalities.items()} == {"a": 4, "b": 3}
    with pytest.raises(ConfigError, match=r"--set c\.x=1: 'c' is not a modality of this job"):
        extract_dataset(
            "synthetic", tmp_path / "s2", dataset_config=opts, sets=[*sets, "c.x=1"], progress=False
        )
