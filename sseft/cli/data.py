"""`sseft data check|info` (dry-run a corpus before long jobs) and the `sseft convert` group (its
commands come from plugins: the CMU plugin's `convert pickle`).

    sseft data check my_manifest.csv                 # a manifest, default options
    sseft data check meld.yaml --set labels=sentiment  # {dataset: meld, root: ..., <options>}
    sseft data check configs/meld-emotion.yaml       # an experiment config: checks its feature store
    sseft data info meld --root /data/MELD.Raw [--set k=v] [--json]
    sseft convert pickle unaligned_50.pkl --out features/mosi-mmsa --trust-pickle

Top-level imports: click/stdlib only (the CLI must start fast); the rest is imported per command.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from .groups import PluginGroup, json_option


@click.group()
def data() -> None:
    """Inspect datasets: counts per split and label, missing files, duplicate ids."""


def _emit(report: Any, as_json: bool, limit: int) -> None:
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
    else:
        click.echo(report.format(limit=limit))


@data.command()
@click.argument("target", type=click.Path(path_type=Path))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a dataset option.")
@click.option(
    "--probe",
    is_flag=True,
    help="Also decode every media file as extraction will (slow): truncated, empty, NaN/inf, wrong stream.",
)
@json_option("Machine-readable report.")
@click.option("--limit", default=10, show_default=True, help="Entries shown per problem list.")
def check(target: Path, overrides: tuple[str, ...], probe: bool, as_json: bool, limit: int) -> None:
    """Dry-run TARGET (a manifest .csv/.jsonl, a dataset config {dataset: NAME, root: ...}, or an
    experiment config) and report counts, missing files, duplicates and malformed rows.
    Exits 1 when something must be fixed before extraction: a malformed row, a duplicate id, a
    missing input under the missing-media policy 'error', or (with --probe) a file that does not
    decode; 0 otherwise."""
    from sseft.core.extraction.job import check_target
    from sseft.plugins.datasets.common import dataset_report

    resolved = check_target(target, overrides, probe=probe)
    if isinstance(resolved, Path):  # an experiment config: verify the feature store it points at
        from sseft.core.features.summary import check_store, format_store_check

        out = check_store(resolved, config_path=target)
        click.echo(json.dumps(out, indent=2) if as_json else format_store_check(out))
        sys.exit(1 if out["problems"] else 0)
    report = dataset_report(*resolved)
    _emit(report, as_json, limit)
    sys.exit(0 if report.ok else 1)


@data.command("info")
@click.argument("name")
@click.option(
    "--root", type=click.Path(path_type=Path), required=True, help="The corpus folder (manifest: the file)."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a dataset option.")
@json_option()
@click.option("--limit", default=5, show_default=True, help="Entries shown per problem list.")
def dataset_info(name: str, root: Path, overrides: tuple[str, ...], as_json: bool, limit: int) -> None:
    """Counts per split and label and modality coverage of dataset NAME at --root."""
    from sseft.core.extraction.job import resolve_dataset
    from sseft.plugins.datasets.common import dataset_report

    plugin, cfg = resolve_dataset(name, root, overrides)
    _emit(dataset_report(plugin, cfg), as_json, limit)


@click.group(cls=PluginGroup)
def convert() -> None:
    """One-time conversions of third-party feature files into the safe feature store (the
    commands come from plugins: the CMU plugin's `convert pickle`)."""


@data.command("make-demo-clips")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--items", "n_items", default=24, show_default=True, help="How many clips.")
@click.option("--seed", default=0, show_default=True, help="Varies the clips' content.")
def make_demo_clips_cmd(directory: Path, n_items: int, seed: int) -> None:
    """Write short demo clips (mp4 + wav + transcript), their manifest items.csv and a tiny
    speech encoder into the new DIRECTORY: the raw material of the offline quickstart."""
    from sseft.plugins.datasets.demo_clips import make_demo_clips as make

    manifest = make(directory, n_items, seed)
    click.echo(
        f"wrote {n_items} clips, {manifest}, {directory / 'experiment.yaml'} and {directory / 'speech-encoder'}"
        f" (and, for docs/conversations.md, experiment-context.yaml and conversation.jsonl)"
    )
