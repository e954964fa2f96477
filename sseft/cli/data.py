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

from .groups import PluginGroup

MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


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
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@click.option("--limit", default=10, show_default=True, help="Entries shown per problem list.")
def check(target: Path, overrides: tuple[str, ...], probe: bool, as_json: bool, limit: int) -> None:
    """Dry-run TARGET (a manifest .csv/.jsonl, a dataset config {dataset: NAME, root: ...}, or an
    experiment config) and report counts, missing files, duplicates and malformed rows.
    Exits 1 when something must be fixed before extraction: a malformed row, a duplicate id, a
    missing input under the missing-media policy 'error', or (with --probe) a file that does not
    decode; 0 otherwise."""
    from sseft.core.config import read_mapping
    from sseft.core.errors import ConfigError
    from sseft.plugins.datasets.common import dataset_report, resolve_dataset

    if target.suffix.lower() in MANIFEST_SUFFIXES:
        plugin, cfg = resolve_dataset("manifest", target, overrides)
    else:
        mapping = read_mapping(target)
        if "data" in mapping and isinstance(mapping["data"], dict) and "store" in mapping["data"]:
            ok = _check_store(target, mapping["data"]["store"], as_json)
            sys.exit(0 if ok else 1)
        if "dataset" not in mapping:
            raise ConfigError(
                f"{target}: expected a dataset config with 'dataset: NAME' (and root, options), an experiment "
                "config with data.store, or a manifest (.csv/.jsonl)"
            )
        name = str(mapping.pop("dataset"))
        plugin, cfg = resolve_dataset(name, None, overrides, data=mapping, base=target.parent)
    if probe:
        for field in ("probe_clips", "probe_media"):
            if field in type(cfg).model_fields:
                cfg = cfg.model_copy(update={field: True})
    report = dataset_report(plugin, cfg)
    _emit(report, as_json, limit)
    sys.exit(0 if report.ok else 1)


def _check_store(config_path: Path, store: str, as_json: bool) -> bool:
    """An experiment config: verify the feature store it points at."""
    from sseft.core.errors import FeatureStoreError
    from sseft.core.features import FeatureStore

    root = Path(store)
    if not root.is_absolute():
        root = config_path.parent / root
    if not root.exists():
        raise FeatureStoreError(
            f"{config_path}: data.store {root} does not exist yet; run the extraction command in the config's comments"
        )
    fs = FeatureStore.open(root)
    problems = fs.verify()
    out = {
        "store": str(root),
        "task": {"type": fs.task.type, "label_names": list(fs.task.label_names)},
        "modalities": {m: i.dim for m, i in fs.modalities.items()},
        "splits": {s: len(fs.ids(s)) for s in fs.splits},
        "problems": problems,
    }
    if as_json:
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"store {root}: {fs.task.type} over {', '.join(fs.task.label_names)}")
        click.echo("modalities: " + ", ".join(f"{m} ({d}-d)" for m, d in out["modalities"].items()))
        for s, n in out["splits"].items():
            click.echo(f"  {s:<6} {n:>6}")
        for p in problems:
            click.echo(f"  problem: {p}")
        click.echo("ok" if not problems else f"NOT OK: {len(problems)} problem(s)")
    return not problems


@data.command()
@click.argument("name")
@click.option(
    "--root", type=click.Path(path_type=Path), required=True, help="The corpus folder (manifest: the file)."
)
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a dataset option.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--limit", default=5, show_default=True, help="Entries shown per problem list.")
def info(name: str, root: Path, overrides: tuple[str, ...], as_json: bool, limit: int) -> None:
    """Counts per split and label and modality coverage of dataset NAME at --root."""
    from sseft.plugins.datasets.common import dataset_report, resolve_dataset

    plugin, cfg = resolve_dataset(name, root, overrides)
    _emit(dataset_report(plugin, cfg), as_json, limit)


@click.group(cls=PluginGroup)
def convert() -> None:
    """One-time conversions of third-party feature files into the safe feature store (the
    commands come from plugins: the CMU plugin's `convert pickle`)."""


# `sseft data make-demo-clips` (sseft/cli/clips.py, click only at import): the offline quickstart's clips.
from .clips import make_demo_clips_cmd  # noqa: E402

data.add_command(make_demo_clips_cmd)
