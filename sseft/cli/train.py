"""`sseft train`, `sseft evaluate`, `sseft ablate` (torch is imported inside the command bodies)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a config field (repeatable)."
)
@click.option("--resume", is_flag=True, help="Continue the run from its latest checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run directory.")
@click.option("--register", metavar="NAME", help="Publish the best model to the registry under NAME.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run directory (default runs/<name>).",
)
@click.option("--no-export", is_flag=True, help="Do not write the artifact directory <run>/model.")
@click.option(
    "--seeds",
    metavar="0,1,2",
    help="One training per seed (and per fold with data.folds); summary over runs.",
)
def train(
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
    from sseft.core.training.experiment import load_experiment
    from sseft.core.training.trainer import train as run

    cfg = load_experiment(config, overrides)
    if seeds or cfg.train.seeds or cfg.data.folds is not None:  # the evaluation protocol (H6)
        from sseft.core.evaluation.runner import train_protocol

        click.echo(train_protocol(cfg, output_dir, seeds, register=register, overwrite=overwrite), nl=False)
        return
    res = run(cfg, output_dir, resume=resume, overwrite=overwrite)
    from accelerate import PartialState

    if not PartialState().is_main_process:
        return
    click.echo(f"run: {res.output_dir} (world size {res.world_size}, best epoch {res.best_epoch})")
    if res.test_metrics is not None:
        click.echo(test_table(cfg.name, res.test_metrics), nl=False)
        click.echo(f"test: {res.model.head.summary(res.test_metrics)}")
    name = register or cfg.register_name
    if not no_export or name:
        import sseft

        artifact = sseft.save(
            res.model, res.output_dir / "model", res.artifact_metrics, res.training, overwrite=True
        )
        click.echo(f"model: {artifact}")
        if name:
            click.echo(f"registered: {sseft.publish(artifact, name)}")


def evaluate_ref(
    ref: str, store: Path, split: str = "test", batch_size: int = 64, label_set: str | None = None
) -> dict | None:
    """Load `ref` (registry name, artifact or run directory) and score it on `split` of `store`."""
    import sseft
    from sseft.core.training.run_eval import evaluate_model, resolve_model_ref

    model = sseft.load(resolve_model_ref(ref))
    metrics = evaluate_model(model, store, split, batch_size, label_set, name=f"model {ref!r}")
    return None if metrics is None else {**metrics, "model": ref}


def test_table(name: str, metrics: dict) -> str:
    from sseft.core.training.evaluate import scalar_metrics
    from sseft.core.training.report import metrics_table

    m = scalar_metrics(metrics)
    m.pop("best_epoch", None)
    return metrics_table({name: m}, list(m))


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
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(
    model: str, store: Path, split: str, batch_size: int, label_set: str | None, as_json: bool
) -> None:
    """Recompute the metrics of a trained model (registry name or artifact/run directory) on a split."""
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
@click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a config field (repeatable)."
)
@click.option(
    "--output-dir", type=click.Path(file_okay=False, path_type=Path), help="Default runs/<name>-ablate."
)
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
    from sseft.core.training.ablate import run_ablation
    from sseft.core.training.experiment import load_experiment

    cfg = load_experiment(config, overrides)
    if seeds or cfg.train.seeds or cfg.data.folds is not None:  # over seeds/folds (H6)
        from sseft.core.evaluation.ablation import run_ablation_seeds
        from sseft.core.evaluation.runner import parse_seeds, seeds_of

        chosen = seeds_of(cfg, parse_seeds(seeds) if seeds else None)
        report = run_ablation_seeds(cfg, output_dir, seeds=chosen, only=list(only) or None)
        if report is not None:
            click.echo(report, nl=False)
        return
    table = run_ablation(cfg, output_dir, only=list(only) or None, overwrite=overwrite)
    if table is not None:
        click.echo(table, nl=False)
