"""Test metrics on the synthetic task: fp32 vs bf16 training (Accelerate `mixed_precision: bf16`)
and a float32 vs a float16 feature store, same seed, side by side.

    .venv/bin/python bench/precision.py [--tiny] [--seeds 0,1]

The demo experiment (configs/synthetic.yaml: the synthetic dataset, labels from products of cues in
neighbouring modalities, so fusion is needed; 1200/300/300 items; 20 epochs) with its dataset stored
twice through the extraction engine, as float32 and as float16 (`--dtype float16`); three trainings
per seed: fp32 on the float32 store, bf16 on it, fp32 on the float16 store. Differences are in points (x100) against the fp32 / float32 run of the same
seed; with several seeds the spread between seeds is shown beside them (what "within noise" means).
Runtime: ~1 min per training on a quiet 2-core CPU: ~6-7 min with 2 seeds (`--seeds 0`: ~3.5 min);
--tiny ~1 min.

`--meld-store DIR` adds MELD text: the text-only SSE-FT of bench/protocol_meld.py (MiniLM features;
DIR is that script's work/meld-protocol store: train/valid = MELD train dialogues, test = MELD dev)
trained in fp32 and in bf16 per seed (`--meld-epochs`, default 4), test accuracy and weighted F1
side by side. Target: bf16 within 0.5 points of fp32.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "synthetic.yaml"  # the demo experiment


def demo_config() -> dict[str, Any]:
    import yaml

    return yaml.safe_load(CONFIG.read_text())


def stores(root: Path, tiny: bool) -> dict[str, Path]:
    """The demo's synthetic dataset, stored as float32 and as float16 through the engine."""
    from sseft.core.extraction import extract_items
    from sseft.core.extraction.distributed import DistContext
    from sseft.core.plugins import get_dataset

    plugin = get_dataset("synthetic")
    opts = demo_config()["data"]["synthetic"]
    if tiny:
        opts = {**opts, "n_train": 120, "n_valid": 40, "n_test": 60}
    cfg = plugin.config_model.model_validate(opts)
    items = list(plugin.items(cfg))
    mods = {m.name: None for m in cfg.modalities}  # precomputed: stored as given
    out = {}
    for dtype in ("float32", "float16"):
        extract_items(
            items, plugin.task(cfg), mods, root / dtype, progress=False, dtype=dtype, ctx=DistContext()
        )
        out[dtype] = root / dtype
    return out


def train_once(store: Path, run: Path, precision: str, seed: int, epochs: int) -> dict[str, Any]:
    """The demo experiment (configs/synthetic.yaml) on `store`, in `precision`."""
    from accelerate.state import AcceleratorState

    from sseft.core.training.experiment import ExperimentConfig
    from sseft.core.training.trainer import train

    AcceleratorState._reset_state(reset_partial_state=True)  # another mixed precision in this process
    raw = demo_config()
    raw["data"] = {"store": str(store)}  # the store made above (not regenerated)
    raw["train"] = {**raw["train"], "epochs": epochs, "seed": seed, "mixed_precision": precision}
    cfg = ExperimentConfig.model_validate(raw)
    t = time.perf_counter()
    metrics = dict(train(cfg, run, progress=False, plots=False).test_metrics)
    metrics["seconds"] = time.perf_counter() - t  # the whole training, store reads included
    return metrics


def half_copy(store: Path, out: Path) -> Path:
    """The store re-written with `dtype: float16` and nothing else changed (modality infos, item
    order, labels of every label set, meta): what `sseft extract --dtype float16` would have written.
    Through the store writer, not as precomputed features: those would get other modality infos
    (max_len, provides_cls), hence other parameter shapes and another initialisation."""
    from sseft.core.features import FeatureStore, FeatureStoreWriter

    src = FeatureStore.open(store)
    infos = {m: i.model_copy(update={"dtype": "float16"}) for m, i in src.modalities.items()}
    sets = list(src.label_sets)
    with FeatureStoreWriter(out, infos, src.task, source=src.source) as w:
        for split in src.splits:
            per_set = {n: src.labels(split, n) for n in sets}
            labels = src.labels(split)
            for k, (i, meta) in enumerate(zip(src.ids(split), src.meta(split), strict=True)):
                w.add(i, split, src.get(i)["features"], labels[k], dict(meta),
                      labels={n: v[k] for n, v in per_set.items()} or None)  # fmt: skip
    return out


def meld_text(
    store: Path,
    run: Path,
    seeds: list[int],
    epochs: int,
    labels: str,
    rows: tuple[str, ...] = ("fp32", "bf16", "float16 store"),
) -> dict[str, list[dict]]:
    """Text-only SSE-FT on a MELD MiniLM store, fp32 and bf16, and fp32 on a float16 copy of the
    store, per seed (test metrics)."""
    import sys

    from accelerate.state import AcceleratorState

    from sseft.core.training.trainer import train

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from protocol_meld import experiment  # the protocol's own text-only SSE-FT config

    half = half_copy(store, run / "float16-store")
    out: dict[str, list[dict]] = {k: [] for k in rows}
    for seed in seeds:
        for prec, key, where in (("no", "fp32", store), ("bf16", "bf16", store),
                                 ("no", "float16 store", half)):  # fmt: skip
            if key not in rows:
                continue
            AcceleratorState._reset_state(reset_partial_state=True)
            cfg = experiment(where, labels, "sseft", epochs, 2e-4, 1e-3)
            cfg = cfg.model_copy(
                update={"train": cfg.train.model_copy(update={"seed": seed, "mixed_precision": prec})}
            )
            t = time.perf_counter()
            res = dict(
                train(
                    cfg, run / f"meld-{key.replace(' ', '-')}-{seed}", progress=False, plots=False
                ).test_metrics
            )
            res["seconds"] = time.perf_counter() - t
            out[key].append(res)
    return out


