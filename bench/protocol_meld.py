"""MELD text over seeds: text-only SSE-FT vs the late-fusion and concat-pool baselines, mean ± std of
accuracy and weighted F1 over 5 seeds, and `sseft compare` between them.

    .venv/bin/python bench/protocol_meld.py [--meld /work/shared/data/meld] [--work runs/bench-meld-text]
    .venv/bin/python bench/protocol_meld.py --tiny          # smoke run: 300 items, 2 seeds, 1 epoch

Protocol (as bench/meld_text.py; the public test CSV is not in the shared folder): offline MiniLM
features extracted once into work/base (shared with meld_text.py, resumable); one store holding both
label sets (`data.labels` picks emotion or sentiment) with train = 90% of MELD-train dialogues, valid = the other 10% (whole dialogues, seed 0; model
selection only), test = MELD dev. Every model is trained per seed with the same splits, best epoch on
valid; the test split is read once per finished run. SSE-FT: learned CLS + 2 self-attention layers
over the MiniLM token sequence (`prepend_cls: always`). Baselines: `fusion.kind` late-fusion /
concat-pool (mean over the real tokens -> head), with a larger learning rate (`--baseline-lr`), as
pooled linear models need. `--tiny` takes the first `--limit` items of MELD-train only (no dev items):
its test split is then a third held-out share of those dialogues; its figures prove the script, not
the models.

Written: work/protocol-<labels>/<model>/seed-<s>/ (run dirs), .../<model>/summary.md|.csv|.tex|.png,
work/protocol-<labels>/results.json and results.md (table + comparisons).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
MODELS = ("sseft", "late-fusion", "concat-pool")


def extract(meld: Path, base: Path, limit: int | None) -> None:
    cmd = [sys.executable, "-m", "sseft", "extract", "--dataset", "meld", "--root", str(meld), "--modalities", "text",
           "--set", "dataset.modalities=[text]", "--set", "text.model=minilm-offline", "--batch-size", "64",
           "--no-progress", "--out", str(base)] + (["--limit", str(limit)] if limit else [])  # fmt: skip
    subprocess.run(cmd, check=True)


def build_store(meld: Path, base: Path, out: Path, valid_frac: float = 0.1) -> None:
    """Re-split the extracted features (every label set kept); items keep their dialogue ids and
    their conversation meta (dialogue, turn, speaker)."""
    from sseft.core.features import FeatureStore, FeatureStoreWriter
    from sseft.core.features.conversation import CONVERSATION_KEYS
    from sseft.plugins.datasets.meld import MELD, MeldConfig

    if (out / "index.json").exists():
        return
    cfg = MeldConfig(root=meld, modalities=["text"])
    src = FeatureStore.open(base)
    items = [it for it in MELD.items(cfg) if it.id in src]  # failed items are in base/failures.jsonl
    dialogues = sorted({it.meta["dialogue_id"] for it in items if it.split == "train"})
    random.Random(0).shuffle(dialogues)
    held = set(dialogues[: max(1, int(len(dialogues) * valid_frac))])
    has_dev = any(it.split == "valid" for it in items)
    # --tiny (no dev items extracted): another held-out third of the train dialogues is the test split
    tested = set() if has_dev else set(dialogues[len(held) : len(held) + max(1, len(dialogues) // 3)])
    with FeatureStoreWriter(
        out, src.modalities, MELD.task(cfg), source={"bench": "protocol_meld", "base": str(base)}
    ) as w:
        for it in items:
            dia = it.meta["dialogue_id"]
            if it.split == "valid" or dia in tested:
                split = "test"
            else:
                split = "valid" if dia in held else "train"
            # every label set (MELD: emotion and sentiment); the experiment picks one with data.labels
            w.add(
                it.id,
                split,
                src.get(it.id)["features"],
                it.label,
                {"dialogue_id": dia, **{k: it.meta[k] for k in CONVERSATION_KEYS}},  # for context
                labels=it.labels or None,
            )


def experiment(store: Path, labels: str, model: str, epochs: int, lr: float, baseline_lr: float) -> Any:
    from sseft.core.model import HeadSpec
    from sseft.core.specs import FusionConfig
    from sseft.core.training.config import DataConfig, ExperimentConfig, ModalityChoice, TrainConfig

    return ExperimentConfig(
        name=f"meld-text-{labels}-{model}",
        data=DataConfig(store=str(store), test_split="test", labels=labels),
        modalities=[ModalityChoice(name="text", prepend_cls="always")],
        fusion=FusionConfig(n_self=2, heads=4, ffn_dim=1024, dropout=0.1, attn_dropout=0.1, kind=model),
        head=HeadSpec(name="multiclass", config={"dropout": 0.1, "primary_metric": "weighted_f1"}),
        train=TrainConfig(
            epochs=epochs,
            batch_size=64,
            lr=lr if model == "sseft" else baseline_lr,
            bucket_by_length=True,
            early_stopping_patience=3,
            num_threads=1,
        ),  # fmt: skip
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meld", type=Path, default=REPO.parent / "shared" / "data" / "meld")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "bench-meld-text")
    ap.add_argument("--labels", nargs="+", default=["emotion"])
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--baseline-lr", type=float, default=1e-3)
    ap.add_argument("--resamples", type=int, default=10_000)
    ap.add_argument("--limit", type=int, default=None, help="extract only the first N items (smoke runs)")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke run: --limit 300 --seeds 0,1 --epochs 1, own work dir"
    )
    ap.add_argument("--no-extract", action="store_true", help="reuse work/base as it is")
    args = ap.parse_args()
    if args.tiny:
        args.limit, args.seeds, args.epochs = args.limit or 300, "0,1", 1
        args.work = args.work.with_name(args.work.name + "-tiny")
    from sseft.core.evaluation.compare import compare_runs
    from sseft.core.experiment import ExperimentOptions, parse_seeds, run_experiment

    seeds = parse_seeds(args.seeds)
    t0 = time.time()
    if not args.no_extract:
        extract(args.meld, args.work / "base", args.limit)
    print(f"extraction done ({time.time() - t0:.0f} s)", flush=True)
    results: dict[str, Any] = {}
    for labels in args.labels:
        store = args.work / "meld-protocol"
        build_store(args.meld, args.work / "base", store)
        root = args.work / f"protocol-{labels}"
        r: dict[str, Any] = {"seeds": seeds, "models": {}, "compare": {}}
        for model in MODELS:
            t = time.time()
            s = run_experiment(experiment(store, labels, model, args.epochs, args.lr, args.baseline_lr), root / model,
                               ExperimentOptions(seeds=seeds, progress=True, plots=False)).summary  # fmt: skip
            assert s is not None
            r["models"][model] = {m: s["metrics"][m] for m in ("accuracy", "weighted_f1")}
            r["models"][model]["train_s"] = round(time.time() - t, 1)
            print(labels, model, _pm(s["metrics"]["accuracy"]), _pm(s["metrics"]["weighted_f1"]), flush=True)
        for a, b in (("sseft", "late-fusion"), ("sseft", "concat-pool"), ("concat-pool", "late-fusion")):
            for metric in ("weighted_f1", "accuracy"):
                r["compare"][f"{a} vs {b} ({metric})"] = compare_runs(root / a, root / b, metric,
                                                                       resamples=args.resamples)  # fmt: skip
        results[labels] = r
        (root / "results.json").write_text(json.dumps(r, indent=2))
        (root / "results.md").write_text(report(labels, r))
        print(report(labels, r), flush=True)
    print(f"total {time.time() - t0:.0f} s")


def _pm(d: dict[str, Any]) -> str:
    if d.get("std") is None:
        return f"{100 * d['mean']:.2f}"
    return f"{100 * d['mean']:.2f} ± {100 * d['std']:.2f}"


def report(labels: str, r: dict[str, Any]) -> str:
    lines = [f"MELD {labels}, text only (MiniLM-L6 offline), test = MELD dev, seeds {r['seeds']} (x100, mean ± std)", "",
             "| model | accuracy | weighted F1 |", "|---|---|---|"]  # fmt: skip
    for model, m in r["models"].items():
        lines.append(f"| {model} | {_pm(m['accuracy'])} | {_pm(m['weighted_f1'])} |")
    lines += [
        "",
        "| comparison | A - B | t-test p | Wilcoxon p | bootstrap 95% interval | one-sided p |",
        "|---|---|---|---|---|---|",
    ]
    for name, c in r["compare"].items():
        p, b = c["paired"], c["bootstrap"]
        f = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
        lines.append(f"| {name} | {f(p['mean_difference'])} | {f(p['ttest']['p'])} | {f(p['wilcoxon']['p'])} | "
                     f"[{f(b['ci95'][0])}, {f(b['ci95'][1])}] | {f(b['p_one_sided'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
