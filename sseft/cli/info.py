"""`sseft plugins` and `sseft env`: what is installed, for users and bug reports."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from .groups import json_option

KINDS = ("modality", "dataset", "head", "fusion")  # core/plugin_options.py KINDS; kept light for --help


@click.group(invoke_without_command=True)
@json_option()
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List every plugin: package, version, what it registers, load errors.

    `sseft plugins show NAME` lists the options of one modality, dataset, head or fusion."""
    if ctx.invoked_subcommand is not None:
        return
    from sseft.core.plugins import get_manager

    pm = get_manager().load()
    infos = list(pm.plugins.values())
    if as_json:
        click.echo(json.dumps([asdict(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("no plugins found (is sseft installed with `pip install -e .`?)")
        return
    for i in infos:
        status = click.style("ERROR", fg="red") if i.error else click.style("ok", fg="green")
        click.echo(f"{i.name:<12} {i.package} {i.version}  [{status}]  ({i.module})")
        for kind, names in sorted(i.registers.items()):
            plural = "modalities" if kind == "modality" else kind + "s"
            click.echo(f"    {plural:<11} {', '.join(names)}")
        for name in i.registers.get("modality", []) if not i.error else []:
            for note in getattr(pm.get("modality", name), "notes", ()):  # licences, optional encoders
                click.echo(f"    note        {name}: {note}")
        if i.error:
            click.echo(f"    error       {i.error}")
    click.echo("\n`sseft plugins show NAME` lists the options of a modality, dataset, head or fusion.")


@plugins.command("show")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), help="Only this kind (when a name is both).")
@json_option()
def show_plugin(name: str, kind: str | None, as_json: bool) -> None:
    """The config options of plugin NAME: field, type, default, description.

    Modality options are given to `sseft extract` as `--set NAME.FIELD=VALUE` (or in
    --modality-config), dataset options as `--set FIELD=VALUE`, head options as
    `head.config.FIELD` in an experiment config."""
    from sseft.core.plugin_options import SET_WITH, plugin_options
    from sseft.core.plugins import get_manager

    from .groups import echo_table

    pm = get_manager().load()
    out = plugin_options(pm, name, kind)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    for block in out:
        usage = SET_WITH[block["kind"]].format(name=name)
        click.echo(f"{block['kind']} {name}  (package {block['package']}; set with: {usage})")
        about = getattr(pm.get("fusion", name), "description", "") if block["kind"] == "fusion" else ""
        if about:
            click.echo(f"  {about}")
        rows: list[tuple[str, str, str, str]] = [("FIELD", "TYPE", "DEFAULT", "DESCRIPTION")]
        rows += [(r["field"], r["type"], _short(r["default"]), r["description"]) for r in block["fields"]]
        if len(rows) == 1:
            click.echo("  (no options)")
            continue
        echo_table(rows, indent="  ")


def _short(text: str, n: int = 40) -> str:
    """A long default (a list of models) cut for the table; `--json` has it whole."""
    return text if len(text) <= n else text[: n - 3] + "..."


@click.command()
@json_option()
def env(as_json: bool) -> None:
    """Versions, devices and plugins: what a bug report needs."""
    from sseft.core.environment import environment_report

    info = environment_report()
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    for k, v in info.items():
        click.echo(f"{k:<16} {v}")
