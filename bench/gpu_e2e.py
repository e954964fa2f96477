"""A tiny end-to-end job through the real CLI with paper-size random-init encoders, fp32 and bf16:
extract (text RoBERTa-large-sized + speech wav2vec2-large-sized, saved and loaded like real
checkpoints) -> train one epoch -> publish -> predict a manifest. Used by bench/gpu.sh.

    .venv/bin/python bench/gpu_e2e.py [--device cuda] [--items 24] [--tiny]

--tiny: 2-layer, 64-wide encoders (a CPU smoke run of the same path, ~1 min). Prints one row per
stage and precision (seconds), and the test accuracy of both trainings (random labels: only that
both run and agree in kind, not a quality figure).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "plugins" / "modalities"))  # the tests' tokenizer builder


def save_encoders(d: Path, tiny: bool) -> tuple[Path, Path]:
    """RoBERTa-large- and wav2vec2-large-sized random-init models, saved as checkpoints."""
    import media_factory as mf
    from transformers import RobertaConfig, RobertaModel, Wav2Vec2Config, Wav2Vec2Model

    big = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096}
    small = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128}
    size = small if tiny else big
    rob = mf.tiny_roberta(d / "text", max_positions=514)  # byte-level BPE tokenizer + a small model
    vocab = RobertaModel.from_pretrained(rob).config.vocab_size
    torch.manual_seed(0)
    RobertaModel(RobertaConfig(vocab_size=vocab, max_position_embeddings=514, **size)).save_pretrained(rob)
    conv = {"conv_dim": (32,) * 7} if tiny else {}
    w2v = d / "speech"
    cfg = Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, **conv, **size)
    Wav2Vec2Model(cfg).save_pretrained(w2v)
    return rob, w2v


def make_manifest(d: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    words = [
        "well",
        "I",
        "suppose",
        "we",
        "could",
        "go",
        "tomorrow",
        "instead",
        "oh",
        "my",
        "god",
        "is",
        "that",
        "really",
        "you",
    ]
    rows = []
    for i in range(n):
        wav = d / f"a{i}.wav"
        sf.write(
            wav,
            (rng.standard_normal(int(16000 * (1.0 + 3.0 * rng.random()))) * 0.1).astype(np.float32),
            16000,
        )
        text = " ".join(rng.choice(words, size=int(rng.integers(3, 15))))
        rows.append(
            [f"u{i:03d}", ("train", "valid", "test")[i % 3], ("neg", "neu", "pos")[i % 3], text, str(wav)]
        )
    path = d / "items.csv"
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([["id", "split", "label", "text", "speech"], *rows])
    return path


def sseft(*args: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "sseft", *args], capture_output=True, text=True, env=env)
    if p.returncode:
        raise SystemExit(f"sseft {args[0]} failed ({p.returncode}):\n{p.stdout[-1500:]}\n{p.stderr[-3000:]}")
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--items", type=int, default=24)
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SSEFT_HOME": str(d / "registry")}
        t = time.perf_counter()
        rob, w2v = save_encoders(d, a.tiny)
        built = time.perf_counter() - t
        manifest = make_manifest(d, a.items)
        table, metrics = [], {}
        for prec in ("no", "bf16"):
            store, run = d / f"store-{prec}", d / f"run-{prec}"
            ext = sseft("extract", "--dataset", "manifest", "--root", str(manifest), "--modalities", "text,speech",
                        "--set", f"text.model={rob}", "--set", f"speech.model={w2v}",
                        "--set", "dataset.label_names=[neg,neu,pos]", "--device", a.device,
                        "--mixed-precision", prec, "--dtype", "bfloat16" if prec == "bf16" else "float32",
                        "--out", str(store), "--no-progress", env=env)  # fmt: skip
            cfg = d / f"cfg-{prec}.yaml"
            cfg.write_text(json.dumps({
                "name": f"gpu-e2e-{prec}", "data": {"store": str(store)}, "head": {"name": "multiclass"},
                "fusion": {"n_self": 2, "n_ima": 2, "heads": 4, "ffn_dim": 1024},
                "train": {"epochs": 1, "batch_size": 8, "mixed_precision": prec},
            }))  # fmt: skip
            tr = sseft("train", str(cfg), "--output-dir", str(run), "--register", f"gpu-e2e-{prec}", env=env)
            pr = sseft("predict", "--model", f"gpu-e2e-{prec}", "--manifest", str(manifest), "--out",
                       str(d / f"pred-{prec}.csv"), "--device", a.device, "--no-progress", env=env)  # fmt: skip
            metrics[prec] = json.loads((run / "test_metrics.json").read_text()).get("accuracy")
            table.append((prec, ext, tr, pr))
        print(f"\ntiny end-to-end job ({a.items} items, {a.device}, encoders {'TINY' if a.tiny else 'paper-size'}, "
              f"built+saved in {built:.0f} s): seconds per stage (CLI wall time incl. start-up and model loading)")  # fmt: skip
        print(f"  {'precision':<10} {'extract':>9} {'train 1 ep + publish':>21} {'predict':>8}")
        for prec, ext, tr, pr in table:
            print(f"  {'fp32' if prec == 'no' else prec:<10} {ext:>9.1f} {tr:>21.1f} {pr:>8.1f}")
        print(f"  test accuracy (random labels, 1 epoch): fp32 {metrics['no']}, bf16 {metrics['bf16']}")


if __name__ == "__main__":
    main()
