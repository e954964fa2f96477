"""Registry test helpers (imported by conftest.py and the tests): small ModelConfigs for every
installed head and 1-4 modalities, built with the real `build_model` (SSE-FT fusion + head), and
random inputs for them.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sseft.core import plugins as core_plugins
from sseft.core.model import HeadSpec, ModelConfig, SseftModel, build_model
from sseft.core.plugins import get_manager
from sseft.core.specs import FusionConfig, ModalitySpec

DIMS = (8, 12, 16, 4)
TASK_LABELS = {
    "regression": ["sentiment"],
    "multiclass": ["neutral", "joy", "anger"],
    "multilabel": ["happy", "sad", "angry", "neutral"],
}


@pytest.fixture
def engine(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """{task: head name} of the installed heads, with a fresh plugin manager for this test."""
    monkeypatch.setattr(core_plugins, "_MANAGER", None)
    pm = get_manager().load()
    heads = {pm.get("head", n).task: n for n in pm.names("head")}
    missing = set(TASK_LABELS) - set(heads)
    assert not missing, f"no installed head for task(s) {missing}: is sseft installed (pip install -e .)?"
    return heads


def make_config(head: str, task: str, n_mod: int, fingerprint: dict[str, Any] | None = None) -> ModelConfig:
    mods = [
        ModalitySpec(
            name=f"m{i}",
            dim=DIMS[i],
            provides_cls=(i == 1),
            max_len=32,
            fingerprint=fingerprint or {"source": "synthetic", "dim": DIMS[i]},
        )
        for i in range(n_mod)
    ]
    fusion = FusionConfig(n_self=1, heads=2, ffn_dim=16, dropout=0.1, attn_dropout=0.1)
    return ModelConfig(
        modalities=mods, fusion=fusion, head=HeadSpec(name=head), task=task, label_names=TASK_LABELS[task]
    )


def make_model(engine: dict[str, str], task: str = "multiclass", n_mod: int = 2, seed: int = 0) -> SseftModel:
    torch.manual_seed(seed)
    model = build_model(make_config(engine[task], task, n_mod))
    with torch.no_grad():  # non-trivial weights everywhere (zero-initialised biases included)
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model.eval()


def random_inputs(
    cfg: ModelConfig, batch: int = 3, seed: int = 1
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    feats, lens = {}, {}
    for s in cfg.modalities:
        lengths = torch.randint(1, 7, (batch,), generator=g)
        feats[s.name] = torch.randn(batch, int(lengths.max()), s.dim, generator=g)  # (B, L, D)
        lens[s.name] = lengths
    return feats, lens
