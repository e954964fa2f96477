"""The robustness figures of docs/robustness.md, on the built-in synthetic data and on MELD text.

    .venv/bin/python bench/robustness_demo.py --size tiny                 # a smoke run (minutes)
    .venv/bin/python bench/robustness_demo.py --size full                 # the figures (a quiet machine)
    .venv/bin/python bench/robustness_demo.py --size full --skip-meld     # synthetic only

Synthetic (configs/synthetic.yaml: every modality carries part of the cue): SSE-FT trained without
and with `train.modality_dropout` (--dropout, default 0.05: at 0.15 and 0.3 the built-in task stayed
at chance for 40 epochs over 3 seeds), and a `fusion.kind: late-fusion` baseline, all on one store;
`sseft.robustness` of each SSE-FT model against the baseline, the dropout model as the comparison.
Run twice: on the built-in data (label = products of neighbouring modalities' cue signs, so with one
modality gone or noised away at most 50% is possible, and chance 25% needs noise on all) and with
`data.synthetic.redundancy` (--redundancy, default 0.5: every cue frame also carries the next
modality's sign, so two modalities can decide the label: where dropout can be seen to pay off).
A third run on two modalities (text, speech: 2 classes from the product of their signs) shows the
case where every modality is needed: there noise on either one drives the model to chance.
What to look for: curves monotone within noise, the top-level metric with noise on one modality
at the information bound of the rest, and the dropout-trained model degrading less when modalities
are missing.

MELD text (offline all-MiniLM-L6-v2 features; MELD dev plays the test split as in
bench/meld_text.py): text-only SSE-FT vs a text-only late-fusion baseline, feature-level curves
and raw-level word drop and typos re-extracted through MiniLM on the first `--raw-limit` items.

Writes under --work: one folder per robustness run (robustness.md/json, PNGs) and summary.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SIZES = {
    # synthetic items per split, epochs; MELD items per split (None: all), epochs, raw-level items
    "tiny": {"syn": (240, 60, 80), "syn_epochs": 3, "meld": (200, 40, 60), "meld_epochs": 1, "raw": 12},
    "full": {"syn": (1200, 300, 300), "syn_epochs": 20, "meld": None, "meld_epochs": 10, "raw": 300},
}


def save(res: Any, directory: Path) -> Path:
    """The trained model of a train() result as an artifact directory (both result generations)."""
    import sseft

    model = getattr(res, "model", None)
    if model is None:  # a result that exported the artifact itself
        return Path(res.artifact)
    sseft.save(model, directory, metrics=res.artifact_metrics, training=res.training, overwrite=True)
    return directory


def train_one(cfg: Any, out: Path) -> Path:
    from sseft.core.training.trainer import train

    res = train(cfg, out / "run", progress=False, overwrite=True, plots=False)
    return save(res, out / "model")


TWO = "[{name: text, dim: 32, min_len: 3, max_len: 12}, {name: speech, dim: 24, min_len: 3, max_len: 12}]"


def synthetic(
    work: Path, size: dict[str, Any], redundancy: float, dropout: float, two: bool = False
) -> dict[str, Any]:
    """SSE-FT without and with modality dropout and the late-fusion baseline on one synthetic store
    (`redundancy` > 0: every cue frame also carries the next modality's sign, see synthetic.py;
    `two`: text and speech only, 2 classes = the product of their two signs, so each modality is
    needed: no dropout model there, missing either one leaves nothing to decide the label)."""
    import sseft
    from sseft.core.training.experiment import load_experiment

    n_train, n_valid, n_test = size["syn"]
    tag = "synthetic-two" if two else "synthetic" if redundancy == 0 else f"synthetic-redundant{redundancy:g}"
    work = work / tag
    store = work / "store"
    base = [f"data.store={store}", f"data.synthetic.n_train={n_train}", f"data.synthetic.n_valid={n_valid}",
            f"data.synthetic.n_test={n_test}", f"data.synthetic.redundancy={redundancy}",
            f"train.epochs={size['syn_epochs']}"]  # fmt: skip
    if two:
        base += [f"data.synthetic.modalities={TWO}", "modalities=[text, speech]"]
    variants = {
        "sseft": [],
        **({} if two else {"sseft-dropout": [f"train.modality_dropout={dropout}"]}),
        "late-fusion": ["fusion.kind=late-fusion"],
    }
    art = {}
    for name, extra in variants.items():
        t = time.time()
        cfg = load_experiment(REPO / "configs" / "synthetic.yaml", [*base, *extra, f"name={tag}-{name}"])
        art[name] = train_one(cfg, work / name)
        print(f"{tag} {name}: trained in {time.time() - t:.0f} s", flush=True)
    runs = {
        "sseft": sseft.robustness(art["sseft"], store, baseline=art["late-fusion"],
                                  compare=art.get("sseft-dropout"), out=work / "rob-sseft"),
    }  # fmt: skip
    if "sseft-dropout" in art:
        runs["sseft-dropout"] = sseft.robustness(art["sseft-dropout"], store, baseline=art["late-fusion"],
                                                 out=work / "rob-sseft-dropout")  # fmt: skip
    out: dict[str, Any] = {}
    for name, r in runs.items():
        d = r.data
        print(r.summary(), flush=True)
        top = {k: {t: c[-1] for t, c in per.items()} for k, per in d["feature_noise"]["model"].items()}
        out[name] = {
            "clean": d["models"]["model"]["clean"][d["metric"]], "chance": d["chance"], "top_level": top,
            "missing": {"+".join(x["present"]): x["metric"] for x in d["missing"]["model"]},
            "relative_robustness": d["relative_robustness"]["model"]["overall"],
            "effective_robustness": d["effective_robustness"]["overall"],
        }  # fmt: skip
    return out


def meld_store(meld: Path, work: Path, labels: str, limits: tuple[int, int, int] | None) -> Path:
    """MiniLM text features of MELD; train = 90% of MELD-train dialogues, valid = the rest, test = MELD dev."""
    from sseft.core.extraction import extract_items
    from sseft.core.protocols import Item
    from sseft.plugins.datasets.meld import MELD, MeldConfig

    store = work / f"meld-{labels}-store"
    if (store / "index.json").exists():
        return store
    cfg = MeldConfig(root=meld, labels=labels, modalities=["text"], splits=["train", "valid"])
    items = list(MELD.items(cfg))
    dialogues = sorted({it.meta["dialogue_id"] for it in items if it.split == "train"})
    random.Random(0).shuffle(dialogues)
    held = set(dialogues[: len(dialogues) // 10])
    chosen: list[Item] = []
    count = {"train": 0, "valid": 0, "test": 0}
    for it in items:
        split = "test" if it.split == "valid" else ("valid" if it.meta["dialogue_id"] in held else "train")
        cap = None if limits is None else dict(zip(("train", "valid", "test"), limits, strict=True))[split]
        if cap is not None and count[split] >= cap:
            continue
        count[split] += 1
        chosen.append(dataclasses.replace(it, split=split))
    summary = extract_items(chosen, MELD.task(cfg), {"text": {"model": "minilm-offline"}}, store,
                            batch_size=64, progress=False)  # fmt: skip
    print(f"MELD {labels}: {summary.line()}", flush=True)
    return store


def meld(
    meld_root: Path, work: Path, size: dict[str, Any], labels: str, store: Path | None
) -> dict[str, Any]:
    import sseft
    from sseft.core.model import HeadSpec
    from sseft.core.specs import FusionConfig
    from sseft.core.training.config import DataConfig, ExperimentConfig, ModalityChoice, TrainConfig

    store = store or meld_store(meld_root, work, labels, size["meld"])
    art = {}
    for kind in ("sseft", "late-fusion"):
        cfg = ExperimentConfig(
            name=f"meld-text-{labels}-{kind}",
            data=DataConfig(store=str(store), test_split="test", labels=labels),
            modalities=[ModalityChoice(name="text", prepend_cls="always")],
            fusion=FusionConfig(kind=kind, n_self=2, heads=4, ffn_dim=1024, dropout=0.1, attn_dropout=0.1),
            head=HeadSpec(name="multiclass", config={"dropout": 0.1, "primary_metric": "weighted_f1"}),
            train=TrainConfig(epochs=size["meld_epochs"], batch_size=64, lr=2e-4, bucket_by_length=True,
                              early_stopping_patience=3, num_threads=1),
        )  # fmt: skip
        t = time.time()
        art[kind] = train_one(cfg, work / f"meld-{labels}-{kind}")
        print(f"MELD {labels} {kind}: trained in {time.time() - t:.0f} s", flush=True)
    r = sseft.robustness(
        art["sseft"], store, baseline=art["late-fusion"], raw=meld_root, raw_dataset="meld", raw_split="valid",
        raw_options=[f"labels={labels}", "modalities=[text]"], raw_kinds=["word_drop", "typo"],
        limit=size["raw"], out=work / f"rob-meld-{labels}",
    )  # fmt: skip
    print(r.summary(), flush=True)
    d = r.data
    return {
        "clean": d["models"]["model"]["clean"][d["metric"]],
        "baseline_clean": d["models"]["baseline"]["clean"][d["metric"]],
        "feature_curves": d["feature_noise"],
        "raw_curves": d["raw_noise"]["curves"],
        "effective_robustness": d["effective_robustness"],
        "raw_effective_robustness": d["raw_noise"].get("effective_robustness"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--work", type=Path, default=None, help="default runs/robustness-demo-<size>")
    ap.add_argument("--meld", type=Path, default=REPO.parent / "shared" / "data" / "meld")
    ap.add_argument("--labels", default="sentiment", choices=["emotion", "sentiment"])
    ap.add_argument("--skip-meld", action="store_true")
    ap.add_argument("--skip-synthetic", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--dropout", type=float, default=0.05, help="train.modality_dropout of the dropout models"
    )
    ap.add_argument(
        "--redundancy",
        type=float,
        default=0.5,
        help="second synthetic run with this data.synthetic.redundancy (0: skip it)",
    )
    ap.add_argument("--meld-store", type=Path, default=None,
                    help="an extracted MiniLM MELD store with train/valid/test splits (e.g. bench/protocol_meld.py's"
                         " work/meld-protocol) instead of extracting one")  # fmt: skip
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    work = args.work or REPO / "runs" / f"robustness-demo-{args.size}"
    work.mkdir(parents=True, exist_ok=True)
    size = SIZES[args.size]
    t0 = time.time()
    summary: dict[str, Any] = {"size": args.size}
    if not args.skip_synthetic:
        summary["synthetic"] = synthetic(work, size, 0.0, args.dropout)
        if args.redundancy > 0:
            summary[f"synthetic_redundant{args.redundancy:g}"] = synthetic(
                work, size, args.redundancy, args.dropout
            )
        summary["synthetic_two"] = synthetic(work, size, 0.0, args.dropout, two=True)
    if not args.skip_meld and (args.meld / "train_sent_emo.csv").is_file():
        summary["meld_text"] = meld(args.meld, work, size, args.labels, args.meld_store)
    elif not args.skip_meld:
        print(f"{args.meld}: no MELD CSVs; MELD part skipped", flush=True)
    summary["seconds"] = round(time.time() - t0, 1)
    (work / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"wrote {work / 'summary.json'} ({summary['seconds']} s)")


if __name__ == "__main__":
    main()
