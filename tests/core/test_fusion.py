"""SSE-FT fusion engine: parity with the authors' formulation, masking, ablations, gradients, cost."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sseft.core.errors import ConfigError, DataError, UnknownNameError
from sseft.core.fusion import SSEFTFusion, apply_preset, parameter_count, table8_presets
from sseft.core.specs import FusionConfig, ModalitySpec

torch.set_num_threads(1)  # tiny tensors: threads only add noise on a shared machine
PROPS = settings(max_examples=20, deadline=None)
NAMES = ["m0", "m1", "m2", "m3"]


def make_specs(dims: list[int], own_cls: list[bool], max_len: int = 16) -> list[ModalitySpec]:
    return [
        ModalitySpec(name=NAMES[k], dim=d, provides_cls=c, max_len=max_len)
        for k, (d, c) in enumerate(zip(dims, own_cls, strict=True))
    ]


def make_batch(
    specs: list[ModalitySpec], lengths: list[list[int]], seed: int = 0, pad_extra: int = 0
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Random features; padded frames hold random garbage (the model must ignore it)."""
    g = torch.Generator().manual_seed(seed)
    feats, lens = {}, {}
    for s, ls in zip(specs, lengths, strict=True):
        n = max(max(ls), 1) + pad_extra
        feats[s.name] = torch.randn(len(ls), n, s.dim, generator=g)
        lens[s.name] = torch.tensor(ls, dtype=torch.long)
    return feats, lens


def build(specs: list[ModalitySpec], seed: int = 0, **cfg: object) -> SSEFTFusion:
    torch.manual_seed(seed)
    base = {"n_self": 1, "n_ima": 2, "heads": 2, "ffn_dim": 16}
    model = SSEFTFusion(specs, FusionConfig(**{**base, **cfg}))
    with torch.no_grad():  # BERT init leaves biases/LayerNorms trivial: perturb so tests can see them
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model.eval()


@st.composite
def problems(draw: st.DrawFn, n_choices: tuple[int, ...] = (2, 3, 4)) -> tuple:
    n = draw(st.sampled_from(n_choices))
    dims = draw(st.lists(st.sampled_from([4, 8, 12]), min_size=n, max_size=n))
    own_cls = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    b = draw(st.integers(1, 3))
    lengths = [draw(st.lists(st.integers(0, 7), min_size=b, max_size=b)) for _ in range(n)]
    cfg = {
        "n_self": draw(st.integers(0, 2)),
        "n_ima": draw(st.integers(1, 2)),
        "reduce": draw(st.sampled_from(["hadamard", "concat", "mean"])),
    }
    return make_specs(dims, own_cls), lengths, cfg, draw(st.integers(0, 2**16))


# -- parity: CLS-only IMA == the authors' whole-query-sequence formulation -----------------------


