"""Checkpoints that are never half-written and are checked before anything in them is unpickled.

A checkpoint is Accelerate's `save_state` directory (model.safetensors, optimizer.bin,
scheduler.bin, random_states_<rank>.pkl, custom_checkpoint_0.pkl = the TrainState) plus
`training_state.json` (the same state, readable) and `checksums.json` (sha256 of every file),
written last. The directory is written as `.tmp-<name>` and renamed into place when complete, so
a run killed at any moment leaves the previous checkpoints or the new one, never a partial
directory under a checkpoint name. Names sort in training order:
`ckpt-e<epoch to continue in>-b<batches already done in it>`.

Accelerate unpickles the RNG and custom-state files with `weights_only=False`; `verify_checkpoint` therefore
refuses, before `load_state`, any file the checksums do not list or whose content changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from ..errors import RunError, SseftError, StorageError, storage_error
from ..files import atomic_write_bytes, atomic_write_json, fsync_dir, sha256_file

STATE_FILE = "training_state.json"
SUMS_FILE = "checksums.json"
BEST_FILE = "best.safetensors"
NAME_RE = re.compile(r"ckpt-e(\d{4})-b(\d{7})")


def checkpoint_name(epoch: int, batches_done: int) -> str:
    return f"ckpt-e{epoch:04d}-b{batches_done:07d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (temp directories are ignored)."""
    r = Path(root)
    if not r.is_dir():
        return []
    done = [p for p in r.iterdir() if p.is_dir() and NAME_RE.fullmatch(p.name) and (p / SUMS_FILE).is_file()]
    return sorted(done, key=lambda p: p.name)


def latest_checkpoint(root: str | Path) -> Path | None:
    ckpts = list_checkpoints(root)
    return ckpts[-1] if ckpts else None


def clean_temp(root: str | Path) -> None:
    """Remove leftovers of a save that was interrupted (main process only)."""
    r = Path(root)
    if r.is_dir():
        for p in r.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)


def _finalize(tmp: Path, final: Path, state: dict[str, Any], keep: int, best: Path | None) -> None:
    """Main process: state file, best weights so far, checksums (last: they mark the checkpoint
    complete), rename, rotate."""
    atomic_write_json(tmp / STATE_FILE, state, indent=1)
    if best is not None and best.is_file():
        # A resumed run must not keep best weights of an epoch after its checkpoint (a hard link:
        # the best file is replaced by rename, never rewritten in place).
        try:
            os.link(best, tmp / BEST_FILE)
        except OSError:
            shutil.copy2(best, tmp / BEST_FILE)
    sums = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
    atomic_write_json(tmp / SUMS_FILE, sums, indent=1)
    if final.exists():  # the same position saved twice (a resumed run): replace it
        shutil.rmtree(final)
    os.replace(tmp, final)  # a whole directory: complete under its name, or not there
    fsync_dir(final.parent)
    for old in list_checkpoints(final.parent)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def save_checkpoint(
    accelerator: Any, root: str | Path, name: str, state: dict[str, Any], keep: int, best: Path | None = None
) -> Path:
    """Every process calls this (Accelerate writes per-process RNG files). An OS error on any
    process (full or read-only disk) removes the temp directory and raises RunError on all."""
    import torch

    r = Path(root)
    tmp, final = r / f".tmp-{name}", r / name
    failure: OSError | None = None
    try:
        if accelerator.is_main_process:
            r.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(tmp, ignore_errors=True)
        accelerator.wait_for_everyone()
        accelerator.save_state(str(tmp))
    except OSError as e:
        failure = e
    # Every process learns whether any failed before the main one renames anything.
    failed = accelerator.reduce(torch.tensor([float(failure is not None)]), "sum")
    if float(failed[0]) == 0 and accelerator.is_main_process:
        try:
            _finalize(tmp, final, state, keep, best)
        except OSError as e:
            failure = e
        except StorageError as e:  # an atomic write refused by the OS (its OSError is the cause)
            failure = e.__cause__ if isinstance(e.__cause__, OSError) else OSError(str(e))
    failed = accelerator.reduce(torch.tensor([float(failure is not None)]), "sum")
    if float(failed[0]) > 0:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(failure, tmp, r)
    accelerator.wait_for_everyone()
    return final


def _write_error(e: OSError | None, tmp: Path, root: Path) -> SseftError:
    """One line naming the file the OS refused and what to do; the previous checkpoints stay."""
    prev = latest_checkpoint(root)
    then = f"then `--resume` continues from {prev.name}" if prev else "then start the run again"
    if e is None:
        return RunError(f"{tmp}: another process could not write its part of the checkpoint; {then}")
    return storage_error(e, tmp, then)


def _damaged(path: Path, what: str) -> RunError:
    older = [p for p in list_checkpoints(path.parent) if p.name < path.name]
    if older:
        todo = f"delete {path} and `--resume` again to continue from {older[-1].name}, or start afresh with --overwrite"
    else:
        todo = "start afresh with --overwrite"
    return RunError(f"{path}: {what}; {todo}")


def verify_checkpoint(path: Path) -> None:
    """Refuse a checkpoint whose files differ from the checksums written with it."""
    try:
        sums = json.loads((path / SUMS_FILE).read_text(encoding="utf-8"))
        if not isinstance(sums, dict):
            raise ValueError("not a mapping")
    except (OSError, ValueError) as e:
        raise _damaged(path, f"{SUMS_FILE} is unreadable ({e})") from None
    present = {p.name for p in path.iterdir() if p.name != SUMS_FILE}
    extra = sorted(present - set(sums))
    if extra:
        raise _damaged(path, f"unexpected file {extra[0]} (not written by sseft; it is never unpickled)")
    for name, digest in sums.items():
        f = path / name
        if not f.is_file():
            raise _damaged(path, f"{name} is missing")
        if sha256_file(f) != digest:
            raise _damaged(path, f"{name} is damaged (its checksum differs from the one saved with it)")
    try:
        json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise _damaged(path, f"{STATE_FILE} is unreadable ({e})") from None


def load_checkpoint(accelerator: Any, path: Path) -> None:
    """Check the files, then restore model/optimizer/scheduler/RNG and the registered TrainState."""
    verify_checkpoint(path)
    try:
        accelerator.load_state(str(path))
    except RunError as e:
        raise _damaged(path, str(e)) from None
    except Exception as e:  # a file that passed its checksum but does not fit this model/optimizer
        raise _damaged(path, f"cannot be restored ({type(e).__name__}: {str(e)[:200]})") from None


def restore_best(path: Path, best: Path) -> None:
    """Put the checkpoint's copy of the best weights back in place (main process)."""
    src = path / BEST_FILE
    if not src.is_file():
        best.unlink(missing_ok=True)
        return
    atomic_write_bytes(best, src.read_bytes())


def save_weights(state_dict: dict[str, Any], path: str | Path, meta: dict[str, Any]) -> None:
    """Atomically write a state dict as safetensors (plus a JSON sidecar with `meta`)."""
    from safetensors.torch import save

    p = Path(path)
    tensors = {k: v.detach().cpu().clone().contiguous() for k, v in state_dict.items()}
    try:
        atomic_write_bytes(p, save(tensors, {"format": "pt"}))
    except OSError as e:
        raise storage_error(e, p, "the previous best weights are unchanged") from None
    atomic_write_json(p.with_suffix(".json"), meta, indent=1)


def read_weights(path: str | Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))
