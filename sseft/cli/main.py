"""`sseft` entry point: a click group whose subcommands live in small modules loaded on demand.

`sseft --help` and `sseft plugins` must not import torch or transformers (a test checks).
Every `SseftError` becomes one line `error: ...` and exit code 2; `--debug` shows the traceback.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from sseft import __version__
from sseft.core.errors import SseftError

# name -> "module:attribute"; each module defines one click command or group.
SUBCOMMANDS: dict[str, str] = {
    "plugins": "sseft.cli.info:plugins",
    "env": "sseft.cli.info:env",
    "train": "sseft.cli.train:train",
    "evaluate": "sseft.cli.train:evaluate",
    "ablate": "sseft.cli.train:ablate",
    "features": "sseft.cli.features:features",
    "extract": "sseft.cli.extract:extract",
    "models": "sseft.cli.models:models",
    "data": "sseft.cli.data:data",
    "convert": "sseft.cli.data:convert",
    "predict": "sseft.cli.predict:predict",
    "demo": "sseft.cli.demo:demo",
    "compare": "sseft.cli.compare:compare",
    "sweep": "sseft.cli.sweep:sweep",
}


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand is listed or run."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(n for n in SUBCOMMANDS if self._load(n) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        mod_name, attr = target.split(":")
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError as e:
            if e.name == mod_name:  # command not implemented in this build
                return None
            raise
        return getattr(mod, attr)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SseftError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.secho(f"error: {e}", fg="red", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="sseft")
@click.option("--debug", is_flag=True, envvar="SSEFT_DEBUG", help="Show full tracebacks on errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """sseft: fuse speech, text, faces (and more) with SSE-FT; train, register and load models."""
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if debug:
        os.environ["SSEFT_DEBUG"] = "1"


def main() -> None:
    cli(prog_name="sseft")


if __name__ == "__main__":
    main()