@PROPS
@given(problems())
def test_cls_only_ima_equals_full_query(problem: tuple) -> None:
    specs, lengths, cfg, seed = problem
    model = build(specs, seed, **cfg)
    feats, lens = make_batch(specs, lengths, seed)
    with torch.no_grad():
        fast, attn = model(feats, lens, return_attention=True)
        ref, ref_attn = model(feats, lens, return_attention=True, full_query=True)
        model.ima_impl = "loop"
        loop = model(feats, lens)
        plain = model(feats, lens, full_query=True)
    torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(loop, ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(plain, ref, atol=1e-5, rtol=1e-5)  # asking for weights changes nothing
    assert fast.shape == (len(lengths[0]), model.out_dim)
    assert attn.keys() == ref_attn.keys() and len(attn) == len(specs) * (len(specs) - 1)
    for pair, w in attn.items():
        torch.testing.assert_close(w, ref_attn[pair], atol=1e-5, rtol=1e-5)


# -- masking: padding and batch-mates do not matter ----------------------------------------------


@PROPS
@given(problems(), st.integers(1, 5))
def test_padding_and_batchmates_do_not_matter(problem: tuple, extra: int) -> None:
    """Each item alone, padded to exactly its own length, gives what it gives inside a batch padded to the
    longest item plus `extra` frames of garbage."""
    specs, lengths, cfg, seed = problem
    model = build(specs, seed, **cfg)
    feats, lens = make_batch(specs, lengths, seed, pad_extra=extra)
    with torch.no_grad():
        batched = model(feats, lens)
        model.trim_padding = False  # the masks alone must hide the garbage frames
        torch.testing.assert_close(model(feats, lens), batched, atol=1e-5, rtol=1e-5)
        model.trim_padding = True
        for b in range(len(lengths[0])):
            own = {s.name: lens[s.name][b : b + 1] for s in specs}
            alone = {s.name: feats[s.name][b : b + 1, : max(int(own[s.name]), 1)] for s in specs}
            torch.testing.assert_close(model(alone, own)[0], batched[b], atol=1e-5, rtol=1e-5)
        perm = torch.arange(len(lengths[0])).flip(0)
        flipped = model({m: x[perm] for m, x in feats.items()}, {m: n[perm] for m, n in lens.items()})
    torch.testing.assert_close(flipped, batched[perm], atol=1e-5, rtol=1e-5)


def test_attention_map_contract() -> None:
    specs = make_specs([8, 4, 12], [True, False, False])
    model = build(specs)
    feats, lens = make_batch(specs, [[3, 1], [5, 0], [2, 6]])
    with torch.no_grad():
        fused, attn = model(feats, lens, return_attention=True)
    torch.testing.assert_close(fused, model(feats, lens))
    lj = {"m0": 3, "m1": 1 + 5, "m2": 1 + 6}  # own CLS: as given; prepended: + the CLS
    valid = {"m0": [3, 1], "m1": [6, 1], "m2": [3, 7]}
    for (i, j), w in attn.items():
        assert w.shape == (2, lj[j]), (i, j)
        torch.testing.assert_close(w.sum(-1), torch.ones(2))
        for b, v in enumerate(valid[j]):
            assert torch.all(w[b, v:] == 0), "padding got attention"


# -- empty sequences, errors ---------------------------------------------------------------------


def test_empty_sequences_stay_finite_with_gradients() -> None:
    specs = make_specs([8, 4, 12], [True, False, False])
    model = build(specs).train()
    # item 0 empty everywhere, item 1 empty in some modalities; then a batch with zero-length tensors
    for feats, lens in [
        make_batch(specs, [[0, 4], [0, 0], [0, 3]]),
        (
            {s.name: torch.zeros(2, 0, s.dim) for s in specs},
            {s.name: torch.zeros(2, dtype=torch.long) for s in specs},
        ),
    ]:
        for mode in ({}, {"full_query": True}, {"return_attention": True}):  # explicit softmax path too
            out = model(feats, lens, **mode)
            out = out[0] if isinstance(out, tuple) else out
            assert torch.isfinite(out).all(), mode
            out.square().sum().backward()
            assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
            model.zero_grad()


def test_input_errors_name_the_modality() -> None:
    specs = make_specs([8, 4], [True, False], max_len=5)
    model = build(specs)
    feats, lens = make_batch(specs, [[2], [6]])
    with pytest.raises(DataError, match=r"'m1'.*max_len 5"):
        model(feats, lens)
    feats, lens = make_batch(specs, [[2], [3]])
    with pytest.raises(DataError, match="'m1'.*missing"):
        model({"m0": feats["m0"]}, lens)
    with pytest.raises(DataError, match="'m0'.*8"):
        model({**feats, "m0": torch.zeros(1, 2, 7)}, lens)
    with pytest.raises(ConfigError, match="'m1'.*heads"):
        SSEFTFusion(make_specs([8, 6], [True, False]), FusionConfig(heads=4))
    with pytest.raises(ConfigError, match="unique"):
        SSEFTFusion(make_specs([8, 8], [True, False])[:1] * 2, FusionConfig(heads=4))


# -- structure, ablations, training --------------------------------------------------------------


def test_n4_builds_12_blocks_and_trains_one_step() -> None:
    specs = make_specs([8, 4, 12, 8], [True, False, False, False])
    model = build(specs, n_self=2, n_ima=1).train()
    assert sorted(model.encoders) == ["m1", "m2", "m3"]
    assert len(model.ima.pairs) == 12 and sum(len(g.keys) for g in model.ima.groups.values()) == 12
    assert all(g.layers[0].q_weight.shape[0] == 3 for g in model.ima.groups.values())  # 3 blocks per query
    assert model.out_dim == 8 + 4 + 12 + 8
    head = nn.Linear(model.out_dim, 1)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=1e-3)
    feats, lens = make_batch(specs, [[3, 2], [4, 0], [1, 5], [2, 2]])
    before = [p.detach().clone() for p in model.parameters()]
    loss = nn.functional.mse_loss(head(model(feats, lens)).squeeze(-1), torch.tensor([0.5, -1.0]))
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    assert all(not torch.equal(a, p) for a, p in zip(before, model.parameters(), strict=True))
    assert len(SSEFTFusion(make_specs([8] * 4, [False] * 4), FusionConfig(heads=2)).encoders) == 4


