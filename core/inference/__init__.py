"""Prediction with a trained model: raw inputs -> the model's own extractors -> fusion -> head.

    from sseft.core.inference import Predictor
    p = Predictor(sseft.load("meld-emotion"), allow_missing=True)
    print(p.predict(text="I can't believe it!", video="clip.mp4").summary())

Read in order: inputs.py (which input feeds which modality; rebuilding extractors from fingerprints)
-> prediction.py (the `Prediction` record) -> predictor.py (`Predictor`) -> requests.py (one item's
inputs, a manifest's rows) -> batch.py (CSV batch prediction, resumable) -> explain.py (attention
plots). Imports torch lazily.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "Predictor": ".predictor",
    "model_ref": ".predictor",
    "trained_with_modality_dropout": ".predictor",
    "Prediction": ".prediction",
    "csv_columns": ".prediction",
    "RowInput": ".batch",
    "BatchSummary": ".batch",
    "predict_rows": ".batch",
    "build_extractor": ".inputs",
    "clear_extractor_cache": ".inputs",
    "input_kinds": ".inputs",
    "route_inputs": ".inputs",
    "FALLBACK_INPUT_KINDS": ".inputs",
    "axis_for": ".explain",
    "item_inputs": ".requests",
    "manifest_rows": ".requests",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
