"""Prediction with a trained model: raw inputs -> the model's own extractors -> fusion -> head.

    from sseft.core.inference import Predictor as Predictor
    p = Predictor(sseft.load("meld-emotion"), allow_missing=True)
    print(p.predict(text="I can't believe it!", video="clip.mp4").summary())

Read in order: inputs.py (which input feeds which modality; rebuilding extractors from fingerprints)
-> prediction.py (the `Prediction` record) -> predictor.py (`Predictor`) -> requests.py (one item's
inputs, a manifest's rows) -> batch.py (CSV batch prediction, resumable) -> explain.py (attention
plots). Imports torch lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:  # the lazy names, typed for mypy (the table below is what runs)
    from .batch import BatchSummary, RowInput, predict_rows  # noqa: F401
    from .explain import axis_for  # noqa: F401
    from .inputs import (  # noqa: F401
        FALLBACK_INPUT_KINDS,
        build_extractor,
        clear_extractor_cache,
        input_kinds,
        route_inputs,
    )
    from .prediction import Prediction, csv_columns  # noqa: F401
    from .predictor import Predictor, model_ref, predictor_for, trained_with_modality_dropout  # noqa: F401
    from .requests import item_inputs, manifest_rows  # noqa: F401

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        ".predictor": ("Predictor", "model_ref", "predictor_for", "trained_with_modality_dropout"),
        ".prediction": ("Prediction", "csv_columns"),
        ".batch": ("RowInput", "BatchSummary", "predict_rows"),
        ".inputs": (
            "build_extractor",
            "clear_extractor_cache",
            "input_kinds",
            "route_inputs",
            "FALLBACK_INPUT_KINDS",
        ),
        ".explain": ("axis_for",),
        ".requests": ("item_inputs", "manifest_rows"),
    },
)
