"""`sseft models ...`: list, inspect, publish, tag, remove, export, import, verify and clean the registry.

Only click and the torch-free registry modules are imported here; nothing in this group builds a
model, so none of these commands imports torch (publishing a directory only copies and verifies).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from sseft.core.errors import IntegrityError
from sseft.registry.names import name_of_folder, parse_ref

from .groups import echo_table, json_option

if TYPE_CHECKING:
    from sseft.registry.store import Registry


def open_registry() -> Registry:
    """The registry at SSEFT_HOME, imported on first use so that `sseft --help` stays light."""
    from sseft.registry.store import Registry

    return Registry()


@click.group()
def models() -> None:
    """Trained models in the registry ($SSEFT_HOME, default: the user's cache directory)."""


@models.command("list")
@click.argument("pattern", default="*")
@json_option()
def list_cmd(pattern: str, as_json: bool) -> None:
    """List model versions whose name matches PATTERN (wildcards: * ? [..]; 'name@*' matches versions)."""
    entries = open_registry().list(pattern)
    if as_json:
        click.echo(json.dumps([e.as_dict() for e in entries], indent=2, default=str))
        return
    if not entries:
        click.echo(f"no models match {pattern!r} in {open_registry().root}")
        return
    from sseft.registry.listing import listing_rows

    echo_table(listing_rows(entries))


@models.command("show")
@click.argument("name")
@json_option()
def show_model(name: str, as_json: bool) -> None:
    """Details of NAME (name, name@3, name@prod): path, aliases, config, metrics."""
    from sseft.registry.listing import entry_details, format_details

    details = entry_details(open_registry().resolve(name))
    click.echo(json.dumps(details, indent=2, default=str) if as_json else format_details(details))


@models.command("publish")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("name")
def publish_folder(directory: Path, name: str) -> None:
    """Publish the artifact DIRECTORY as the next version of NAME (verified, atomic)."""
    e = open_registry().publish_dir(directory, name)
    click.echo(f"published {e.ref}")


@models.command()
@click.argument("ref")
@click.argument("alias")
def tag(ref: str, alias: str) -> None:
    """Point NAME@ALIAS at the version REF resolves to (moves an existing alias)."""
    e = open_registry().tag(ref, alias)
    click.echo(f"{e.name}@{alias} -> {e.ref}")


@models.command()
@click.argument("ref")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before removing every version of a name.")
def rm(ref: str, yes: bool) -> None:
    """Remove NAME@V (one version), NAME@ALIAS (the alias only) or NAME (every version)."""
    r = parse_ref(ref)
    if r.is_latest and "@" not in ref and not yes:
        click.confirm(f"remove every version of {r.name!r}?", abort=True)
    for gone in open_registry().remove(ref):
        click.echo(f"removed {gone}")


@models.command()
@click.argument("ref")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["folder", "onnx"]),
    default="folder",
    show_default=True,
    help="folder: a Hugging Face-uploadable folder (config, safetensors, card, checksums); "
    "onnx: fusion + head as one ONNX graph + sseft-onnx.json (needs the export extra).",
)
@click.option(
    "--encoders",
    is_flag=True,
    help="With --format onnx: also export the encoders that can be (see docs/deploy.md).",
)
def export(ref: str, directory: Path, fmt: str, encoders: bool) -> None:
    """Write model REF (verified) into the new or empty DIRECTORY."""
    if fmt == "onnx":
        import sseft
        from sseft.core.export import export_onnx

        out = export_onnx(sseft.load(ref), directory, source=ref, encoders=encoders)
        click.echo(f"exported {ref} to {out} (ONNX: fusion + head)")
        return
    if encoders:
        raise click.UsageError("--encoders goes with --format onnx")
    out = open_registry().export(ref, directory)
    click.echo(f"exported {ref} to {out}")


@models.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("name", required=False)
def import_cmd(directory: Path, name: str | None) -> None:
    """Publish the artifact DIRECTORY under NAME (default: the directory's name, lowercased)."""
    from sseft.registry.hub import check_folder

    name = name if name is not None else name_of_folder(directory)
    check_folder(directory)  # checksums, and config.json vs the weights (builds the model once)
    e = open_registry().publish_dir(directory, name)
    click.echo(f"imported {directory} as {e.ref}")


@models.command("verify")
@click.argument("ref", default="*")
def verify_model(ref: str) -> None:
    """Check the checksums and files of REF (a reference or wildcard pattern; default: everything)."""
    results = open_registry().verify(ref)
    bad = 0
    for name, problems in results.items():
        if problems:
            bad += 1
            click.echo(f"FAIL {name}: {'; '.join(problems)}")
        else:
            click.echo(f"ok   {name}")
    if not results:
        click.echo(f"no models match {ref!r}")
    if bad:
        raise IntegrityError(f"{bad} of {len(results)} artifacts failed verification")


@models.command()
def gc() -> None:
    """Remove leftovers of interrupted publishes (safe while others publish)."""
    removed = open_registry().gc()
    for p in removed:
        click.echo(f"removed {p}")
    click.echo(f"{len(removed)} leftover{'s' if len(removed) != 1 else ''} removed")


__all__ = ["models"]
