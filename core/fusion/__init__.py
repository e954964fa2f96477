"""The fusion engine: every fusion is a plugin (`register_fusions`), built on one input path.

Read in order: base.py (`FusionModule`: the input path every fusion shares, standardise -> project
-> mask, and the `fuse` contract) -> build.py (plugin lookup, support checks) -> options.py (the
`fusion:` config section). SSE-FT: layers.py (attention layers) -> encoder.py (step 1, CLS) -> ima.py
(step 2, the N(N-1) IMA blocks) -> model.py (step 3 and the whole model) -> presets.py (Table 8
ablations) -> summary.py. The other built-in fusions: baselines.py (late-fusion, concat-pool),
tfn.py, lmf.py, mult.py. Imports torch lazily (the config side, options.py, needs none).
"""

from __future__ import annotations

from ..lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "FusionModule": ".base",
        "build_fusion": ".build",
        "SSEFTFusion": ".model",
        "apply_preset": ".presets",
        "table8_presets": ".presets",
        "parameter_count": ".summary",
        "summary": ".summary",
    },
)
