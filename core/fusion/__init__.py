"""SSE-FT fusion engine (N modalities).

Read in order: layers.py (attention layers) -> encoder.py (step 1, CLS) -> ima.py (step 2, the N(N-1)
IMA blocks) -> model.py (step 3 and the whole model) -> presets.py (Table 8 ablations) -> summary.py.
"""

from .model import SSEFTFusion
from .presets import apply_preset, table8_presets
from .summary import parameter_count, summary

__all__ = ["SSEFTFusion", "apply_preset", "parameter_count", "summary", "table8_presets"]
