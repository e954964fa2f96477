"""`sseft demo`: the README's main job, end to end on the built-in synthetic data.

generate the synthetic feature store (if absent) -> train SSE-FT, evaluate on test and publish
(core/experiment run_experiment) -> load it back by name -> print the metrics table.
Uses the experiment config shipped inside the package, so it works from an installed wheel.
"""

from __future__ import annotations

import time
from pathlib import Path

import click

from .groups import overrides_option


@click.command()
@click.option("--name", default="sseft-demo", show_default=True, help="Registry name to publish under.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("runs/demo"),
    show_default=True,
    help="Run directory (the synthetic store goes to <dir>/features unless --store).",
)
@click.option(
    "--store", type=click.Path(file_okay=False, path_type=Path), help="Feature store to use or create."
)
@overrides_option
def demo(name: str, output_dir: Path, store: Path | None, overrides: tuple[str, ...]) -> None:
    """Train, evaluate, publish and reload an SSE-FT model on built-in synthetic data (~1-2 min on CPU)."""
    from importlib import resources

    t0 = time.perf_counter()
    from sseft.api import evaluate_ref
    from sseft.core.experiment import ExperimentOptions, run_experiment
    from sseft.core.training.evaluate import scalar_metrics
    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.report import metrics_table
    from sseft.registry import api as registry

    store = (store or output_dir / "features").resolve()
    cfg_file = resources.files("sseft.core.training").joinpath("synthetic.yaml")
    with resources.as_file(cfg_file) as cfg_path:
        cfg = load_experiment(cfg_path, [f"data.store={store}", *overrides])
    click.echo(f"[1/4] data: {store}{' (exists)' if store.exists() else ' (generating synthetic data)'}")
    click.echo(f"[2/4] training {cfg.name}: modalities {cfg.modalities or 'all'}, {cfg.train.epochs} epochs")
    # The demo always starts afresh: a second `sseft demo` replaces the previous demo run.
    opts = ExperimentOptions(overwrite=True, register=name)
    result = run_experiment(cfg, output_dir / "run", opts, registry=registry)
    registered = result.published
    if registered is None:  # not the main process: it published nothing
        return
    click.echo(f"[3/4] published {registered}; loading it back by name")
    metrics = evaluate_ref(registered, store, split=cfg.data.test_split or "test")
    assert metrics is not None
    click.echo(f"[4/4] test metrics of {registered} (loaded from the registry):\n")
    m = scalar_metrics(metrics)
    m.pop("world_size", None)
    click.echo(metrics_table({registered: m}, list(m)))
    click.echo(f"run directory: {result.output_dir}  ({time.perf_counter() - t0:.0f} s)")