def print_meld(res: dict[str, list[dict]], seeds: list[int], epochs: int, labels: str) -> None:
    keys = ("accuracy", "weighted_f1")
    print(
        f"\nMELD text ({labels}, MiniLM, test = MELD dev), {epochs} epochs, seeds {seeds}: test metrics x100"
    )
    print(f"{'run':<14} " + " ".join(f"{k:>12}" for k in keys) + "   s per training")
    for k in res:
        vals = [100 * statistics.mean(r[m] for r in res[k]) for m in keys]
        secs = statistics.mean(r["seconds"] for r in res[k])
        print(f"{k:<14} " + " ".join(f"{v:>12.2f}" for v in vals) + f"   {secs:.1f}")
    for other in [k for k in ("bf16", "float16 store") if k in res]:
        for m in keys:
            d = [100 * (b[m] - f[m]) for b, f in zip(res[other], res["fp32"], strict=True)]
            worst = max(abs(x) for x in d)
            print(f"  {other} - fp32, {m}: " + ", ".join(f"{x:+.2f}" for x in d) + f"; mean {statistics.mean(d):+.2f},"
                  f" largest |diff| {worst:.2f} (target <= 0.5: {'meets' if worst <= 0.5 else 'MISSES'})")  # fmt: skip
    if len(seeds) > 1:
        print("  fp32 seed spread (std): " + ", ".join(
            f"{m} {100 * statistics.stdev(r[m] for r in res['fp32']):.2f}" for m in keys))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="small dataset, 2 epochs, one seed (a smoke run)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=20, help="the demo config's 20 by default")
    ap.add_argument("--meld-store", type=Path, default=None, help="add the MELD text comparison (see above)")
    ap.add_argument("--meld-epochs", type=int, default=4)
    ap.add_argument("--meld-labels", default="emotion", choices=["emotion", "sentiment"])
    ap.add_argument(
        "--meld-rows", default="fp32,bf16,float16 store", help="which MELD trainings (fp32 always)"
    )
    ap.add_argument("--skip-synthetic", action="store_true")
    a = ap.parse_args()
    seeds = [0] if a.tiny else [int(s) for s in a.seeds.split(",")]
    epochs = 2 if a.tiny else a.epochs
    runs = {"fp32, float32 store": ("float32", "no"), "bf16, float32 store": ("float32", "bf16"),
            "fp32, float16 store": ("float16", "no")}  # fmt: skip
    res: dict[str, list[dict[str, Any]]] = {k: [] for k in runs}
    if a.meld_store:
        with tempfile.TemporaryDirectory() as tmp:
            rows = ("fp32", *[r.strip() for r in a.meld_rows.split(",") if r.strip() and r.strip() != "fp32"])
            print_meld(meld_text(a.meld_store, Path(tmp), seeds, a.meld_epochs, a.meld_labels, rows), seeds,
                       a.meld_epochs, a.meld_labels)  # fmt: skip
    if a.skip_synthetic:
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        st = stores(d, a.tiny)
        for seed in seeds:
            for k, (dtype, prec) in runs.items():
                res[k].append(train_once(st[dtype], d / f"run-{dtype}-{prec}-{seed}", prec, seed, epochs))
    keys = ("accuracy", "weighted_f1", "macro_f1")
    print(
        f"\nsynthetic task, {torch.get_num_threads()} threads, {epochs} epochs, seeds {seeds}: test metrics x100"
    )
    print(
        f"{'run':<22} "
        + " ".join(f"{k:>12}" for k in keys)
        + "   diff vs fp32/float32 (mean over seeds, points)"
    )
    ref = res["fp32, float32 store"]
    for k, rows in res.items():
        vals = [100 * statistics.mean(r[m] for r in rows) for m in keys]
        diffs = [100 * statistics.mean(r[m] - f[m] for r, f in zip(rows, ref, strict=True)) for m in keys]
        secs = statistics.mean(r["seconds"] for r in rows)
        print(
            f"{k:<22} "
            + " ".join(f"{v:>12.2f}" for v in vals)
            + "   "
            + " ".join(f"{x:+.2f}" for x in diffs)
            + f"   {secs:.1f} s per training"
        )
    if len(seeds) > 1:
        spread = [100 * statistics.stdev(r[m] for r in ref) for m in keys]
        print(f"{'seed spread (std)':<22} " + " ".join(f"{v:>12.2f}" for v in spread))


if __name__ == "__main__":
    main()
