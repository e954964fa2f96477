"""Extraction throughput: the whole job (decode + resample + tokenize + encode + store) vs the bare
encoder forward passes on the same batches, and 1 vs 2 processes (`accelerate launch`).

    .venv/bin/python bench/extract.py [--items 48] [--no-multi]

Encoders: the real offline MiniLM (text) and a random-init wav2vec2 with 4 layers of width 256
(speech; no wav2vec2 weights ship offline). Media: generated stereo wav files of 2 s at 44.1 kHz.
Target: I/O and preprocessing add < 20 % over the bare forward passes.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from sseft.core.protocols import Item, TaskInfo

TASK = TaskInfo("multiclass", ("neg", "neu", "pos"))
SENTENCES = [
    "I can't believe you did that, it's amazing!",
    "Well, I suppose we could go tomorrow instead.",
    "Get out of my apartment right now.",
    "Oh my God, is that really you? After all these years?",
]


def make_corpus(d: Path, n: int) -> list[Item]:
    rng = np.random.default_rng(0)
    items = []
    for i in range(n):
        wav = d / f"a{i}.wav"
        sf.write(wav, (rng.standard_normal((88200, 2)) * 0.1).astype(np.float32), 44100)
        items.append(
            Item(f"u{i:04d}", "train", i % 3, {"text": SENTENCES[i % 4] * (1 + i % 3), "speech": wav})
        )
    return items


def speech_model(d: Path) -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    cfg = Wav2Vec2Config(
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        conv_dim=(256,) * 7,
    )
    Wav2Vec2Model(cfg).save_pretrained(d)
    return d


def bare_forward(items: list[Item], configs: dict, batch_size: int) -> float:
    """Seconds of encoder forward passes alone, on the batches the engine forms (inputs prepared before)."""
    from sseft.core.plugins import get_modality

    ex = {m: get_modality(m).build_extractor(c) for m, c in configs.items()}
    total = 0.0
    for k in range(0, len(items), batch_size):
        batch = items[k : k + batch_size]
        enc = ex["text"].tokenizer(
            [it.inputs["text"] for it in batch],
            truncation=True,
            max_length=ex["text"].max_len,
            padding=True,
            return_tensors="pt",
        )
        waves = [ex["speech"].prepare(it.inputs["speech"]) for it in batch]
        n = min(len(w) for w in waves)
        x = torch.stack([w[:n] for w in waves])  # equal-length clips: one forward, as the engine does
        with torch.inference_mode():
            t = time.perf_counter()
            ex["text"].model(**enc)
            ex["speech"].model(x)
            total += time.perf_counter() - t
    return total


def run_cli(args: list[str], launcher: list[str]) -> float:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    res = subprocess.run([*launcher, "-m", "sseft", *args], capture_output=True, text=True, env=env)
    m = re.search(r"([\d.]+) items/s", res.stdout)
    if res.returncode != 0 or not m:
        raise SystemExit(f"extract failed: {res.stderr[-2000:]}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--no-multi", action="store_true", help="skip the 1 vs 2 processes comparison")
    a = ap.parse_args()
    from sseft.core.extraction import extract_items

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        items = make_corpus(d, a.items)
        configs = {"text": {"model": "minilm-offline"}, "speech": {"model": str(speech_model(d / "w2v"))}}
        threads = torch.get_num_threads()
        bare = bare_forward(items, configs, a.batch_size)
        s = extract_items(items, TASK, configs, d / "store", batch_size=a.batch_size, progress=False)
        print(
            f"{a.items} items (MiniLM text + wav2vec2-256x4 speech, 2 s stereo 44.1 kHz wav), batch {a.batch_size}, "
            f"{threads} threads"
        )
        print(f"  full extraction : {s.seconds:7.2f} s  {a.items / s.seconds:7.2f} items/s")
        print(f"  bare forward    : {bare:7.2f} s  {a.items / bare:7.2f} items/s")
        print(
            f"  overhead (I/O, resample, tokenize, store): {100 * (s.seconds / bare - 1):+.1f} %  (target < 20 %)"
        )
        if a.no_multi:
            return
        manifest = d / "m.csv"
        with manifest.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["id", "split", "label", "text", "speech"])
            w.writerows(
                [it.id, it.split, TASK.label_names[it.label], it.inputs["text"], it.inputs["speech"]]
                for it in items
            )
        args = [
            "extract",
            "--dataset",
            "manifest",
            "--root",
            str(manifest),
            "--modalities",
            "text,speech",
            "--set",
            "text.model=minilm-offline",
            "--set",
            f"speech.model={d / 'w2v'}",
            "--set",
            "dataset.label_names=[neg,neu,pos]",
            "--batch-size",
            str(a.batch_size),
            "--no-progress",
        ]
        one = run_cli([*args, "--out", str(d / "one")], [sys.executable])
        acc = str(Path(sys.executable).with_name("accelerate"))
        two = run_cli(
            [*args, "--out", str(d / "two")],
            [
                acc,
                "launch",
                "--multi_gpu",
                "--num_processes",
                "2",
                "--num_machines",
                "1",
                "--mixed_precision",
                "no",
                "--dynamo_backend",
                "no",
            ],
        )
        print(f"  1 process  ({os.cpu_count()} cores, {os.cpu_count()} threads): {one:7.2f} items/s")
        print(
            f"  2 processes ({max(1, (os.cpu_count() or 1) // 2)} thread each)      : {two:7.2f} items/s  "
            f"(x{two / one:.2f}; model loading and process start-up excluded)"
        )


if __name__ == "__main__":
    main()
