"""Checkpoints that are never half-written, with rotation, plus the best model's weights.

A checkpoint is Accelerate's `save_state` directory plus `training_state.json` (epoch, batch
position, counters, history). It is written into `.tmp-<name>` and renamed into place only when
complete, so a run killed at any moment leaves either the previous checkpoints or the new one,
never a partial directory under a checkpoint name. Names sort in training order:
`ckpt-e<epoch to continue in>-b<batches already done in it>`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

STATE_FILE = "training_state.json"
NAME_RE = re.compile(r"^ckpt-e(\d{4})-b(\d{7})$")


def checkpoint_name(epoch: int, batches_done: int) -> str:
    return f"ckpt-e{epoch:04d}-b{batches_done:07d}"


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoints under `root`, oldest first (temp directories are ignored)."""
    r = Path(root)
    if not r.is_dir():
        return []
    done = [p for p in r.iterdir() if p.is_dir() and NAME_RE.match(p.name) and (p / STATE_FILE).is_file()]
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


def _write_json_durable(path: Path, data: Any) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())


def save_checkpoint(accelerator: Any, root: str | Path, name: str, state: dict[str, Any], keep: int) -> Path:
    """Every process calls this (Accelerate writes per-process RNG files); the main process
    writes the state file, renames the directory into place and rotates old checkpoints."""
    r = Path(root)
    tmp, final = r / f".tmp-{name}", r / name
    if accelerator.is_main_process:
        r.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        _write_json_durable(tmp / STATE_FILE, state)
        if final.exists():  # the same position saved twice (resumed run): replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync_dir(r)
        for old in list_checkpoints(r)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def load_checkpoint(accelerator: Any, path: Path) -> dict[str, Any]:
    """Restore model/optimizer/scheduler state and return the training state dict."""
    accelerator.load_state(str(path))
    return json.loads((path / STATE_FILE).read_text(encoding="utf-8"))


def save_weights(state_dict: dict[str, Any], path: str | Path, meta: dict[str, Any]) -> None:
    """Atomically write a state dict as safetensors (plus a JSON sidecar with `meta`)."""
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".tmp")
    save_file(
        {k: v.detach().cpu().clone().contiguous() for k, v in state_dict.items()}, str(tmp), {"format": "pt"}
    )
    os.replace(tmp, p)
    side = p.with_suffix(".json")
    tmp_side = side.with_name(side.name + ".tmp")
    _write_json_durable(tmp_side, meta)
    os.replace(tmp_side, side)


def load_weights(path: str | Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
