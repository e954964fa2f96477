"""Robustness of trained models: missing modalities, noise curves on features and on raw media,
MultiBench's relative/effective robustness, and what each modality contributes.

    from sseft.core.robustness import robustness
    res = robustness(model, store="features/synthetic", out="rob/")   # model: an SseftModel
    print(res.summary())

`sseft.robustness` (sseft/robustness_api.py) also takes registry names and directories and adds
the audio/video raw noise (sseft/robustness_media.py); core imports no plugin and no registry.
Read in order: noise.py (feature-level noise), text_noise.py (text noise), raw_inputs.py (raw
items, perturbers, re-extraction),
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
    "RawNoise": ".raw_inputs",
    "TextNoise": ".raw_inputs",
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
