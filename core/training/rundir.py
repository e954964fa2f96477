"""The run directory: one training at a time, never silently overwritten.

`claim_run_dir` takes an exclusive lock (`<run>/.lock`, holding the owner's PID) for the whole run,
so a second `sseft train` on the same directory stops with one line naming the holder. The lock
is an OS file lock (filelock): it dies with its process, so a SIGKILLed run leaves nothing stale.
An existing run is refused unless the caller resumes it or asks to overwrite it.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import Any

from ..errors import RunError, storage_error

LOCK_NAME = ".lock"


def _holder(lock_file: Path) -> str:
    try:
        return lock_file.read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire(out: Path) -> Any:
    from filelock import FileLock, Timeout

    lock_file = out / LOCK_NAME
    lock = FileLock(str(lock_file), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunError(
            f"{out}: another `sseft train` (PID {_holder(lock_file)}) is using this run directory; "
            "wait for it to finish or choose another --output-dir"
        ) from None
    # In place, not by rename: the lock is held on this very file.
    lock_file.write_text(f"{os.getpid()} {socket.gethostname()}\n", encoding="utf-8")
    return lock


def _check_existing(out: Path, resume: bool, overwrite: bool) -> None:
    """Refuse a non-empty directory unless resuming it; with overwrite, empty it first."""
    entries = [p for p in out.iterdir() if p.name != LOCK_NAME]
    if not entries or resume:
        return
    if not overwrite:
        raise RunError(
            f"{out}: a run directory already exists here; pass --resume to continue it, --overwrite to "
            "replace it, or choose another --output-dir"
        )
    for p in entries:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def claim_run_dir(accelerator: Any, out: Path, *, resume: bool, overwrite: bool) -> Any:
    """Main process: lock `out` and apply the resume/overwrite policy; every process then learns
    the outcome (an error raises on all of them, so none is left waiting). Returns the lock (main
    process) or None; release it with `release`."""
    from accelerate.utils import broadcast_object_list

    lock, error = None, None
    if accelerator.is_main_process:
        try:
            out.mkdir(parents=True, exist_ok=True)
            lock = _acquire(out)
            _check_existing(out, resume, overwrite)
        except RunError as e:
            error = str(e)
        except OSError as e:
            error = str(storage_error(e, out))
    if accelerator.num_processes > 1:
        box = [error]
        broadcast_object_list(box)
        error = box[0]
    if error is not None:
        release(lock)
        raise RunError(error)
    return lock


def release(lock: Any) -> None:
    if lock is not None:
        lock.release()
