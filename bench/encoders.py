"""Extraction throughput per encoder on this machine: the `lite` preset's real offline encoders
(MiniLM text, openSMILE eGeMAPS speech, MTCNN detection, MTCNN + FER face) next to the random-init
paper-size encoders (wav2vec2-large-shaped speech, RetinaFace ResNet-50 + FAb-Net face).

    .venv/bin/python bench/encoders.py [--items 8] [--seconds 3] [--threads N] [--no-paper]

Every row runs the modality plugin's extractor exactly as `sseft extract` does (decode, resample /
sample frames, detect, encode) on the same generated clips: 256x256 video of a real portrait
(skimage's astronaut) at 5 frames/s with a harmonic voice-like audio track. One warm-up batch, then the
best of `--repeat` timed passes over all items. Prints a Markdown table: items/s, s per item, s per
second of media, and the per-item feature shape.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "plugins" / "modalities"))

SENTENCES = [
    "I can't believe you did that, it's amazing!",
    "Well, I suppose we could go tomorrow instead.",
    "Get out of my apartment right now.",
    "Oh my God, is that really you? After all these years?",
]


def paper_wav2vec2(d: Path) -> Path:
    """A random-init wav2vec2-large-shaped encoder (24 layers, 1024 wide), saved as a local model dir."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(
        hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096
    )
    torch.manual_seed(0)
    Wav2Vec2Model(cfg).save_pretrained(d)
    return d


def rows(args: argparse.Namespace, tmp: Path) -> list[tuple[str, str, dict[str, Any], Callable[[int], Any]]]:
    """(name, modality, extractor options, raw input of item i)."""
    import lite_media

    clips = [
        lite_media.write_clip(tmp / f"c{i}.mp4", [True] * int(5 * args.seconds), fps=5, f0=110 + 20 * i)
        for i in range(args.items)
    ]
    out: list[tuple[str, str, dict[str, Any], Callable[[int], Any]]] = [
        ("text: MiniLM-L6 (offline)", "text", {"model": "minilm-offline"}, lambda i: SENTENCES[i % 4]),
        ("speech: eGeMAPS LLDs (openSMILE)", "speech", {"model": "egemaps"}, lambda i: clips[i]),
        ("speech: ComParE_2016 LLDs", "speech", {"model": "compare"}, lambda i: clips[i]),
        (
            "face: MTCNN + FER (lite preset)",
            "face",
            {
                "detector": "mtcnn",
                "encoder": "fer",
                "fer_features": "both",
                "fps": 5.0,
                "detector_max_size": 320,
            },
            lambda i: clips[i],
        ),
    ]
    if args.paper:
        w2v = paper_wav2vec2(tmp / "w2v-large")
        out += [
            ("speech: wav2vec2-large shape (random)", "speech", {"model": str(w2v)}, lambda i: clips[i]),
            (
                "face: RetinaFace R50 + FAb-Net (random)",
                "face",
                {"random_init": True, "fps": 5.0, "detector_max_size": 320},
                lambda i: clips[i],
            ),
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0, help="length of each clip")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--no-paper", dest="paper", action="store_false", help="skip the random paper-size rows")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from sseft.core.extraction.run import run_extractor
    from sseft.core.plugins import get_modality

    print(
        f"torch threads: {torch.get_num_threads()}; {args.items} clips of {args.seconds} s; batch {args.batch_size}"
    )
    table = ["| encoder | items/s | s/item | s per media s | features per item |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as t:
        for name, modality, options, raw in rows(args, Path(t)):
            ex = get_modality(modality).build_extractor(options)
            if hasattr(ex, "progress"):
                ex.progress = False
            inputs = [raw(i) for i in range(args.items)]
            run_extractor(ex, inputs[: args.batch_size])  # warm-up (model load, first-call allocations)
            best = float("inf")
            shape: tuple[int, ...] = ()
            for _ in range(args.repeat):
                t0 = time.perf_counter()
                for s in range(0, len(inputs), args.batch_size):
                    outs = run_extractor(ex, inputs[s : s + args.batch_size])  # as the engine calls it
                    bad = [o for o in outs if isinstance(o, Exception)]
                    if bad:
                        raise SystemExit(f"{name}: {bad[0]}")
                    shape = tuple(getattr(outs[0], "features", outs[0]).shape)
                best = min(best, time.perf_counter() - t0)
            per_media = "-" if modality == "text" else f"{best / args.items / args.seconds:.3f}"
            table.append(
                f"| {name} | {args.items / best:.2f} | {best / args.items:.3f} | {per_media} | {shape} |"
            )
            print(table[-1], flush=True)
    print("\n".join(["", *table]))


if __name__ == "__main__":
    main()
