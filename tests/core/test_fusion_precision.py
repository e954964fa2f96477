"""bf16 autocast vs float32: the fused vectors of SSE-FT agree within bf16 rounding, padding
included (a batch of ragged lengths, the masks working in both precisions)."""

from __future__ import annotations

import torch

from sseft.core.fusion import SSEFTFusion
from sseft.core.specs import FusionConfig, ModalitySpec

DIMS = {"text": 64, "speech": 32, "face": 16}


def fused(precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(batch fused vectors, the same items fused one by one without padding) in `precision`."""
    torch.manual_seed(0)
    specs = [ModalitySpec(name=m, dim=d, provides_cls=(m == "text"), max_len=40) for m, d in DIMS.items()]
    model = SSEFTFusion(specs, FusionConfig(n_self=2, n_ima=2, heads=4, ffn_dim=64)).eval()
    g = torch.Generator().manual_seed(1)
    lens = {m: torch.randint(1, 41, (6,), generator=g) for m in DIMS}
    feats = {m: torch.randn(6, 40, d, generator=g) for m, d in DIMS.items()}
    ctx = (
        torch.autocast("cpu", dtype=torch.bfloat16)
        if precision == "bf16"
        else torch.autocast("cpu", enabled=False)
    )
    with torch.no_grad(), ctx:
        batch = model(feats, lens).float()
        alone = torch.cat([
            model({m: feats[m][i : i + 1, : int(lens[m][i])] for m in DIMS}, {m: lens[m][i : i + 1] for m in DIMS})
            for i in range(6)
        ]).float()  # fmt: skip
    return batch, alone


def test_bf16_fused_vectors_agree_with_fp32() -> None:
    ref, ref_alone = fused("fp32")
    low, low_alone = fused("bf16")
    assert torch.allclose(ref, ref_alone, atol=1e-5)  # fp32: padding changes nothing
    for a, b in ((ref, low), (ref_alone, low_alone), (ref, low_alone)):
        rel = (a - b).norm(dim=-1) / a.norm(dim=-1)
        assert torch.isfinite(b).all() and float(rel.max()) < 3e-3, float(rel.max())  # measured ~1e-4
        assert float(torch.nn.functional.cosine_similarity(a, b, dim=-1).min()) > 0.9999
    assert not torch.equal(ref, low)  # bf16 really ran
