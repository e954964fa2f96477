"""The pooling baselines (fusion.kind late-fusion / concat-pool): padding never counts, length 0 is an
absent modality, and they train through the ordinary trainer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from evalhelpers import write_config
from hypothesis import given, settings
from hypothesis import strategies as st

from sseft.core.fusion.baselines import PoolingFusion, masked_mean
from sseft.core.specs import FusionConfig, ModalitySpec

SPECS = [ModalitySpec(name="a", dim=6), ModalitySpec(name="b", dim=4)]


def _cfg(kind: str) -> FusionConfig:
    return FusionConfig(kind=kind, dropout=0.0)


@settings(max_examples=40, deadline=None)
@given(lengths=st.lists(st.integers(0, 7), min_size=1, max_size=5), pad=st.integers(0, 3))
def test_masked_mean_reads_real_frames_only(lengths: list[int], pad: int) -> None:
    g = torch.Generator().manual_seed(sum(lengths) + pad)
    longest = max(lengths) + pad
    x = torch.randn(len(lengths), max(longest, 1), 3, generator=g)
    n = torch.tensor(lengths)
    for i, k in enumerate(lengths):
        x[i, k:] = float("nan")  # garbage in the padding must not leak
    out = masked_mean(x, n)
    for i, k in enumerate(lengths):
        want = x[i, :k].mean(0) if k else torch.zeros(3)
        assert torch.allclose(out[i], want, atol=1e-6)


@pytest.mark.parametrize("kind", ["late-fusion", "concat-pool"])
def test_padding_and_batch_mates_do_not_change_an_item(kind: str) -> None:
    torch.manual_seed(0)
    fusion = PoolingFusion(SPECS, _cfg(kind)).eval()
    a, b = torch.randn(1, 3, 6), torch.randn(1, 2, 4)
    alone = fusion({"a": a, "b": b}, {"a": torch.tensor([3]), "b": torch.tensor([2])})
    big_a = torch.cat([torch.nn.functional.pad(a, (0, 0, 0, 5), value=7.0), torch.randn(1, 8, 6)])
    big_b = torch.cat([torch.nn.functional.pad(b, (0, 0, 0, 6), value=-3.0), torch.randn(1, 8, 4)])
    both = fusion({"a": big_a, "b": big_b}, {"a": torch.tensor([3, 8]), "b": torch.tensor([2, 8])})
    assert torch.allclose(both[0], alone[0], atol=1e-6)


def test_late_fusion_averages_over_present_modalities_only() -> None:
    torch.manual_seed(0)
    fusion = PoolingFusion(SPECS, _cfg("late-fusion")).eval()
    assert fusion.out_dim == 6  # the widest modality
    a, b = torch.randn(2, 3, 6), torch.randn(2, 2, 4)
    out = fusion({"a": a, "b": b}, {"a": torch.tensor([3, 3]), "b": torch.tensor([2, 0])})
    term_a = fusion.linears["a"](a.mean(1))
    term_b = fusion.linears["b"](b.mean(1))
    assert torch.allclose(out[0], (term_a[0] + term_b[0]) / 2, atol=1e-6)
    assert torch.allclose(out[1], term_a[1], atol=1e-6)  # b absent: a alone, not halved


def test_concat_pool_gives_zeros_for_an_absent_modality() -> None:
    fusion = PoolingFusion(SPECS, _cfg("concat-pool")).eval()
    assert fusion.out_dim == 10
    a, b = torch.randn(1, 3, 6), torch.randn(1, 2, 4)
    out = fusion({"a": a, "b": b}, {"a": torch.tensor([2]), "b": torch.tensor([0])})
    assert torch.allclose(out[0, :6], a[0, :2].mean(0), atol=1e-6)
    assert torch.equal(out[0, 6:], torch.zeros(4))
    fused, attn = fusion(
        {"a": a, "b": b}, {"a": torch.tensor([2]), "b": torch.tensor([0])}, return_attention=True
    )
    assert attn == {} and torch.equal(fused, out)


def test_model_selects_the_fusion_by_kind() -> None:
    from sseft.core.fusion import SSEFTFusion
    from sseft.core.model import HeadSpec, ModelConfig, build_model

    def model(kind: str):
        return build_model(ModelConfig(modalities=SPECS, fusion=FusionConfig(kind=kind, heads=2),
                                       head=HeadSpec(name="multiclass"), task="multiclass",
                                       label_names=["x", "y", "z"]))  # fmt: skip

    assert isinstance(model("sseft").fusion, SSEFTFusion)
    lf = model("late-fusion")
    assert isinstance(lf.fusion, PoolingFusion) and lf.fusion.kind == "late-fusion"
    out = lf(
        {"a": torch.randn(2, 3, 6), "b": torch.randn(2, 2, 4)},
        {"a": torch.tensor([3, 1]), "b": torch.tensor([0, 2])},
    )
    assert out.shape == (2, 3) and torch.isfinite(out).all()


@pytest.mark.parametrize("kind", ["late-fusion", "concat-pool"])
def test_baseline_trains_and_reloads(grouped_store: Path, tmp_path: Path, kind: str) -> None:
    from sseft.core.model import ModelConfig, build_model
    from sseft.core.training import checkpoint as ck
    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train

    cfg = load_experiment(write_config(tmp_path / "c.yaml", grouped_store, fusion={"kind": kind}))
    rec = train(cfg, tmp_path / "run", progress=False, plots=False)
    assert rec.test_metrics is not None and 0.0 <= rec.test_metrics["accuracy"] <= 1.0
    # The run directory alone rebuilds the model: its config and the best weights.
    mcfg = ModelConfig.model_validate_json((rec.output_dir / "model_config.json").read_text(encoding="utf-8"))
    model = build_model(mcfg)
    model.load_state_dict(ck.read_weights(rec.output_dir / "best" / "model.safetensors"))
    assert isinstance(model.fusion, PoolingFusion) and model.fusion.kind == kind
