"""Artifacts: round trip for every head and 1-4 modalities, plain safetensors+json loading, tampering."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from regtools import TASK_LABELS, make_config, make_model, random_inputs
from safetensors import safe_open
from safetensors.torch import load_model, save_file

import sseft
from sseft.core.errors import IntegrityError, PluginError, RegistryError, SseftError
from sseft.core.model import ModelConfig, build_model
from sseft.registry.integrity import CHECKSUMS, sha256_file, verify_dir, write_checksums


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert sa[k].dtype == sb[k].dtype and torch.equal(sa[k], sb[k]), k


@pytest.mark.parametrize("n_mod", [1, 2, 3, 4])
@pytest.mark.parametrize("task", list(TASK_LABELS))
def test_round_trip_bit_identical(engine, tmp_path: Path, task: str, n_mod: int) -> None:
    model = make_model(engine, task, n_mod)
    out_dir = sseft.save(model, tmp_path / "art", metrics={"loss": 0.5}, training={"epochs": 1})
    loaded = sseft.load(out_dir)
    assert not loaded.training
    _same_weights(model, loaded)
    feats, lens = random_inputs(model.config)
    with torch.no_grad():
        assert torch.equal(model(feats, lens), loaded(feats, lens))
    assert loaded.label_names == TASK_LABELS[task]
    # The saved head config has the head's defaults filled in; everything else is as given.
    assert loaded.config.model_copy(update={"head": model.config.head}) == model.config
    assert loaded.config.head.name == model.config.head.name and loaded.config.head.config
    info = loaded.artifact_info
    assert info.metrics == {"loss": 0.5} and info.training == {"epochs": 1} and info.task == task


def test_loads_with_plain_safetensors_and_json(engine, tmp_path: Path) -> None:
    model = make_model(engine, "multilabel", 3)
    d = sseft.save(model, tmp_path / "art")
    # No registry code from here on: json + safetensors + the core model builder.
    data = json.loads((d / "config.json").read_text())
    assert data["format_version"] == 1 and data["model"]["head"]["name"] == engine["multilabel"]
    assert {"torch", "safetensors", "python"} <= set(data["packages"])
    with safe_open(str(d / "model.safetensors"), "pt") as f:
        assert f.metadata() == {"format": "pt"}
    fresh = build_model(ModelConfig.model_validate(data["model"]))
    missing, unexpected = load_model(fresh, str(d / "model.safetensors"))
    assert not missing and not unexpected
    fresh.eval()
    feats, lens = random_inputs(model.config, seed=5)
    with torch.no_grad():
        assert torch.equal(model(feats, lens), fresh(feats, lens))
    sums = json.loads((d / CHECKSUMS).read_text())["files"]
    assert set(sums) == {"config.json", "model.safetensors", "README.md"}
    assert all(sha256_file(d / n) == h for n, h in sums.items())
    assert "sseft.load" in (d / "README.md").read_text()


def test_save_refuses_nonempty_dir_and_cleans_nan(engine, tmp_path: Path) -> None:
    model = make_model(engine)
    d = sseft.save(model, tmp_path / "art", metrics={"f1": float("nan"), "acc": torch.tensor(0.5)})
    assert json.loads((d / "config.json").read_text())["metrics"] == {"f1": None, "acc": 0.5}
    with pytest.raises(RegistryError, match="not empty"):
        sseft.save(model, d)
    sseft.save(model, d, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["art"]  # no temp dirs left beside it


@pytest.fixture
def saved(engine, tmp_path: Path) -> Path:
    return sseft.save(make_model(engine, "multiclass", 2), tmp_path / "art")


def test_flipped_byte_is_refused(saved: Path) -> None:
    p = saved / "model.safetensors"
    raw = bytearray(p.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    p.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=r"model\.safetensors: sha256 does not match"):
        sseft.load(saved)


def test_truncated_weights_are_refused(saved: Path) -> None:
    p = saved / "model.safetensors"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(IntegrityError, match=r"model\.safetensors"):
        sseft.load(saved)
    write_checksums(saved)  # even with matching checksums the cut is seen
    with pytest.raises(IntegrityError, match="truncated"):
        sseft.load(saved)


def test_edited_config_is_refused(saved: Path) -> None:
    p = saved / "config.json"
    p.write_text(p.read_text().replace('"neutral"', '"calm"'))
    with pytest.raises(IntegrityError, match=r"config\.json: sha256 does not match"):
        sseft.load(saved)


def test_missing_checksums_file_is_refused(saved: Path) -> None:
    (saved / CHECKSUMS).unlink()
    with pytest.raises(IntegrityError, match=r"checksums\.json: missing"):
        sseft.load(saved)


def test_wrong_weights_list_missing_and_unexpected_keys(saved: Path) -> None:
    save_file({"foo.weight": torch.zeros(2, 2), "bar": torch.ones(3)}, str(saved / "model.safetensors"))
    write_checksums(saved)
    with pytest.raises(IntegrityError) as e:
        sseft.load(saved)
    msg = str(e.value)
    assert "missing keys:" in msg and "unexpected keys: bar, foo.weight" in msg and "more)" in msg


def test_random_safetensors_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "weights.safetensors"
    save_file({"x": torch.zeros(1)}, str(f))
    with pytest.raises(IntegrityError, match="single .safetensors file"):
        sseft.load(f)


def test_missing_head_plugin_is_named(saved: Path) -> None:
    p = saved / "config.json"
    data = json.loads(p.read_text())
    data["model"]["head"]["name"] = "ordinal-fancy"
    p.write_text(json.dumps(data))
    write_checksums(saved)
    with pytest.raises(PluginError, match="head plugin 'ordinal-fancy' is not installed"):
        sseft.load(saved)


def test_missing_modality_plugin_is_named(engine, tmp_path: Path) -> None:
    cfg = make_config(
        engine["regression"], "regression", 2, fingerprint={"modality": "lidar-x", "model": "m"}
    )
    d = sseft.save(build_model(cfg), tmp_path / "art")
    with pytest.raises(PluginError, match="modality plugin 'lidar-x' is not installed"):
        sseft.load(d)


def test_broken_plugin_is_reported_as_failed_to_load_with_its_package(
    engine, tmp_path: Path, monkeypatch
) -> None:
    """A plugin that is installed but raises on import: not "not installed" but "installed but failed
    to load: <error>", naming the package the artifact records; `sseft predict` says the same."""
    import sys

    from click.testing import CliRunner

    from sseft.cli.main import cli
    from sseft.core import plugins as core_plugins
    from tests.conftest import make_fake_distribution

    cfg = make_config(
        engine["regression"], "regression", 2, fingerprint={"modality": "lidar-x", "model": "m"}
    )
    d = sseft.save(build_model(cfg), tmp_path / "art")
    data = json.loads((d / "config.json").read_text())
    data["plugins"] = {"modality:lidar-x": "sseft-lidar 1.0"}
    (d / "config.json").write_text(json.dumps(data))
    write_checksums(d)
    with pytest.raises(PluginError, match="is not installed.*install the package 'sseft-lidar 1.0'"):
        sseft.load(d)
    root = make_fake_distribution(
        tmp_path / "site",
        "sseft-lidar",
        {"sseft_lidar": "import lidar_driver_that_is_missing\n"},
        {"lidar": "sseft_lidar"},
    )
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(core_plugins, "_MANAGER", None)
    expected = (
        r"modality plugin 'lidar-x' is installed \(package sseft-lidar, plugin 'lidar'\) but failed to load: "
        r"ModuleNotFoundError: No module named 'lidar_driver_that_is_missing'.*fix or reinstall sseft-lidar"
    )
    with pytest.raises(PluginError, match=expected):
        sseft.load(d)
    r = CliRunner().invoke(cli, ["predict", "--model", str(d), "--text", "hello"])
    assert r.exit_code == 2 and len(r.output.strip().splitlines()) == 1, r.output
    assert "failed to load: ModuleNotFoundError" in r.output and "sseft-lidar" in r.output
    sys.modules.pop("sseft_lidar", None)


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_any_flipped_bit_in_any_file_is_refused(artifact_bytes, data) -> None:
    d, originals = artifact_bytes
    name = data.draw(st.sampled_from(sorted(originals)))
    raw = bytearray(originals[name])
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    for n, b in originals.items():
        (d / n).write_bytes(bytes(raw) if n == name else b)
    problems = verify_dir(d)
    assert len(problems) == 1 and name in problems[0]


