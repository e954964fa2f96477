"""Functions run in child processes (multiprocessing spawn). No torch import: children start fast."""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any


def publish_after_barrier(home: str, src: str, name: str, barrier: Any, out: Any) -> None:
    """Wait for every publisher, then publish `src` as `name`; report the reference on `out`."""
    os.environ["SSEFT_HOME"] = home
    from sseft.registry.store import Registry

    barrier.wait(timeout=60)
    out.put(Registry().publish_dir(src, name).ref)


def publish_held_at_commit(
    home: str, src: str, name: str, gate: Any, numbered: Any, out: Any, hold_s: float
) -> None:
    """Publish `src` as `name`, held twice through the fault hook: every publisher waits at
    "fsynced" until all are ready to commit, so they reach the name's lock together; then each
    waits at "numbered" (version picked, not yet renamed) until all have picked one or `hold_s`
    passes. With the per-name lock only one publisher is ever past the lock, so that second wait
    times out once and breaks; without it all of them pick the same number while the others wait,
    and all but one fail to rename: deterministically, not by luck of timing."""
    os.environ["SSEFT_HOME"] = home
    from sseft.registry import store

    def hook(step: str) -> None:
        if step == "fsynced":
            gate.wait(timeout=120)
        elif step == "numbered":
            # with the lock one publisher at a time gets here: the wait times out and breaks
            with contextlib.suppress(threading.BrokenBarrierError):
                numbered.wait(timeout=hold_s)

    store.FAULT_HOOK = hook
    try:
        out.put(store.Registry().publish_dir(src, name).ref)
    except Exception as e:
        out.put(f"error: {type(e).__name__} {e}")
        raise


def publish_and_die_at(home: str, src: str, name: str, step: str) -> None:
    """Publish, but kill the process hard (no cleanup, no finally) when `step` is reached."""
    os.environ["SSEFT_HOME"] = home
    from sseft.registry import store

    def hook(s: str) -> None:
        if s == step:
            os._exit(17)

    store.FAULT_HOOK = hook
    store.Registry().publish_dir(src, name)
