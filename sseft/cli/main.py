"""`sseft` entry point: a click group whose subcommands live in small modules loaded on demand.

`sseft --help` and `sseft plugins` must not import torch or transformers (a test checks).
Every `SseftError` becomes one line `error: ...` and its exit code (2 for bad input); an OSError
that reaches this boundary (disk full, read-only filesystem, permissions) becomes one line
`error: FILE: what happened; what to do` and exit code 1; Ctrl-C exits 130 with "interrupted".
`--debug` (or SSEFT_DEBUG=1) shows the full traceback instead.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import sys
import traceback
from typing import Any

import click

from sseft import __version__
from sseft.core.errors import SseftError, storage_error

# name -> "module:attribute"; each module defines one click command or group.
SUBCOMMANDS: dict[str, str] = {
    "plugins": "sseft.cli.info:plugins",
    "env": "sseft.cli.info:env",
    "train": "sseft.cli.train:train_command",
    "evaluate": "sseft.cli.train:evaluate",
    "ablate": "sseft.cli.train:ablate",
    "features": "sseft.cli.features:features",
    "extract": "sseft.cli.extract:extract",
    "models": "sseft.cli.models:models",
    "data": "sseft.cli.data:data",
    "convert": "sseft.cli.data:convert",
    "predict": "sseft.cli.predict:predict",
    "demo": "sseft.cli.demo:demo",
    "robustness": "sseft.cli.robustness:robustness_command",
    "compare": "sseft.cli.compare:compare",
    "sweep": "sseft.cli.sweep:sweep",
    "serve": "sseft.cli.serve:serve",
}


class _EchoHandler(logging.Handler):
    """Warnings of sseft's loggers as `warning: ...` lines on stderr (click's current stderr, so
    that CliRunner and pipes see them too)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        except Exception:  # a logging call must never take the command down
            self.handleError(record)


def _setup_logging() -> None:
    logger = logging.getLogger("sseft")
    if not any(isinstance(h, _EchoHandler) for h in logger.handlers):
        handler = _EchoHandler(logging.WARNING)
        logger.addHandler(handler)
        logger.propagate = False  # printed once, by us


class OneLineUsageError(click.UsageError):
    """A click usage error (unknown option, missing argument...) shown as one `error:` line that
    names the command's --help, like every other sseft error."""

    def __init__(self, err: click.UsageError) -> None:
        super().__init__(err.format_message(), err.ctx)  # exit code 2, as click's

    def show(self, file: Any = None) -> None:
        where = f"; see `{self.ctx.command_path} --help`" if self.ctx is not None else ""
        click.secho(f"error: {self.format_message().rstrip('.')}{where}", fg="red", err=True)


def _one_line(e: click.UsageError) -> click.UsageError:
    # A group run without a subcommand shows its help (click's NoArgsIsHelpError): keep that.
    if isinstance(e, OneLineUsageError) or type(e).__name__ == "NoArgsIsHelpError":
        return e
    return OneLineUsageError(e)


class LazyGroup(click.Group):
    """Imports a subcommand's module only when that subcommand is listed or run; then the top-level
    commands plugins register (`register_commands`, group None; a built-in name wins)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        from .groups import plugin_commands

        return sorted({*(n for n in SUBCOMMANDS if self._load(n) is not None), *plugin_commands(None)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from .groups import plugin_commands

        return self._load(cmd_name) or plugin_commands(None).get(cmd_name)

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

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            raise _one_line(e) from None

    def invoke(self, ctx: click.Context) -> Any:
        def debug() -> bool:  # read after the group's callback has parsed --debug
            return bool(ctx.obj and ctx.obj.get("debug")) or os.environ.get("SSEFT_DEBUG") == "1"

        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            raise _one_line(e) from None
        except SseftError as e:
            if debug():
                raise
            click.secho(f"error: {e}", fg="red", err=True)
            sys.exit(e.exit_code)
        except RuntimeError as e:  # a multi-process job that lost one of its processes: one line
            from sseft.core.extraction.distributed import peer_lost

            lost = peer_lost(e)
            if lost is None or debug():
                raise
            click.secho(f"error: {lost}", fg="red", err=True)
            sys.exit(lost.exit_code)
        except BrokenPipeError:  # `sseft models list | head`: the reader left; nothing to report
            with contextlib.suppress(OSError, ValueError, AttributeError):  # exit's flush must not fail again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as e:  # the disk or the OS refused: one line, not a traceback
            if debug():
                raise
            err = storage_error(e)
            click.secho(f"error: {err}", fg="red", err=True)
            sys.exit(err.exit_code)
        except KeyboardInterrupt:
            if debug():
                traceback.print_exc()
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
    _setup_logging()
    if debug:
        os.environ["SSEFT_DEBUG"] = "1"


def main() -> None:
    cli(prog_name="sseft")


if __name__ == "__main__":
    main()