@pytest.fixture(scope="module")
def artifact_bytes(tmp_path_factory: pytest.TempPathFactory):
    """One saved artifact (module-scoped: hypothesis reuses it) and the bytes of each file."""
    from sseft.core import plugins as core_plugins

    core_plugins.reset_manager()
    d = sseft.save(make_model(_heads(), "multilabel", 2), tmp_path_factory.mktemp("hyp") / "art")
    return d, {p.name: p.read_bytes() for p in d.iterdir() if p.name != CHECKSUMS}


def _heads() -> dict[str, str]:
    from sseft.core.plugins import get_manager

    pm = get_manager().load()
    return {pm.get("head", n).task: n for n in pm.names("head")}


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda c: c.pop("model"), "missing the 'model' section"),
        (lambda c: [c["model"].pop("head"), c["model"].pop("task")], "model section lacks head, task"),
        (lambda c: c.update(format_version=2), "written by a newer sseft"),
        (lambda c: c["model"]["modalities"][0].update(dim=-3), "invalid modality or fusion config"),
        (lambda c: c["model"]["fusion"].update(bogus=1), "invalid modality or fusion config"),
        (lambda c: c["model"]["head"]["config"].update(dropout=7), "head config"),
    ],
)
def test_bad_config_sections_are_named(saved: Path, edit, expected: str) -> None:
    p = saved / "config.json"
    cfg = json.loads(p.read_text())
    edit(cfg)
    p.write_text(json.dumps(cfg))
    write_checksums(saved)  # consistent checksums: the config itself must be checked
    with pytest.raises(SseftError, match=expected):
        sseft.load(saved)


def test_missing_config_is_refused(saved: Path) -> None:
    (saved / "config.json").unlink()
    with pytest.raises(IntegrityError, match=r"config\.json: listed in checksums\.json but missing"):
        sseft.load(saved)
    write_checksums(saved)
    with pytest.raises(IntegrityError, match=r"does not list config\.json"):
        sseft.load(saved)


def test_verify_false_loads_without_checksums(saved: Path) -> None:
    (saved / CHECKSUMS).unlink()
    with pytest.raises(IntegrityError, match="verify=False"):
        sseft.load(saved)
    assert sseft.load(saved, verify=False).label_names == ["neutral", "joy", "anger"]
