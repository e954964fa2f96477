"""Process layout of an extraction job: one process (`sseft extract`) or many (`accelerate launch ...
-m sseft extract`). Accelerate's `PartialState` tells the rank, world size and device; nothing here
is home-made distributed machinery beyond small files for live progress.

Work split: the item list, in the length order every process computes alike (batching.py), is cut
into fixed batches (batch k = the k-th B items of that order) and batch k goes to the process with
rank k % world_size. Batches are identical whatever the number of processes, so
N processes compute exactly the tensors one process computes.

Several machines: a lost process (a killed machine, a broken link) makes the other processes'
next collective fail (gloo/NCCL raise at once on a closed connection) or, when nothing answers,
time out after `SSEFT_DIST_TIMEOUT` seconds (default 600; `process_group_timeout`). `peer_lost`
turns that error into one line for the command-line boundary.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..errors import ConfigError, RunError
from ..files import atomic_write_json

PROGRESS_DIR = ".extract"
TIMEOUT_ENV = "SSEFT_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 600.0
# Messages of the errors gloo, NCCL and the c10d store raise when another process is gone.
_PEER_SIGNS = ("connection reset by peer", "connection closed by peer", "broken pipe", "timed out",
               "timeout", "connection refused", "socket", "nccl communicator was aborted")  # fmt: skip


def process_group_timeout() -> timedelta:
    """How long a collective (all-reduce, barrier, broadcast) waits for the other processes before
    it fails: `SSEFT_DIST_TIMEOUT` seconds, default 600 (torch's own default is 30 minutes)."""
    raw = os.environ.get(TIMEOUT_ENV)
    if raw is None or not raw.strip():
        return timedelta(seconds=DEFAULT_TIMEOUT_S)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"{TIMEOUT_ENV}={raw!r}: expected a number of seconds > 0, e.g. {TIMEOUT_ENV}=300")
    return timedelta(seconds=seconds)


def process_group_kwargs() -> dict[str, Any]:
    """Keyword arguments for the first `PartialState(...)` of a process (it is a singleton: the
    first one sets up the process group, later ones reuse it)."""
    return {"timeout": process_group_timeout()}


def accelerator_handlers() -> list[Any]:
    """`Accelerator(kwargs_handlers=...)` carrying the same process-group timeout."""
    from accelerate.utils import InitProcessGroupKwargs

    return [InitProcessGroupKwargs(timeout=process_group_timeout())]


def peer_lost(err: BaseException) -> RunError | None:
    """One line for a collective that failed because another process of a multi-process job is
    gone or silent; None for any other error (and in a single process)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or not isinstance(err, RuntimeError):
        return None
    text = str(err)
    first = text.strip().splitlines()[0] if text.strip() else type(err).__name__
    if type(err).__module__.startswith("torch.distributed") or any(s in first.lower() for s in _PEER_SIGNS):
        rank, world = os.environ.get("RANK", "?"), os.environ.get("WORLD_SIZE", "?")
        # gloo prefixes its source file and line and appends advice that does not fit here
        reason = first.split("] ", 1)[-1].split(". ", 1)[0][:200]
        return RunError(
            f"process {rank} of {world}: another process of this job stopped or stopped answering "
            f"({reason}); nothing half-written is kept: start the same command again on every machine "
            f"(sseft train: with --resume); collectives wait {process_group_timeout().total_seconds():g} s "
            f"({TIMEOUT_ENV})"
        )
    return None


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    device: str = "cpu"
    _state: Any = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self._state is not None and self.world > 1:
            self._state.wait_for_everyone()

    def broadcast(self, obj: Any) -> Any:
        """The main process's `obj` on every process."""
        if self.world == 1:
            return obj
        from accelerate.utils import broadcast_object_list

        return broadcast_object_list([obj])[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every process's `obj`, in rank order, on every process."""
        if self.world == 1:
            return [obj]
        from accelerate.utils import gather_object

        return gather_object([obj])


def dist_context(device: str | None = None) -> DistContext:
    """Rank/world/device from Accelerate (a single process when not launched by it)."""
    import torch
    from accelerate import PartialState

    # Without a GPU, accelerate only forms a multi-process (gloo) group when told to use the CPU.
    on_cpu = device == "cpu" or (device is None and not torch.cuda.is_available())
    state = PartialState(cpu=on_cpu, **process_group_kwargs())
    dev = device or str(state.device)  # accelerate already picks this process's own GPU
    return DistContext(rank=state.process_index, world=state.num_processes, device=dev, _state=state)


def threads_per_process(world: int, requested: int | None = None) -> int:
    """CPU threads for torch in each process: the cores this process may use, shared by all processes."""
    if requested:
        return requested
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, world))


class Progress:
    """One tqdm bar on the main process for the whole job; other processes report through small
    JSON files (<store>/.extract/progress-<rank>.json) that a thread on the main process polls."""

    def __init__(self, total: int, ctx: DistContext, root: Path, token: str, enabled: bool = True) -> None:
        self.ctx, self.token = ctx, token
        self.dir = root / PROGRESS_DIR
        self.counts = {"done": 0, "skipped": 0, "failed": 0}
        self._last_write = 0.0
        self._stop = threading.Event()
        self.bar = None
        self._shown = 0
        if ctx.world > 1:
            self.dir.mkdir(parents=True, exist_ok=True)
        if ctx.is_main and enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="item", desc="extract", dynamic_ncols=True, smoothing=0.1)
            if ctx.world > 1:
                self._thread = threading.Thread(target=self._poll, daemon=True)
                self._thread.start()

    def report(self, done: int = 0, skipped: int = 0, failed: int = 0, force: bool = False) -> None:
        c = self.counts
        c["done"] += done
        c["skipped"] += skipped
        c["failed"] += failed
        if self.ctx.world == 1 or self.ctx.is_main:
            self._refresh()
            return
        now = time.monotonic()
        if force or now - self._last_write > 0.5:
            self._last_write = now
            atomic_write_json(self.dir / f"progress-{self.ctx.rank}.json", {"token": self.token, **c})

    def _total_seen(self) -> int:
        n = sum(self.counts.values())
        if self.ctx.world > 1:
            for r in range(1, self.ctx.world):
                try:
                    d = json.loads((self.dir / f"progress-{r}.json").read_text())
                except (OSError, ValueError):
                    continue
                if d.get("token") == self.token:
                    n += d["done"] + d["skipped"] + d["failed"]
        return n

    def _refresh(self) -> None:
        if self.bar is None:
            return
        n = self._total_seen()
        if n > self._shown:
            self.bar.update(n - self._shown)
            self._shown = n
        self.bar.set_postfix(failed=self.counts["failed"], refresh=False)

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self._refresh()

    def close(self, final: int | None = None) -> None:
        """Stop polling; `final` (main process): the job's total from the gathered counts."""
        self._stop.set()
        if self.ctx.world > 1 and not self.ctx.is_main:
            self.report(force=True)
        if self.bar is not None:
            self._refresh()
            if final is not None and final > self._shown:
                self.bar.update(final - self._shown)
                self._shown = final
            self.bar.close()
            self.bar = None
