"""Per-modality input projections and attention heads (low-dimensional features: COVAREP, FACET, EEG)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from test_fusion import NAMES, build, make_batch

from sseft.core.errors import ConfigError
from sseft.core.fusion import SSEFTFusion
from sseft.core.fusion.projection import InputProjection
from sseft.core.specs import FusionConfig, ModalitySpec, ProjectionSpec

torch.set_num_threads(1)
PROPS = settings(max_examples=25, deadline=None)


def spec(k: int, dim: int, own_cls: bool = False, project: dict | None = None, **kw: object) -> ModalitySpec:
    proj = ProjectionSpec.model_validate(project) if project is not None else None
    return ModalitySpec.model_validate(
        {"name": NAMES[k], "dim": dim, "provides_cls": own_cls, "max_len": 16, "project": proj, **kw}
    )


@st.composite
def projected_problems(draw: st.DrawFn) -> tuple:
    """2-3 modalities of odd widths (no head count divides them), each projected to 4 or 8, sometimes
    by a conv1d with kernel up to 5; any of them may bring its own CLS; lengths include 0 and 1."""
    n = draw(st.sampled_from([2, 3]))
    specs = []
    for k in range(n):
        kind = draw(st.sampled_from(["linear", "conv1d"]))
        kernel = draw(st.sampled_from([1, 3, 5])) if kind == "conv1d" else 1
        project = {"dim": draw(st.sampled_from([4, 8])), "kind": kind, "kernel": kernel}
        specs.append(spec(k, draw(st.sampled_from([3, 5, 7])), draw(st.booleans()), project))
    b = draw(st.integers(1, 3))
    lengths = [draw(st.lists(st.integers(0, 6), min_size=b, max_size=b)) for _ in range(n)]
    cfg = {"n_self": draw(st.integers(0, 1)), "reduce": draw(st.sampled_from(["hadamard", "concat"]))}
    return specs, lengths, cfg, draw(st.integers(0, 2**16))


@PROPS
@given(projected_problems(), st.integers(1, 4))
def test_projected_padding_and_batchmates_do_not_matter(problem: tuple, extra: int) -> None:
    """With projections (conv1d kernels up to 5 included), an item alone padded to its own length gives
    what it gives in a batch padded with `extra` garbage frames; the CLS-only IMA still equals the
    authors' full-query formulation."""
    specs, lengths, cfg, seed = problem
    model = build(specs, seed, **cfg)
    feats, lens = make_batch(specs, lengths, seed, pad_extra=extra)
    with torch.no_grad():
        batched = model(feats, lens)
        assert torch.isfinite(batched).all()
        torch.testing.assert_close(model(feats, lens, full_query=True), batched, atol=1e-5, rtol=1e-5)
        model.trim_padding = False  # garbage frames stay in the tensors: the masks alone must hide them
        torch.testing.assert_close(model(feats, lens), batched, atol=1e-5, rtol=1e-5)
        model.trim_padding = True
        for b in range(len(lengths[0])):
            own = {s.name: lens[s.name][b : b + 1] for s in specs}
            alone = {s.name: feats[s.name][b : b + 1, : max(int(own[s.name]), 1)] for s in specs}
            torch.testing.assert_close(model(alone, own)[0], batched[b], atol=1e-5, rtol=1e-5)
    assert model.out_dim == sum(s.width for s in specs) * (len(specs) - 1 if cfg["reduce"] == "concat" else 1)


