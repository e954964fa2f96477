"""`sseft compare RUN_A RUN_B`: paired significance of two runs (numpy/scipy/torch inside the body)."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.argument("run_a", type=click.Path(file_okay=False, path_type=Path))
@click.argument("run_b", type=click.Path(file_okay=False, path_type=Path))
@click.option("--metric", help="Test metric to compare (default: the head's primary metric).")
@click.option(
    "--resamples", default=10_000, show_default=True, type=click.IntRange(100), help="Bootstrap resamples."
)
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def compare(run_a: Path, run_b: Path, metric: str | None, resamples: int, seed: int, as_json: bool) -> None:
    """Compare two runs (a `sseft train` run or a `--seeds`/folds protocol directory each) on the test
    split: paired t-test and Wilcoxon over matched seeds/folds, paired bootstrap over test items."""
    from sseft.core.evaluation.compare import compare_runs, format_comparison

    result = compare_runs(run_a, run_b, metric, resamples=resamples, seed=seed)
    click.echo(json.dumps(result, indent=2) if as_json else format_comparison(result), nl=as_json)
