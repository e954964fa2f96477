"""The engine: config models, plugin manager and hook specs, fusion model, feature store, training, errors.

`sseft.core` knows no concrete modality, dataset or head: it discovers them through entry points.
Importing this package is cheap; heavy modules (torch, transformers) are imported where used.
"""
