"""MultiBench's summary numbers (Liang et al. 2021; definitions in docs/robustness.md "Summary numbers") and the
paired bootstrap of two models' curve areas (bootstrap.py).

* relative robustness: trapezoid area under metric-vs-level, step 1/n (0.1 for 10 levels):
  sum_{i=0..n-2} step * (m_i + m_{i+1}) / 2
* effective robustness against a late-fusion baseline b: the trapezoid area of
  d_i = m_i - (b_i + (m_0 - b_0))
Raw values: MultiBench min-max normalises both across its leaderboard's methods; we do not.
The paired bootstrap of two models' areas is in bootstrap.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def trapezoid(values: Sequence[float], step: float | None = None) -> float:
    """Trapezoid area of `values` at equally spaced levels (step default 1 / len(values))."""
    v = [float(x) for x in values]
    if len(v) < 2:
        return 0.0
    h = 1.0 / len(v) if step is None else float(step)
    return float(sum(h * (v[i] + v[i + 1]) / 2 for i in range(len(v) - 1)))


def relative_robustness(curve: Sequence[float]) -> float:
    return trapezoid(curve)


def effective_robustness(curve: Sequence[float], baseline: Sequence[float]) -> float:
    """Area of m_i - (b_i + (m_0 - b_0)): above 0, the model holds up better than the baseline."""
    if len(curve) != len(baseline):
        raise ValueError(f"curves of {len(curve)} and {len(baseline)} levels")
    m0, b0 = float(curve[0]), float(baseline[0])
    return trapezoid([float(m) - (float(b) + (m0 - b0)) for m, b in zip(curve, baseline, strict=True)])


def area_table(per_kind: Mapping[str, Mapping[str, Sequence[float]]], all_key: str = "all") -> dict[str, Any]:
    """{kind: {target: relative robustness, "overall": mean over single modalities}, "overall": mean}."""
    out: dict[str, Any] = {}
    for kind, per_target in per_kind.items():
        a: dict[str, Any] = {t: relative_robustness(c) for t, c in per_target.items()}
        single = [v for t, v in a.items() if t != all_key]
        a["overall"] = sum(single) / len(single) if single else None
        out[kind] = a
    kinds = [v["overall"] for v in out.values() if v["overall"] is not None]
    out["overall"] = sum(kinds) / len(kinds) if kinds else None
    return out


def effective_table(
    model: Mapping[str, Mapping[str, Sequence[float]]],
    base: Mapping[str, Mapping[str, Sequence[float]]],
    all_key: str = "all",
) -> dict[str, Any]:
    """Effective robustness per kind and target the baseline also has, with the same "overall"s."""
    out: dict[str, Any] = {}
    for kind, per_target in model.items():
        b = base.get(kind, {})
        a: dict[str, Any] = {t: effective_robustness(c, b[t]) for t, c in per_target.items() if t in b}
        single = [v for t, v in a.items() if t != all_key]
        if single:
            a["overall"] = sum(single) / len(single)
        out[kind] = a
    kinds = [v["overall"] for v in out.values() if "overall" in v]
    out["overall"] = sum(kinds) / len(kinds) if kinds else None
    return out
