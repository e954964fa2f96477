"""The plugin contract, checked over EVERY registered modality, dataset and head (timm-style):
an installed third-party plugin gets exactly the checks the built-ins get.

What is checked is what core relies on: the Protocol's required members (derived from
core/protocols.py, as registration does), a pydantic config model with a JSON schema, a cheap
import (no torch at import time), and, for datasets whose defaults need no files, items that the
extraction engine stores and reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from sseft.core.plugins import NAME_RE, PROTOCOLS, contract, get_manager

PM = get_manager()
PLUGINS = [(kind, name) for kind in ("modality", "dataset", "head") for name in PM.names(kind)]
IDS = [f"{kind}:{name}" for kind, name in PLUGINS]


def _default_config(plugin: Any) -> BaseModel | None:
    """The plugin's config with every default, or None when some field has no default (a corpus root)."""
    try:
        return plugin.config_model()
    except ValidationError:
        return None


def test_the_builtins_are_registered() -> None:
    assert {"text", "speech", "face"} <= set(PM.names("modality"))
    assert {"synthetic", "manifest", "meld", "iemocap", "mosi", "mosei"} <= set(PM.names("dataset"))


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=IDS)
def test_protocol_members_name_and_config_schema(kind: str, name: str) -> None:
    plugin = PM.get(kind, name)
    required, optional = contract(PROTOCOLS[kind])
    assert not [a for a in required if not hasattr(plugin, a)]
    # (not isinstance(plugin, Protocol): runtime_checkable would demand the optional members too)
    assert plugin.name == name and NAME_RE.fullmatch(name)
    assert isinstance(plugin.config_model, type) and issubclass(plugin.config_model, BaseModel)
    schema = plugin.config_model.model_json_schema()  # what `sseft plugins show` prints
    assert schema.get("type") == "object"
    cfg = _default_config(plugin)
    if cfg is not None:  # the config round-trips through JSON (stores and artifacts record it)
        assert plugin.config_model.model_validate(json.loads(cfg.model_dump_json())) == cfg
    for attr in optional:  # an optional member, when given, has the type of its default (None: any)
        default = getattr(PROTOCOLS[kind], attr)
        if default is not None:
            assert isinstance(getattr(plugin, attr, default), type(default)), attr


@pytest.mark.parametrize("name", PM.names("modality"))
def test_modality_shape_facts(name: str) -> None:
    p = PM.get("modality", name)
    assert isinstance(p.dim, int) and p.dim > 0 and isinstance(p.max_len, int) and p.max_len > 0
    assert isinstance(p.provides_cls, bool) and callable(p.build_extractor)
    kinds = getattr(p, "input_kinds", None)
    assert kinds is None or (isinstance(kinds, tuple) and all(isinstance(k, str) and k for k in kinds))
    suffixes = getattr(p, "suffixes", ())
    assert all(s.startswith(".") and s == s.lower() for s in suffixes), suffixes


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=IDS)
def test_plugin_module_imports_without_torch(kind: str, name: str) -> None:
    module = type(PM.get(kind, name)).__module__
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        "print(sorted(m for m in ('torch', 'transformers', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", f"{module} imports {out.stdout.strip()} at import time"


@pytest.mark.parametrize("name", PM.names("dataset"))
def test_dataset_items_go_through_the_engine(name: str, tmp_path: Path) -> None:
    """A dataset whose defaults need no files: its task, its first items, and those items stored
    by the extraction engine (precomputed features as given) and read back unchanged."""
    from sseft.core.extraction import extract_items
    from sseft.core.extraction.distributed import DistContext
    from sseft.core.extraction.generate import job_modalities
    from sseft.core.features import FeatureStore
    from sseft.core.protocols import Item, Precomputed, TaskInfo

    plugin = PM.get("dataset", name)
    cfg = _default_config(plugin)
    if cfg is None:
        pytest.skip(f"dataset {name!r} needs options without defaults (a corpus on disk)")
    task = plugin.task(cfg)
    assert isinstance(task, TaskInfo) and task.label_names
    items: list[Item] = []
    for it in plugin.items(cfg):
        items.append(it)
        if len(items) == 4:
            break
    assert items and all(isinstance(it, Item) and it.id and it.split for it in items)
    runs = job_modalities(items)
    if any(v is not None for v in runs.values()):
        pytest.skip(
            f"dataset {name!r} gives raw inputs: an encoder is needed (covered by the extraction tests)"
        )
    summary = extract_items(items, task, runs, tmp_path / "s", progress=False, ctx=DistContext())
    assert summary.done == len(items) and summary.failed == 0
    fs = FeatureStore.open(tmp_path / "s")
    for it in items:
        got = fs.get(it.id)
        for m, raw in it.inputs.items():
            assert isinstance(raw, Precomputed)
            assert got["features"][m].shape == tuple(raw.features.shape)
