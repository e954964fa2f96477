"""Real text-only MELD experiment: offline MiniLM features -> SSE-FT (text only, multiclass head),
next to a logistic-regression baseline on mean-pooled MiniLM embeddings of the very same features.

    .venv/bin/python bench/meld_text.py [--meld /work/shared/data/meld] [--work runs/bench-meld-text]

Protocol (the public test CSV is not in the shared folder, so MELD's dev split plays the test set):
  1. `sseft extract --dataset meld ... --set text.model=minilm-offline` once (resumable) -> work/base.
  2. Per label set (emotion 7, sentiment 3) a store whose splits are: train = 90% of MELD-train
     dialogues, valid = the other 10% (whole dialogues, seed 0; model selection only), test = MELD dev.
  3. Baseline: LogisticRegression on the token-mean of the MiniLM sequence (all-MiniLM's own pooling),
     C picked on valid. SSE-FT: learned CLS + 2 self-attention layers over the MiniLM token sequence
     (`prepend_cls: always`), multiclass head, best epoch on valid. Also SSE-FT reading MiniLM's own
     [CLS] as is (`prepend_cls: auto`), to show why the learned CLS matters for this encoder.
Reported: test (= MELD dev) accuracy and weighted F1. Written to work/results-<labels>.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def extract(meld: Path, base: Path) -> None:
    cmd = [sys.executable, "-m", "sseft", "extract", "--dataset", "meld", "--root", str(meld), "--modalities", "text",
           "--set", "dataset.modalities=[text]", "--set", "text.model=minilm-offline", "--batch-size", "64",
           "--no-progress", "--out", str(base)]  # fmt: skip
    subprocess.run(cmd, check=True)


def build_store(meld: Path, base: Path, out: Path, labels: str, valid_frac: float = 0.1) -> None:
    """Relabel + re-split the extracted features (copied tensors, same fingerprint)."""
    from sseft.core.features import FeatureStore, FeatureStoreWriter
    from sseft.plugins.datasets.meld import MELD, MeldConfig

    if (out / "index.json").exists():
        return
    cfg = MeldConfig(root=meld, labels=labels, modalities=["text"])
    items = list(MELD.items(cfg))
    dialogues = sorted({it.meta["dialogue_id"] for it in items if it.split == "train"})
    random.Random(0).shuffle(dialogues)
    held = set(dialogues[: int(len(dialogues) * valid_frac)])
    src = FeatureStore.open(base)
    with FeatureStoreWriter(
        out, src.modalities, MELD.task(cfg), source={"bench": "meld_text", "base": str(base)}
    ) as w:
        for it in items:
            if it.id not in src:
                continue  # failed at extraction (recorded in base/failures.jsonl)
            split = (
                "test" if it.split == "valid" else ("valid" if it.meta["dialogue_id"] in held else "train")
            )
            w.add(it.id, split, src.get(it.id)["features"], it.label)


def logreg(store: Path) -> dict[str, float]:
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.preprocessing import StandardScaler

    from sseft.core.features import FeatureStore

    fs = FeatureStore.open(store)

    def xy(split: str) -> tuple[np.ndarray, np.ndarray]:
        x = np.stack([fs.get(i)["features"]["text"].mean(0).numpy() for i in fs.ids(split)])  # (N, 384)
        return x, np.asarray(fs.labels(split))

    (xt, yt), (xv, yv), (xs, ys) = xy("train"), xy("valid"), xy("test")
    scaler = StandardScaler().fit(xt)
    xt, xv, xs = scaler.transform(xt), scaler.transform(xv), scaler.transform(xs)
    best = None
    for c in (0.01, 0.1, 1.0, 10.0):
        clf = LogisticRegression(C=c, max_iter=3000).fit(xt, yt)
        f1 = f1_score(yv, clf.predict(xv), average="weighted")
        if best is None or f1 > best[0]:
            best = (f1, c, clf)
    _, c, clf = best
    pred = clf.predict(xs)
    return {
        "accuracy": accuracy_score(ys, pred),
        "weighted_f1": f1_score(ys, pred, average="weighted"),
        "C": c,
    }


def sseft_text(store: Path, out: Path, name: str, prepend: str, epochs: int) -> dict[str, float]:
    from sseft.core.model import HeadSpec
    from sseft.core.specs import FusionConfig
    from sseft.core.training.config import DataConfig, ExperimentConfig, ModalityChoice, TrainConfig
    from sseft.core.training.trainer import train

    cfg = ExperimentConfig(
        name=name,
        data=DataConfig(store=str(store), test_split="test"),
        modalities=[ModalityChoice(name="text", prepend_cls=prepend)],
        fusion=FusionConfig(n_self=2, heads=4, ffn_dim=1024, dropout=0.1, attn_dropout=0.1),
        head=HeadSpec(name="multiclass", config={"dropout": 0.1, "primary_metric": "weighted_f1"}),
        train=TrainConfig(
            epochs=epochs, batch_size=64, lr=2e-4, bucket_by_length=True, early_stopping_patience=3
        ),
    )
    res = train(cfg, out, plots=False, progress=False, overwrite=True)
    m = res.test_metrics or {}
    return {
        "accuracy": float(m["accuracy"]),
        "weighted_f1": float(m["weighted_f1"]),
        "best_epoch": res.best_epoch,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meld", type=Path, default=REPO.parent / "shared" / "data" / "meld")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "bench-meld-text")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    ap.add_argument("--no-extract", action="store_true", help="reuse work/base as it is")
    ap.add_argument("--labels", nargs="+", default=["emotion", "sentiment"])
    args = ap.parse_args()
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    t0 = time.time()
    if not args.no_extract:
        extract(args.meld, args.work / "base")
    print(f"extraction done ({time.time() - t0:.0f} s)", flush=True)
    results: dict[str, dict[str, dict[str, float]]] = {}
    for labels in args.labels:
        store = args.work / f"meld-{labels}"
        build_store(args.meld, args.work / "base", store, labels)
        r = results[labels] = {}
        r["logreg (mean-pooled MiniLM)"] = logreg(store)
        print(labels, "logreg", r["logreg (mean-pooled MiniLM)"], flush=True)
        for variant, prepend in (("sse-ft text (learned CLS + 2 SA layers)", "always"),
                                 ("sse-ft text (MiniLM [CLS] as is)", "auto")):  # fmt: skip
            t = time.time()
            r[variant] = sseft_text(store, args.work / f"run-{labels}-{prepend}", f"meld-text-{labels}-{prepend}",
                                    prepend, args.epochs)  # fmt: skip
            r[variant]["train_s"] = round(time.time() - t, 1)
            print(labels, variant, r[variant], flush=True)
    (args.work / f"results-{'-'.join(args.labels)}.json").write_text(json.dumps(results, indent=2))
    print(f"\nMELD dev (held-out test here), text only, MiniLM-L6 features; total {time.time() - t0:.0f} s")
    print(f"{'labels':<10} {'model':<42} {'acc':>6} {'w-F1':>6}")
    for labels, r in results.items():
        for model, m in r.items():
            print(f"{labels:<10} {model:<42} {100 * m['accuracy']:6.2f} {100 * m['weighted_f1']:6.2f}")


if __name__ == "__main__":
    main()
