"""The state of one training run while it runs: what setup() builds and fit()/finish() use."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .state import TrainState

EpochCallback = Callable[[int, dict[str, Any]], bool]


@dataclass
class Run:
    """What setup() builds and fit()/finish() use."""

    cfg: Any  # ExperimentConfig
    out: Path
    accelerator: Any
    store: Any
    mcfg: Any  # ModelConfig
    model: Any
    optimizer: Any
    scheduler: Any
    loaders: dict[str, Any]  # train, valid, test (prepared)
    sampler: Any  # EpochSetter: the train loader's own batch sampler (Accelerate wraps the loader)
    ids: dict[str, list[str]]  # role -> item ids, in loader order
    state: TrainState
    custom_ids: bool = False  # split_ids replaced the store's splits
    lock: Any = None
    started_at: tuple[int, int] = (0, 0)
    resumed_from: str | None = None
    batches_run: int = 0
    steps_run: int = 0
    bar: Any = None
    t0: float = field(default_factory=time.perf_counter)

    @property
    def head(self) -> Any:
        return self.accelerator.unwrap_model(self.model).head

    @property
    def best_path(self) -> Path:
        return self.out / "best" / "model.safetensors"

    def say(self, msg: str) -> None:
        self.accelerator.print(msg)
