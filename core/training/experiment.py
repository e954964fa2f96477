"""Loading an experiment config: file + `--set` overrides, relative paths resolved against the file."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ..config import apply_overrides, read_mapping, validate
from .config import ExperimentConfig


def load_experiment(path: str | Path, overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Read CONFIG, apply `--set a.b=c`, validate.

    A relative `data.store` in the file resolves against the file's folder; one given with
    `--set data.store=...` against the current directory."""
    p = Path(path)
    overrides = list(overrides)
    data = apply_overrides(read_mapping(p), overrides)
    cfg = validate(ExperimentConfig, data, source=str(p), overrides=overrides)
    store = Path(cfg.data.store).expanduser()
    if not store.is_absolute():
        # A path typed on the command line is relative to where the user stands.
        base = Path.cwd() if any(o.strip().startswith("data.store=") for o in overrides) else p.parent
        cfg.data.store = str((base / store).resolve())
    return cfg
