"""onnxruntime against PyTorch on random padded batches: the check behind every export and the
parity tests.

Batches mix sizes (1 to 8 items) and lengths (1 to max_len, and 0 where the fusion takes an item
without a modality), and are padded past their longest item with random values (not zeros), so
that a graph which let padding leak, or baked the sample's sizes in, shows up as a difference.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .graph import GraphModule, input_names


def random_batches(
    model: Any, n_batches: int, seed: int = 0, max_batch: int = 8, max_len: int | None = None
) -> list[dict[str, np.ndarray]]:
    """`n_batches` graph feeds {input name: array} for `model` (see the module docstring).
    `max_len` caps the lengths drawn (default: each modality's own max_len)."""
    rng = np.random.default_rng(seed)
    empty_ok = bool(getattr(model.fusion, "handles_missing", True))
    out = []
    for _ in range(n_batches):
        b = int(rng.integers(1, max_batch + 1))
        feed: dict[str, np.ndarray] = {}
        for gi in input_names(model):
            cap = min(gi.max_len, max_len or gi.max_len)
            lengths = rng.integers(0 if empty_ok else 1, cap + 1, size=b)
            padded = min(gi.max_len, max(1, int(lengths.max()) + int(rng.integers(0, 4))))
            x = rng.standard_normal((b, padded, gi.dim)).astype(np.float32)
            feed[gi.features], feed[gi.lengths] = x, lengths.astype(np.int64)
        out.append(feed)
    return out


def torch_outputs(model: Any, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The graph's outputs computed by PyTorch (eval mode, trimming on: the path training uses)."""
    graph = GraphModule(model).eval()
    args = [torch.from_numpy(feed[n]) for gi in input_names(model) for n in (gi.features, gi.lengths)]
    with torch.inference_mode():
        return [t.float().numpy() for t in graph(*args)]


def max_abs_diff(model: Any, sess: Any, n_batches: int = 100, seed: int = 0, max_batch: int = 8) -> float:
    """The largest |onnxruntime - PyTorch| over every output of `n_batches` random batches."""
    names = [o.name for o in sess.get_outputs()]
    worst = 0.0
    for feed in random_batches(model, n_batches, seed, max_batch):
        ref = torch_outputs(model, feed)
        got = sess.run(names, feed)
        for a, r in zip(got, ref, strict=True):
            if a.shape != r.shape:
                return float("inf")
            worst = max(worst, float(np.abs(a - r).max()) if a.size else 0.0)
    return worst
