"""Tiny models the serve tests train once per session: a text-only one (a 2-layer RoBERTa saved with
save_pretrained, a one-epoch run) and the text + speech + face one of tests/cli/predict_fixture.py.
Published into a private registry home, so the app loads them by name as a user's would."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "cli"))
sys.path.insert(0, str(HERE.parent / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402
import predict_fixture as pf  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")
LABELS = ["neg", "pos"]


@dataclass
class Served:
    home: Path  # the registry home the models are published in
    text: str  # registry name of the text-only model
    av: str | None  # registry name of the text + speech + face model (None when not built)
    root: Path


_CACHE: dict[str, Path] = {}


def text_artifact() -> Path:
    """Train (once) the tiny text-only model; its artifact directory."""
    if "text" in _CACHE:
        return _CACHE["text"]
    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="sseft-serve-text-"))
    atexit.register(shutil.rmtree, root, True)
    rob = mf.tiny_roberta(root / "roberta")
    words = mf.WORDS
    lines = ["id,split,label,text"]
    splits = ["train"] * 8 + ["valid"] * 2 + ["test"] * 2
    for i, split in enumerate(splits):
        text = " ".join(words[(i * 3 + k) % len(words)] for k in range(3 + i % 4))
        lines.append(f'u{i},{split},{LABELS[i % 2]},"{text}"')
    manifest = root / "items.csv"
    manifest.write_text("\n".join(lines) + "\n")
    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.common import resolve_dataset

    plugin, dcfg = resolve_dataset("manifest", manifest)
    store = root / "store"
    summary = extract_items(
        list(plugin.items(dcfg)), plugin.task(dcfg), {"text": {"model": str(rob)}}, store,
        batch_size=8, threads=1, progress=False,
    )  # fmt: skip
    assert summary.failed == 0, summary.line()
    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train

    cfg = root / "text.yaml"
    cfg.write_text(yaml.safe_dump({
        "name": "tiny-serve-text", "data": {"store": str(store)}, "modalities": ["text"],
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        "head": {"name": "multiclass"}, "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 0},
    }))  # fmt: skip
    res = train(load_experiment(cfg), root / "run", plots=False, progress=False)
    import sseft

    _CACHE["text"] = sseft.save(
        res.model, root / "run" / "model", res.artifact_metrics, res.training, overwrite=True
    )
    return _CACHE["text"]


def publish_all(home: Path, with_av: bool = True) -> Served:
    """Publish the tiny models into the registry at `home` (as tiny-text and tiny-av)."""
    import sseft

    old = os.environ.get("SSEFT_HOME")
    os.environ["SSEFT_HOME"] = str(home)
    try:
        sseft.publish(text_artifact(), "tiny-text")
        if with_av:
            sseft.publish(pf.tiny_model().artifact, "tiny-av")
    finally:
        if old is None:
            os.environ.pop("SSEFT_HOME", None)
        else:
            os.environ["SSEFT_HOME"] = old
    return Served(home, "tiny-text", "tiny-av" if with_av else None, home)


def load_app(home: Path, models: list[str], **settings: object):  # type: ignore[no-untyped-def]
    """create_app for `models` published at `home` (the registry is read only while loading)."""
    from sseft.serve import ServeSettings, create_app

    old = os.environ.get("SSEFT_HOME")
    os.environ["SSEFT_HOME"] = str(home)
    try:
        return create_app(ServeSettings(models=models, **settings))  # type: ignore[arg-type]
    finally:
        if old is None:
            os.environ.pop("SSEFT_HOME", None)
        else:
            os.environ["SSEFT_HOME"] = old


def write_long_clip(path: Path, seconds: float) -> Path:
    """An mp4 with a drawn face at 5 fps and `seconds` of audio."""
    frames = max(1, int(seconds * 5))
    return mf.write_mp4(path, faces=[True] * frames, fps=5, audio_seconds=seconds)


@contextlib.contextmanager
def running(app: Any) -> Iterator[str]:
    """`app` under a real uvicorn on 127.0.0.1 (a thread of this process); yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    from sseft.serve.transport import OneSendHTTP

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=OneSendHTTP)
    )  # as `sseft serve` runs it
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start within 60 s"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
