"""`sseft.robustness(...)`: core's robustness (sseft.core.robustness.api) with models given by
registry name, artifact directory or run directory, and the audio/video raw noise added.

    import sseft
    res = sseft.robustness("meld-text", store="features/meld", split="test", out="rob/")
    print(res.summary())

Core never resolves registry names nor imports a concrete plugin; this wrapper does both.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sseft.core.robustness.api import RobustnessResult


def load_model(ref: Any, device: str = "cpu") -> Any:
    """A model object as is; a registry reference or artifact directory loaded with `sseft.load`; a
    run directory (holding `model/config.json`) loads its exported model."""
    if not isinstance(ref, (str, os.PathLike)):
        return ref
    import sseft

    p = Path(ref)
    if p.is_dir() and not (p / "config.json").is_file() and (p / "model" / "config.json").is_file():
        ref = p / "model"
    return sseft.load(ref, device=device)


def robustness(model: Any, store: Any, split: str = "test", **kwargs: Any) -> RobustnessResult:
    """See `sseft.core.robustness.api.robustness` (same arguments); `model`, `baseline` and
    `compare` may also be registry names or directories."""
    from sseft.core.robustness.api import robustness as run

    from .robustness_media import media_perturbers

    device = kwargs.get("device", "cpu")
    for role in ("baseline", "compare"):
        if kwargs.get(role) is not None:
            kwargs[role] = load_model(kwargs[role], device)
    kwargs.setdefault("raw_noise", media_perturbers())
    return run(load_model(model, device), store, split, **kwargs)


def compare_robustness(
    model_a: Any, model_b: Any, store: Any, split: str = "test", **kwargs: Any
) -> dict[str, Any]:
    """The paired bootstrap (over items) of the curve-area difference A - B on the same noise."""
    return robustness(model_a, store, split, compare=model_b, **kwargs).data["compare"]
