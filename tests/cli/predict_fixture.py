"""A tiny trained text + speech + face model on generated media, built once per test session.

Tiny random-init encoders (a 2-layer RoBERTa saved with save_pretrained, a 2-layer wav2vec2, the face
plugin's RetinaFace + FAb-Net with seeded random weights), real mp4/wav files made with PyAV and
soundfile, real extraction through the manifest dataset plugin, and a one-epoch `core.training` run
that exports the artifact. Shared by tests/cli/test_predict.py and tests/test_docs.py (both import this
module by the same name, so the cache below is built once).
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins" / "modalities"))
import media_factory as mf  # noqa: E402

os.environ.setdefault("OMP_NUM_THREADS", "1")

WORDS = mf.WORDS
FACE_CFG = {"random_init": True, "detector_max_size": 96, "confidence": 0.5, "fps": 5}


@dataclass
class TinyModel:
    root: Path
    artifact: Path  # the exported artifact directory
    text_model: Path
    speech_model: Path


_CACHE: dict[str, TinyModel] = {}


def write_clip(path: Path, seed: int, frames: int = 3) -> Path:
    """An mp4 with `frames` video frames (a drawn face) at 5 fps and 0.6 s of stereo AAC audio."""
    del seed  # content varies by the frame shift in media_factory; kept for call-site clarity
    return mf.write_mp4(path, faces=[True] * frames, fps=5, audio_seconds=0.6)


def media_item(d: Path, name: str, seed: int) -> dict[str, str]:
    """clip.mp4, clip.wav and a transcript for one item under `d`."""
    d.mkdir(parents=True, exist_ok=True)
    write_clip(d / f"{name}.mp4", seed)
    mf.write_audio(d / f"{name}.wav", 0.7, 22050, channels=2, seed=seed)
    words = [WORDS[(seed * 3 + k) % len(WORDS)] for k in range(4 + seed % 3)]
    return {"video": str(d / f"{name}.mp4"), "audio": str(d / f"{name}.wav"), "text": " ".join(words)}


def tiny_model() -> TinyModel:
    """Build (once) and return the tiny trained model."""
    if "model" in _CACHE:
        return _CACHE["model"]
    import torch

    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="sseft-predict-"))
    atexit.register(shutil.rmtree, root, True)
    rob, w2v = mf.tiny_roberta(root / "roberta"), mf.tiny_wav2vec2(root / "wav2vec2")
    media = root / "media"
    lines = ["id,split,label,text,speech,face"]
    splits = ["train"] * 4 + ["valid"] * 2 + ["test"] * 2
    for i, split in enumerate(splits):
        it = media_item(media, f"u{i}", i)
        lines.append(f'u{i},{split},{"pos" if i % 2 else "neg"},"{it["text"]}",{it["audio"]},{it["video"]}')
    manifest = root / "train.csv"
    manifest.write_text("\n".join(lines) + "\n")

    from sseft.core.extraction import extract_items
    from sseft.plugins.datasets.common import resolve_dataset

    plugin, dcfg = resolve_dataset("manifest", manifest)
    store = root / "store"
    mods = {"text": {"model": str(rob)}, "speech": {"model": str(w2v)}, "face": FACE_CFG}
    summary = extract_items(
        list(plugin.items(dcfg)), plugin.task(dcfg), mods, store, batch_size=8, threads=1, progress=False
    )
    assert summary.failed == 0, summary.line()

    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train

    cfg_path = root / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump({
        "name": "tiny-predict",
        "data": {"store": str(store)},
        "modalities": ["text", "speech", "face"],
        "fusion": {"n_self": 1, "n_ima": 1, "heads": 2, "ffn_dim": 16, "dropout": 0.0, "attn_dropout": 0.0},
        "head": {"name": "multiclass"},
        "train": {"epochs": 1, "batch_size": 4, "lr": 1e-3, "seed": 0},
    }))  # fmt: skip
    res = train(load_experiment(cfg_path), root / "run", plots=False, progress=False)
    import sseft

    artifact = sseft.save(
        res.model, root / "run" / "model", res.artifact_metrics, res.training, overwrite=True
    )
    assert (artifact / "config.json").is_file()
    _CACHE["model"] = TinyModel(root=root, artifact=artifact, text_model=rob, speech_model=w2v)
    return _CACHE["model"]


def publish(name: str) -> str:
    """Publish the tiny model under `name` in the current SSEFT_HOME; returns 'name@N'."""
    import sseft

    return sseft.publish(tiny_model().artifact, name)
