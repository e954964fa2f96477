"""The CLI boundary: OS errors, `--debug` tracebacks, Ctrl-C.

An OSError that reaches `sseft` (not turned into an sseft error deeper down) is one line
`error: FILE: what happened; what to do`, exit 1; `--debug` shows the traceback instead;
Ctrl-C ends any command with "interrupted" and exit code 130.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import filelock
import pytest
from click.testing import CliRunner

from sseft.cli.main import cli
from sseft.registry.store import Registry
from tests.conftest import run_cli


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(
    ("err", "fragments"),
    [
        (OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)), ["No space left on device", "free disk space"]),
        (
            PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/models/refs.json"),
            ["/data/models/refs.json: Permission denied", "check the permissions"],
        ),
        (
            OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro"),
            ["/mnt/ro: Read-only file system", "choose a writable location"],
        ),
        (OSError(errno.EIO, os.strerror(errno.EIO)), ["Input/output error", "check the disk"]),
        (  # a registry lock another publisher holds: not a disk problem
            filelock.Timeout("/home/u/.sseft/.locks/demo.lock"),
            ["demo.lock' could not be acquired; another process holds this lock"],
        ),
    ],
)
def test_os_errors_at_the_boundary_are_one_line(monkeypatch, err: OSError, fragments: list[str]) -> None:
    def boom(self, pattern="*"):
        raise err

    monkeypatch.setattr(Registry, "list", boom)
    r = invoke("models", "list")
    lines = r.output.strip().splitlines()
    assert r.exit_code == 1 and len(lines) == 1 and lines[0].startswith("error: "), r.output
    assert all(f in lines[0] for f in fragments), lines[0]


def test_debug_shows_the_traceback() -> None:
    plain = run_cli("models", "show", "nothing-here")
    assert plain.returncode == 2 and "Traceback" not in plain.stderr
    assert len(plain.stderr.strip().splitlines()) == 1
    debug = run_cli("--debug", "models", "show", "nothing-here")
    assert debug.returncode != 0 and "Traceback (most recent call last)" in debug.stderr
    assert "UnknownNameError" in debug.stderr and "registry/store.py" in debug.stderr
    env = run_cli("models", "show", "nothing-here", env={"SSEFT_DEBUG": "1"})
    assert "Traceback (most recent call last)" in env.stderr


def test_keyboard_interrupt_exits_130(monkeypatch) -> None:
    def interrupted(self, pattern="*"):
        raise KeyboardInterrupt

    monkeypatch.setattr(Registry, "list", interrupted)
    r = invoke("models", "list")
    assert r.exit_code == 130 and r.output.strip() == "interrupted"


SLOW_GC = """
import signal, time
# A shell starts background jobs with SIGINT ignored, and Python then installs no KeyboardInterrupt
# handler; the test must not depend on how its runner was launched (CI may run in the background).
signal.signal(signal.SIGINT, signal.default_int_handler)
from sseft.registry.store import Registry
def slow(self):
    print("ready", flush=True)
    time.sleep(60)
Registry.gc = slow
from sseft.cli.main import main
main()
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGINT delivery is POSIX-only")
def test_real_ctrl_c_exits_130() -> None:
    """A real SIGINT (what Ctrl-C sends) to a running command: exit 130, one line, no traceback."""
    p = subprocess.Popen(
        [sys.executable, "-c", SLOW_GC, "models", "gc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert err.strip() == "interrupted" and "Traceback" not in err


def test_train_blames_bad_overrides_and_suggests_fields() -> None:
    from tests.conftest import REPO

    cfg = str(REPO / "configs" / "synthetic.yaml")
    r = invoke("train", cfg, "--set", "train.epochs=[1")
    assert r.exit_code == 2 and r.output.startswith("error: --set 'train.epochs=[1': the value"), r.output
    assert "synthetic.yaml" not in r.output
    r = invoke("train", cfg, "--set", "train.epoch=3")
    line = r.output.strip()
    assert r.exit_code == 2 and len(line.splitlines()) == 1, r.output
    assert "train.epoch: unknown field; did you mean 'epochs'? (from --set 'train.epoch=3')" in line


def test_a_closed_pipe_is_not_an_error() -> None:
    """`sseft plugins show synthetic | head -1`: the reader has left; no error line, no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody reads: the first write fails with EPIPE
    try:
        writer = subprocess.run(
            [sys.executable, "-m", "sseft", "plugins", "show", "synthetic"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert writer.returncode == 1 and writer.stderr == "", writer.stderr


def test_extract_on_a_full_disk_is_one_line_and_leaves_no_partial_file(tmp_path, monkeypatch) -> None:
    """ENOSPC while a feature shard is written: `error: SHARD: No space left on device; ...`, exit 1,
    and no temp file or cut shard left behind (atomic writes in sseft.core.files)."""
    import builtins

    from sseft.core import files as files_mod

    def full_disk_open(path, mode="r", *a, **k):
        f = builtins.open(path, mode, *a, **k)  # noqa: SIM115 - returned to the caller
        if "w" in mode and str(path).endswith(".tmp") and ".safetensors" in str(path):
            f.write(b"cut short")
            f.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return f

    monkeypatch.setattr(files_mod, "open", full_disk_open, raising=False)
    out = tmp_path / "store"
    r = invoke(
        "extract", "--dataset", "synthetic", "--set", "n_train=4", "--set", "n_valid=2", "--set", "n_test=2",
        "--out", str(out), "--no-progress",
    )  # fmt: skip
    lines = [x for x in r.output.strip().splitlines() if x.startswith("error: ")]
    assert r.exit_code == 1 and len(lines) == 1, r.output
    assert (
        f"{out}/shards/" in lines[0] and ".safetensors: No space left on device; free disk space" in lines[0]
    )
    assert "Traceback" not in r.output
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp") or p.suffix == ".safetensors"]
