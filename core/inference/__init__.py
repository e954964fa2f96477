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

if TYPE_CHECKING:  # the lazy names, typed for mypy
    from .batch import BatchSummary as BatchSummary
    from .batch import RowInput as RowInput
    from .batch import predict_rows as predict_rows
    from .explain import axis_for as axis_for
    from .inputs import FALLBACK_INPUT_KINDS as FALLBACK_INPUT_KINDS
    from .inputs import build_extractor as build_extractor
    from .inputs import clear_extractor_cache as clear_extractor_cache
    from .inputs import input_kinds as input_kinds
    from .inputs import route_inputs as route_inputs
    from .prediction import Prediction as Prediction
    from .prediction import csv_columns as csv_columns
    from .predictor import Predictor as Predictor
    from .predictor import model_ref as model_ref
    from .predictor import predictor_for as predictor_for
    from .predictor import trained_with_modality_dropout as trained_with_modality_dropout
    from .requests import item_inputs as item_inputs
    from .requests import manifest_rows as manifest_rows

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
