"""Evaluation protocols (FORMATS.md "Evaluation protocols"): seeds, grouped folds, paired
significance tests, multi-seed ablations, baselines' summaries and hyper-parameter sweeps.

Read in order: stats.py (intervals, paired tests, bootstrap) -> folds.py (data.folds) ->
adapter.py (the one seam to the trainer) -> runner.py (seeds x folds, summary) -> summary.py
(tables, pictures) -> compare.py (`sseft compare`) -> ablation.py (`sseft ablate --seeds`) ->
sweep.py (`sseft sweep`). Imports nothing heavy: the experiment config imports folds.py.
"""
