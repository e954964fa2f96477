"""Helpers for the training tests: tiny feature stores and experiment configs (a unique module
name: `conftest` would clash with other test folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

os.environ.setdefault("OMP_NUM_THREADS", "1")


def write_store(
    root: Path,
    dims: dict[str, int] | None = None,
    n: dict[str, int] | None = None,
    task: str = "multiclass",
    seed: int = 0,
    names: tuple[str, ...] | None = None,
) -> Path:
    """A small random store (labels random, lengths 3-9) written with the real FeatureStoreWriter."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    dims = dims or {"a": 8, "b": 6}
    n = n or {"train": 24, "valid": 10, "test": 10}
    g = torch.Generator().manual_seed(seed)
    names = names or (("x", "y", "z") if task == "multiclass" else ("score",))
    infos = {
        m: ModalityInfo(dim=d, max_len=16, fingerprint={"source": "synthetic", "seed": seed})
        for m, d in dims.items()
    }
    with FeatureStoreWriter(root, infos, TaskInfo(type=task, label_names=names)) as w:
        for split, k in n.items():
            for i in range(k):
                feats = {
                    m: torch.randn(int(torch.randint(3, 10, (1,), generator=g)), d, generator=g)
                    for m, d in dims.items()
                }
                label: Any = (
                    int(torch.randint(0, 3, (1,), generator=g))
                    if task == "multiclass"
                    else float(torch.randn(1, generator=g))
                )
                w.add(f"{split}-{i:03d}", split, feats, label)
    return root


def write_config(path: Path, store: Path, **over: Any) -> Path:
    """A tiny experiment config (fast on one CPU core) as YAML; `over` replaces top-level sections."""
    cfg: dict[str, Any] = {
        "name": "tiny",
        "data": {"store": str(store)},
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.1, "attn_dropout": 0.0},
        "head": {"name": "multiclass"},
        "train": {"epochs": 2, "batch_size": 8, "lr": 1e-3, "seed": 3, "num_threads": 1},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.fixture
def tiny_store(tmp_path: Path) -> Path:
    return write_store(tmp_path / "store")


def tiny_experiment(tmp: Path, store: Path, **over: Any) -> Any:
    """The tiny config of `write_config` as an ExperimentConfig (in-process training)."""
    from sseft.core.training.experiment import load_experiment

    return load_experiment(write_config(tmp / "cfg.yaml", store, **over))


class Crash(Exception):
    """Raised by `crash_after_checkpoint` to stop a run right after a checkpoint (a kill)."""


def crash_after_checkpoint(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Make the trainer raise Crash once checkpoint `name` is complete, as if killed there."""
    from sseft.core.training import checkpoint as ck

    real = ck.save_checkpoint

    def save(accelerator: Any, root: Any, ckpt: str, *args: Any, **kwargs: Any) -> Any:
        path = real(accelerator, root, ckpt, *args, **kwargs)
        if ckpt == name:
            raise Crash(ckpt)
        return path

    monkeypatch.setattr(ck, "save_checkpoint", save)