@pytest.mark.parametrize("n", [1, 2])
def test_one_and_two_modalities(n: int) -> None:
    specs = make_specs([8, 4][:n], [False, True][:n])
    model = build(specs)
    feats, lens = make_batch(specs, [[2, 3], [1, 0]][:n])
    out = model(feats, lens)
    assert out.shape == (2, sum(s.dim for s in specs)) and torch.isfinite(out).all()
    assert (model.ima is None) == (n == 1)


def test_unimodal_own_cls_is_position_zero() -> None:
    specs = make_specs([8], [True])
    model = build(specs)
    feats, lens = make_batch(specs, [[3, 0]])
    out = model(feats, lens)
    torch.testing.assert_close(out[0], feats["m0"][0, 0])
    assert torch.equal(out[1], torch.zeros(8))  # an empty own-CLS item: zero CLS
    assert parameter_count(model) == 0


def test_every_preset_and_reduce_mode_builds_and_runs() -> None:
    specs = make_specs([8, 4, 12], [True, False, False])
    presets = table8_presets([s.name for s in specs])
    assert list(presets)[0] == "full"
    assert set(presets) == {
        "full",
        "m0-only",
        "m1-only",
        "m2-only",
        "m0+m1",
        "m0+m2",
        "m1+m2",
        "no-ima",
        "concat",
    }
    widths = {"full": 24, "m0-only": 8, "m1-only": 4, "m2-only": 12, "m0+m1": 12, "m0+m2": 20, "m1+m2": 16}
    widths |= {"no-ima": 24, "concat": 48}
    feats, lens = make_batch(specs, [[3, 1], [2, 0], [4, 4]])
    for name, (subset, _overrides) in presets.items():
        chosen, cfg = apply_preset(specs, FusionConfig(heads=2, ffn_dim=16, n_self=1), name)
        assert [s.name for s in chosen] == subset
        model = SSEFTFusion(chosen, cfg)
        out = model(feats, lens)  # extra modalities in the batch are ignored
        assert out.shape == (2, widths[name]) == (2, model.out_dim), name
        assert torch.isfinite(out).all()
    assert presets["no-ima"].model_dump() == {"modalities": ["m0", "m1", "m2"], "fusion": {"ima": False}}
    for reduce in ["mean", "concat", "hadamard"]:
        model = build(specs, reduce=reduce)
        assert model(feats, lens).shape == (2, model.out_dim)
    with pytest.raises(UnknownNameError, match="no-ima"):
        apply_preset(specs, FusionConfig(), "no_ima")


def test_hadamard_and_mean_reduce_the_cross_tokens() -> None:
    specs = make_specs([4, 8, 4], [False, True, False])
    feats, lens = make_batch(specs, [[2], [3], [1]])
    concat = build(specs, reduce="concat")(feats, lens)[0]
    t = dict(
        zip(
            [(i, j) for i in NAMES[:3] for j in NAMES[:3] if i != j],
            concat.split([4, 4, 8, 8, 4, 4]),
            strict=True,
        )
    )
    had = build(specs, reduce="hadamard")(feats, lens)[0]
    mean = build(specs, reduce="mean")(feats, lens)[0]
    torch.testing.assert_close(had[:4], t["m0", "m1"] * t["m0", "m2"])
    torch.testing.assert_close(had[4:12], t["m1", "m0"] * t["m1", "m2"])
    torch.testing.assert_close(mean[12:], (t["m2", "m0"] + t["m2", "m1"]) / 2)


