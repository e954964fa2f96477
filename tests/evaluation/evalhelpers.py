"""Helpers for the evaluation tests: a tiny grouped feature store and experiment configs (a unique
module name: `conftest` would clash with other test folders)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import yaml

os.environ.setdefault("OMP_NUM_THREADS", "1")


def write_grouped_store(
    root: Path,
    n: dict[str, int] | None = None,
    groups: int = 4,
    dims: dict[str, int] | None = None,
    seed: int = 0,
    signal: float = 2.0,
) -> Path:
    """A small 3-class store whose items carry meta {"session": 1..groups, "speaker": "S<g><F|M>"};
    the label shifts one coordinate of every frame of modality a (so a model can learn it in 1-2 epochs)."""
    from sseft.core.features import FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    dims = dims or {"a": 8, "b": 4}
    n = n or {"train": 30, "valid": 12, "test": 12}
    g = torch.Generator().manual_seed(seed)
    infos = {
        m: ModalityInfo(dim=d, max_len=16, fingerprint={"source": "test", "seed": seed})
        for m, d in dims.items()
    }
    k = 0
    with FeatureStoreWriter(root, infos, TaskInfo(type="multiclass", label_names=("x", "y", "z"))) as w:
        for split, count in n.items():
            for i in range(count):
                label = int(torch.randint(0, 3, (1,), generator=g))
                feats = {}
                for m, d in dims.items():
                    x = torch.randn(int(torch.randint(2, 7, (1,), generator=g)), d, generator=g)
                    if m == "a":
                        x[:, label] += signal
                    feats[m] = x
                sess = k % groups + 1
                meta = {"session": sess, "speaker": f"S{sess}{'FM'[(k // groups) % 2]}"}
                w.add(f"{split}-{i:03d}", split, feats, label, meta)
                k += 1
    return root


def write_config(path: Path, store: Path, **over: Any) -> Path:
    """A tiny experiment config (1 epoch, small dims) as YAML; `over` merges into top-level sections."""
    cfg: dict[str, Any] = {
        "name": "tiny",
        "data": {"store": str(store)},
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        "head": {"name": "multiclass", "config": {"dropout": 0.0}},
        "train": {"epochs": 1, "batch_size": 8, "lr": 3e-3, "seed": 0, "num_threads": 1},
    }
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(cfg.get(k), dict):
            cfg[k] = {**cfg[k], **v}
        else:
            cfg[k] = v
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(*args: str) -> Any:
    """`sseft ARGS` in this process (click's runner; `.returncode`, `.stdout`, `.stderr`): training
    through the CLI without a fresh interpreter per call keeps these tests fast."""
    from click.testing import CliRunner

    from sseft.cli.main import cli

    r = CliRunner().invoke(cli, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    r.returncode = r.exit_code
    return r
