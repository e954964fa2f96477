"""SSE-FT fusion speed on CPU at the paper's shapes: CLS-only IMA vs the authors' full-sequence IMA.

    .venv/bin/python bench/fusion.py [--quick] [--steps 3] [--batches 4] [--lengths meld|lognormal] [--threads N] [--no-compile]

Shapes (the SSE-FT paper, Sec. III): batch 8; text RoBERTa-large 1024-d up to 512 tokens with its own
<s> CLS; speech wav2vec context features 512-d, up to 935 frames (9.375 s at 100 frames/s); face
FAb-Net 256-d, up to 300 frames. Length model (`--lengths`): by default real MELD utterances (Poria
et al. 2019; (words, seconds) of every train + dev utterance from ../shared/data/meld, the same model
as bench/pipeline.py; median 6 words, 2.46 s); `--lengths lognormal` draws durations log-normal around
6 s (longer, MOSEI-like utterances). One duration per item drives all three modalities, as in real
data. 400 items are cut into batches by the trainer's own length-bucketing sampler
(`train.bucket_by_length`); `--batches` of them at evenly spaced size quantiles are timed, each padded
to its own longest item (the authors' rows: to their fixed caps). Model: the authors' MOSEI settings
(2 self layers, 2 IMA layers, 4 heads, FFN 1024, dropout 0.1), training mode, forward + backward of
sum(fused). Attention dropout is 0 by
default: with dropout_p > 0 PyTorch's CPU scaled_dot_product_attention leaves its fused (flash) kernel
for the unfused math path (measured here ~3.5-4x slower attention, L x L probabilities materialised);
`--attn-dropout 0.1` times the model with the authors' attention dropout.

Rows:
  (a) this model (CLS-only IMA, pairs batched)
  (a-loop) same, IMA blocks run one after the other (shows what the batching buys)
  (b) the same weights with the authors' formulation (whole query sequence through each IMA block)
  (c) (a) under torch.compile
  --fixed-padding adds (b-fixed): (b) with the authors' fixed padding (512 / 935 / 300) as well.
  --bf16 adds (a-bf16): (a) under torch.autocast(bfloat16) (AVX512-BF16 / AMX CPUs, recent GPUs), a
          bfloat16 matmul peak beside the float32 one, and the agreement of bf16 vs fp32 fused vectors
          (eval mode, batch 1: min cosine, max relative error). With --fixed-padding the ratios
          (b-fixed)/(a-bf16) (target >= 6x) and (b-fixed)/(a) (target >= 4x) are printed.
  --device cuda runs every row on the GPU (times after torch.cuda.synchronize; memory = peak
          allocated), as bench/gpu.sh does.

Runtime (quiet 2-core CPU, paper scale, `--fixed-padding --bf16 --no-compile --steps 2`): ~9 min with the
MELD length model, ~14 min with `--lengths lognormal` (most of it the fixed-padding row).

Peak memory: each row alone in a fresh subprocess (ru_maxrss after minus before warm-up and one step).
Time: the rows run interleaved round-robin in one process ((c) against (a) in a second one), so load
from other processes hits them alike; ms/step is, per batch, the minimum (least disturbed) of its timed
steps, averaged over the batches (the median likewise). FLOPs are counted with torch.utils.flop_counter (attention through an explicit math path,
for counting only: the CPU SDPA kernel is not counted); achieved GFLOP/s = that count over the minimum
step time, against a float32 2048^3 matmul peak measured in the same worker.
A second table times the IMA stage alone at N = 3, 4, 5 (small shapes, where per-pair overhead shows).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from sseft.core.fusion import SSEFTFusion
from sseft.core.specs import FusionConfig, ModalitySpec

PAPER = {"text": (1024, 512), "speech": (512, 935), "face": (256, 300)}  # dim, max frames
ROWS = {
    "a": "(a) CLS-only IMA, batched",
    "a-loop": "(a-loop) CLS-only, per pair",
    "b": "(b) authors' full-seq IMA",
    "c": "(c) (a) + torch.compile",
    "b-fixed": "(b-fixed) (b) + fixed padding",
    "a-bf16": "(a-bf16) (a) in bf16 autocast",
}


def specs(scale: float) -> list[ModalitySpec]:
    return [
        ModalitySpec(name=m, dim=d, provides_cls=(m == "text"), max_len=max(2, int(n * scale)))
        for m, (d, n) in PAPER.items()
    ]


MELD = Path(__file__).resolve().parents[2] / "shared" / "data" / "meld"
CORPUS = 400  # items drawn per run: one LengthBucketSampler pool (50 batches of 8), as the trainer uses


def utterances(n: int, seed: int, lengths: str, meld: Path) -> list[tuple[float, float]]:
    """`n` (words, seconds) pairs: real MELD utterances (train + dev CSVs) or the log-normal model."""
    if lengths == "meld":
        from pipeline import meld_lengths  # bench/pipeline.py: the same length model as the whole-job bench

        pairs = meld_lengths(meld)
        rng = random.Random(seed)
        return [pairs[rng.randrange(len(pairs))] for _ in range(n)]
    g = torch.Generator().manual_seed(seed)
    dur = torch.exp(torch.randn(n, generator=g) * 0.5 + math.log(6.0)).clamp(0.8, 20.0)  # seconds
    words = dur * 2.6 * (0.6 + 0.8 * torch.rand(n, generator=g))  # speaking rate varies
    return list(zip(words.tolist(), dur.tolist(), strict=True))


def make_batches(
    n_batches: int, scale: float, seed: int, fixed: bool, lengths: str = "meld", meld: Path = MELD
) -> list[tuple[dict, dict]]:
    """`n_batches` batches of 8, as the trainer's `train.bucket_by_length` sampler cuts them.

    CORPUS utterances are drawn, turned into per-modality frame counts (text: 1.3 tokens per word +
    <s></s>; speech 100 frames/s; face 30 frames/s less frames without a face), bucketed by
    core.features.sampler.LengthBucketSampler (the trainer's), and `n_batches` of its batches are
    taken at evenly spaced quantiles of their size, so the mean over them estimates an epoch's mean
    step. Each batch is padded to its own longest item, or with `fixed` to the authors' caps."""
    from sseft.core.features.sampler import LengthBucketSampler

    g = torch.Generator().manual_seed(seed)
    pairs = utterances(CORPUS, seed, lengths, meld)
    words = torch.tensor([w for w, _ in pairs], dtype=torch.float64)
    dur = torch.tensor([d for _, d in pairs], dtype=torch.float64)
    raw = {
        "text": 2 + words * 1.3,
        "speech": dur * 100,
        "face": dur * 30 * (0.7 + 0.3 * torch.rand(CORPUS, generator=g)),
    }
    lens = {
        m: (raw[m] * scale).round().long().clamp(1, max(2, int(n * scale))) for m, (_, n) in PAPER.items()
    }
    total = [int(sum(lens[m][i] for m in PAPER)) for i in range(CORPUS)]
    batches = LengthBucketSampler(total, 8, shuffle=True, seed=seed, drop_last=True).batches()
    batches.sort(key=lambda b: max(total[i] for i in b))
    picked = [batches[int((k + 0.5) * len(batches) / n_batches)] for k in range(n_batches)]
    out = []
    for b in picked:
        feats, ln = {}, {}
        for m, (d, n) in PAPER.items():
            cap = max(2, int(n * scale))
            ln[m] = lens[m][b]
            width = cap if fixed else int(ln[m].max())
            feats[m] = torch.randn(8, width, d, generator=g)
        out.append((feats, ln))
    return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(
    n: int = 2048, reps: int = 3, dtype: torch.dtype = torch.float32, device: str = "cpu"
) -> float:
    """Best GEMM rate (GFLOP/s) in `dtype` with the current thread count (or on the GPU)."""
    dev = torch.device(device)
    a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
    a @ b
    sync(dev)
    best = 0.0
    for _ in range(reps):
        t = time.perf_counter()
        a @ b
        sync(dev)
        best = max(best, 2 * n**3 / (time.perf_counter() - t) / 1e9)
    return best


def autocast(row: str, device: torch.device) -> Any:
    """bf16 autocast for the bf16 rows, nothing otherwise."""
    if row.endswith("bf16"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bf16_agreement(model: SSEFTFusion, batch: tuple[dict, dict]) -> dict[str, float]:
    """Fused vectors of `batch` in bf16 autocast vs float32, eval mode (no dropout)."""
    was = model.training
    model.eval()
    with torch.no_grad():
        ref = model(*batch).float()
        with autocast("bf16", next(model.parameters()).device):
            low = model(*batch).float()
    model.train(was)
    cos = F.cosine_similarity(ref, low, dim=-1)
    rel = (ref - low).norm(dim=-1) / ref.norm(dim=-1).clamp_min(1e-12)
    return {"cos_min": float(cos.min()), "rel_max": float(rel.max())}


def _math_sdpa(q, k, v, attn_mask=None, dropout_p=0.0, **_):  # for FLOP counting only
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    return F.dropout(s.softmax(-1), dropout_p) @ v


def count_flops(step, batch) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    real = F.scaled_dot_product_attention
    F.scaled_dot_product_attention = _math_sdpa
    try:
        with FlopCounterMode(display=False) as counter:
            step(batch)
    finally:
        F.scaled_dot_product_attention = real
    return counter.get_total_flops()


def worker(args: argparse.Namespace) -> None:
    """Run the rows in `args.row` (comma-separated) on one model; print one JSON line.

    Several rows: their steps are interleaved round-robin, so load from other processes hits them
    alike (ratios stay meaningful on a shared machine); ms/step is the minimum (least disturbed) and
    the median. One row alone: also its peak memory (max RSS after minus before warm-up and steps).
    """
    torch.manual_seed(0)
    rows = args.row.split(",")
    scale = 1 / 16 if args.tiny else 0.25 if args.quick else 1.0
    dev = torch.device(args.device)
    cfg = FusionConfig(n_self=2, n_ima=2, heads=4, ffn_dim=1024, attn_dropout=args.attn_dropout)
    model = SSEFTFusion(specs(scale), cfg).train().to(dev)

    def on_dev(bs: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        return [({m: x.to(dev) for m, x in f.items()}, {m: x.to(dev) for m, x in ln.items()}) for f, ln in bs]

    batches = on_dev(
        make_batches(args.batches, scale, seed=1, fixed=False, lengths=args.lengths, meld=args.meld)
    )
    fixed = on_dev(
        make_batches(args.batches, scale, seed=1, fixed=True, lengths=args.lengths, meld=args.meld)
    )
    compiled = torch.compile(model) if "c" in rows else None

    def step(row: str, k: int, f: object = None) -> None:
        model.ima_impl = "loop" if row == "a-loop" else "batched"
        model.trim_padding = row != "b-fixed"  # the authors computed over all padding
        fn = f or (compiled if row == "c" else model)
        batch = (fixed if row == "b-fixed" else batches)[k % len(batches)]
        with autocast(row, dev):
            out = fn(*batch, full_query=row in ("b", "b-fixed"))
        out.float().sum().backward()
        model.zero_grad(set_to_none=True)
        sync(dev)

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    peak = matmul_peak(device=args.device)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    warm = {}
    for row in rows:  # warm-up: every batch shape once (compiles them for (c))
        t0 = time.perf_counter()
        for k in range(len(batches)):
            step(row, k)
        warm[row] = time.perf_counter() - t0
    times: dict[str, list[float]] = {row: [] for row in rows}
    for k in range(args.steps * len(batches)):
        for row in rows:
            t = time.perf_counter()
            step(row, k)
            times[row].append(time.perf_counter() - t)
    mem = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024 if len(rows) == 1 else None
    if dev.type == "cuda" and len(rows) == 1:
        mem = torch.cuda.max_memory_allocated(dev) / 2**20
    peak = max(peak, matmul_peak(device=args.device))
    out = {"rows": {}, "peak": peak, "mem_mb": mem, "threads": torch.get_num_threads()}
    if "a-bf16" in rows:
        out["peak_bf16"] = max(matmul_peak(dtype=torch.bfloat16, device=args.device) for _ in range(2))
        out["agree"] = bf16_agreement(model, batches[0])
    out["lens"] = {m: [int(x.max()) for _, ln in batches for x in [ln[m]]] for m in PAPER}
    for row in rows:
        flops = 0.0
        if not args.no_flops:  # eager maths; (c) and (a-bf16) do the same maths as (a)
            flops = sum(count_flops(lambda b, r=row, k=k: step("a" if r in ("c", "a-bf16") else r, k, model), None)
                        for k in range(len(batches))) / len(batches)  # fmt: skip
        # per batch the least disturbed (min) / the median of its timed steps, then the mean over the
        # batches: they stand for the epoch's length quantiles, so the mean is an epoch's mean step
        per = [times[row][k :: len(batches)] for k in range(len(batches))]
        out["rows"][row] = {"ms_min": statistics.mean(min(t) for t in per) * 1e3,
                            "ms_med": statistics.mean(statistics.median(t) for t in per) * 1e3,
                            "warm_s": warm[row], "flops": flops}  # fmt: skip
    print(json.dumps(out))


def ima_overhead(reps: int = 7) -> list[str]:
    """IMA-heavy small shapes at N = 3, 4, 5: blocks one by one vs batched (forward + backward).

    One thread (tiny tensors), loop and batched steps interleaved, minimum over `reps` steps."""
    lines = ["", "IMA per-pair overhead (1 thread, B=8, L=16, widths 64..256, n_self=0, n_ima=2; fwd+bwd ms, min):",
             f"  {'N':>2} {'pairs':>5} {'loop':>8} {'batched':>8} {'loop/batched':>12}"]  # fmt: skip
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    widths = [256, 128, 64, 192, 96]
    for n in (3, 4, 5):
        sp = [ModalitySpec(name=f"m{k}", dim=widths[k], max_len=16) for k in range(n)]
        model = SSEFTFusion(sp, FusionConfig(n_self=0, n_ima=2, heads=4, ffn_dim=256)).train()
        feats = {s.name: torch.randn(8, 16, s.dim) for s in sp}
        lens = {s.name: torch.randint(1, 17, (8,)) for s in sp}
        res: dict[str, list[float]] = {"loop": [], "batched": []}
        for k in range(reps + 1):
            for impl in res:
                model.ima_impl = impl
                t = time.perf_counter()
                model(feats, lens).sum().backward()
                if k:  # the first round warms up
                    res[impl].append(time.perf_counter() - t)
        lo, ba = min(res["loop"]) * 1e3, min(res["batched"]) * 1e3
        lines.append(f"  {n:>2} {n * (n - 1):>5} {lo:>8.2f} {ba:>8.2f} {lo / ba:>12.2f}")
    torch.set_num_threads(threads)
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="sequence lengths / 4, for a smoke run")
    ap.add_argument(
        "--tiny", action="store_true", help="lengths / 16, no IMA overhead table (bench/gpu.sh --tiny)"
    )
    ap.add_argument(
        "--steps", type=int, default=None, help="timed passes over the batches (default 3, quick 2)"
    )
    ap.add_argument("--batches", type=int, default=4, help="batches at evenly spaced length quantiles")
    ap.add_argument("--lengths", choices=["meld", "lognormal"], default="meld",
                    help="length model: real MELD utterances (default) or log-normal durations, median 6 s")  # fmt: skip
    ap.add_argument("--meld", type=Path, default=MELD, help="folder with MELD's train/dev_sent_emo.csv")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's default)")
    ap.add_argument("--no-compile", action="store_true", help="skip row (c)")
    ap.add_argument("--fixed-padding", action="store_true", help="add row (b-fixed)")
    ap.add_argument("--attn-dropout", type=float, default=0.0, help="see the module docstring (default 0)")
    ap.add_argument(
        "--bf16", action="store_true", help="add row (a-bf16), the bf16 peak and bf16/fp32 agreement"
    )
    ap.add_argument("--device", default="cpu", help="torch device for every row (cpu, cuda)")
    ap.add_argument("--no-flops", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row in this process
    args = ap.parse_args()
    args.steps = args.steps or (2 if args.quick else 3)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.row:
        worker(args)
        return

    rows = (
        ["a", "a-loop", "b"] + (["b-fixed"] if args.fixed_padding else []) + (["a-bf16"] if args.bf16 else [])
    )
    base = [sys.executable, __file__, "--steps", str(args.steps), "--batches", str(args.batches)]
    base += ["--device", args.device]
    base += ["--attn-dropout", str(args.attn_dropout), "--lengths", args.lengths, "--meld", str(args.meld)]
    base += (["--quick"] if args.quick else []) + (["--threads", str(args.threads)] if args.threads else [])
    base += ["--tiny"] if args.tiny else []

    def launch(row: str, extra: list[str]) -> dict | None:
        print(f"running {row} {' '.join(extra)} ...", file=sys.stderr, flush=True)
        proc = subprocess.run([*base, *extra, "--row", row], capture_output=True, text=True)
        if proc.returncode:
            print(f"  failed: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return None
        return json.loads(proc.stdout.strip().splitlines()[-1])

    all_rows = rows + ([] if args.no_compile else ["c"])
    # 1. memory: each row alone in a fresh process (one timed step, no FLOP counting)
    mem = {r: launch(r, ["--no-flops", "--steps", "1"]) for r in all_rows}
    # 2. time: rows interleaved in one process; (c) against (a) in a second one
    timed = launch(",".join(rows), [])
    groups = [timed] + ([] if args.no_compile else [launch("a,c", [])])
    if timed is None:
        return
    print(f"\nSSE-FT fusion, {args.device}, {timed['threads']} threads, batch 8, {'TINY (lengths/16)' if args.tiny else 'QUICK (lengths/4)' if args.quick else 'paper scale'};"
          f" fwd+bwd, training mode; {args.steps * args.batches} interleaved steps per row over {args.batches} batches")  # fmt: skip
    print(
        f"attention dropout {args.attn_dropout}; length model {args.lengths}; padded lengths of the"
        f" {args.batches} batches (length-bucketed, at evenly spaced quantiles): {timed['lens']}"
    )
    print("ms/step: per batch the minimum (median) of its timed steps, mean over the batches")
    print(f"{'row':<32} {'ms/step':>9} {'median':>9} {'items/s':>8} {'GFLOP/step':>10} {'GFLOP/s':>8}"
          f" {'% peak':>6} {'peak RSS +MB':>12} {'warm-up s':>9}")  # fmt: skip
    for g in groups:
        if g is None:
            continue
        for row, r in g["rows"].items():
            if g is not timed and row == "a":
                continue
            flops = r["flops"] or timed["rows"]["a"]["flops"]
            gfs = flops / 1e9 / (r["ms_min"] / 1e3)
            m = mem.get(row) or {}
            mb = f"{m['mem_mb']:>12.0f}" if m else f"{'?':>12}"
            print(f"{ROWS[row]:<32} {r['ms_min']:>9.1f} {r['ms_med']:>9.1f} {8 / (r['ms_min'] / 1e3):>8.2f}"
                  f" {flops / 1e9:>10.1f} {gfs:>8.1f} {100 * gfs / g['peak']:>6.1f} {mb} {m.get('rows', {}).get(row, {}).get('warm_s', float('nan')):>9.1f}")  # fmt: skip
    print("matmul peak (float32 2048^3 GEMM, best of the worker's runs): "
          + ", ".join(f"{g['peak']:.1f} GFLOP/s" for g in groups if g))  # fmt: skip
    if "peak_bf16" in timed:
        pb = timed["peak_bf16"]
        print(
            f"matmul peak bfloat16 (same worker): {pb:.1f} GFLOP/s = {pb / timed['peak']:.2f}x the float32 peak"
        )
        ag = timed["agree"]
        print(
            f"bf16 vs fp32 fused vectors (eval, batch 1): min cosine {ag['cos_min']:.5f}, max relative error {ag['rel_max']:.4f}"
        )
    tr = timed["rows"]
    if "b-fixed" in tr:
        for low, target in (("a-bf16", 6.0), ("a", 4.0)):
            if low in tr:
                r = tr["b-fixed"]["ms_min"] / tr[low]["ms_min"]
                rm = tr["b-fixed"]["ms_med"] / tr[low]["ms_med"]
                ok = "meets" if r >= target else "MISSES"
                print(
                    f"authors' fp32 fixed padding / {ROWS[low]}: {r:.2f}x (median {rm:.2f}x); target >= {target:g}x: {ok}"
                )
    for g in groups:
        if g is None:
            continue
        a = g["rows"]["a"]
        for row, r in g["rows"].items():
            if row != "a":
                ratio = (
                    f"ratio {row}/a (same process, interleaved): time min {r['ms_min'] / a['ms_min']:.2f}x, "
                )
                print(
                    ratio
                    + f"median {r['ms_med'] / a['ms_med']:.2f}x, FLOPs {(r['flops'] or a['flops']) / a['flops']:.2f}x"
                )
    if not args.tiny:
        print("\n".join(ima_overhead()))


if __name__ == "__main__":
    main()
