"""Fusions as plugins: the one input path (standardise before any fusion), configs old and new, the
parameter counts at MMSA's settings, TFN's size limit, and the framework's refusal of a fusion that
would skip the input path."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from sseft.core.errors import ConfigError, PluginError
from sseft.core.fusion.base import FusionModule
from sseft.core.fusion.build import build_fusion
from sseft.core.model import HeadSpec, ModelConfig
from sseft.core.specs import FusionConfig, ModalitySpec, Standardization
from sseft.plugins.fusions.parity import fusion_options, mmsa_count, mmsa_modalities

MEAN_A, STD_A = [10.0, -5.0, 0.0], [2.0, 0.5, 4.0]
MEAN_B, STD_B = [100.0, 1.0], [10.0, 0.1]
SPECS = [
    ModalitySpec(name="a", dim=3, standardize=Standardization(mean=MEAN_A, std=STD_A)),
    ModalitySpec(name="b", dim=2, standardize=Standardization(mean=MEAN_B, std=STD_B)),
]


def _pool_by_hand(x: torch.Tensor, k: int, mean: list[float], std: list[float]) -> torch.Tensor:
    """Standardise, then average the first k frames (the written-out definition)."""
    z = (x[:k] - torch.tensor(mean)) / torch.tensor(std)
    return z.mean(dim=0)


@pytest.mark.parametrize("name", ["late-fusion", "concat-pool"])
def test_pooled_baselines_see_standardised_features(name: str) -> None:
    torch.manual_seed(0)
    fusion = build_fusion(SPECS, {"name": name, "dropout": 0.0}).eval()
    a = torch.randn(2, 4, 3) * 3 + torch.tensor(MEAN_A)
    b = torch.randn(2, 5, 2) + torch.tensor(MEAN_B)
    lens = {"a": torch.tensor([4, 2]), "b": torch.tensor([3, 5])}
    out = fusion({"a": a, "b": b}, lens)
    for i in range(2):
        pa = _pool_by_hand(a[i], int(lens["a"][i]), MEAN_A, STD_A)
        pb = _pool_by_hand(b[i], int(lens["b"][i]), MEAN_B, STD_B)
        if name == "concat-pool":
            want = torch.cat([pa, pb])
        else:
            lin = fusion.linears
            want = (lin["a"](pa) + lin["b"](pb)) / 2
        torch.testing.assert_close(out[i], want, atol=1e-5, rtol=1e-5)


class _MeanFusion(FusionModule):
    """A test fusion: the mean of the first modality (plus a Linear, to have a parameter)."""

    def __init__(self, specs: list[ModalitySpec]) -> None:
        super().__init__(specs)
        self.out_dim = specs[0].width
        self.lin = nn.Linear(self.out_dim, self.out_dim)

    def fuse(self, seqs, frames, need_weights=False):  # type: ignore[no-untyped-def]
        return self.lin(seqs[self.names[0]].sum(1)), {}


class _Skipper(_MeanFusion):
    def forward(self, features, lengths, return_attention=False, **options):  # type: ignore[no-untyped-def, override]
        return self.lin(features[self.names[0]].mean(1))  # raw features: no standardisation, no mask


def _install(monkeypatch: pytest.MonkeyPatch, module_class: type, **declared: object) -> None:
    """A fresh plugin manager with the built-ins plus a test fusion 'probe' building `module_class`."""
    import types
    from types import SimpleNamespace

    from sseft.core import plugins
    from sseft.core.fusion.options import PoolingConfig

    monkeypatch.setattr(plugins, "_MANAGER", None)
    pm = plugins.get_manager().load()
    probe = SimpleNamespace(
        name="probe",
        config_model=PoolingConfig,
        build=lambda specs, cfg: module_class(list(specs)),
        **declared,
    )
    module = types.ModuleType("probe_plugin")  # a plugin is a module (hashable, unlike a namespace)
    module.register_fusions = lambda register: register(probe)  # type: ignore[attr-defined]
    pm.add_plugin(module, plugins.PluginInfo(name="probe", package="probe-pkg", version="0", module="probe"))


def test_a_fusion_that_overrides_forward_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _install(monkeypatch, _Skipper)
    with pytest.raises(PluginError, match=r"overrides forward\(\); implement fuse\(\)"):
        build_fusion(SPECS, {"name": "probe"})


def test_a_fusion_without_missing_modalities_refuses_such_items(monkeypatch: pytest.MonkeyPatch) -> None:
    from sseft.core.errors import DataError

    _install(monkeypatch, _MeanFusion, handles_missing=False)
    fusion = build_fusion(SPECS, {"name": "probe"})
    feats = {"a": torch.randn(2, 3, 3), "b": torch.randn(2, 3, 2)}
    fusion(feats, {"a": torch.tensor([3, 1]), "b": torch.tensor([2, 3])})
    with pytest.raises(
        DataError, match=r"fusion input 'b': an item has no b frames, and fusion 'probe' cannot"
    ):
        fusion(feats, {"a": torch.tensor([3, 1]), "b": torch.tensor([2, 0])})


_MODEL = {
    "modalities": [{"name": "a", "dim": 4}], "head": {"name": "regression"}, "task": "regression",
    "label_names": ["s"],
}  # fmt: skip


def test_old_and_new_fusion_sections() -> None:
    assert FusionConfig().name == "sseft" and FusionConfig().heads == 4
    assert FusionConfig.model_validate({"n_self": 1}).name == "sseft"
    old = FusionConfig.model_validate({"kind": "late-fusion", "n_self": 2, "heads": 4, "dropout": 0.2})
    assert old.name == "late-fusion" and old.options() == {"dropout": 0.2, "init_std": 0.02}
    new = FusionConfig.model_validate({"name": "mult", "dim": 8, "heads": 2})
    assert new.layers == 4 and json.loads(json.dumps(new.model_dump()))["name"] == "mult"
    with pytest.raises(
        ValueError,
        match=r"old spelling of `name` \(also given: `name: tfn`\); give one, e.g. `fusion: \{name: sseft\}`",
    ):
        FusionConfig.model_validate({"kind": "sseft", "name": "tfn"})
    with pytest.raises(ValueError, match="unknown fusion 'tnf'; did you mean 'tfn'"):
        FusionConfig.model_validate({"name": "tnf"})
    from sseft.core.config import validate

    with pytest.raises(ConfigError, match=r"fusion\.ranks: unknown field; did you mean 'rank'\?"):
        validate(ModelConfig, {**_MODEL, "fusion": {"name": "lmf", "ranks": 3}})
    assert FusionConfig().model_copy(update={"ima": False}).ima is False  # an SSE-FT ablation preset
    with pytest.raises(
        ConfigError, match=r"fusion 'mult' does not take \{'ima': False\}: ima: unknown field"
    ):
        new.model_copy(update={"ima": False})
    # an artifact written before fusions were plugins (no name; kind: sseft) still validates
    cfg = ModelConfig.model_validate(
        {**_MODEL, "fusion": {"n_self": 1, "heads": 2, "kind": "sseft", "reduce": "hadamard"}}
    )
    assert cfg.fusion.name == "sseft" and cfg.fusion.n_self == 1
    assert isinstance(cfg.head, HeadSpec)


# MMSA's trainable parameters at its MOSI / MOSEI regression settings, by hand from its layer sizes
# (plugins/fusions/parity.py), less its final output Linear, which is sseft's head.
PARITY = {
    ("tfn", "mosi"): (9_497_043, 65),
    ("lmf", "mosi"): (505_071, 0),
    ("mult", "mosi"): (2_571_551, 301),
    ("tfn", "mosei"): (5_042_539, 17),
    ("lmf", "mosei"): (508_475, 0),
    ("mult", "mosei"): (982_951, 181),
}


@pytest.mark.parametrize(("model", "dataset"), list(PARITY))
def test_parameter_counts_match_mmsa(model: str, dataset: str) -> None:
    total, output_layer = PARITY[model, dataset]
    assert mmsa_count(model, dataset) == (total, output_layer)
    specs = [ModalitySpec(**s) for s in mmsa_modalities(dataset)]
    fusion = build_fusion(specs, fusion_options(model, dataset))
    assert fusion.parameter_count() == total - output_layer
    # the shipped config reproduces exactly these settings
    from pathlib import Path

    import yaml

    path = Path(__file__).resolve().parents[2] / "configs" / f"{dataset}-{model}.yaml"
    assert yaml.safe_load(path.read_text())["fusion"] == fusion_options(model, dataset)


def test_tfn_refuses_past_its_limit_with_the_size_it_would_need() -> None:
    specs = [ModalitySpec(name=f"m{i}", dim=4) for i in range(4)]
    with pytest.raises(
        ConfigError, match=r"\(64\+1\) x \(64\+1\) x \(64\+1\) x \(64\+1\) = 17,850,625 entries"
    ) as e:
        build_fusion(specs, {"name": "tfn", "hidden": 64})
    assert "raise max_fused" in str(e.value) and "\n" not in str(e.value)
    assert build_fusion(specs, {"name": "tfn", "hidden": 8}).out_dim == 64
