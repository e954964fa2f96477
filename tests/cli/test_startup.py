"""The CLI starts fast: `sseft --help` and `sseft plugins` import neither torch nor transformers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sseft import __version__
from tests.conftest import run_cli

PROBE = """
import sys
from click.testing import CliRunner
from sseft.cli.main import cli
r = CliRunner().invoke(cli, {args!r})
assert r.exit_code == 0, r.output
heavy = sorted(m for m in ("torch", "transformers", "accelerate", "sklearn", "torchaudio") if m in sys.modules)
print("HEAVY=" + ",".join(heavy))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["plugins"], ["plugins", "--json"], ["plugins", "show", "face"]]
)
def test_light_commands_do_not_import_torch(args: list[str]) -> None:
    res = subprocess.run(
        [sys.executable, "-c", PROBE.format(args=args)], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert "HEAVY=\n" in res.stdout or res.stdout.strip().endswith("HEAVY="), res.stdout


def test_version_and_module_entry() -> None:
    res = run_cli("--version")
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["plugins", "--no-such-flag"], "No such option '--no-such-flag'; see `sseft plugins --help`"),
        (["--bogus"], "No such option '--bogus'; see `sseft --help`"),
        (["no-such-command"], "No such command 'no-such-command'; see `sseft --help`"),
        (["models", "publish"], "Missing argument 'DIRECTORY'; see `sseft models publish --help`"),
        (["models", "show", "nothing-here"], "unknown model 'nothing-here'"),
    ],
)
def test_user_errors_are_one_line_without_traceback(args: list[str], fragment: str) -> None:
    res = run_cli(*args)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stdout)
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], res.stderr