@PROPS
@given(st.integers(1, 6), st.sampled_from([3, 5]), st.integers(0, 2**16))
def test_conv_keeps_the_own_cls_apart(n: int, kernel: int, seed: int) -> None:
    """conv1d: the own CLS (position 0) is projected alone (centre tap), frame 1 starts the sequence:
    changing the CLS changes no frame, changing the frames does not change the CLS."""
    torch.manual_seed(seed)
    proj = InputProjection(spec(0, 5, True, {"dim": 8, "kind": "conv1d", "kernel": kernel})).eval()
    x = torch.randn(1, n + 1, 5)
    frames = torch.ones(1, n + 1, dtype=torch.bool)
    y = proj(x, frames)
    other_cls, other_frames = x.clone(), x.clone()
    other_cls[:, 0] += 3.0
    other_frames[:, 1:] += 3.0
    torch.testing.assert_close(proj(other_cls, frames)[:, 1:], y[:, 1:])
    torch.testing.assert_close(proj(other_frames, frames)[:, :1], y[:, :1])
    # the CLS alone is the centre tap of the kernel (same padding on both sides), then LayerNorm
    centre = proj.proj.weight[:, :, kernel // 2] @ x[0, 0] + proj.proj.bias
    torch.testing.assert_close(y[0, 0], proj.ln(centre))
    # frames: the same as a conv over the frames alone (what a modality without CLS would get)
    plain = InputProjection(spec(0, 5, False, {"dim": 8, "kind": "conv1d", "kernel": kernel})).eval()
    plain.load_state_dict(proj.state_dict())
    torch.testing.assert_close(plain(x[:, 1:], frames[:, 1:]), y[:, 1:])


def test_empty_own_cls_item_keeps_a_zero_cls_and_gradients_stay_finite() -> None:
    specs = [
        spec(0, 6, True, {"dim": 8, "kind": "conv1d", "kernel": 3}),
        spec(1, 5, False, {"dim": 8}),
        spec(2, 3, False, {"dim": 4, "kind": "conv1d", "kernel": 5}, heads=1),
    ]
    model = build(specs).train()
    feats, lens = make_batch(specs, [[0, 4], [0, 0], [0, 1]])
    frames = torch.arange(feats["m0"].shape[1])[None] < lens["m0"][:, None]
    assert torch.equal(model.projections["m0"](feats["m0"], frames)[0], torch.zeros(4, 8))
    # through the model: unimodal own-CLS fuses to the projected CLS itself, zero for the empty item
    alone = build(specs[:1]).eval()
    with torch.no_grad():
        out = alone({"m0": feats["m0"]}, {"m0": lens["m0"]})
        proj = alone.projections["m0"]
    assert torch.equal(out[0], torch.zeros(8))
    torch.testing.assert_close(out[1], proj(feats["m0"][1:, :1], frames[1:, :1])[0, 0])
    for kw in ({}, {"full_query": True}):
        out = model(feats, lens, **kw)
        assert torch.isfinite(out).all()
        out.square().sum().backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        model.zero_grad()
    # every parameter, the projections' included, gets a gradient from a batch that uses every position
    feats, lens = make_batch(specs, [[16, 3], [16, 16], [16, 2]])
    model(feats, lens).sum().backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent
    assert any(n.startswith("projections.m0.") for n, _ in model.named_parameters())


def test_mmsa_mosi_shapes_with_four_heads() -> None:
    """768-d text with its own CLS, 5-d audio, 20-d vision: refused at heads 4 with a suggestion that
    works; accepted with projections 64 / 32 / 32; the IMA runs at the projected widths."""
    mods = [spec(0, 768, True), spec(1, 5), spec(2, 20)]
    with pytest.raises(ConfigError, match=r"modality 'm1': dim 5 .*fusion.heads=4.*project: \{dim: 32\}"):
        SSEFTFusion(mods, FusionConfig(heads=4, ffn_dim=32))
    projected = [
        spec(0, 768, True, {"dim": 64}),
        spec(1, 5, False, {"dim": 32, "kind": "conv1d", "kernel": 3}),
        spec(2, 20, False, {"dim": 32}),
    ]
    model = SSEFTFusion(projected, FusionConfig(heads=4, ffn_dim=32, n_self=1))
    assert model.out_dim == 64 + 32 + 32
    assert model.ima.group("m1").kv_proj["m0"].in_features == 64  # keys come from text's projected width
    assert model.encoders["m1"].layers[0].heads == 4
    feats, lens = make_batch(mods, [[5, 1], [7, 0], [3, 4]])
    assert model(feats, lens).shape == (2, 128)
    text = model.summary()
    # linear 768->64: 768*64 + 64 + LN 128; conv1d k=3 5->32: 5*32*3 + 32 + LN 64; linear 20->32: 20*32+32+64
    for row, count in [("project[m0]", 49_344), ("project[m1]", 576), ("project[m2]", 736)]:
        line = next(x for x in text.splitlines() if row in x)
        assert f"{count:,}" in line, line
    assert "conv1d k=3 5->32 + LayerNorm" in text and "kv 64->32" in text
    assert sum(p.numel() for p in model.projections.parameters()) == 49_344 + 576 + 736


def test_per_modality_heads_are_used_and_validated() -> None:
    specs = [spec(0, 8), spec(1, 5, heads=5), spec(2, 6, heads=3)]
    model = SSEFTFusion(specs, FusionConfig(heads=4, ffn_dim=16, n_self=1))
    assert [model.encoders[m].layers[0].heads for m in ["m0", "m1", "m2"]] == [4, 5, 3]
    assert [model.ima.group(m).layers[0].heads for m in ["m0", "m1", "m2"]] == [4, 5, 3]
    assert "5 heads" in model.summary()
    bad = [spec(0, 8), spec(1, 5, project={"dim": 30}, heads=4)]
    with pytest.raises(ConfigError, match=r"'m1': projected dim 30 .*modalities\[m1\]\.heads=4.*dim: 32"):
        SSEFTFusion(bad, FusionConfig(heads=2))
    # a model without projections or heads: the error of old, and the default heads everywhere
    with pytest.raises(ConfigError, match=r"'m1': dim 6 is not divisible by fusion.heads=4"):
        SSEFTFusion([spec(0, 8), spec(1, 6)], FusionConfig(heads=4))


def test_projection_spec_validation() -> None:
    assert ProjectionSpec(dim=64).kind == "linear"
    with pytest.raises(ValidationError, match="needs kind: conv1d"):
        ProjectionSpec(dim=64, kernel=3)
    with pytest.raises(ValidationError, match="odd"):
        ProjectionSpec(dim=64, kind="conv1d", kernel=4)
    with pytest.raises(ValidationError, match="greater than 0"):
        ProjectionSpec(dim=0)
    s = spec(0, 5, project={"dim": 32})
    assert (s.dim, s.width) == (5, 32)
    assert ModalitySpec.model_validate_json(s.model_dump_json()) == s  # the artifact's round trip
