"""onnxruntime against PyTorch eager (and torch.compile) for the fusion + head, batch 1 and 8, on
MELD-length inputs; plus the size on disk of the ONNX graph and of the safetensors weights.

    .venv/bin/python bench/export.py [--fusions sseft,late-fusion] [--scale 1.0] [--reps 20] [--threads 2] [--no-compile]

Model: the paper's shapes at `--scale 1` (text RoBERTa-large 1024-d with its own <s>, up to 512 tokens;
speech 512-d, up to 935 frames; face 256-d, up to 300 frames), each fusion with its default options
and a 7-class head (MELD emotion), eval mode, random weights (speed does not depend on them). Inputs:
(words, seconds) of real MELD utterances (train + dev CSVs in ../shared/data/meld, bench/pipeline.py's
length model: text 1.3 tokens per word + 2, speech 100 frames/s, face 30 frames/s), each batch padded
to its own longest item. `--scale 0.1` shrinks widths and lengths for a quick proof run.

Time: for each batch size, `--batches` batches are drawn; each runtime runs every batch `--reps` times,
interleaved round-robin (load from other processes hits them alike); ms per batch is the median over
repetitions, averaged over the batches. onnxruntime uses `--threads` intra-op threads, as torch does.
Target: onnxruntime >= 1.5x faster than eager at batch 1.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pipeline import meld_lengths  # noqa: E402  (bench/pipeline.py: the MELD length model)

PAPER = {"text": (1024, 512), "speech": (512, 935), "face": (256, 300)}  # dim, max frames
MELD = Path(__file__).resolve().parents[2] / "shared" / "data" / "meld"
LABELS = ["neutral", "surprise", "fear", "sadness", "joy", "disgust", "anger"]


def model_config(fusion: str, scale: float) -> dict[str, Any]:
    mods = [
        {"name": m, "dim": max(8, int(d * scale) // 8 * 8), "provides_cls": m == "text", "max_len": max(4, int(n * scale))}
        for m, (d, n) in PAPER.items()
    ]  # fmt: skip
    return {"modalities": mods, "fusion": {"name": fusion}, "head": {"name": "multiclass"},
            "task": "multiclass", "label_names": LABELS}  # fmt: skip


def batches(model: Any, size: int, n: int, scale: float, seed: int) -> list[dict[str, np.ndarray]]:
    """`n` graph feeds of `size` MELD utterances each, padded to their own longest item."""
    pairs = meld_lengths(MELD)
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        utts = [pairs[rng.randrange(len(pairs))] for _ in range(size)]
        feed: dict[str, np.ndarray] = {}
        for s in model.config.modalities:
            raw = {"text": [2 + 1.3 * w for w, _ in utts], "speech": [100 * d for _, d in utts],
                   "face": [30 * d for _, d in utts]}[s.name]  # fmt: skip
            lengths = np.array([min(s.max_len, max(1, round(x * scale))) for x in raw], dtype=np.int64)
            feed[s.name] = (
                np.random.default_rng(seed)
                .standard_normal((size, int(lengths.max()), s.dim))
                .astype(np.float32)
            )
            feed[f"{s.name}_lengths"] = lengths
        out.append(feed)
    return out


def timed(fn: Any, feed: Any) -> float:
    t = time.perf_counter()
    fn(feed)
    return (time.perf_counter() - t) * 1000


def bench_fusion(fusion: str, args: argparse.Namespace, tmp: Path) -> list[dict[str, Any]]:
    import sseft
    from sseft.core.export import export_onnx
    from sseft.core.export.graph import GraphModule
    from sseft.core.export.runtime import session
    from sseft.core.model import build_model

    torch.manual_seed(0)
    model = build_model(model_config(fusion, args.scale)).eval()
    t0 = time.perf_counter()
    folder = export_onnx(model, tmp / f"{fusion}-onnx", check_batches=2)
    export_s = time.perf_counter() - t0
    art = sseft.save(model, tmp / f"{fusion}-artifact")
    sizes = {"onnx_mb": (folder / "model.onnx").stat().st_size / 2**20,
             "safetensors_mb": (art / "model.safetensors").stat().st_size / 2**20}  # fmt: skip
    sess = session(folder / "model.onnx", threads=args.threads)
    graph = GraphModule(model).eval()
    names = [n for s in model.config.modalities for n in (s.name, f"{s.name}_lengths")]

    def eager(feed: dict[str, np.ndarray], g: Any = graph) -> Any:
        with torch.inference_mode():
            return g(*[torch.from_numpy(feed[k]) for k in names])

    runtimes: dict[str, Any] = {"eager": eager, "onnxruntime": lambda feed: sess.run(["outputs"], feed)}
    if not args.no_compile:
        try:
            compiled = torch.compile(graph, dynamic=True)
            eager(batches(model, 2, 1, args.scale, 99)[0], compiled)  # compile once, outside the timing
            runtimes["torch.compile"] = lambda feed: eager(feed, compiled)
        except Exception as e:  # noqa: BLE001 - a benchmark row, not a failure
            print(
                f"  {fusion}: torch.compile does not run here ({type(e).__name__}: {str(e).splitlines()[0][:120]})"
            )
    rows = []
    for size in (1, 8):
        feeds = batches(model, size, args.batches, args.scale, seed=size)
        times: dict[str, list[list[float]]] = {k: [[] for _ in feeds] for k in runtimes}
        for fn in runtimes.values():  # warm-up
            fn(feeds[0])
        for _ in range(args.reps):
            for b, feed in enumerate(feeds):
                for k, fn in runtimes.items():
                    times[k][b].append(timed(fn, feed))
        ms = {k: statistics.mean(statistics.median(t) for t in v) for k, v in times.items()}
        rows.append({"fusion": fusion, "batch": size, **ms, **sizes, "export_s": export_s})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fusions", default="sseft,late-fusion,concat-pool,tfn,lmf,mult")
    ap.add_argument("--scale", type=float, default=1.0, help="widths and lengths x scale (0.1: a quick run)")
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="sseft-bench-export-") as tmp:
        for fusion in args.fusions.split(","):
            try:
                rows += bench_fusion(fusion.strip(), args, Path(tmp))
            except Exception as e:  # noqa: BLE001 - one fusion that cannot export is a line, not the end
                print(f"  {fusion}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    print(
        f"\nfusion + head, scale {args.scale}, {args.threads} threads, torch {torch.__version__}; ms per batch (median)"
    )
    head = f"{'fusion':<12} {'batch':>5} {'eager':>9} {'compile':>9} {'ort':>9} {'ort/eager':>10} {'onnx MB':>8} {'st MB':>7}"
    print(head)
    print("-" * len(head))
    for r in rows:
        comp = f"{r['torch.compile']:9.2f}" if "torch.compile" in r else f"{'-':>9}"
        speed = r["eager"] / r["onnxruntime"]
        print(f"{r['fusion']:<12} {r['batch']:>5} {r['eager']:9.2f} {comp} {r['onnxruntime']:9.2f} "
              f"{speed:9.2f}x {r['onnx_mb']:8.2f} {r['safetensors_mb']:7.2f}")  # fmt: skip
    for r in rows:
        if r["batch"] == 1:
            speed = r["eager"] / r["onnxruntime"]
            verdict = "meets" if speed >= 1.5 else "misses"
            print(f"{r['fusion']}: onnxruntime {speed:.2f}x eager at batch 1 ({verdict} the 1.5x target)")


if __name__ == "__main__":
    main()
