"""Raw inputs for raw-level noise: a dataset's items (through the plugin manager, never a concrete
plugin import), the raw perturbers by input kind, and running a model's rebuilt extractor.

A raw perturber (`RawNoise`) handles one input kind: `kinds` it knows, `defaults` run when none
are asked for, and `perturb(raw, kind, level_index, n_levels, g, context)` -> the perturbed raw
input, or None when nothing is left (the modality is then absent). Core ships the text one (pure
Python); `sseft.robustness` adds audio and video (plugins/modalities/raw_noise.py, which decodes
media through the modality plugins' readers).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from ..errors import ConfigError, DataError, ExtractionError
from .text_noise import TEXT_KINDS, perturb_text


class RawNoise(Protocol):
    kinds: tuple[str, ...]
    defaults: tuple[str, ...]

    def perturb(
        self, raw: Any, kind: str, level_index: int, n_levels: int, g: np.random.Generator,
        context: Mapping[str, Any],
    ) -> Any: ...  # fmt: skip


class TextNoise:
    """Word drop and MultiBench's letter typos (text_noise.py) on a transcript."""

    kinds = TEXT_KINDS
    defaults = ("word_drop", "typo")

    def perturb(
        self, raw: Any, kind: str, level_index: int, n_levels: int, g: np.random.Generator,
        context: Mapping[str, Any],
    ) -> str | None:  # fmt: skip
        t = perturb_text(str(raw), kind, level_index / n_levels, g)
        return t if t.strip() else None


def raw_items(
    raw: str | os.PathLike[str],
    dataset: str | None,
    split: str,
    limit: int | None,
    label_set: str | None,
    options: Sequence[str] = (),
) -> tuple[list[Any], list[Any], Any]:
    """The first `limit` items of `split` of the dataset at `raw` (a manifest file: the `manifest`
    plugin), their labels and the dataset's task. `options`: plugin options as KEY=VALUE."""
    from ..config import apply_overrides, validate
    from ..plugins import get_dataset

    p = Path(raw).expanduser()
    if not p.exists():
        raise DataError(f"{p}: --raw not found; give a manifest (CSV/JSONL) or a dataset root")
    name = dataset or ("manifest" if p.is_file() else None)
    if name is None:
        raise ConfigError(
            f"{p}: a dataset root needs its dataset plugin: pass --raw-dataset NAME (e.g. meld)"
        )
    plugin = get_dataset(name)
    values = apply_overrides({"root": str(p)}, list(options))
    cfg = validate(plugin.config_model, values, source=f"--raw dataset {name}", overrides=list(options))
    items = []
    for it in plugin.items(cfg):
        if it.split == split:
            items.append(it)
            if limit is not None and len(items) >= limit:
                break
    if not items:
        raise DataError(f"{p}: no item of split {split!r} in the {name} dataset (--raw-split names another)")
    if label_set is not None and all(label_set in (getattr(it, "labels", None) or {}) for it in items):
        labels = [it.labels[label_set] for it in items]
    else:
        labels = [it.label for it in items]
    return items, labels, plugin.task(cfg)


def _run(ex: Any, raws: list[Any]) -> list[Any]:
    """The extractor on `raws`, one output (tensor, `Extracted`, or exception) per input; a batch
    that fails as a whole is retried item by item so the culprit fails alone (as extraction does)."""
    try:
        from ..extraction.run import run_extractor  # the engine's own runner, when present

        return list(run_extractor(ex, raws))
    except ImportError:
        pass
    try:
        return list(ex(raws))
    except ExtractionError:
        raise
    except Exception:
        out: list[Any] = []
        for r in raws:
            try:
                out.append(ex([r])[0])
            except Exception as e:
                out.append(e)
        return out


def extract_features(predictor: Any, modality: str, raws: Sequence[Any]) -> list[torch.Tensor | None]:
    """Features per raw input through the model's rebuilt extractor (None: absent input or failed)."""
    out: list[torch.Tensor | None] = [None] * len(raws)
    todo = [k for k, r in enumerate(raws) if r is not None]
    if todo:
        feats = _run(predictor.extractor(modality), [raws[k] for k in todo])
        for k, f in zip(todo, feats, strict=True):
            if isinstance(f, BaseException):
                continue
            f = getattr(f, "features", f)  # an `Extracted` record or a bare tensor
            out[k] = torch.as_tensor(f, dtype=torch.float32).cpu()
    return out


def combine(
    clean: Mapping[str, list[torch.Tensor | None]], over: Mapping[str, list[torch.Tensor | None]]
) -> list[dict[str, torch.Tensor]]:
    """Per-item features: `over` replaces those modalities of `clean`; None entries are left out
    (absent downstream)."""
    per = {**clean, **over}
    n = len(next(iter(per.values())))
    out: list[dict[str, torch.Tensor]] = []
    for b in range(n):
        item: dict[str, torch.Tensor] = {}
        for m, f in per.items():
            x = f[b]
            if x is not None:
                item[m] = x
        out.append(item)
    return out


def context_for(predictor: Any, modality: str) -> dict[str, Any]:
    """What a perturber may need to know about the modality's extractor: its frame rate."""
    from ..inference.explain import frame_rate

    spec = next(s for s in predictor.specs if s.name == modality)
    ex = predictor.extractor(modality)
    rate = frame_rate(spec, ex) or getattr(getattr(ex, "cfg", None), "fps", None)
    return {"frame_rate": rate}
