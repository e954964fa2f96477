"""Test metrics on the synthetic task: fp32 vs bf16 training (Accelerate `mixed_precision: bf16`)
and a float32 vs a float16 feature store, same seed, side by side (issue #17.2/#17.3).

    .venv/bin/python bench/precision.py [--tiny] [--seeds 0,1]

The demo experiment (configs/synthetic.yaml: the synthetic dataset, labels from products of cues in
neighbouring modalities, so fusion is needed; 1200/300/300 items; 20 epochs) with its dataset stored
twice through the extraction engine, as float32 and as float16 (`--dtype float16`); three trainings
per seed: fp32 on the float32 store, bf16 on it, fp32 on the float16 store. Differences are in points (x100) against the fp32 / float32 run of the same
seed; with several seeds the spread between seeds is shown beside them (what "within noise" means).
Runtime: ~1 min per training on a quiet 2-core CPU: ~6-7 min with 2 seeds (`--seeds 0`: ~3.5 min);
--tiny ~1 min.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
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
    return train(cfg, run, progress=False, plots=False).test_metrics


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tiny", action="store_true", help="small dataset, 2 epochs, one seed (a smoke run)")
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--epochs", type=int, default=20, help="the demo config's 20 by default")
    a = ap.parse_args()
    seeds = [0] if a.tiny else [int(s) for s in a.seeds.split(",")]
    epochs = 2 if a.tiny else a.epochs
    runs = {"fp32, float32 store": ("float32", "no"), "bf16, float32 store": ("float32", "bf16"),
            "fp32, float16 store": ("float16", "no")}  # fmt: skip
    res: dict[str, list[dict[str, Any]]] = {k: [] for k in runs}
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
        print(
            f"{k:<22} " + " ".join(f"{v:>12.2f}" for v in vals) + "   " + " ".join(f"{x:+.2f}" for x in diffs)
        )
    if len(seeds) > 1:
        spread = [100 * statistics.stdev(r[m] for r in ref) for m in keys]
        print(f"{'seed spread (std)':<22} " + " ".join(f"{v:>12.2f}" for v in spread))


if __name__ == "__main__":
    main()
