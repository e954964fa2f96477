"""What a saved model artifact says about itself, kept beside the network it rebuilds.

`registry/artifact.py` fills an `ArtifactInfo` from the artifact's config.json when it loads one and
sets it as the model's declared `SseftModel.artifact_info` attribute (None for a model built or
trained in this process). No torch here: the registry lists and verifies artifacts without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class ArtifactInfo:
    """An artifact's metadata: where it was loaded from, its metrics, training record, package and
    plugin versions, checksums; `name`/`version`/`source` when it was resolved from the registry."""

    path: Path
    format_version: int
    created: str
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, str] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    label_names: list[str] = field(default_factory=list)
    task: str = ""
    # Set when the artifact was loaded from the registry by name.
    name: str | None = None
    version: int | None = None
    source: str = "directory"
