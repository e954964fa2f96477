"""Tiny text models with and without dialogue context, trained once per test session on a manifest
whose rows are turns of dialogues (columns dialogue, turn, speaker), with real text extraction by a
2-layer RoBERTa saved with save_pretrained (tests/plugins/modalities/media_factory.py). Shared by the
conversation tests of core (tests/inference), the CLI and the service."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
LABELS = ["neg", "pos"]
FUSION = {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0}
CONTEXT = {"window": 3, "direction": "past", "speaker": True, "dim": 16, "heads": 2, "dropout": 0.0}
_CACHE: dict[str, Any] = {}


def store() -> Path:
    """Extract (once) the dialogue manifest's text with the tiny RoBERTa; the store directory."""
    if "store" in _CACHE:
        return _CACHE["store"]
    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="sseft-conversation-"))
    atexit.register(shutil.rmtree, root, True)
    rob = mf.tiny_roberta(root / "roberta")
    lines = ["id,split,label,text,dialogue,turn,speaker"]
    k = 0
    for split, n in (("train", 4), ("valid", 1), ("test", 1)):
        for d in range(n):
            for t in range(4):
                text = " ".join(mf.WORDS[(k * 3 + j) % len(mf.WORDS)] for j in range(3 + k % 4))
                lines.append(f'u{k},{split},{LABELS[k % 2]},"{text}",{split}-d{d},{t},{"ab"[t % 2]}')
                k += 1
    manifest = root / "items.csv"
    manifest.write_text("\n".join(lines) + "\n")
    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.common import resolve_dataset

    plugin, dcfg = resolve_dataset("manifest", manifest)
    out = root / "store"
    summary = extract_items(
        list(plugin.items(dcfg)), plugin.task(dcfg), {"text": {"model": str(rob)}}, out,
        batch_size=8, threads=1, progress=False,
    )  # fmt: skip
    assert summary.failed == 0, summary.line()
    _CACHE["store"], _CACHE["root"] = out, root
    return out


def artifact(context: dict[str, Any] | None = CONTEXT, name: str = "context") -> Path:
    """Train (once per `name`) a one-epoch text model on the dialogue store (`context` None: none)."""
    if name in _CACHE:
        return _CACHE[name]
    st = store()
    root: Path = _CACHE["root"]
    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train

    cfg: dict[str, Any] = {
        "name": f"tiny-{name}", "data": {"store": str(st)}, "modalities": ["text"], "fusion": FUSION,
        "head": {"name": "multiclass"}, "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 0},
    }  # fmt: skip
    if context is not None:
        cfg["context"] = context
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    res = train(load_experiment(path), root / f"run-{name}", plots=False, progress=False)
    import sseft

    _CACHE[name] = sseft.save(
        res.model, root / f"run-{name}" / "model", res.artifact_metrics, res.training, overwrite=True
    )
    return _CACHE[name]


CONVERSATION = [
    {"speaker": "ann", "text": "hello world"},
    {"speaker": "bob", "text": "this is a test"},
    {"speaker": "ann", "text": "speech text face fusion"},
    {"speaker": "bob", "text": "the tiny tokenizer"},
    {"speaker": "ann", "text": "hello sseft"},
]
