"""`sseft features info|verify|merge DIR`: inspect and check a feature store.

Only click/stdlib at module level; the store code (and torch, for verify) is imported in the commands.
"""

from __future__ import annotations

import json
import sys

import click

from .groups import json_option


@click.group("features")
def features() -> None:
    """Inspect, verify and merge feature stores (safetensors shards + index)."""


@features.command("info")
@click.argument("store", type=click.Path(file_okay=False))
@json_option("Print the summary as JSON.")
def store_info(store: str, as_json: bool) -> None:
    """Per split: item counts, label distribution, length stats per modality; dims, fingerprints, failures."""
    from sseft.core.features.summary import format_store_summary, summarize

    s = summarize(store)
    click.echo(json.dumps(s, indent=2, ensure_ascii=False) if as_json else format_store_summary(s))


@features.command("verify")
@click.argument("store", type=click.Path(file_okay=False))
@click.option("--no-checksums", is_flag=True, help="Skip the sha256 of each shard (faster on huge stores).")
def verify_store(store: str, no_checksums: bool) -> None:
    """Check every shard against the index (counts, shapes, dtypes, sha256). Exit code 1 on any problem."""
    from sseft.core.features import FeatureStore

    fs = FeatureStore.open(store)
    problems = fs.verify(checksums=not no_checksums)
    for p in problems:
        click.echo(p)
    if problems:
        click.echo(f"{len(problems)} problem(s) in {store}", err=True)
        sys.exit(1)
    click.echo(f"ok: {store} ({len(fs)} items in {len(fs.shard_files)} shards)")


@features.command("merge")
@click.argument("store", type=click.Path(file_okay=False))
def merge(store: str) -> None:
    """Rebuild index.json from the per-writer partial indexes (after an interrupted multi-process write)."""
    from sseft.core.features import merge_partial_indexes

    click.echo(f"wrote {merge_partial_indexes(store)}")
