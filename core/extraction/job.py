"""An extraction job as `sseft extract` states it: a dataset plugin by name (root, options file,
`--set` overrides), the modalities and their extractor options, the store. Resolved here through the
plugin manager and run by the engine (engine.py); the CLI only parses and prints.

    summary = extract_dataset("manifest", "stores/x", root="items.csv", sets=["text.model=minilm-offline"])
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def split_extract_overrides(sets: Iterable[str]) -> tuple[dict[str, list[str]], list[str]]:
    """`--set text.model=x` -> per-modality overrides; `--set dataset.k=v` or `--set k=v` (no dot
    before the `=`: the same spelling `sseft data` takes) -> dataset overrides."""
    per: dict[str, list[str]] = {}
    data: list[str] = []
    for s in sets:
        head, dot, _rest = s.split("=", 1)[0].partition(".")
        if not dot or head == "dataset":
            data.append(s[len("dataset.") :] if dot else s)
        else:
            per.setdefault(head, []).append(s[len(head) + 1 :])
    return per, data


def resolve_dataset(
    name: str,
    root: str | Path | None = None,
    overrides: Iterable[str] = (),
    data: Mapping[str, Any] | None = None,
    base: Path | None = None,
) -> tuple[Any, Any]:
    """(dataset plugin, validated config) from a name, a root path, `--set k=v` overrides and/or a
    mapping of options (a relative `root` resolves against `base`, the config file's folder)."""
    from ..config import apply_overrides, validate
    from ..plugins import get_dataset

    plugin = get_dataset(name)
    values = dict(data or {})
    if root is not None:
        values["root"] = str(root)
    values = apply_overrides(values, overrides)
    if base is not None and values.get("root") and not Path(str(values["root"])).expanduser().is_absolute():
        values["root"] = str(base / str(values["root"]))
    if "root" in values:
        values["root"] = str(Path(str(values["root"])).expanduser())
    return plugin, validate(plugin.config_model, values, source=f"dataset {name}")


def extract_dataset(
    dataset: str,
    out: str | Path,
    *,
    root: Path | None = None,
    dataset_config: Path | None = None,
    sets: Iterable[str] = (),
    modalities: list[str] | None = None,
    options: Mapping[str, Any] | None = None,
    limit: int | None = None,
    **engine: Any,
) -> Any:
    """Extract dataset plugin `dataset` into the store `out`; the engine's ExtractionSummary.

    `dataset_config`: a YAML/JSON file of the plugin's options (a relative root is relative to it);
    `sets`: `MOD.FIELD=VALUE` extractor and `FIELD=VALUE` dataset overrides (split_extract_overrides);
    `modalities`: None for every input the items have; `options`: modality -> extractor options
    (the overrides go on top); `limit`: only the first N items; `engine`: extract_items' keywords
    (batch_size, shard_size, device, threads, progress, sort_by_length, mixed_precision, dtype,
    prefetch)."""
    from ..config import read_mapping
    from .engine import extract_items
    from .generate import job_modalities

    per, data_sets = split_extract_overrides(sets)
    data = read_mapping(dataset_config) if dataset_config else {}
    base = dataset_config.parent if dataset_config else None
    plugin, dcfg = resolve_dataset(dataset, root, data_sets, data, base=base)
    items = list(plugin.items(dcfg))[:limit]
    source = {"dataset": plugin.name, "config": json.loads(dcfg.model_dump_json())}
    jobs = job_modalities(items, modalities, options, per)
    return extract_items(items, plugin.task(dcfg), jobs, out, source=source, **engine)


MANIFEST_SUFFIXES = (".csv", ".jsonl", ".ndjson")


def check_target(target: Path, overrides: Iterable[str] = (), probe: bool = False) -> tuple[Any, Any] | Path:
    """What `sseft data check TARGET` checks: a manifest (.csv/.jsonl) or a dataset config
    ({dataset: NAME, root: ..., options}) -> (dataset plugin, validated config, with the plugin's
    media probe switched on when `probe`); an experiment config -> the feature store path it names
    (data.store, relative to the config's folder)."""
    from ..config import read_mapping
    from ..errors import ConfigError

    if target.suffix.lower() in MANIFEST_SUFFIXES:
        plugin, cfg = resolve_dataset("manifest", target, overrides)
    else:
        mapping = read_mapping(target)
        data = mapping.get("data")
        if isinstance(data, dict) and "store" in data:
            root = Path(str(data["store"]))
            return root if root.is_absolute() else target.parent / root
        if "dataset" not in mapping:
            raise ConfigError(
                f"{target}: expected a dataset config with 'dataset: NAME' (and root, options), an experiment "
                "config with data.store, or a manifest (.csv/.jsonl)"
            )
        name = str(mapping.pop("dataset"))
        plugin, cfg = resolve_dataset(name, None, overrides, data=mapping, base=target.parent)
    if probe:
        for field in ("probe_clips", "probe_media"):
            if field in type(cfg).model_fields:
                cfg = cfg.model_copy(update={field: True})
    return plugin, cfg
