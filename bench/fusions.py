"""Every registered fusion, one protocol: parameters, then seeds x datasets through the experiment runner.

    python bench/fusions.py --params-only                  # the parameter table, in seconds
    python bench/fusions.py                                # the full comparison (5 seeds, 2 datasets)
    python bench/fusions.py --seeds 2 --epochs 2 --small   # a tiny run that proves the path works

Parameter table: every fusion at (a) the built-in synthetic task's widths and (b, c) MMSA 2.2.1's
MOSI and MOSEI settings (unaligned features 768/5/20 and 768/74/35; SSE-FT as configs/mosi-mmsa.yaml,
TFN/LMF/MulT as configs/{mosi,mosei}-{tfn,lmf,mult}.yaml, the rest at their defaults), beside MMSA's
own count computed by hand from its layer sizes (plugins/fusions/parity.py; MMSA's final output
Linear is sseft's head, so it is left out).

Comparison: each fusion trains on (a) the built-in synthetic data (configs/synthetic.yaml) and (b)
an MMSA-format MOSI-shaped pickle (the generator tests/core/test_fusion_mmsa_e2e.py uses, converted
with `sseft convert pickle`), N seeds each, through `run_experiment` (core/experiment), each fusion
in a fresh process so its peak memory is its own. Printed per dataset and fusion: test primary
metric mean +- std over seeds, paired comparison against SSE-FT (`sseft compare`'s compare_runs:
paired t-test over seeds, paired bootstrap over items), parameters, seconds per epoch (a run's wall
time / epochs, evaluation included), peak memory (CUDA allocator peak on a GPU, else the process's
peak RSS), and on the synthetic data the relative robustness areas of the seed-0 model under
feature noise (core/robustness). Synthetic and synthetic-shaped data: no claim about real corpora.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the tests' MMSA pickle generator

MMSA_MODELS = ("tfn", "lmf", "mult")


def fusion_section(name: str, setting: str) -> dict[str, Any]:
    """The `fusion:` section a fusion gets in a setting ("synthetic", "mosi", "mosei")."""
    import yaml

    if setting != "synthetic" and name in MMSA_MODELS:
        from sseft.plugins.fusions.parity import fusion_options

        return fusion_options(name, setting)
    if name == "sseft":
        path = REPO / "configs" / ("synthetic.yaml" if setting == "synthetic" else f"{setting}-mmsa.yaml")
        return {"name": "sseft", **yaml.safe_load(path.read_text())["fusion"]}
    return {"name": name}


def setting_specs(setting: str, name: str) -> list[Any]:
    """ModalitySpecs of a setting (SSE-FT at MMSA's widths uses configs/<setting>-mmsa.yaml's projections)."""
    import yaml

    from sseft.core.specs import ModalitySpec
    from sseft.plugins.fusions.parity import mmsa_modalities

    if setting == "synthetic":
        cfg = yaml.safe_load((REPO / "configs" / "synthetic.yaml").read_text())
        return [
            ModalitySpec(name=m["name"], dim=m["dim"], max_len=m["max_len"])
            for m in cfg["data"]["synthetic"]["modalities"]
        ]
    specs = mmsa_modalities(setting)
    if name == "sseft":
        mods = yaml.safe_load((REPO / "configs" / f"{setting}-mmsa.yaml").read_text())["modalities"]
        project = {m["name"]: m.get("project") for m in mods}
        specs = [{**s, "project": project[s["name"]]} for s in specs]
    return [ModalitySpec(**s) for s in specs]


def params_table(fusions: list[str]) -> list[tuple[str, str, int, str]]:
    """(fusion, setting, parameters, MMSA's count or '') for every fusion and setting."""
    import torch

    from sseft.core.fusion.build import build_fusion
    from sseft.plugins.fusions.parity import mmsa_count

    rows = []
    for name in fusions:
        for setting in ("synthetic", "mosi", "mosei"):
            try:
                with torch.device("meta"):  # counts only: no memory, no init time
                    n = build_fusion(
                        setting_specs(setting, name), fusion_section(name, setting)
                    ).parameter_count()
            except Exception as e:  # a fusion that cannot take this setting says why
                rows.append((name, setting, -1, f"({type(e).__name__}: {e})"))
                continue
            ref = ""
            if setting != "synthetic" and name in MMSA_MODELS:
                total, out = mmsa_count(name, setting)
                ref = f"{total - out:,} (MMSA {total:,} less its output Linear {out:,})"
            rows.append((name, setting, n, ref))
    return rows


def print_params(rows: list[tuple[str, str, int, str]]) -> None:
    print(f"{'fusion':<12} {'setting':<10} {'parameters':>12}  MMSA 2.2.1 (by hand)")
    for name, setting, n, ref in rows:
        print(
            f"{name:<12} {setting:<10} {n:>12,}  {ref}"
            if n >= 0
            else f"{name:<12} {setting:<10} {'-':>12}  {ref}"
        )


def make_mosi_store(root: Path, small: bool) -> Path:
    """An MMSA-format MOSI-shaped pickle (tests' generator), converted to a feature store once."""
    from tests.core.test_fusion_mmsa_e2e import mmsa_mosi_pickle

    store = root / "mosi-store"
    if not store.exists():
        sizes = {"train": 48, "valid": 16, "test": 24} if small else {"train": 400, "valid": 100, "test": 200}
        pkl = mmsa_mosi_pickle(root / "unaligned_50.pkl", sizes, lengths=(12, 40, 30))
        cmd = [
            sys.executable,
            "-m",
            "sseft",
            "convert",
            "pickle",
            str(pkl),
            "--out",
            str(store),
            "--trust-pickle",
        ]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode != 0:
            raise SystemExit(f"sseft convert pickle failed: {res.stderr.strip()[-500:]}")
    return store


def experiment_overrides(
    dataset: str, fusion: dict[str, Any], root: Path, args: argparse.Namespace
) -> tuple[Path, list[str]]:
    """(config file, --set overrides) of one (dataset, fusion) run."""
    sets = [f"fusion={json.dumps(fusion)}", f"train.epochs={args.epochs}", "train.early_stopping_patience=null",
            "register=null", "train.num_threads=1"]  # fmt: skip
    if dataset == "synthetic":
        sets.append(f"data.store={root / 'synthetic-store'}")
        if args.small:
            sets += ["data.synthetic.n_train=96", "data.synthetic.n_valid=32", "data.synthetic.n_test=32"]
        return REPO / "configs" / "synthetic.yaml", sets
    # each fusion trains as its shipped MOSI config says (TFN/LMF/MulT: MMSA's batch size, rate and
    # decay); the others as configs/mosi-mmsa.yaml, the pooled baselines without SSE-FT's projections
    name = fusion["name"]
    sets.append(f"data.store={root / 'mosi-store'}")
    if name not in ("sseft", *MMSA_MODELS):
        sets.append("modalities=[text, audio, vision]")
    return REPO / "configs" / (f"mosi-{name}.yaml" if name in MMSA_MODELS else "mosi-mmsa.yaml"), sets


def run_one(dataset: str, name: str, root: Path, args: argparse.Namespace, queue: Any) -> None:
    """Child process: one fusion's seeds on one dataset; puts its measurements on `queue`."""
    import resource

    import torch

    from sseft.core.config import load_config
    from sseft.core.experiment import ExperimentOptions, run_experiment
    from sseft.core.training.config import ExperimentConfig

    fusion = fusion_section(name, "mosi" if dataset == "mosi" else "synthetic")
    path, sets = experiment_overrides(dataset, fusion, root, args)
    cfg = load_config(ExperimentConfig, path, sets)
    out = root / dataset / name
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    t = time.perf_counter()
    res = run_experiment(cfg, out, ExperimentOptions(seeds=list(range(args.seeds)), progress=False, plots=False,
                                                    export=False, overwrite=True))  # fmt: skip
    wall = time.perf_counter() - t
    summary = res.summary or {}
    runs = summary.get("runs", [])
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if torch.cuda.is_available()
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    queue.put({
        "dataset": dataset, "fusion": name, "out": str(out), "metrics": summary.get("metrics", {}),
        "s_per_epoch": sum(r["time_s"] for r in runs) / max(1, len(runs) * args.epochs), "wall_s": wall,
        "peak_mib": peak, "params": _params(out / "seed-0"),
        "robustness": _robustness(out / "seed-0", cfg) if dataset == "synthetic" and not args.no_robustness else None,
    })  # fmt: skip


def _params(run_dir: Path) -> int:
    from sseft.core.model import ModelConfig, build_model

    model = build_model(ModelConfig.model_validate_json((run_dir / "model_config.json").read_text()))
    return sum(p.numel() for p in model.fusion.parameters() if p.requires_grad)


def _robustness(run_dir: Path, cfg: Any) -> dict[str, Any]:
    """Relative robustness areas of the seed-0 model under feature noise on the test split."""
    from sseft.core.model import ModelConfig, build_model
    from sseft.core.robustness import RobustnessConfig, run_robustness
    from sseft.registry.artifact import load_weights

    model = build_model(ModelConfig.model_validate_json((run_dir / "model_config.json").read_text()))
    load_weights(model, run_dir / "best" / "model.safetensors")
    result = run_robustness(model.eval(), cfg.data.store, RobustnessConfig(n_levels=5, n_boot=0))
    table = result.data["relative_robustness"]["model"]
    return {kind: v["overall"] for kind, v in table.items() if isinstance(v, dict)} | {
        "overall": table["overall"]
    }


def primary(metrics: dict[str, Any]) -> tuple[str, str]:
    """(metric name, 'mean +- std') of the first metric the summary lists (the head's primary)."""
    for k, v in metrics.items():
        if isinstance(v, dict) and "mean" in v:
            std = v.get("std")
            return k, f"{v['mean']:.4f} +- {std:.4f}" if std is not None else f"{v['mean']:.4f}"
    return "-", "-"


def compare_to_sseft(results: list[dict[str, Any]], resamples: int) -> dict[tuple[str, str], str]:
    from sseft.core.evaluation.compare import compare_runs

    out = {}
    base = {r["dataset"]: r["out"] for r in results if r["fusion"] == "sseft"}
    for r in results:
        if r["fusion"] == "sseft" or r["dataset"] not in base:
            continue
        c = compare_runs(r["out"], base[r["dataset"]], resamples=resamples)
        p, b = c["paired"], c["bootstrap"]
        t_p = p["ttest"]["p"]
        out[r["dataset"], r["fusion"]] = (
            f"{p['mean_difference']:+.4f} (t-test p {'-' if t_p is None else f'{t_p:.3f}'}; bootstrap over items "
            f"CI95 [{b['ci95'][0]:+.4f}, {b['ci95'][1]:+.4f}], one-sided p {b['p_one_sided']:.3f})"
        )
    return out


def print_results(results: list[dict[str, Any]], vs: dict[tuple[str, str], str]) -> None:
    print(
        "\n| data | fusion | test metric (mean +- std over seeds) | vs SSE-FT (diff, paired p) | parameters | s/epoch | peak MiB |"
    )
    print("|---|---|---|---|---:|---:|---:|")
    for r in results:
        metric, value = primary(r["metrics"])
        print(f"| {r['dataset']} | {r['fusion']} | {metric} {value} | {vs.get((r['dataset'], r['fusion']), '-')} | "
              f"{r['params']:,} | {r['s_per_epoch']:.2f} | {r['peak_mib']:.0f} |")  # fmt: skip
    rob = [r for r in results if r.get("robustness")]
    if rob:
        kinds = [k for k in rob[0]["robustness"] if k != "overall"]
        print("\nrelative robustness areas, synthetic test split, seed-0 model (1 = no loss under noise):")
        print("| fusion | " + " | ".join(kinds) + " | overall |")
        print("|---|" + "---:|" * (len(kinds) + 1))
        for r in rob:
            vals = [r["robustness"].get(k) for k in [*kinds, "overall"]]
            print(f"| {r['fusion']} | " + " | ".join("-" if v is None else f"{v:.3f}" for v in vals) + " |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--params-only", action="store_true", help="print the parameter table and stop")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--fusions", default="", help="comma-separated (default: every registered fusion)")
    ap.add_argument("--datasets", default="synthetic,mosi")
    ap.add_argument("--small", action="store_true", help="small datasets (a smoke run)")
    ap.add_argument("--no-robustness", action="store_true")
    ap.add_argument("--resamples", type=int, default=10_000, help="paired bootstrap resamples")
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "bench-fusions")
    args = ap.parse_args()

    from sseft.core.plugins import get_manager

    fusions = [f for f in args.fusions.split(",") if f] or get_manager().names("fusion")
    fusions = sorted(fusions, key=lambda f: f != "sseft")  # SSE-FT first: the reference
    print_params(params_table(fusions))
    if args.params_only:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    datasets = [d for d in args.datasets.split(",") if d]
    if "mosi" in datasets:
        make_mosi_store(args.out, args.small)
    ctx = mp.get_context("spawn")
    results = []
    for dataset in datasets:
        for name in fusions:
            queue = ctx.Queue()
            proc = ctx.Process(target=run_one, args=(dataset, name, args.out, args, queue))
            t = time.perf_counter()
            proc.start()
            proc.join()
            if proc.exitcode != 0:
                print(f"{dataset}/{name}: failed (exit {proc.exitcode}); see above", file=sys.stderr)
                continue
            results.append(queue.get())
            print(f"{dataset}/{name}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    print_results(results, compare_to_sseft(results, args.resamples))
    print(f"\ncommand: python bench/fusions.py --seeds {args.seeds} --epochs {args.epochs}"
          f"{' --small' if args.small else ''} --datasets {args.datasets}")  # fmt: skip


if __name__ == "__main__":
    main()
