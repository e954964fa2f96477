"""The statistics of the evaluation protocols (docs/evaluation.md).

- `describe_runs(values)`: per-seed values, mean, sample std (ddof=1), min, max, n and the 95% interval
  mean +- t(0.975, n-1) * std / sqrt(n).
- `paired_tests(a, b)`: paired t-test and Wilcoxon signed-rank test over matched runs (scipy).
- `paired_bootstrap(...)`: resample test-item indices with replacement (seeded), recompute the metric
  of A and of B on each resample; mean difference, 2.5-97.5 percentile interval, one-sided p.

numpy/scipy only (no torch), imported by the CLI inside the commands.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

Scorer = Callable[[np.ndarray], np.ndarray]  # (R, n) item indices -> (R,) metric values


def describe_runs(values: Sequence[float]) -> dict[str, Any]:
    """Summary of one metric over runs. std and the interval are None for n < 2 (undefined)."""
    v = np.asarray([float(x) for x in values], dtype=np.float64)
    n = len(v)
    if n == 0:
        return {"values": [], "n": 0, "mean": None, "std": None, "min": None, "max": None, "ci95": None}
    mean = float(v.mean())
    out: dict[str, Any] = {
        "values": [float(x) for x in v],
        "n": n,
        "mean": mean,
        "std": None,
        "min": float(v.min()),
        "max": float(v.max()),
        "ci95": None,
    }
    if n >= 2:
        from scipy import stats

        std = float(v.std(ddof=1))
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
        out["std"] = std
        out["ci95"] = [mean - half, mean + half]
    return out


def paired_tests(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Paired t-test and Wilcoxon signed-rank (two-sided) on matched per-run values of A and B.

    A p-value is None where the test is undefined: fewer than 2 pairs, or every difference equal
    (t-test: zero variance) / zero (Wilcoxon). With n pairs the smallest two-sided exact Wilcoxon
    p-value is 2 / 2**n (0.25 for 3 seeds): few seeds cannot reach significance in that test.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired_tests: {len(x)} values of A but {len(y)} of B")
    d = x - y
    out: dict[str, Any] = {
        "n": len(d),
        "mean_difference": float(d.mean()) if len(d) else None,
        "ttest": {"statistic": None, "p": None},
        "wilcoxon": {"statistic": None, "p": None},
    }
    if len(d) < 2:
        return out
    from scipy import stats

    if np.ptp(d) > 0:
        t = stats.ttest_rel(x, y)
        out["ttest"] = {"statistic": float(t.statistic), "p": float(t.pvalue)}
    if np.any(d != 0):
        with warnings.catch_warnings():  # scipy warns about small n / ties; the p-value says it
            warnings.simplefilter("ignore")
            w = stats.wilcoxon(x, y)
        out["wilcoxon"] = {"statistic": float(w.statistic), "p": float(w.pvalue)}
    return out


def paired_bootstrap(
    sizes: Sequence[int],
    score_a: Sequence[Scorer],
    score_b: Sequence[Scorer],
    *,
    resamples: int = 10_000,
    seed: int = 0,
    greater_is_better: bool = True,
    chunk: int = 500,
) -> dict[str, Any]:
    """Paired bootstrap of metric(A) - metric(B) over test items.

    One entry per matched run pair k (seed/fold): `sizes[k]` test items, aligned in the same order
    for A and B, and scorers mapping an (R, n_k) array of item indices to the metric of each
    resample. Each resample draws the indices of every pair independently (one draw shared by A
    and B: the pairing); the metric is averaged over the pairs (the seed-averaged model, per fold).
    p_one_sided: the share of resamples where A is not better than B (difference <= 0, or >= 0
    for a lower-is-better metric).
    """
    if not (len(sizes) == len(score_a) == len(score_b)) or not sizes:
        raise ValueError("paired_bootstrap: one size and two scorers per matched run pair")
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, chunk):
        r = min(chunk, resamples - start)
        total = np.zeros(r)
        for n, fa, fb in zip(sizes, score_a, score_b, strict=True):
            idx = rng.integers(0, n, size=(r, n))
            total += np.asarray(fa(idx), dtype=np.float64) - np.asarray(fb(idx), dtype=np.float64)
        diffs[start : start + r] = total / len(sizes)
    full = [np.arange(n)[None, :] for n in sizes]
    observed = float(
        np.mean([float(fa(i)[0]) - float(fb(i)[0]) for i, fa, fb in zip(full, score_a, score_b, strict=True)])
    )
    not_better = diffs <= 0 if greater_is_better else diffs >= 0
    lo, hi = np.nanpercentile(diffs, [2.5, 97.5])
    return {
        "resamples": resamples,
        "seed": seed,
        "observed_difference": observed,
        "mean_difference": float(np.nanmean(diffs)),
        "ci95": [float(lo), float(hi)],
        "p_one_sided": float(np.mean(not_better)),
    }