@pytest.mark.parametrize("ima", [True, False])
def test_gradient_reaches_every_parameter(ima: bool) -> None:
    specs = make_specs([8, 4, 12], [True, False, False], max_len=6)
    model = build(specs, ima=ima).train()
    feats, lens = make_batch(specs, [[3, 2], [6, 6], [5, 6]])  # every position row is used
    model(feats, lens).sum().backward()
    silent = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not silent and parameter_count(model) > 0
    assert (model.ima is None) != ima


def test_mosei_parameter_count_is_pinned() -> None:
    """The authors' MOSEI settings: text 1024 (RoBERTa, own CLS), speech 512 x 935, face 256 x 300;
    2 self-attention layers, 2 IMA layers, 4 heads, FFN F=1024.

    encoder(D, L) = CLS D + positions (L+1) D + LayerNorm 2D
                    + n_self x [qkv 3D^2+3D, out D^2+D, 2 LN 4D, fc1 DF+F, fc2 FD+D]
      speech: 512 + 936*512 + 1024 + 2 * 2,102,784 = 4,686,336
      face:   256 + 301*256 +  512 + 2 *   789,760 = 1,657,344       text: none (own CLS)
    IMA layer (Di <- Dj) = q Di^2+Di, kv 2 Di Dj + 2Di, out Di^2+Di, 2 LN 4Di, fc1 Di F + F, fc2 F Di + Di
                         = 2Di^2 + 2DiDj + 2DiF + 9Di + F, times n_ima = 2:
      text<-speech 10,506,240   text<-face 9,457,664   speech<-text 5,254,144
      speech<-face  3,681,280   face<-text 2,365,952   face<-speech 1,841,664   (sum 33,106,944)
    total = 4,686,336 + 1,657,344 + 33,106,944 = 39,450,624 (the head comes on top of that)."""
    specs = [
        ModalitySpec(name="text", dim=1024, provides_cls=True, max_len=512),
        ModalitySpec(name="speech", dim=512, max_len=935),
        ModalitySpec(name="face", dim=256, max_len=300),
    ]
    with torch.device("meta"):  # count without allocating 160 MB
        model = SSEFTFusion(specs, FusionConfig(n_self=2, n_ima=2, heads=4, ffn_dim=1024))
    assert model.parameter_count() == 39_450_624
    assert model.out_dim == 1792
    text = model.summary()
    assert "ima[text->speech]" in text and "10,506,240" in text and "39,450,624" in text


@pytest.mark.parametrize(
    ("n_ima", "head", "labels", "expected"),
    [
        (2, "regression", ["sentiment"], 42_665_473),  # MOSEI: 39,450,624 + head 1792^2+1792 + 1792+1
        (1, "multilabel-binary", ["happy", "sad", "angry", "neutral"], 26_124_552),  # IEMOCAP: 2 logits each
    ],
)
def test_whole_model_parameter_counts_are_pinned(n_ima: int, head: str, labels: list, expected: int) -> None:
    """The authors' full models (fusion + head) without projections: the counts of their released code."""
    from sseft.core.model import build_model

    mods = [
        {"name": "text", "dim": 1024, "provides_cls": True, "max_len": 512},
        {"name": "speech", "dim": 512, "max_len": 935},
        {"name": "face", "dim": 256, "max_len": 300},
    ]
    with torch.device("meta"):
        model = build_model(
            {
                "modalities": mods,
                "fusion": {"n_self": 2, "n_ima": n_ima, "heads": 4, "ffn_dim": 1024},
                "head": {"name": head},
                "task": "regression" if head == "regression" else "multilabel",
                "label_names": labels,
            }
        )
    assert sum(p.numel() for p in model.parameters()) == expected
    assert not any(k.startswith("fusion.projections") for k in model.state_dict())
