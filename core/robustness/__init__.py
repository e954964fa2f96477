"""Robustness of trained models: missing modalities, noise curves on features and on raw media,
MultiBench's relative/effective robustness, and what each modality contributes.

    import sseft
    res = sseft.robustness("my-model", store="features/synthetic", out="rob/")
    print(res.summary())

Read in order: noise.py (feature-level noise), text_noise.py / media_noise.py (raw-level noise),
evaluate.py (forward + head metrics), features.py (missing subsets, curves), summary.py (areas),
bootstrap.py (paired comparison), raw.py (re-extraction per level), api.py (`robustness`), report.py (files).
Names are imported lazily (torch only when used).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "robustness": ".api",
    "compare_robustness": ".api",
    "RobustnessResult": ".api",
    "trapezoid": ".summary",
    "relative_robustness": ".summary",
    "effective_robustness": ".summary",
    "paired_bootstrap_area": ".bootstrap",
    "perturb": ".noise",
    "perturb_text": ".text_noise",
    "FEATURE_KINDS": ".noise",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
