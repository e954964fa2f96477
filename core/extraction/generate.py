"""Generating a configured dataset into its feature store before training (`data.generate`).

    data:
      store: features/synthetic
      generate: {dataset: synthetic, config: {seed: 0, n_train: 1200}}
      # or the shorthand   synthetic: {seed: 0, n_train: 1200}

The dataset is looked up through the plugin manager and its items go through the extraction
engine like any `sseft extract` job (precomputed features are stored as given; raw inputs get the
modality plugin's extractor with the options in `generate.modalities`, default options otherwise).
A finished store generated with the same options is used as is, so several runs may share it; an
unfinished one is resumed; one generated with other options is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, FeatureStoreError
from ..protocols import Item, Precomputed


def generate_spec(data_cfg: Any) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(dataset name, dataset options, modality options) of `data.generate`, or of the shorthand
    `data.synthetic`; None when the config generates nothing."""
    gen = getattr(data_cfg, "generate", None)
    if gen is not None:
        get = gen.get if isinstance(gen, dict) else lambda k, d=None: getattr(gen, k, d)
        return str(get("dataset")), dict(get("config") or {}), dict(get("modalities") or {})
    synthetic = getattr(data_cfg, "synthetic", None)
    if synthetic is not None:
        return "synthetic", dict(synthetic), {}
    return None


def ensure_store(data_cfg: Any, accelerator: Any) -> None:
    """Generate `data_cfg.store` when the config says how (`data.generate` / `data.synthetic`) and
    it is absent or unfinished. The main process generates, the others wait for it."""
    spec = generate_spec(data_cfg)
    if spec is not None and accelerator.is_main_process:
        name, config, modalities = spec
        generate_store(name, config, data_cfg.store, modalities=modalities)
    accelerator.wait_for_everyone()


def _diff(have: Any, want: Any) -> str:
    """The first few option differences between two store sources, as `key: old -> new`."""
    from ..config import first_few, flatten

    a, b = flatten(have if isinstance(have, dict) else {"source": have}), flatten(want)
    return first_few(
        [f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    )


def job_modalities(
    items: list[Item],
    chosen: list[str] | None = None,
    options: Mapping[str, Any] | None = None,
    overrides: Mapping[str, list[str]] | None = None,
) -> dict[str, Any]:
    """What an extraction job runs per modality: None where the items carry `Precomputed`
    features (stored as given), else the modality plugin's validated extractor config (`options`
    with `overrides` `field=value` on top). `chosen` None: every input of the items that is
    precomputed or has a modality plugin, in first-seen order."""
    from ..config import apply_overrides, validate
    from ..plugins import get_manager

    options, overrides = dict(options or {}), dict(overrides or {})
    pre: set[str] = set()
    seen: list[str] = []
    for it in items:
        for m, raw in it.inputs.items():
            if raw is None:
                continue
            if isinstance(raw, Precomputed):
                pre.add(m)
            if m not in seen:
                seen.append(m)
    pm = get_manager()
    known = set(pm.names("modality"))
    if chosen is None:
        chosen = [m for m in seen if m in pre or m in known]
        if not chosen:
            raise ConfigError(
                "the dataset's items have no input a modality plugin handles; pass --modalities"
            )
    stray = sorted(set(overrides) - set(chosen))
    if stray:
        raise ConfigError(
            f"--set {stray[0]}.{overrides[stray[0]][0]}: {stray[0]!r} is not a modality of this job "
            f"({', '.join(chosen)}); "
            "dataset options are given as FIELD=VALUE or dataset.FIELD=VALUE"
        )
    out: dict[str, Any] = {}
    for m in chosen:
        if m in pre:
            if options.get(m) or overrides.get(m):
                raise ConfigError(
                    f"modality {m!r}: the dataset gives precomputed {m} features, stored as they are; "
                    "it takes no extractor options"
                )
            out[m] = None
            continue
        plugin = pm.get("modality", m)  # unknown name: one line with the installed ones
        values = apply_overrides(dict(options.get(m) or {}), list(overrides.get(m) or []))
        out[m] = validate(plugin.config_model, values, source=f"modality {m}")
    return out


def generate_store(
    name: str,
    config: dict[str, Any],
    root: str | Path,
    *,
    modalities: dict[str, Any] | None = None,
    shard_size: int | None = None,
    progress: bool = False,
) -> Any:
    """Dataset `name` with options `config` -> the feature store at `root` (see the module
    docstring); returns the opened FeatureStore."""
    import torch

    from ..config import validate
    from ..features import FeatureStore
    from ..features.index import INDEX_NAME
    from ..plugins import get_dataset
    from .distributed import DistContext
    from .engine import extract_items

    plugin = get_dataset(name)
    cfg = validate(plugin.config_model, dict(config or {}), source=f"data.generate: dataset {name!r}")
    source = {"dataset": name, "config": json.loads(cfg.model_dump_json())}
    root = Path(root)
    store = None
    if (root / INDEX_NAME).is_file():
        store = FeatureStore.open(root)
        if store.source != source:
            raise FeatureStoreError(
                f"{root}: refusing to append: this store was generated with other options "
                f"({_diff(store.source, source)}); delete it or point data.store at a new directory"
            )
    items = list(plugin.items(cfg))
    if store is not None and all(it.id in store for it in items):
        return store  # finished: nothing to do (several runs may share one store)
    shard = shard_size or int(getattr(cfg, "shard_size", 0) or 256)
    extract_items(
        items, plugin.task(cfg), job_modalities(items, None, modalities), root,
        shard_size=shard, threads=torch.get_num_threads(), source=source, progress=progress,
        ctx=DistContext(),  # this process alone, even inside a multi-process training launch
    )  # fmt: skip
    return FeatureStore.open(root)
