"""Exporting a plain run's model as an artifact directory and publishing it to the registry.

Core imports no registry (tests/core/test_layering.py): the caller hands over one that has
`save` and `publish` with the signatures of registry/api.py (the module itself fits).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

from ..training import tracking
from ..training.state import TrainResult


class ModelRegistry(Protocol):
    """What publishing needs from the registry (registry/api.py's `save` and `publish`)."""

    def save(
        self,
        model: Any,
        directory: str | os.PathLike[str],
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
        *,
        overwrite: bool = False,
    ) -> Path: ...

    def publish(
        self,
        source: Any,
        name: str,
        metrics: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
    ) -> str: ...


def export_and_publish(
    res: TrainResult, registry: ModelRegistry | None, export: bool, name: str | None
) -> tuple[list[str], str | None]:
    """Write <run>/model (unless `export` is off and nothing is published), publish it under `name`;
    the lines to report and the published reference (None: not published). Without a registry
    nothing is written."""
    if registry is None or not (export or name):
        return [], None
    artifact = registry.save(
        res.model, res.output_dir / "model", res.artifact_metrics, res.training, overwrite=True
    )
    if not name:
        return [f"model: {artifact}"], None
    reference = registry.publish(artifact, name)
    tracking.published(res.output_dir, str(reference))  # name@version on the run's tracker too
    return [f"model: {artifact}", f"registered: {reference}"], reference
