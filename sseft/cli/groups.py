"""A click group that also holds the commands plugins register for it (`register_commands` hook),
looked up only when the group's commands are listed or one is called, so `sseft --help` stays fast;
`echo_table`, the commands' one way to print aligned columns; `comma_list`, their one way to
read a comma-separated option; and the options several commands share."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click


def plugin_commands(group: str | None) -> dict[str, click.Command]:
    from sseft.core.plugins import get_manager

    return get_manager().group_commands(group)


class PluginGroup(click.Group):
    """Built-in subcommands first, then the plugins' ones registered under this group's name."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *plugin_commands(self.name)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return super().get_command(ctx, cmd_name) or plugin_commands(self.name).get(cmd_name)


def echo_table(rows: Sequence[Sequence[str]], indent: str = "") -> None:
    """Rows as left-aligned columns (the first row the header; the last column is not padded)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo(
            (indent + "  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]])).rstrip()
        )


def comma_list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
    """A click callback: "a, b," -> ["a", "b"]; None when the option is not given."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


# Options every experiment command (train, ablate, sweep, demo) takes.
overrides_option = click.option(
    "--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a config field (repeatable)."
)


def output_dir_option(help_text: str) -> Callable[[Any], Any]:
    return click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), help=help_text)


def json_option(help_text: str = "Machine-readable output.") -> Callable[[Any], Any]:
    """`--json` (the command's `as_json` flag): print the data as JSON instead of text."""
    return click.option("--json", "as_json", is_flag=True, help=help_text)
