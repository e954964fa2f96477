"""Raw-level noise: perturb the raw inputs (text, audio, video) of a subset of a dataset's items
and re-extract them, per level, through each model's own encoders, rebuilt from the fingerprints
it recorded (as `sseft predict` does; `overrides` point at local copies of the encoders).

Only the perturbed modality is re-extracted per level; the others keep their clean features. An
input the noise empties (every word or frame dropped) or the extractor rejects counts as absent
(a zero-length sequence), and the count is reported per level.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, DataError, ExtractionError
from .evaluate import Scorer, forward_items, model_modalities
from .media_noise import AUDIO_KINDS, VIDEO_KINDS, noisy_audio, noisy_video
from .noise import rng_for
from .summary import effective_robustness, relative_robustness
from .text_noise import TEXT_KINDS, perturb_text

DEFAULT_KINDS: dict[str, tuple[str, ...]] = {
    "text": ("word_drop", "typo"),
    "audio": AUDIO_KINDS,
    "video": VIDEO_KINDS,
}
KNOWN_KINDS: dict[str, tuple[str, ...]] = {"text": TEXT_KINDS, "audio": AUDIO_KINDS, "video": VIDEO_KINDS}


def raw_items(
    raw: str | os.PathLike[str],
    dataset: str | None,
    split: str,
    limit: int | None,
    label_set: str | None,
    options: Sequence[str] = (),
) -> tuple[list[Any], list[Any], Any]:
    """The first `limit` items of `split` (dataset plugin items) and their labels, and the task.
    `options`: the dataset plugin's options as `KEY=VALUE` (e.g. `modalities=[text]`)."""
    from sseft.plugins.datasets.common import resolve_dataset

    p = Path(raw).expanduser()
    if not p.exists():
        raise DataError(f"{p}: --raw not found; give a manifest (CSV/JSONL) or a dataset root")
    name = dataset or ("manifest" if p.is_file() else None)
    if name is None:
        raise ConfigError(
            f"{p}: a dataset root needs its dataset plugin: pass --raw-dataset NAME (e.g. meld)"
        )
    plugin, cfg = resolve_dataset(name, p, overrides=list(options))
    items = []
    for it in plugin.items(cfg):
        if isinstance(it, tuple):  # some plugins yield (kind, item, ...) records
            if it[0] != "item":
                continue
            it = it[1]
        if it.split == split:
            items.append(it)
            if limit is not None and len(items) >= limit:
                break
    if not items:
        raise DataError(f"{p}: no item of split {split!r} in the {name} dataset")
    if label_set is not None and all(label_set in (getattr(it, "labels", None) or {}) for it in items):
        labels = [it.labels[label_set] for it in items]
    else:
        labels = [it.label for it in items]
    return items, labels, plugin.task(cfg)


def _primary_kind(predictor: Any, modality: str) -> str:
    return predictor.input_kinds()[modality][0]


def _perturb(kind_of_input: str, raw: Any, kind: str, i: int, n: int, g: Any, fps: float | None) -> Any:
    """The perturbed raw input (None: nothing left, the modality is then absent)."""
    lvl = i / n
    if kind_of_input == "text":
        t = perturb_text(str(raw), kind, lvl, g)
        return t if t.strip() else None
    if kind_of_input == "audio":
        return noisy_audio(raw, i, n, g)
    return noisy_video(raw, kind, lvl, fps or 5.0, g)


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


def _extract(predictor: Any, modality: str, raws: Sequence[Any]) -> list[torch.Tensor | None]:
    """Features per raw input (None for an absent input or a failed extraction)."""
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


def _combine(
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


def _fps(predictor: Any, modality: str) -> float | None:
    """Frames per second the face extractor samples (its own rate, else the fingerprint's)."""
    from ..inference.explain import frame_rate

    spec = next(s for s in predictor.specs if s.name == modality)
    ex = predictor.extractor(modality)
    return frame_rate(spec, ex) or getattr(getattr(ex, "cfg", None), "fps", None)


def raw_curves(
    models: Mapping[str, Any],
    refs: Mapping[str, str],
    *,
    scorers_metric: str,
    raw: str | os.PathLike[str],
    dataset: str | None,
    split: str,
    kinds: Sequence[str] | None,
    limit: int | None,
    n_levels: int,
    seed: int,
    batch_size: int,
    overrides: Sequence[str],
    device: str,
    label_set: str | None,
    options: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Curves per model role, raw noise kind and modality on the first `limit` items of `split`."""
    from ..inference import Predictor, route_inputs

    items, labels, task = raw_items(raw, dataset, split, limit, label_set, options)
    main = models["model"]
    if list(task.label_names) != list(main.label_names) and task.type != "regression":
        raise DataError(
            f"{raw}: the dataset's labels {list(task.label_names)} differ from model {refs['model']}'s "
            f"{list(main.label_names)}"
        )
    ids = [it.id for it in items]
    predictors = {r: Predictor(m, overrides, allow_missing=True, device=device) for r, m in models.items()}
    scorers = {r: Scorer(m, labels, scorers_metric, f"model {refs[r]}") for r, m in models.items()}
    curves: dict[str, dict[str, dict[str, list[float]]]] = {}
    absent: dict[str, dict[str, list[int]]] = {}
    notes: list[str] = []
    for role, m in models.items():
        pred = predictors[role]
        routed = [route_inputs(pred.specs, it.inputs, {})[0] for it in items]
        clean = {n: _extract(pred, n, [r.get(n) for r in routed]) for n in model_modalities(m)}

        base_out, _ = forward_items(m, _combine(clean, {}), batch_size)
        m0 = scorers[role](base_out)
        for n in model_modalities(m):
            kin = _primary_kind(pred, n)
            wanted = [k for k in (kinds or DEFAULT_KINDS.get(kin, ())) if k in KNOWN_KINDS.get(kin, ())]
            if not wanted:
                if role == "model":
                    notes.append(f"{n}: no raw noise for input kind {kin!r}")
                continue
            fps = _fps(pred, n) if kin == "video" else None
            for kind in wanted:
                vals = [m0]
                gone = [sum(f is None for f in clean[n])]
                for i in range(1, n_levels):
                    noisy = [
                        None if r.get(n) is None else
                        _perturb(kin, r[n], kind, i, n_levels, rng_for(seed, ids[b], n, "raw:" + kind), fps)
                        for b, r in enumerate(routed)
                    ]  # fmt: skip
                    feats = _extract(pred, n, noisy)
                    gone.append(sum(f is None for f in feats))
                    out, _ = forward_items(m, _combine(clean, {n: feats}), batch_size)
                    vals.append(scorers[role](out))
                curves.setdefault(role, {}).setdefault(kind, {})[n] = vals
                if role == "model":
                    absent.setdefault(kind, {})[n] = gone
                if progress is not None:
                    progress(f"raw {kind} on {n} ({refs[role]})")
    res: dict[str, Any] = {
        "source": str(raw),
        "dataset": dataset or "manifest",
        "split": split,
        "n_items": len(items),
        "ids": ids,
        "curves": curves,
        "absent": absent,
        "relative_robustness": {
            r: {k: {n: relative_robustness(c) for n, c in per.items()} for k, per in c_r.items()}
            for r, c_r in curves.items()
        },
        "notes": notes,
    }
    if "baseline" in curves:
        res["effective_robustness"] = {
            k: {n: effective_robustness(c, curves["baseline"][k][n]) for n, c in per.items()
                if n in curves["baseline"].get(k, {})}
            for k, per in curves.get("model", {}).items()
        }  # fmt: skip
    return res
