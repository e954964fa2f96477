"""Commands a plugin registers through `register_commands` with no group are top-level `sseft`
commands: listed by `sseft --help` (which stays torch-free) and run like built-ins; a built-in name
wins over a plugin's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_fake_distribution

TOP_LEVEL = """
import click
from sseft.core.hookspecs import hookimpl

@click.command("hello-top")
@click.argument("who")
def hello(who):
    "Say hello (a plugin's top-level command)."
    click.echo(f"hello {who}")

@click.command("train")
def fake_train():
    click.echo("plugin train")

@hookimpl
def register_commands(register):
    register(hello)
    register(fake_train)
"""

PROBE = """
import sys
from click.testing import CliRunner
from sseft.cli.main import cli
r = CliRunner().invoke(cli, ["--help"])
assert r.exit_code == 0, r.output
print(r.output)
print("HEAVY=" + ",".join(m for m in ("torch", "transformers") if m in sys.modules))
"""


def _env(root: Path) -> dict[str, str]:
    old = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *old])}


def test_a_plugins_top_level_command_is_listed_and_runs(tmp_path: Path) -> None:
    root = make_fake_distribution(tmp_path / "site", "sseft-top", {"top_mod": TOP_LEVEL}, {"top": "top_mod"})
    env = _env(root)
    helped = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert helped.returncode == 0, helped.stderr
    assert "hello-top" in helped.stdout and "a plugin's top-level command" in helped.stdout
    assert helped.stdout.rstrip().endswith("HEAVY="), helped.stdout  # --help still imports no torch
    ran = subprocess.run(
        [sys.executable, "-m", "sseft", "hello-top", "world"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ran.returncode == 0 and ran.stdout.strip() == "hello world", ran.stderr
    # a built-in keeps its name: the plugin's `train` does not replace `sseft train`
    builtin = subprocess.run(
        [sys.executable, "-m", "sseft", "train", "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert builtin.returncode == 0 and "plugin train" not in builtin.stdout and "--resume" in builtin.stdout
