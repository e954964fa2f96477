"""`sseft sweep CONFIG --space SPACE.yaml --trials N`: Optuna hyper-parameter search (imports inside)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from .groups import json_option, output_dir_option, overrides_option


@click.command()
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--space", "space", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="YAML: config field -> {type: float|int|categorical, low, high, log, step, choices}.")  # fmt: skip
@click.option(
    "--trials", required=True, type=click.IntRange(1), help="Trials of the whole study (all workers)."
)
@click.option(
    "--storage", help="Optuna storage URL shared by the workers (default sqlite:///<out>/study.db)."
)
@click.option("--study", "study_name", help="Study name (default: the experiment name).")
@click.option(
    "--seeds", metavar="0,1,2", help="Afterwards re-run the best config over these seeds (test split)."
)
@overrides_option
@output_dir_option("Default runs/<name>-sweep.")
@click.option("--seed", type=int, help="Seed of the TPE sampler (give each worker its own).")
@click.option("--no-prune", is_flag=True, help="Run every trial to the end (no median pruning).")
@click.option("--heartbeat", type=click.FloatRange(min=1), default=10.0, show_default=True, metavar="SECONDS",
              help="Running trials record a heartbeat this often; one silent for 4 beats (its worker died) "
                   "is marked failed and retried once.")  # fmt: skip
@json_option("Print the study's trials as JSON.")
def sweep(
    config: Path,
    space: Path,
    trials: int,
    storage: str | None,
    study_name: str | None,
    seeds: str | None,
    overrides: tuple[str, ...],
    output_dir: Path | None,
    seed: int | None,
    no_prune: bool,
    heartbeat: float,
    as_json: bool,
) -> None:
    """Tune hyper-parameters on the validation split (TPE + median pruning). Several processes given
    the same --storage and --study share one study: that is how machines share a sweep."""
    from sseft.core.evaluation.sweep import format_result, run_sweep

    result = run_sweep(config, space, trials, overrides=list(overrides), output_dir=output_dir, storage=storage,
                       study_name=study_name, seed=seed, prune=not no_prune, heartbeat=heartbeat)  # fmt: skip
    out = Path(result["output_dir"])
    click.echo(
        json.dumps(result, indent=2)
        if as_json
        else format_result(result) + f"best config: {out / 'best.yaml'}"
    )
    if seeds and result["best"]:
        from sseft.core.experiment import parse_seeds, run_best_over_seeds

        click.echo(run_best_over_seeds(out, parse_seeds(seeds)).report, nl=False)
