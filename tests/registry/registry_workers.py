"""Functions run in child processes (multiprocessing spawn). No torch import: children start fast."""

from __future__ import annotations

import os
from typing import Any


def publish_after_barrier(home: str, src: str, name: str, barrier: Any, out: Any) -> None:
    """Wait for every publisher, then publish `src` as `name`; report the reference on `out`."""
    os.environ["SSEFT_HOME"] = home
    from sseft.registry.store import Registry

    barrier.wait(timeout=60)
    out.put(Registry().publish_dir(src, name).ref)


def publish_and_die_at(home: str, src: str, name: str, step: str) -> None:
    """Publish, but kill the process hard (no cleanup, no finally) when `step` is reached."""
    os.environ["SSEFT_HOME"] = home
    from sseft.registry import store

    def hook(s: str) -> None:
        if s == step:
            os._exit(17)

    store.FAULT_HOOK = hook
    store.Registry().publish_dir(src, name)
