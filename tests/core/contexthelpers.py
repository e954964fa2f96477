"""A tiny store whose items are turns of dialogues (for the dialogue-context tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

SPEAKERS = ("ann", "bob", "cy")


def write_dialogue_store(
    root: Path,
    dialogues: dict[str, int] | None = None,
    dim: int = 6,
    seed: int = 0,
    changed: dict[str, torch.Tensor] | None = None,
    order: list[str] | None = None,
    meta: bool = True,
) -> Path:
    """Dialogues per split ({split: number of dialogues}, 5 turns each). The label of a turn is the
    sign pattern of the turn *before* it (so context helps); `changed`: item id -> replacement
    features; `order`: write the items in this id order (the store's order, not the turns')."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.features.conversation import Turn
    from sseft.core.protocols import TaskInfo

    dialogues = dialogues or {"train": 6, "valid": 2, "test": 2}
    g = torch.Generator().manual_seed(seed)
    items: list[tuple[str, str, torch.Tensor, int, dict[str, Any]]] = []
    for split, k in dialogues.items():
        for d in range(k):
            prev = 0
            for t in range(5):
                iid = f"{split}-d{d}-t{t}"
                x = torch.randn(int(torch.randint(2, 6, (1,), generator=g)), dim, generator=g)
                x = changed.get(iid, x) if changed else x
                label = prev
                prev = int(x[:, 0].mean() > 0) + int(x[:, 1].mean() > 0)
                turn = Turn(f"{split}-d{d}", t * 2 + 1, SPEAKERS[(t + d) % 2 if t < 4 else 2])
                items.append((iid, split, x, label, turn.meta() if meta else {}))
    if order is not None:
        by_id = {it[0]: it for it in items}
        items = [by_id[i] for i in order]
    infos = {"text": ModalityInfo(dim=dim, max_len=16, fingerprint={"source": "synthetic", "seed": seed})}
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("a", "b", "c"))) as w:
        for iid, split, x, label, m in items:
            w.add(iid, split, {"text": x}, label, m)
    return root


def context_config(tmp: Path, store: Path, **context: Any) -> Any:
    """A tiny experiment with dialogue context (`context` overrides window/direction/speaker...)."""
    from tests.core.training.trainhelpers import tiny_experiment

    ctx = {"window": 3, "direction": "past", "speaker": True, "dim": 16, "heads": 2, **context}
    return tiny_experiment(
        tmp, store, context=ctx, train={"epochs": 2, "batch_size": 4, "lr": 3e-3, "seed": 1, "num_threads": 1}
    )
