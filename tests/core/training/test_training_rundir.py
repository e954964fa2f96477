"""Run directories and checkpoints under faults: an existing run is never silently replaced, a second
training is locked out, a damaged checkpoint or a full/read-only disk gives one line naming the file
and what to do, and nothing half-written is left under a checkpoint name."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from trainhelpers import write_config

from sseft.cli.main import cli
from sseft.core.errors import storage_error
from sseft.core.training import checkpoint as ck


def run_train(cfg: Path, out: Path, *args: str):
    return CliRunner().invoke(cli, ["train", str(cfg), "--no-export", "--output-dir", str(out), *args])


def one_line(res, code: int = 2) -> str:
    """The one error line (the run's own progress lines on stdout may surround it)."""
    assert res.exit_code == code, res.output
    errors = [x for x in res.output.splitlines() if x.startswith("error: ")]
    assert "Traceback" not in res.output and len(errors) == 1, res.output
    return errors[0]


@pytest.fixture
def finished(tiny_store: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A finished 2-epoch run with a checkpoint after every step (3 per epoch), all kept."""
    cfg = write_config(
        tmp_path / "c.yaml", tiny_store, train={"epochs": 2, "checkpoint_every": 1, "keep_checkpoints": 10}
    )
    out = tmp_path / "run"
    res = run_train(cfg, out)
    assert res.exit_code == 0, res.output
    return cfg, out


def test_existing_run_is_refused_unless_resume_or_overwrite(finished: tuple[Path, Path]) -> None:
    cfg, out = finished
    before = (out / "metrics.jsonl").read_bytes()
    err = one_line(run_train(cfg, out))
    assert str(out) in err and "--resume" in err and "--overwrite" in err
    assert (out / "metrics.jsonl").read_bytes() == before  # untouched
    assert run_train(cfg, out, "--resume").exit_code == 0
    (out / "stale.txt").write_text("from the old run")
    assert run_train(cfg, out, "--overwrite").exit_code == 0
    assert not (out / "stale.txt").exists() and (out / "metrics.jsonl").read_bytes() == before


def test_second_training_on_the_same_directory_is_locked_out(tiny_store: Path, tmp_path: Path) -> None:
    from filelock import FileLock

    cfg = write_config(tmp_path / "c.yaml", tiny_store)
    out = tmp_path / "run"
    out.mkdir()
    holder = FileLock(str(out / ".lock"), timeout=0)  # what a running `sseft train` holds
    with holder:
        (out / ".lock").write_text("4242 somehost\n")
        err = one_line(run_train(cfg, out, "--overwrite"))
    assert "PID 4242 somehost" in err and str(out) in err
    assert list(out.iterdir()) == [out / ".lock"]  # the second run wrote nothing
    assert run_train(cfg, out).exit_code == 0  # once released, the directory is usable


def damage_truncate(f: Path) -> None:
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def damage_garbage(f: Path) -> None:
    f.write_bytes(b"\x80\x04garbage" * 8)


@pytest.mark.parametrize(
    ("name", "damage", "says"),
    [
        ("optimizer.bin", damage_truncate, "optimizer.bin is damaged"),
        ("scheduler.bin", damage_garbage, "scheduler.bin is damaged"),
        ("training_state.json", damage_garbage, "training_state.json is damaged"),
        ("custom_checkpoint_0.pkl", lambda f: f.unlink(), "custom_checkpoint_0.pkl is missing"),
        ("extra.pkl", lambda f: f.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR."), "unexpected file extra.pkl"),
    ],
)
def test_damaged_checkpoint_on_resume_is_one_line(
    finished: tuple[Path, Path], name: str, damage, says: str
) -> None:
    cfg, out = finished
    last = ck.latest_checkpoint(out / "checkpoints")
    assert last is not None and last.name == "ckpt-e0002-b0000000"
    damage(last / name)
    err = one_line(run_train(cfg, out, "--resume"))
    assert str(last) in err and says in err, err
    assert "ckpt-e0001-b0000002" in err and "--overwrite" in err  # resume from the one before, or afresh
    # Doing what it says works: without the damaged checkpoint, the run resumes from the previous one.
    shutil.rmtree(last)
    assert run_train(cfg, out, "--resume").exit_code == 0


def test_only_damaged_checkpoint_says_start_afresh(tiny_store: Path, tmp_path: Path) -> None:
    cfg = write_config(tmp_path / "c.yaml", tiny_store, train={"epochs": 1, "keep_checkpoints": 1})
    out = tmp_path / "run"
    assert run_train(cfg, out).exit_code == 0
    (only,) = ck.list_checkpoints(out / "checkpoints")
    damage_truncate(only / "model.safetensors")
    err = one_line(run_train(cfg, out, "--resume"))
    assert (
        "model.safetensors is damaged" in err
        and "start afresh with --overwrite" in err
        and "delete" not in err
    )


@pytest.mark.parametrize(("code", "hint"), [(errno.ENOSPC, "free disk space"), (errno.EROFS, "read-only")])
def test_disk_full_or_read_only_while_checkpointing(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, hint: str
) -> None:
    cfg = write_config(
        tmp_path / "c.yaml", tiny_store, train={"epochs": 2, "checkpoint_every": 2, "keep_checkpoints": 10}
    )
    out = tmp_path / "run"
    real = ck.atomic_write_json
    calls = {"n": 0}

    def fail_second_checkpoint(path: Path, data: object, **kwargs: Any) -> Path:
        if path.name == ck.STATE_FILE:
            calls["n"] += 1
            if calls["n"] == 2:  # the second checkpoint's state file: the disk refuses
                err = OSError(code, "simulated", str(path))
                raise storage_error(err, path) from err  # as core/files.py reports it
        return real(path, data, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(ck, "atomic_write_json", fail_second_checkpoint)
        err = one_line(run_train(cfg, out), code=1)
    assert ck.STATE_FILE in err and hint in err and "--resume` continues from ckpt-e0000-b0000002" in err, err
    ckpts = out / "checkpoints"
    assert not list(ckpts.glob(".tmp-*"))  # nothing half-written
    assert [p.name for p in ck.list_checkpoints(ckpts)] == ["ckpt-e0000-b0000002"]
    for p in ck.list_checkpoints(ckpts):
        ck.verify_checkpoint(p)  # what carries a checkpoint name is complete
    res = run_train(cfg, out, "--resume")  # after freeing space: continues from the previous one
    assert res.exit_code == 0 and "resumed from ckpt-e0000-b0000002" in res.output, res.output


def test_disk_full_while_writing_the_best_weights(
    tiny_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ck, "atomic_write_bytes", full)
    cfg = write_config(tmp_path / "c.yaml", tiny_store, train={"epochs": 1})
    out = tmp_path / "run"
    err = one_line(run_train(cfg, out), code=1)
    assert str(out / "best" / "model.safetensors") in err and "free disk space" in err, err
    assert not list((out / "best").glob("*.tmp"))
