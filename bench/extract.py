"""Extraction throughput: the whole job (decode + resample + tokenize + encode + store) vs the bare
encoder forward passes on the same batches, length-sorted vs input-order batches, and 1 vs 2
processes (`accelerate launch`).

    .venv/bin/python bench/extract.py [--items 48] [--no-multi] [--speech-size tiny|base|large] [--tiny]

Encoders: the real offline MiniLM (text) and a random-init wav2vec2 (speech; no wav2vec2 weights ship
offline) of wav2vec2-base's shape by default (12 layers of width 768; `--speech-size large` is the
paper's size class, `tiny` a 4 x 256 toy whose forward is so cheap that decoding alone looks like
a 10% overhead). Items: real MELD utterances (text and duration, from
train_sent_emo.csv in --meld, as bench/pipeline.py; durations capped at --max-seconds), audio as
generated stereo wav files at 44.1 kHz of that duration.
Rows (the engine's own batching, run side by side in one process):
  sorted   extract_items (default: length-sorted batches, each padded to its longest item)
  input    extract_items(sort_by_length=False): batches in input order
  inline   extract_items(prefetch=False): sorted, but each batch decoded/resampled by the extractor
           itself instead of one batch ahead in a background thread (what the prefetch buys)
  bare     the encoders' forward passes alone on the sorted run's batches (inputs prepared before):
           what the job would cost with zero overhead. Target: sorted within 10 % of bare.
Runtime on a quiet 2-core CPU: --no-multi ~3 min with the base-size speech model (~1 min with
--speech-size tiny), the 1 vs 2 processes part ~1 min more; --tiny (12 items, clips <= 3 s): ~30 s.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/pipeline.py's length model

TASK = TaskInfo("multiclass", ("neg", "neu", "pos"))
SENTENCES = [
    "I can't believe you did that, it's amazing!",
    "Well, I suppose we could go tomorrow instead.",
    "Get out of my apartment right now.",
    "Oh my God, is that really you? After all these years?",
]


def meld_utterances(root: Path) -> list[tuple[str, float]]:
    """(text, seconds) of MELD train utterances with a plausible duration; the fixed sentences above
    with 1-6 s when the CSV is absent."""
    path = root / "train_sent_emo.csv"
    if not path.is_file():
        return [(SENTENCES[i % 4], 1.0 + i % 6) for i in range(64)]
    from pipeline import _seconds  # bench/pipeline.py: the same length model

    out = []
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            try:
                dur = _seconds(row["EndTime"]) - _seconds(row["StartTime"])
            except (KeyError, ValueError):
                continue
            if 0.2 <= dur <= 30.0 and row["Utterance"].strip():
                out.append((row["Utterance"], dur))
    return out


def make_corpus(d: Path, n: int, meld: Path, max_seconds: float) -> list[Item]:
    rng = np.random.default_rng(0)
    pool = meld_utterances(meld)
    items = []
    for i in range(n):
        text, dur = pool[int(rng.integers(len(pool)))]
        wav = d / f"a{i}.wav"
        samples = int(max(0.5, min(dur, max_seconds)) * 44100)
        sf.write(wav, (rng.standard_normal((samples, 2)) * 0.1).astype(np.float32), 44100)
        items.append(Item(f"u{i:04d}", "train", i % 3, {"text": text, "speech": wav}))
    return items


SPEECH_SIZES = {  # random-init wav2vec2 shapes: (hidden, layers, heads, FFN, conv channels)
    "tiny": (256, 4, 4, 1024, 256),
    "base": (768, 12, 12, 3072, 512),  # wav2vec2-base (95 M parameters)
    "large": (1024, 24, 16, 4096, 512),  # wav2vec2-large (315 M), the paper's size class
}


def speech_model(d: Path, size: str = "tiny") -> Path:
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    hidden, layers, heads, ffn, conv = SPEECH_SIZES[size]
    torch.manual_seed(0)
    cfg = Wav2Vec2Config(
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=ffn,
        conv_dim=(conv,) * 7,
    )
    Wav2Vec2Model(cfg).save_pretrained(d)
    return d


def bare_forward(items: list[Item], configs: dict, batch_size: int) -> float:
    """Seconds of encoder forward passes alone, on the batches the engine forms (the same length
    order, inputs prepared before): text padded to the batch's longest, each distinct-length clip
    in its own forward as the speech extractor runs them."""
    from sseft.core.extraction.batching import length_order
    from sseft.core.plugins import get_modality

    ex = {m: get_modality(m).build_extractor(c) for m, c in configs.items()}
    order = [items[i] for i in length_order(items, ex)]
    total = 0.0
    for k in range(0, len(order), batch_size):
        batch = order[k : k + batch_size]
        enc = ex["text"].tokenizer(
            [it.inputs["text"] for it in batch],
            truncation=True,
            max_length=ex["text"].max_len,
            padding=True,
            return_tensors="pt",
        )
        waves = [ex["speech"].prepare(it.inputs["speech"]).value for it in batch]
        with torch.inference_mode():
            t = time.perf_counter()
            ex["text"].model(**enc)
            for w in waves:
                ex["speech"].model(w[None])
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
    ap.add_argument("--tiny", action="store_true", help="12 items, clips <= 3 s, no multi-process run")
    ap.add_argument("--max-seconds", type=float, default=10.0, help="cap on a clip's duration")
    ap.add_argument("--rounds", type=int, default=2, help="rounds of (sorted, input, bare); minimum kept")
    ap.add_argument("--meld", type=Path, default=Path("/work/shared/data/meld"))
    ap.add_argument("--speech-size", choices=sorted(SPEECH_SIZES), default="base",
                    help="random-init wav2vec2 shape (default base; tiny makes every overhead look 10x bigger)")  # fmt: skip
    a = ap.parse_args()
    if a.tiny:
        a.items, a.max_seconds, a.no_multi, a.rounds, a.speech_size = 12, 3.0, True, 1, "tiny"
    from sseft.core.extraction import extract_items

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        items = make_corpus(d, a.items, a.meld, a.max_seconds)
        w2v = speech_model(d / "w2v", a.speech_size)
        configs = {"text": {"model": "minilm-offline"}, "speech": {"model": str(w2v)}}
        threads = torch.get_num_threads()
        t: dict[str, list[float]] = {"sorted": [], "input": [], "inline": [], "bare": []}
        for r in range(a.rounds):  # interleaved, so that load from other processes hits all alike
            for row, sort, ahead in (("sorted", True, True), ("input", False, True), ("inline", True, False)):
                out = d / f"store-{row}-{r}"
                s = extract_items(
                    items, TASK, configs, out, batch_size=a.batch_size, progress=False, sort_by_length=sort,
                    prefetch=ahead,
                )  # fmt: skip
                t[row].append(s.seconds)
            t["bare"].append(bare_forward(items, configs, a.batch_size))
        best = {k: min(v) for k, v in t.items()}
        secs = sorted(sf.info(str(it.inputs["speech"])).duration for it in items)
        print(
            f"{a.items} MELD utterances (MiniLM text + random-init wav2vec2-{a.speech_size} speech "
            f"{SPEECH_SIZES[a.speech_size][:2]}, stereo 44.1 kHz wav, {secs[0]:.1f}-"
            f"{secs[-1]:.1f} s, median {secs[len(secs) // 2]:.1f} s), batch {a.batch_size}, {threads} threads, "
            f"min of {a.rounds} round(s)"
        )
        for k, label in (("sorted", "extraction, length-sorted"), ("input", "extraction, input order"),
                         ("inline", "sorted, no prefetch"), ("bare", "bare encoder forward")):  # fmt: skip
            print(f"  {label:<26}: {best[k]:7.2f} s  {a.items / best[k]:7.2f} items/s")
        over = 100 * (best["sorted"] / best["bare"] - 1)
        print(f"  overhead sorted vs bare (I/O, resample, tokenize, store): {over:+.1f} %  (target < 10 %: "
              f"{'meets' if over < 10 else 'MISSES'})")  # fmt: skip
        print(f"  input order / sorted: {best['input'] / best['sorted']:.2f}x the time")
        print(f"  no prefetch / prefetch: {best['inline'] / best['sorted']:.2f}x the time")
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
