"""Precision: a half-precision feature store trains like a float32 one (features upcast to float32
on read), and `train.mixed_precision: bf16` (Accelerate autocast) trains on CPU with metrics close
to float32, on a small learnable store."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from trainhelpers import tiny_experiment

pytestmark = pytest.mark.slow  # four short trainings (~10 s each on a quiet core)


def cue_store(root: Path, dtype: str, n: dict[str, int] | None = None) -> Path:
    """A learnable store (the class is the channel of modality `a` that carries a +3 cue; `b` is
    noise), written with the real FeatureStoreWriter in `dtype`; the same tensors for every dtype."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    g = torch.Generator().manual_seed(0)
    infos = {
        m: ModalityInfo(dim=d, max_len=8, dtype=dtype, fingerprint={"cue": 1})
        for m, d in (("a", 6), ("b", 4))
    }
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("x", "y", "z"))) as w:
        for split, k in (n or {"train": 96, "valid": 24, "test": 48}).items():
            for i in range(k):
                label = int(torch.randint(0, 3, (1,), generator=g))
                la, lb = (int(torch.randint(2, 9, (1,), generator=g)) for _ in range(2))
                a = torch.randn(la, 6, generator=g) * 0.7
                a[:, label] += 3.0
                w.add(f"{split}-{i:03d}", split, {"a": a, "b": torch.randn(lb, 4, generator=g)}, label)
    return root


def run(tmp: Path, store: Path, precision: str = "no") -> dict:
    from sseft.core.training.trainer import train

    tc = {"epochs": 12, "batch_size": 16, "lr": 1e-2, "warmup_ratio": 0.0, "seed": 5, "num_threads": 1}
    fusion = {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 32, "dropout": 0.0, "attn_dropout": 0.0}
    cfg = tiny_experiment(tmp, store, train={**tc, "mixed_precision": precision}, fusion=fusion)
    return train(cfg, tmp / f"run-{store.name}-{precision}", progress=False, plots=False).test_metrics


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("precision")
    return {dt: cue_store(d / dt, dt) for dt in ("float32", "float16")}


def test_a_float16_store_trains_like_float32(stores, tmp_path) -> None:
    from sseft.core.features import FeatureStore

    half = FeatureStore.open(stores["float16"])
    assert half.modalities["a"].dtype == "float16"
    item = half.get(half.ids("train")[0])["features"]
    assert all(x.dtype == torch.float32 for x in item.values())  # upcast on read
    full, halved = run(tmp_path, stores["float32"]), run(tmp_path, stores["float16"])
    assert full["accuracy"] > 0.8  # the task is learnt, so the comparison means something
    assert abs(full["accuracy"] - halved["accuracy"]) <= 0.05, (full, halved)
    assert abs(full["loss"] - halved["loss"]) <= 0.1 * max(0.2, full["loss"]), (full, halved)


def test_bf16_mixed_precision_training_on_cpu_matches_fp32(stores, tmp_path) -> None:
    full, bf16 = run(tmp_path, stores["float32"]), run(tmp_path, stores["float32"], "bf16")
    assert full["accuracy"] > 0.8
    assert abs(full["accuracy"] - bf16["accuracy"]) <= 0.05, (full, bf16)
    assert abs(full["loss"] - bf16["loss"]) <= 0.1 * max(0.2, full["loss"]), (full, bf16)
    assert bf16["loss"] != full["loss"]  # autocast really ran in bf16
