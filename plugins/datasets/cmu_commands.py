"""`sseft convert pickle`: the CMU plugin's one-time conversion of MMSA/MulT feature pickles into
the safe feature store. Registered through the `register_commands` hook; click only at import."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("pickle")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The feature store to write.")
@click.option(
    "--trust-pickle",
    is_flag=True,
    help="Required: a pickle can run arbitrary code when loaded; pass this only for files you trust.",
)
@click.option("--shard-size", default=256, show_default=True)
def convert_pickle_cmd(file: Path, out: Path, trust_pickle: bool, shard_size: int) -> None:
    """Convert an MMSA/MulT feature pickle (MOSI, MOSEI, IEMOCAP) into a feature store; the label
    set is read from the file."""
    from .cmu import require_trusted

    require_trusted(file, trust_pickle, how="pass --trust-pickle")  # before numpy/torch or the file
    from .cmu_pickle import convert_pickle

    summary = convert_pickle(file, out, trusted=True, shard_size=shard_size)
    splits = ", ".join(f"{s} {n}" for s, n in summary["splits"].items())
    click.echo(
        f"converted {file} -> {out}: {summary['added']} added, {summary['skipped']} already there ({splits})"
    )
    if summary["failed"]:
        click.echo(f"{summary['failed']} item(s) refused by the store: see {out / 'failures.jsonl'}")
    if summary["non_finite_replaced"]:
        click.echo(
            f"replaced {summary['non_finite_replaced']} non-finite feature values with 0 (as MulT's loader does)"
        )
