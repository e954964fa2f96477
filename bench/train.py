"""Training throughput: feature store vs in-memory tensors vs a frozen encoder inside every step.

    .venv/bin/python bench/train.py [--items 512] [--epochs 2] [--threads 2]

Three ways to feed the same SSE-FT model (text + speech + face, paper-like widths scaled down):
  store     DataLoader over FeatureStore.dataset (safetensors shards, memory-mapped) + collate
  memory    the same items held as in-memory tensors, same sampler and collate
  encoder   the authors' approach: the text features are recomputed by a frozen 4-layer
            transformer encoder (stand-in for RoBERTa) inside every training step
Times are CPU time of this process (time.process_time), so that other processes sharing the
machine distort them less than wall-clock time would; the three sources run round-robin by epoch.
Reports items/s per epoch (over the measured epochs after one warm-up epoch), the store's
overhead vs memory (target < 10%), and the extrapolated cost of a 20-epoch run:
  store approach   = one extraction pass of the encoder + 20 epochs from the store
  authors' approach = 20 epochs with the encoder in every step
The 20-epoch figures are extrapolated from the measured epochs (printed as such).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from sseft.core.batch import collate
from sseft.core.features import FeatureStore, FeatureStoreWriter, ModalityInfo
from sseft.core.model import HeadSpec, ModelConfig, build_model
from sseft.core.protocols import TaskInfo
from sseft.core.specs import FusionConfig, ModalitySpec
from sseft.core.training.data import EpochBatchSampler

DIMS = {"text": 256, "speech": 128, "face": 64}
LENS = {"text": (20, 60), "speech": (40, 100), "face": (20, 60)}
VOCAB = 5000


class TextEncoder(nn.Module):
    """Frozen stand-in for the authors' RoBERTa: embeddings + 4 post-LN transformer layers."""

    def __init__(self, dim: int, layers: int = 4) -> None:
        super().__init__()
        self.emb = nn.Embedding(VOCAB, dim)
        self.pos = nn.Embedding(512, dim)
        layer = nn.TransformerEncoderLayer(dim, 4, 4 * dim, dropout=0.0, batch_first=True, activation="gelu")
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    @torch.no_grad()
    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """tokens (B, L) long -> (B, L, D) float."""
        pad = torch.arange(tokens.shape[1])[None, :] >= lengths[:, None]  # (B, L) True at padding
        x = self.emb(tokens) + self.pos(torch.arange(tokens.shape[1]))[None]
        return self.enc(x, src_key_padding_mask=pad)


def build_store(
    root: Path, n: int, encoder: TextEncoder, batch_size: int, seed: int = 0
) -> tuple[list[dict], list[torch.Tensor], float]:
    """Write n items (text features from the encoder, batched: the one extraction pass); return the
    in-memory items, the token sequences, and the extraction time in seconds."""
    g = torch.Generator().manual_seed(seed)
    infos = {m: ModalityInfo(dim=d, fingerprint={"source": "synthetic", "bench": m}) for m, d in DIMS.items()}
    task = TaskInfo(type="multiclass", label_names=("a", "b", "c", "d"))
    tokens = [
        torch.randint(0, VOCAB, (int(torch.randint(*LENS["text"], (1,), generator=g)),), generator=g)
        for _ in range(n)
    ]
    t = time.process_time()
    texts: list[torch.Tensor] = []
    for i in range(0, n, batch_size):
        toks = tokens[i : i + batch_size]
        out = encoder(nn.utils.rnn.pad_sequence(toks, batch_first=True), torch.tensor([len(x) for x in toks]))
        texts += [out[j, : len(x)].clone() for j, x in enumerate(toks)]
    t_extract = time.process_time() - t
    items = []
    with FeatureStoreWriter(root, infos, task) as w:
        for i in range(n):
            feats = {"text": texts[i]}
            for m in ("speech", "face"):
                feats[m] = torch.randn(int(torch.randint(*LENS[m], (1,), generator=g)), DIMS[m], generator=g)
            label = int(torch.randint(0, 4, (1,), generator=g))
            w.add(f"it{i:05d}", "train", feats, label)
            items.append({"id": f"it{i:05d}", "features": feats, "label": label})
    return items, tokens, t_extract


