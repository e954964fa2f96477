"""Config loading: strict models, overrides, every error reported at once with its location."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.config import StrictModel, apply_overrides, load_config, write_resolved
from sseft.core.errors import ConfigError
from sseft.core.specs import FusionConfig


class Inner(StrictModel):
    lr: float = 1e-3
    layers: int = 2


class Outer(StrictModel):
    name: str
    inner: Inner = Inner()
    tags: list[str] = []


def test_yaml_and_json_load_with_overrides(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("name: a\ninner: {lr: 0.5}\n")
    (tmp_path / "c.json").write_text(json.dumps({"name": "a", "inner": {"lr": 0.5}}))
    for f in ("c.yaml", "c.json"):
        cfg = load_config(Outer, tmp_path / f, ["inner.layers=4", "tags=[x, y]"])
        assert cfg.inner.lr == 0.5 and cfg.inner.layers == 4 and cfg.tags == ["x", "y"]


def test_all_errors_reported_at_once_with_locations(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("inner: {lr: fast, layres: 3}\n")
    with pytest.raises(ConfigError) as e:
        load_config(Outer, tmp_path / "bad.yaml")
    msg = str(e.value)
    assert "\n" not in msg
    assert "3 invalid fields" in msg
    assert "name: Field required" in msg
    assert "inner.lr:" in msg and "inner.layres: unknown field" in msg
    assert str(tmp_path / "bad.yaml") in msg


def test_missing_file_and_bad_syntax_and_bad_override(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(Outer, tmp_path / "nope.yaml")
    (tmp_path / "x.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Outer, tmp_path / "x.yaml")
    with pytest.raises(ConfigError, match="expected path.to.field=value"):
        apply_overrides({}, ["novalue"])
    with pytest.raises(ConfigError, match="not a valid index"):
        apply_overrides({"a": [1]}, ["a.5=2"])


def test_list_index_override() -> None:
    assert apply_overrides({"m": [{"n": "a"}, {"n": "b"}]}, ["m.1.n=c"]) == {"m": [{"n": "a"}, {"n": "c"}]}


@settings(max_examples=25, deadline=None)
@given(
    n_self=st.integers(0, 6),
    heads=st.integers(1, 8),
    dropout=st.floats(0, 0.9, allow_nan=False),
    reduce=st.sampled_from(["hadamard", "concat", "mean"]),
)
def test_resolved_config_round_trips(tmp_path_factory, n_self, heads, dropout, reduce) -> None:  # type: ignore[no-untyped-def]
    cfg = FusionConfig(n_self=n_self, heads=heads, dropout=dropout, reduce=reduce)
    path = write_resolved(cfg, tmp_path_factory.mktemp("r") / "resolved.yaml")
    assert FusionConfig.model_validate(yaml.safe_load(path.read_text())) == cfg


def test_duplicate_keys_are_an_error_naming_key_and_file(tmp_path) -> None:
    from sseft.core.config import read_mapping

    p = tmp_path / "exp.yaml"
    p.write_text("train:\n  epochs: 5\n  lr: 0.001\n  epochs: 50\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: duplicate key 'epochs' \(lines 2 and 4\)"):
        read_mapping(p)
    p.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(ConfigError, match=r"exp.yaml: duplicate key 'seed'"):
        read_mapping(p)
    j = tmp_path / "exp.json"
    j.write_text('{"seed": 1, "train": {"epochs": 1, "epochs": 2}}')
    with pytest.raises(ConfigError, match=r"exp.json: duplicate key 'epochs'"):
        read_mapping(j)
    p.write_text("a: &x {k: 1}\nb:\n  <<: *x\n  j: 2\n")  # merge keys and anchors still work
    assert read_mapping(p) == {"a": {"k": 1}, "b": {"k": 1, "j": 2}}


# -- did-you-mean and blaming the override ----------------------------------------------------------
def test_unknown_fields_get_a_did_you_mean_at_every_depth(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("name: a\nnmae: b\ninner: {layres: 3, zzz: 1}\n")
    with pytest.raises(ConfigError) as e:
        load_config(Outer, tmp_path / "c.yaml")
    msg = str(e.value)
    assert "nmae: unknown field; did you mean 'name'?" in msg
    assert "inner.layres: unknown field; did you mean 'layers'?" in msg
    assert "inner.zzz: unknown field (allowed here: lr, layers)" in msg


def test_experiment_and_plugin_fields_get_a_did_you_mean() -> None:
    from sseft.core.config import validate
    from sseft.core.plugins import get_modality
    from sseft.core.training.config import ExperimentConfig

    with pytest.raises(ConfigError, match=r"train\.epoch: unknown field; did you mean 'epochs'\?"):
        validate(ExperimentConfig, {"name": "x", "data": {"store": "s"}, "train": {"epoch": 3}})
    with pytest.raises(ConfigError, match=r"fusion\.nself: unknown field; did you mean 'n_self'\?"):
        validate(ExperimentConfig, {"name": "x", "data": {"store": "s"}, "fusion": {"nself": 1}})
    text = get_modality("text").config_model
    with pytest.raises(ConfigError, match=r"modle: unknown field; did you mean 'model'\?"):
        validate(text, {"modle": "minilm-offline"}, source="modality text")


def test_a_bad_override_is_blamed_on_the_override_not_the_file(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("name: a\n")
    with pytest.raises(ConfigError) as e:
        load_config(Outer, tmp_path / "c.yaml", ["inner.layers=[1"])
    msg = str(e.value)
    assert msg.startswith("--set 'inner.layers=[1': the value '[1' is not valid YAML"), msg
    assert str(tmp_path) not in msg
    with pytest.raises(
        ConfigError, match=r"inner\.layers: .*valid integer.* \(from --set 'inner\.layers=many'\)"
    ):
        load_config(Outer, tmp_path / "c.yaml", ["inner.layers=many"])
    with pytest.raises(
        ConfigError, match=r"inner\.lyers: unknown field; did you mean 'layers'\? \(from --set"
    ):
        load_config(Outer, tmp_path / "c.yaml", ["inner.lyers=2"])
    # a plain string that merely fails YAML parsing stays a string
    assert apply_overrides({}, ["name=a: b: c"]) == {"name": "a: b: c"}


def test_describe_fields_expands_nested_models() -> None:
    from sseft.core.config import describe_fields

    rows = {r["field"]: r for r in describe_fields(Outer)}
    assert list(rows) == ["name", "inner.lr", "inner.layers", "tags"]
    assert rows["name"]["default"] == "(required)" and rows["inner.lr"]["type"] == "float"
    assert rows["inner.lr"]["default"] == "0.001" and rows["tags"] == {
        "field": "tags",
        "type": "list[str]",
        "default": "[]",
        "description": "",
    }
