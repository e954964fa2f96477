"""Robustness of trained models: missing modalities, noise curves on features and on raw media,
MultiBench's relative/effective robustness, and what each modality contributes.

    from sseft.core.robustness import RobustnessConfig, run_robustness
    res = run_robustness(model, "features/synthetic", RobustnessConfig(out="rob/"))  # model: an SseftModel
    print(res.summary())

`sseft.robustness` (sseft/api.py) also takes registry names, directories and keyword options, and
adds the audio/video raw noise (plugins/modalities/raw_noise.py); core imports no plugin and no
registry. Read in order: config.py (the options), noise.py (feature-level noise), text_noise.py
(text noise), raw_inputs.py (raw items, perturbers, re-extraction),
evaluate.py (forward + head metrics), features.py (missing subsets, curves), summary.py (areas),
bootstrap.py (paired comparison), raw.py (re-extraction per level), api.py (`run_robustness`), report.py (files).
Names are imported lazily (torch only when used).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .api import RobustnessResult, run_robustness  # noqa: F401
    from .bootstrap import paired_bootstrap_area  # noqa: F401
    from .config import RobustnessConfig  # noqa: F401
    from .noise import FEATURE_KINDS, perturb  # noqa: F401
    from .raw_inputs import RawNoise, TextNoise  # noqa: F401
    from .summary import effective_robustness, relative_robustness, trapezoid  # noqa: F401
    from .text_noise import perturb_text  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        ".api": ("run_robustness", "RobustnessResult"),
        ".raw_inputs": ("RawNoise", "TextNoise"),
        ".config": ("RobustnessConfig",),
        ".summary": ("trapezoid", "relative_robustness", "effective_robustness"),
        ".bootstrap": ("paired_bootstrap_area",),
        ".noise": ("perturb", "FEATURE_KINDS"),
        ".text_noise": ("perturb_text",),
    },
)