class Runner:
    """One model + optimizer fed by one of the three sources; accumulates items and seconds."""

    def __init__(self, mcfg: ModelConfig, loader_fn, step_extra=None) -> None:
        torch.manual_seed(0)
        self.model = build_model(mcfg).train()
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1
        )
        self.loader_fn, self.step_extra = loader_fn, step_extra
        self.items, self.seconds, self.data_seconds = 0, 0.0, 0.0

    def epoch(self, epoch: int, measure: bool) -> None:
        n, t, td = 0, time.process_time(), 0.0
        it = iter(self.loader_fn(epoch))
        while True:
            t1 = time.process_time()
            try:
                batch, extra = next(it)
            except StopIteration:
                break
            td += time.process_time() - t1
            if self.step_extra is not None:
                self.step_extra(batch, extra)
            loss = self.model.head.loss(self.model(batch.features, batch.lengths), batch.labels)
            loss.backward()
            self.opt.step()
            self.opt.zero_grad()
            n += len(batch)
        if measure:
            self.items += n
            self.seconds += time.process_time() - t
            self.data_seconds += td


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=1, help="measured epochs (after one warm-up epoch)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--text-pad", type=int, default=512, help="encoder path: pad text to this length (authors: 512)"
    )
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = TextEncoder(DIMS["text"]).eval()
    specs = [ModalitySpec(name=m, dim=d) for m, d in DIMS.items()]
    fusion = FusionConfig(n_self=2, n_ima=1, heads=4, ffn_dim=256, dropout=0.1)
    mcfg = ModelConfig(modalities=specs, fusion=fusion, head=HeadSpec(name="multiclass"), task="multiclass",
                       label_names=["a", "b", "c", "d"])  # fmt: skip
    mods = list(DIMS)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        items, tokens, t_extract = build_store(root, args.items, encoder, args.batch_size)
        store = FeatureStore.open(root)
        ds = store.dataset("train", modalities=mods)
        ids = store.ids("train")
        by_id = {it["id"]: (it, tok) for it, tok in zip(items, tokens, strict=True)}
        sampler = EpochBatchSampler(len(ds), args.batch_size, seed=0)

        def from_store(epoch):
            sampler.set_epoch(epoch)
            for idx in sampler:
                yield collate([ds[i] for i in idx], mods), None

        def from_memory(epoch):
            sampler.set_epoch(epoch)
            for idx in sampler:
                yield collate([by_id[ids[i]][0] for i in idx], mods), None

        def with_encoder(epoch):
            sampler.set_epoch(epoch)
            for idx in sampler:
                its = [by_id[ids[i]] for i in idx]
                # The text features are what the encoder recomputes below; start from zeros of the right shape.
                yield collate([it for it, _ in its], mods), [tok for _, tok in its]

        def encode_text(batch, toks):
            # The authors pad every text to a fixed length (512) before RoBERTa, in every step.
            padded = nn.utils.rnn.pad_sequence(toks, batch_first=True)
            if args.text_pad > padded.shape[1]:
                padded = nn.functional.pad(padded, (0, args.text_pad - padded.shape[1]))
            lengths = torch.tensor([len(t) for t in toks])
            batch.features["text"] = encoder(padded, lengths)[:, : int(lengths.max())]

        runners = {
            "store": Runner(mcfg, from_store),
            "memory": Runner(mcfg, from_memory),
            "encoder": Runner(mcfg, with_encoder, encode_text),
        }
        # Round-robin by epoch, so that load from other processes hits the three alike.
        for epoch in range(args.epochs + 1):
            for r in runners.values():
                r.epoch(epoch, measure=epoch > 0)  # epoch 0: warm-up
        results = {k: r.items / r.seconds for k, r in runners.items()}
        data_frac = {k: r.data_seconds / r.seconds for k, r in runners.items()}
    ep_store, ep_enc = args.items / results["store"], args.items / results["encoder"]
    run_store = t_extract + 20 * ep_store
    run_enc = 20 * ep_enc
    report = {
        "items": args.items, "measured_epochs": args.epochs, "threads": args.threads, "text_pad": args.text_pad,
        "clock": "process CPU time",
        "items_per_s": {k: round(v, 1) for k, v in results.items()},
        "store_overhead_vs_memory": round(1 - results["store"] / results["memory"], 4),
        "data_time_fraction": {k: round(v, 4) for k, v in data_frac.items()},
        "extraction_pass_s": round(t_extract, 2),
        "run20_store_s (extrapolated)": round(run_store, 1), "run20_encoder_s (extrapolated)": round(run_enc, 1),
        "run20_speedup": round(run_enc / run_store, 2),
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    print(
        f"store costs {100 * report['store_overhead_vs_memory']:.1f}% vs in-memory (target < 10%); a 20-epoch run "
        f"is {report['run20_speedup']}x faster than running the frozen text encoder in every step "
        f"(extrapolated from {args.epochs} measured epochs of {args.items} items)"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
