"""Evaluation of trained runs: intervals, paired tests and the bootstrap (stats.py), the heads'
metrics over resamples (scoring.py), `sseft compare` (compare.py) and hyper-parameter sweeps
(sweep.py). Experiments over seeds, folds and presets are core/experiment/. Imports nothing heavy.
"""
