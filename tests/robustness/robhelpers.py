"""Helpers for the robustness tests: a tiny synthetic store and tiny SSE-FT models trained on it
with a few epochs of a plain loop (independent of the trainer), saved and loaded as artifacts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")

TINY_FUSION = {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0}


def easy_store(root: Path, n: dict[str, int] | None = None, seed: int = 0) -> Path:
    """Two modalities (text: dim 8, speech: dim 6; 3-8 frames) of 2 classes: every frame carries the
    class sign along a fixed direction, speech more weakly, so each modality alone is informative,
    both together better, and a few epochs learn it."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    n = n or {"train": 320, "valid": 20, "test": 120}
    dims, strength = {"text": 8, "speech": 6}, {"text": 0.6, "speech": 0.45}
    g = torch.Generator().manual_seed(seed)
    dirs = {m: torch.nn.functional.normalize(torch.randn(d, generator=g), dim=0) for m, d in dims.items()}
    infos = {
        m: ModalityInfo(dim=d, max_len=8, fingerprint={"source": "synthetic", "seed": seed})
        for m, d in dims.items()
    }
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("neg", "pos"))) as w:
        for split, k in n.items():
            for i in range(k):
                y = int(torch.randint(0, 2, (1,), generator=g))
                feats = {}
                for m, d in dims.items():
                    length = int(torch.randint(3, 9, (1,), generator=g))
                    x = torch.randn(length, d, generator=g)
                    feats[m] = x + (2 * y - 1) * strength[m] * dirs[m] * d**0.5 / 2
                w.add(f"{split}-{i:03d}", split, feats, y)
    return root


def build(store_root: Path, fusion: dict[str, Any] | None = None, seed: int = 0) -> Any:
    from sseft.core.features import FeatureStore
    from sseft.core.model import HeadSpec, ModelConfig, build_model
    from sseft.core.specs import FusionConfig, ModalitySpec

    st = FeatureStore.open(store_root)
    specs = [
        ModalitySpec(name=m, dim=i.dim, provides_cls=i.provides_cls, max_len=i.max_len,
                     fingerprint=dict(i.fingerprint) or None)
        for m, i in st.modalities.items()
    ]  # fmt: skip
    torch.manual_seed(seed)
    cfg = ModelConfig(
        modalities=specs, fusion=FusionConfig(**{**TINY_FUSION, **(fusion or {})}),
        head=HeadSpec(name="multiclass"), task=st.task.type, label_names=list(st.task.label_names),
    )  # fmt: skip
    return build_model(cfg)


def fit(
    model: Any, store_root: Path, epochs: int, dropout: float = 0.0, seed: int = 0, lr: float = 3e-3
) -> Any:
    """A few epochs of Adam; `dropout`: each modality of an item hidden (length 0) with this
    probability, at least one kept (what train.modality_dropout does)."""
    from sseft.core.batch import collate
    from sseft.core.features import FeatureStore

    st = FeatureStore.open(store_root)
    ds = st.dataset("train", cache=True)
    items = [ds[i] for i in range(len(ds))]
    names = [s.name for s in model.config.modalities]
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(items), generator=g).tolist()
        for k in range(0, len(perm), 32):
            b = collate([items[i] for i in perm[k : k + 32]], names)
            lengths = dict(b.lengths)
            if dropout > 0:
                hide = torch.rand(len(b), len(names), generator=g) < dropout
                hide[hide.all(dim=1), int(torch.randint(len(names), (1,), generator=g))] = False
                lengths = {m: torch.where(hide[:, j], 0, lengths[m]) for j, m in enumerate(names)}
            loss = model.head.loss(model(b.features, lengths), b.labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    return model


def saved(model: Any, directory: Path, dropout: float = 0.0) -> Any:
    """Save as an artifact (its training record says whether modality dropout was used) and load it back."""
    import sseft

    training = {"config": {"data": {"train_split": "train"}, "train": {"modality_dropout": dropout}}}
    sseft.save(model, directory, training=training, overwrite=True)
    return sseft.load(directory)
