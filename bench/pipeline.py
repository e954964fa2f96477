"""The whole job at the paper's scale, both ways: the authors' pipeline vs sseft.

    .venv/bin/python bench/pipeline.py [--tiny] [--bf16] [--device cpu|cuda] [--items 32] [--steps 2]

Encoders: random-init models of the paper's architectures and sizes (timing does not depend on the
weights): RoBERTa-large (transformers RobertaConfig: 24 layers, 1024 wide, 16 heads, 355 M
parameters), a wav2vec2-large-sized model on 16 kHz audio (Wav2Vec2Config: 24 layers, 1024 wide, the
lv60 layer-norm variant, 317 M; 50 frames/s of 1024-d features) and FAb-Net (plugins/modalities/fabnet.py,
256x256 crops -> 256-d). Batch 8, fusion as in bench/fusion.py (2 self + 2 IMA layers, 4 heads, FFN
1024) with a linear 7-class head and AdamW.

Length model (what real utterances look like): MELD (Poria et al., ACL 2019), every utterance of
train_sent_emo.csv + dev_sent_emo.csv in --meld (default /work/shared/data/meld): words per utterance
(whitespace split of `Utterance`) and duration (`EndTime - StartTime`; rows outside 0.2-30 s dropped).
From them: tokens = round(1.3 * words) + 2 (<s>, </s>; ~1.3 BPE tokens per English word, no tokenizer
ships offline), audio samples = duration * 16000, face frames = duration * 10 (the face plugin's fps).
Items are drawn from these (words, duration) pairs with a fixed seed.

  authors  every training step runs the three frozen encoders on fixed-padded inputs (512 tokens,
           150,000 samples, 300 face frames per item), then the full-query IMA fusion (every query
           position through each IMA block, over all the padding) forward + backward + step.
  sseft    one extraction pass: items sorted by length, text batches padded to their longest item,
           speech one clip per forward at its own length (the speech plugin runs equal-length windows
           together and pads nothing), face crops in batches of 32; features written to a real feature
           store (FeatureStoreWriter, safetensors shards); then every epoch reads the store (FeatureStore
           dataset + collate) and runs the CLS-only batched fusion on length-bucketed batches.
Decoding, resampling and face detection are left out of both (both pipelines need them once per item
at least; the authors' would need them in every epoch unless cached).

Measured: the authors' step (min over --steps), sseft's extraction per item (mean over --items items),
store write and read per item, sseft's fusion step (mean over the bucketed batches). Extrapolated
(printed as such): 20 epochs of a 10,000-item corpus. Runtime: ~5-6 min on a quiet 2-core CPU
(model building ~40 s, the authors' steps ~2-3 min, the rest ~1-2 min); --tiny: seconds.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import math
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sseft.core.specs import FusionConfig, ModalitySpec

MELD = Path("/work/shared/data/meld")
FIXED = {"text": 512, "samples": 150_000, "face": 300}  # the authors' fixed padding
FPS, SR, BATCH, EPOCHS, CORPUS, FACE_CHUNK = 10, 16_000, 8, 20, 10_000, 32


def _seconds(stamp: str) -> float:
    h, m, rest = stamp.strip().split(":")
    s, ms = rest.split(",")
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def meld_lengths(root: Path) -> list[tuple[int, float]]:
    """(words, seconds) of every MELD utterance in train + dev with a plausible duration."""
    out = []
    for name in ("train_sent_emo.csv", "dev_sent_emo.csv"):
        with (root / name).open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    dur = _seconds(row["EndTime"]) - _seconds(row["StartTime"])
                except (KeyError, ValueError):
                    continue
                if 0.2 <= dur <= 30.0:
                    out.append((max(1, len(row["Utterance"].split())), dur))
    if not out:
        raise SystemExit(f"{root}: no MELD utterances with StartTime/EndTime found")
    return out


def item_lengths(words: int, dur: float, scale: float) -> dict[str, int]:
    """Encoder input lengths of one utterance (sseft: real lengths, capped like the extractors)."""
    return {
        "text": min(FIXED["text"], round(1.3 * words) + 2),
        "samples": max(800, int(dur * SR * scale)),
        "face": max(1, min(FIXED["face"], round(dur * FPS))),
    }


class Encoders:
    """The three frozen encoders; `scale` < 1 shrinks them for --tiny."""

    def __init__(self, tiny: bool, device: torch.device) -> None:
        from transformers import RobertaConfig, RobertaModel, Wav2Vec2Config, Wav2Vec2Model

        from sseft.plugins.modalities.fabnet import FabNetEncoder

        torch.manual_seed(0)
        big = {
            "hidden_size": 1024,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "intermediate_size": 4096,
        }
        small = {
            "hidden_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "intermediate_size": 128,
        }
        size = small if tiny else big
        with device:  # built on the device itself (random init of 670 M parameters is slow on a CPU)
            self.text = RobertaModel(
                RobertaConfig(vocab_size=50265, max_position_embeddings=514, **size), add_pooling_layer=False
            )
            conv = {"conv_dim": (32,) * 7} if tiny else {}
            self.speech = Wav2Vec2Model(Wav2Vec2Config(feat_extract_norm="layer", do_stable_layer_norm=True, conv_bias=True, **conv, **size))  # fmt: skip
            self.face = FabNetEncoder(num_filters=2 if tiny else 32)
        self.dims = {"text": size["hidden_size"], "speech": size["hidden_size"], "face": 256}
        for m in (self.text, self.speech, self.face):
            m.eval().requires_grad_(False).to(device)
        self.device, self.crop = device, 256  # FAb-Net's eight stride-2 convolutions need 256x256
        self.fixed_samples = FIXED["samples"] // (16 if tiny else 1)

    def params(self) -> dict[str, float]:
        return {m: sum(p.numel() for p in getattr(self, m).parameters()) / 1e6 for m in self.dims}

    @torch.inference_mode()
    def run_text(self, lens: list[int], pad_to: int | None = None) -> list[torch.Tensor]:
        width = pad_to or max(lens)
        ids = torch.randint(3, 50000, (len(lens), width), device=self.device)
        mask = (
            torch.arange(width, device=self.device)[None] < torch.tensor(lens, device=self.device)[:, None]
        ).long()
        h = self.text(input_ids=ids, attention_mask=mask).last_hidden_state
        return [h[i, :n].float().cpu() for i, n in enumerate(lens)]

    @torch.inference_mode()
    def run_speech(self, samples: list[int], fixed: bool = False) -> list[torch.Tensor]:
        if fixed:  # the authors: one forward over the padded batch
            h = self.speech(
                torch.randn(len(samples), self.fixed_samples, device=self.device)
            ).last_hidden_state
            return list(h.float().cpu())
        # sseft's speech plugin: equal-length clips run together; distinct lengths one by one
        return [
            self.speech(torch.randn(1, n, device=self.device)).last_hidden_state[0].float().cpu()
            for n in samples
        ]

    @torch.inference_mode()
    def run_face(self, frames: list[int]) -> list[torch.Tensor]:
        total, embs = sum(frames), []
        for s in range(0, total, FACE_CHUNK):
            x = torch.rand(min(FACE_CHUNK, total - s), 3, self.crop, self.crop, device=self.device)
            embs.append(self.face(x).float().cpu())
        flat = torch.cat(embs)
        return list(torch.split(flat, frames))


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fusion_model(
    dims: dict[str, int], device: torch.device, max_len: dict[str, int]
) -> tuple[nn.Module, Any]:
    from sseft.core.fusion import SSEFTFusion

    torch.manual_seed(1)
    specs = [
        ModalitySpec(name=m, dim=d, provides_cls=(m == "text"), max_len=max_len[m]) for m, d in dims.items()
    ]
    fusion = SSEFTFusion(specs, FusionConfig(n_self=2, n_ima=2, heads=4, ffn_dim=1024)).train().to(device)
    head = nn.LazyLinear(7).to(device)
    fused = fusion({m: torch.zeros(1, 2, d, device=device) for m, d in dims.items()},
                   {m: torch.ones(1, dtype=torch.long, device=device) for m in dims})  # fmt: skip
    head(fused)  # materialise the lazy head
    opt = torch.optim.AdamW([*fusion.parameters(), *head.parameters()], lr=1e-4)
    return nn.ModuleDict({"fusion": fusion, "head": head}), opt


def fusion_step(model: nn.Module, opt: Any, feats: dict, lens: dict, full: bool, amp: Any) -> float:
    """One training step of the fusion + head; seconds."""
    sync(next(model.parameters()).device)
    t = time.perf_counter()
    with amp():
        fused = model["fusion"](feats, lens, full_query=full)
        logits = model["head"](fused)
    loss = nn.functional.cross_entropy(
        logits.float(), torch.zeros(len(logits), dtype=torch.long, device=logits.device)
    )
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    sync(logits.device)
    return time.perf_counter() - t


def authors(enc: Encoders, args: argparse.Namespace, amp: Any) -> dict[str, Any]:
    """The authors' step: encoders on fixed padding + full-query fusion over the padding."""
    model, opt = fusion_model(
        enc.dims, enc.device, {"text": FIXED["text"], "speech": 1000, "face": FIXED["face"]}
    )
    model["fusion"].trim_padding = False  # they computed over all the padding
    times: dict[str, list[float]] = {"encoders": [], "fusion": []}
    pad_text = max(8, FIXED["text"] // (16 if args.tiny else 1))
    for _ in range(args.steps):
        sync(enc.device)
        t = time.perf_counter()
        with amp():
            text = enc.run_text([pad_text] * BATCH, pad_to=pad_text)
            speech = enc.run_speech([0] * BATCH, fixed=True)
            face = enc.run_face([FIXED["face"] // (10 if args.tiny else 1)] * BATCH)
        sync(enc.device)
        times["encoders"].append(time.perf_counter() - t)
        feats = {
            m: torch.stack(x).to(enc.device) for m, x in (("text", text), ("speech", speech), ("face", face))
        }
        lens = {m: torch.full((BATCH,), f.shape[1], device=enc.device) for m, f in feats.items()}
        fusion_step(model, opt, feats, lens, True, contextlib.nullcontext)  # warm-up / first-touch
        times["fusion"].append(fusion_step(model, opt, feats, lens, True, contextlib.nullcontext))
    out = {k: min(v) for k, v in times.items()}
    out["frames"] = "/".join(str(f.shape[1]) for f in feats.values())  # type: ignore[assignment]
    return out


def sseft(enc: Encoders, items: list[dict[str, int]], root: Path, args: argparse.Namespace, amp: Any) -> dict:
    """One extraction pass (sorted, per-batch padding) into a real store; fusion from the store."""
    from sseft.core.batch import collate
    from sseft.core.features import FeatureStore, FeatureStoreWriter, ModalityInfo
    from sseft.core.protocols import TaskInfo

    order = sorted(range(len(items)), key=lambda i: -items[i]["samples"])  # length-sorted batches
    dtype = "bfloat16" if args.bf16 else "float32"
    infos = {
        m: ModalityInfo(dim=d, max_len=4096, dtype=dtype, fingerprint={"bench": m})
        for m, d in enc.dims.items()
    }
    task = TaskInfo("multiclass", tuple("abcdefg"))
    t_ext = t_write = 0.0
    with FeatureStoreWriter(root, infos, task, shard_size=256) as w:
        for k in range(0, len(order), BATCH):
            batch = [items[i] for i in order[k : k + BATCH]]
            sync(enc.device)
            t = time.perf_counter()
            with amp():
                text = enc.run_text([b["text"] for b in batch])
                speech = enc.run_speech([b["samples"] for b in batch])
                face = enc.run_face([b["face"] for b in batch])
            sync(enc.device)
            t_ext += time.perf_counter() - t
            t = time.perf_counter()
            for j, i in enumerate(order[k : k + BATCH]):
                w.add(f"u{i:05d}", "train", {"text": text[j], "speech": speech[j], "face": face[j]}, i % 7)
            t_write += time.perf_counter() - t
    t = time.perf_counter()  # the training read path: every epoch reads the store
    store = FeatureStore.open(root)
    ds = store.dataset("train", list(enc.dims))
    ids = store.ids("train")
    rows = [ds[i] for i in range(len(ids))]
    t_read = time.perf_counter() - t
    by_len = sorted(range(len(rows)), key=lambda i: rows[i]["features"]["speech"].shape[0])  # length buckets
    batches = [collate([rows[i] for i in by_len[k : k + BATCH]]) for k in range(0, len(rows), BATCH)]
    model, opt = fusion_model(enc.dims, enc.device, {m: 4096 for m in enc.dims})
    steps = []
    for rep in range(2):
        for b in batches:
            feats = {m: x.to(enc.device) for m, x in b.features.items()}
            lens = {m: x.to(enc.device) for m, x in b.lengths.items()}
            s = fusion_step(model, opt, feats, lens, False, amp)
            if rep:  # the first pass warms up
                steps.append(s)
    disk = sum(p.stat().st_size for p in root.rglob("*.safetensors"))
    n = len(items)
    return {"extract": t_ext / n, "write": t_write / n, "read": t_read / n, "fusion": statistics.mean(steps),
            "disk_per_item": disk / n}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="tiny encoders and lengths: a smoke run (seconds)")
    ap.add_argument("--bf16", action="store_true", help="sseft side also in bf16 autocast, bfloat16 store")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--items", type=int, default=32, help="items extracted by sseft (multiple of 8)")
    ap.add_argument("--steps", type=int, default=2, help="authors' steps timed (min taken)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--meld", type=Path, default=MELD, help="folder with MELD's train/dev_sent_emo.csv")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    pairs = meld_lengths(args.meld)
    rng = random.Random(0)
    scale = 1 / 16 if args.tiny else 1.0
    drawn = [item_lengths(*rng.choice(pairs), scale) for _ in range(args.items)]
    if args.tiny:
        drawn = [{**d, "text": max(3, d["text"] // 4), "face": max(1, d["face"] // 10)} for d in drawn]
    t0 = time.perf_counter()
    enc = Encoders(args.tiny, dev)
    built = time.perf_counter() - t0

    def amp() -> Any:
        return torch.autocast(dev.type, dtype=torch.bfloat16) if args.bf16 else contextlib.nullcontext()

    a = authors(enc, args, contextlib.nullcontext)  # the authors' pipeline stays float32
    with tempfile.TemporaryDirectory() as tmp:
        s = sseft(enc, drawn, Path(tmp) / "store", args, amp)
    steps = math.ceil(CORPUS / BATCH) * EPOCHS
    a_total = steps * (a["encoders"] + a["fusion"])
    s_once = CORPUS * (s["extract"] + s["write"])
    s_train = EPOCHS * CORPUS * s["read"] + steps * s["fusion"]
    s_total = s_once + s_train
    words = statistics.median(w for w, _ in pairs)
    secs = statistics.median(d for _, d in pairs)
    print(f"\nEnd to end, {'TINY (smoke: shrunk encoders/lengths)' if args.tiny else 'paper scale'}, {dev}, "
          f"{torch.get_num_threads()} threads, batch {BATCH}; sseft side {'bf16 autocast + bfloat16 store' if args.bf16 else 'float32'}")  # fmt: skip
    print(
        f"encoders (M params): {', '.join(f'{m} {p:.0f}' for m, p in enc.params().items())}; built in {built:.0f} s"
    )
    print(f"length model: MELD train+dev, {len(pairs)} utterances ({args.meld}): median {words:g} words, "
          f"{secs:.2f} s; drawn items: median {statistics.median(d['text'] for d in drawn)} tokens, "
          f"{statistics.median(d['samples'] for d in drawn) / SR / scale:.2f} s audio, {statistics.median(d['face'] for d in drawn)} face frames")  # fmt: skip
    print(f"\n{'measured':<58} {'seconds':>10}")
    rows = [
        ("authors: frozen encoders on one fixed-padded batch", a["encoders"]),
        (f"authors: full-query fusion step ({a['frames']} frames)", a["fusion"]),
        (f"sseft: extraction per item (sorted batches, mean of {len(drawn)})", s["extract"]),
        ("sseft: store write per item", s["write"]),
        ("sseft: store read per item (dataset, one epoch)", s["read"]),
        ("sseft: CLS-only fusion step (bucketed batch, mean)", s["fusion"]),
    ]
    for name, v in rows:
        print(f"{name:<58} {v:>10.4f}")
    print(f"\nEXTRAPOLATED: {EPOCHS} epochs of a {CORPUS:,}-item corpus ({steps:,} steps of {BATCH})")
    print(f"  authors: {steps:,} x (encoders + fusion)          = {a_total / 3600:9.2f} h")
    print(f"  sseft:   extraction + store once                   = {s_once / 3600:9.2f} h")
    print(f"           {EPOCHS} epochs from the store (read + fusion) = {s_train / 3600:9.2f} h")
    print(f"           total                                     = {s_total / 3600:9.2f} h")
    ratio = a_total / s_total
    print(
        f"  ratio authors / sseft end to end: {ratio:.1f}x (target >= 12x: {'meets' if ratio >= 12 else 'MISSES'})"
    )
    full = [item_lengths(w, d, 1.0) for w, d in pairs]  # every MELD utterance, real lengths
    floats = statistics.mean(x["text"] * 1024 + (x["samples"] // 320) * 1024 + x["face"] * 256 for x in full)
    print(f"  store, paper-size features of the MELD length model (text 1024-d, speech 1024-d at 50/s, face 256-d"
          f" at {FPS}/s): {floats * 4 * CORPUS / 1e9:.2f} GB per {CORPUS:,} items in float32, "
          f"{floats * 2 * CORPUS / 1e9:.2f} GB in float16/bfloat16 (computed)")  # fmt: skip
    per = s["disk_per_item"] * CORPUS / 1e9
    half = per if args.bf16 else per / 2
    print(f"  store: {per:.2f} GB per {CORPUS:,} items as {'bfloat16' if args.bf16 else 'float32'} (measured on disk, "
          f"drawn items); {'float32 would be ' + format(per * 2, '.2f') if args.bf16 else 'float16/bfloat16: ' + format(half, '.2f')} GB")  # fmt: skip


if __name__ == "__main__":
    main()
