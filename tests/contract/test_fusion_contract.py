"""The fusion contract, checked over EVERY registered fusion (timm-style): an installed third-party
fusion gets exactly the checks the built-ins get.

Each fusion runs behind the shared input path (standardise, project, mask), so these inputs include
a modality that brings its own CLS, a conv1d-projected one and a standardised one. Checked: 1 to 4
modalities as declared (a one-line error otherwise), padding invariance (garbage, even NaN, in the
padding), batch independence, the declared handling of an item without a modality, save -> load
identity through the recorded config, bf16 agreement, and a gradient for every parameter.
Tiny widths keep all of it to seconds.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.torch import load_file, save_file

from sseft.core.errors import ConfigError, DataError
from sseft.core.fusion.base import FusionModule
from sseft.core.fusion.build import build_fusion
from sseft.core.plugins import get_manager
from sseft.core.specs import FusionConfig, ModalitySpec, ProjectionSpec, Standardization

PM = get_manager()
FUSIONS = PM.names("fusion")
NO_DROPOUT = {"dropout": 0.0}
# Small options for the built-ins; a fusion not listed runs with its defaults.
TINY: dict[str, dict[str, Any]] = {
    "sseft": {"n_self": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
    "late-fusion": NO_DROPOUT,
    "concat-pool": NO_DROPOUT,
    "tfn": {
        "hidden": 3, "subnet_dropout": 0.0, "post_fusion_dim": 8, "post_fusion_dropout": 0.0,
        "subnets": {"m0": {"kind": "lstm", "hidden": 4, "out": 3, "dropout": 0.0}},
    },
    "lmf": {
        "hidden": 4, "subnet_dropout": 0.0, "rank": 2, "out_dim": 6,
        "subnets": {"m0": {"kind": "lstm", "hidden": 4, "out": 3, "dropout": 0.0}},
    },
    "mult": {
        "dim": 8, "heads": 2, "layers": 1, "kernels": {"m2": 3}, "attn_dropout": 0.0, "relu_dropout": 0.0,
        "res_dropout": 0.0, "embed_dropout": 0.0,
    },
}  # fmt: skip
SPECS = [
    ModalitySpec(name="m0", dim=6, max_len=16),
    ModalitySpec(name="m1", dim=8, max_len=16, provides_cls=True),
    ModalitySpec(name="m2", dim=3, max_len=16, project=ProjectionSpec(dim=8, kind="conv1d", kernel=3)),
    ModalitySpec(
        name="m3", dim=4, max_len=16,
        standardize=Standardization(mean=[1.0, -2.0, 0.5, 10.0], std=[2.0, 0.5, 1.0, 4.0]),
    ),
]  # fmt: skip


def _supported(name: str, n: int) -> bool:
    plugin = PM.get("fusion", name)
    high = getattr(plugin, "max_modalities", None)
    return getattr(plugin, "min_modalities", 1) <= n and (high is None or n <= high)


def _widest(name: str) -> int:
    return max(n for n in range(1, 5) if _supported(name, n))


@functools.cache
def _fusion(name: str, n: int) -> FusionModule:
    torch.manual_seed(0)
    fusion = build_fusion(SPECS[:n], {"name": name, **TINY.get(name, {})})
    with torch.no_grad():  # non-trivial weights everywhere (zero-initialised biases included)
        for p in fusion.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return fusion.eval()


def _items(
    lengths: list[list[int]], n: int, seed: int, pad: int = 0, fill: float = float("nan")
) -> tuple[dict, dict]:
    """A batch: lengths[b][m] frames of random features for item b, modality m; padded with `fill`."""
    g = torch.Generator().manual_seed(seed)
    feats, lens = {}, {}
    for m, spec in enumerate(SPECS[:n]):
        ls = [row[m] for row in lengths]
        x = torch.full((len(ls), max([*ls, 1]) + pad, spec.dim), fill)
        for b, k in enumerate(ls):
            x[b, :k] = torch.randn(k, spec.dim, generator=g) * 2 + 1
        feats[spec.name], lens[spec.name] = x, torch.tensor(ls)
    return feats, lens


def _row(feats: dict, lens: dict, b: int) -> tuple[dict, dict]:
    """Item b alone, cut to its own longest modality."""
    out_f, out_l = {}, {}
    for m, x in feats.items():
        k = int(lens[m][b])
        out_f[m], out_l[m] = x[b : b + 1, : max(k, 1)], lens[m][b : b + 1]
    return out_f, out_l


def test_the_builtins_are_registered() -> None:
    assert {"sseft", "late-fusion", "concat-pool", "tfn", "lmf", "mult"} <= set(FUSIONS)


@pytest.mark.parametrize("name", FUSIONS)
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_modality_counts_as_declared(name: str, n: int) -> None:
    if not _supported(name, n):
        with pytest.raises(ConfigError, match=rf"fusion {name!r} takes .* modalities, got {n}") as err:
            build_fusion(SPECS[:n], {"name": name, **TINY.get(name, {})})
        assert "\n" not in str(err.value)
        return
    fusion = _fusion(name, n)
    assert type(fusion).forward is FusionModule.forward  # the shared input path runs first
    feats, lens = _items([[3, 2, 4, 1][:n], [1, 4, 2, 3][:n]], n, seed=1)
    out = fusion(feats, lens)
    assert out.shape == (2, fusion.out_dim) and torch.isfinite(out).all()


@pytest.mark.parametrize("name", FUSIONS)
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_padding_and_batch_mates_change_nothing(name: str, data: st.DataObject) -> None:
    n = min(3, _widest(name))
    fusion = _fusion(name, n)
    low = 0 if fusion.handles_missing else 1
    lengths = data.draw(
        st.lists(st.lists(st.integers(low, 5), min_size=n, max_size=n), min_size=2, max_size=4)
    )
    lengths[0] = [max(k, 1) for k in lengths[0]]  # one item has every modality
    pad = data.draw(st.integers(0, 3))
    feats, lens = _items(lengths, n, seed=len(lengths) + pad, pad=pad)
    with torch.no_grad():
        batch = fusion(feats, lens)
        for b in range(len(lengths)):
            alone = fusion(*_row(feats, lens, b))
            torch.testing.assert_close(batch[b : b + 1], alone, atol=1e-4, rtol=1e-4)
    assert torch.isfinite(batch).all()


@pytest.mark.parametrize("name", FUSIONS)
def test_an_item_without_a_modality_is_handled_as_declared(name: str) -> None:
    n = _widest(name) if _widest(name) > 1 else 1
    fusion = _fusion(name, n)
    lengths = [[3] * n, [3] * (n - 1) + [0]]
    feats, lens = _items(lengths, n, seed=3, fill=0.0)
    if not fusion.handles_missing:
        with pytest.raises(DataError, match="cannot take an item without a modality"):
            fusion(feats, lens)
        return
    with torch.no_grad():
        out = fusion(feats, lens)
        feats[SPECS[n - 1].name][1] = 1e3  # what the absent modality's slot holds never matters
        again = fusion(feats, lens)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out, again)


@pytest.mark.parametrize("name", FUSIONS)
def test_save_and_load_rebuild_the_same_fusion(name: str, tmp_path: Path) -> None:
    n = min(3, _widest(name))
    fusion = _fusion(name, n)
    recorded = json.loads(
        json.dumps(FusionConfig.model_validate({"name": name, **TINY.get(name, {})}).model_dump())
    )
    assert recorded["name"] == name
    save_file({k: v.contiguous() for k, v in fusion.state_dict().items()}, str(tmp_path / "f.safetensors"))
    torch.manual_seed(123)  # another initialisation: only the loaded weights may matter
    again = build_fusion(SPECS[:n], recorded).eval()
    again.load_state_dict(load_file(str(tmp_path / "f.safetensors")))
    feats, lens = _items([[3] * n, [2] * n], n, seed=4)
    with torch.no_grad():
        torch.testing.assert_close(again(feats, lens), fusion(feats, lens), rtol=0, atol=0)


@pytest.mark.parametrize("name", FUSIONS)
def test_bf16_forward_agrees(name: str) -> None:
    n = min(3, _widest(name))
    fusion = _fusion(name, n)
    feats, lens = _items([[4] * n, [2] * n, [5] * n], n, seed=5, fill=0.0)
    with torch.no_grad():
        full = fusion(feats, lens)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = fusion(feats, lens).float()
    err = (half - full).norm() / full.norm().clamp(min=1e-6)
    assert err < 0.05, f"bf16 relative error {err:.3f}"


@pytest.mark.parametrize("name", FUSIONS)
def test_gradient_reaches_every_parameter(name: str) -> None:
    n = min(3, _widest(name))
    torch.manual_seed(0)
    fusion = build_fusion(SPECS[:n], {"name": name, **TINY.get(name, {})}).train()
    feats, lens = _items([[4] * n, [2] * n, [5] * n, [3] * n], n, seed=6, fill=0.0)
    out = fusion(feats, lens)
    (out * torch.randn_like(out)).sum().backward()
    dead = [k for k, p in fusion.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, f"no gradient reaches {dead}"
