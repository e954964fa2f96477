"""Helpers of the export tests: tiny models of every fusion plugin, and a tiny model saved as an artifact."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path
from typing import Any

import torch

from sseft.core.model import build_model
from sseft.core.plugins import get_manager

# Small options per built-in fusion (only those its config model has are used): tiny widths keep the
# export and the 100-batch parity at seconds.
TINY: dict[str, dict[str, Any]] = {
    "sseft": {"n_self": 1, "heads": 2, "ffn_dim": 16},
    "mult": {"dim": 8, "heads": 2, "layers": 1, "self_layers": 1},
    "tfn": {"hidden": 4, "post_fusion_dim": 8},
    "lmf": {"hidden": 4, "rank": 2, "out_dim": 8},
}
# The built-in fusions known to export; a fusion not listed may also refuse, in one line.
EXPORTABLE = {"sseft", "late-fusion", "concat-pool", "tfn", "lmf", "mult"}
LABELS = {"multiclass": ["neg", "neu", "pos"], "regression": ["sentiment"], "multilabel": ["a", "b", "c"]}


def fusion_names() -> list[str]:
    """Every registered fusion plugin (the built-ins and any installed one)."""
    return sorted(get_manager().names("fusion"))


def fusion_options(name: str) -> dict[str, Any]:
    fields = set(get_manager().get("fusion", name).config_model.model_fields)
    return {k: v for k, v in TINY.get(name, {}).items() if k in fields}


def tiny_config(fusion: str = "sseft", task: str = "multiclass", max_len: int = 8) -> dict[str, Any]:
    """Three modalities: text with its own CLS (16-d), speech 8-d, face 8-d with a linear projection."""
    return {
        "modalities": [
            {"name": "text", "dim": 16, "provides_cls": True, "max_len": max_len,
             "fingerprint": {"modality": "text", "model": "tiny-text"}},
            {"name": "speech", "dim": 8, "max_len": max_len},
            {"name": "face", "dim": 6, "max_len": max_len, "project": {"dim": 8}},
        ],
        "fusion": {"name": fusion, **fusion_options(fusion)},
        "head": {"name": {"multiclass": "multiclass", "regression": "regression", "multilabel": "multilabel-binary"}[task]},
        "task": task,
        "label_names": LABELS[task],
    }  # fmt: skip


def tiny_model(fusion: str = "sseft", task: str = "multiclass", seed: int = 0) -> Any:
    torch.manual_seed(seed)
    return build_model(tiny_config(fusion, task)).eval()


def saved(tmp: Path, fusion: str = "sseft", metrics: dict[str, Any] | None = None,
          training: dict[str, Any] | None = None) -> Path:  # fmt: skip
    """A tiny model saved as an artifact directory (random weights)."""
    import sseft

    return sseft.save(tiny_model(fusion), tmp / f"art-{fusion}", metrics=metrics, training=training)


def hf_cache(home: Path, repo: str, folder: Path) -> str:
    """Lay out `folder` in a huggingface_hub cache as snapshot_download does: blobs named by content
    hash, snapshots/<commit>/<file> symlinks into them, refs/main holding the commit."""
    root = home / "hub" / f"models--{repo.replace('/', '--')}"
    commit = hashlib.sha1(repo.encode()).hexdigest()
    snap = root / "snapshots" / commit
    (root / "blobs").mkdir(parents=True)
    snap.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
    for f in folder.iterdir():
        blob = hashlib.sha256(f.read_bytes()).hexdigest()
        shutil.copyfile(f, root / "blobs" / blob)
        (snap / f.name).symlink_to(Path("..") / ".." / "blobs" / blob)
    return commit
