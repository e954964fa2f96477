"""`sseft train`, `sseft evaluate`, `sseft ablate` (torch is imported inside the command bodies)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .groups import json_option, output_dir_option, overrides_option


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@overrides_option
@click.option("--resume", is_flag=True, help="Continue the run from its latest checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--register", metavar="NAME", help="Publish the best model to the registry under NAME.")
@output_dir_option("Run directory (default runs/<name>).")
@click.option("--no-export", is_flag=True, help="Do not write the artifact directory <run>/model.")
@click.option(
    "--seeds",
    metavar="0,1,2",
    help="One training per seed (and per fold with data.folds); summary over runs.",
)
def train_command(
    config: Path,
    overrides: tuple[str, ...],
    resume: bool,
    overwrite: bool,
    register: str | None,
    output_dir: Path | None,
    no_export: bool,
    seeds: str | None,
) -> None:
    """Train an SSE-FT model on a feature store (works under `accelerate launch -m sseft train`)."""
    from sseft.core.experiment.plan import parse_seeds
    from sseft.core.experiment.runner import ExperimentOptions, run_experiment
    from sseft.core.training.experiment import load_experiment
    from sseft.registry import api as registry

    cfg = load_experiment(config, overrides)
    opts = ExperimentOptions(seeds=parse_seeds(seeds) if seeds else None, resume=resume, overwrite=overwrite,
                             export=not no_export, register=register)  # fmt: skip
    click.echo(run_experiment(cfg, output_dir, opts, registry=registry).report, nl=False)


@click.command()
@click.argument("model")
@click.option(
    "--data", "store", required=True, type=click.Path(path_type=Path), help="Feature store directory."
)
@click.option("--split", default="test", show_default=True)
@click.option("--batch-size", default=64, show_default=True)
@click.option(
    "--labels",
    "label_set",
    metavar="SET",
    help="The store's label set to score against (default: its default).",
)
@json_option("Print the metrics as JSON.")
def evaluate(
    model: str, store: Path, split: str, batch_size: int, label_set: str | None, as_json: bool
) -> None:
    """Recompute the metrics of a trained model (registry name or artifact/run directory) on a split."""
    from sseft.api import evaluate_ref
    from sseft.core.training.evaluate import scalar_metrics
    from sseft.core.training.report import metrics_table

    metrics = evaluate_ref(model, store, split, batch_size, label_set)
    if metrics is None:  # not the main process
        return
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        click.echo(metrics_table({model: scalar_metrics(metrics)}, list(scalar_metrics(metrics))), nl=False)


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@overrides_option
@output_dir_option("Default runs/<name>-ablate.")
@click.option("--only", multiple=True, help="Run only these presets (repeatable).")
@click.option("--overwrite", is_flag=True, help="Replace the presets' existing run directories.")
@click.option(
    "--seeds", metavar="0,1,2", help="Each preset over these seeds: mean ± std, each compared with full."
)
def ablate(
    config: Path,
    overrides: tuple[str, ...],
    output_dir: Path | None,
    only: tuple[str, ...],
    overwrite: bool,
    seeds: str | None,
) -> None:
    """Run the paper's Table 8 ablations (uni/dual/tri-modal, no IMA, concat) and compare them."""
    from sseft.core.experiment.plan import parse_seeds
    from sseft.core.experiment.runner import ExperimentOptions, run_experiment
    from sseft.core.training.experiment import load_experiment

    cfg = load_experiment(config, overrides)
    opts = ExperimentOptions(seeds=parse_seeds(seeds) if seeds else None, ablate=True, only=list(only) or None,
                             overwrite=overwrite)  # fmt: skip
    click.echo(run_experiment(cfg, output_dir, opts).report, nl=False)
