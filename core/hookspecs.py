"""The hooks a sseft plugin can implement. One entry-point group: `sseft`.

A plugin is a module listed under `[project.entry-points.sseft]` in its package's pyproject.toml
that implements any of these hooks with `@sseft.core.hookspecs.hookimpl`. Each hook receives a
`register` callback; the plugin calls `register(obj)` once per thing it provides, so that the core
validates objects and resolves name clashes in one place. Plugin modules must import cheaply
(no torch/transformers at import time): `sseft plugins` loads every plugin.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

PROJECT = "sseft"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[[Any], None]


@hookspec
def register_modalities(register: Register) -> None:
    """Register modality plugins: objects with `name`, `dim`, `provides_cls`, `max_len`,
    `config_model` (a pydantic model of the extractor config) and `build_extractor(config)`
    returning an extractor that turns a batch of raw items into `(L_i, dim)` float tensors."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset plugins: objects with `name`, `config_model`, `task(config)` (task type
    and label names) and `items(config)` yielding items (id, split, labels, raw inputs, metadata)."""


@hookspec
def register_heads(register: Register) -> None:
    """Register prediction heads: objects with `name`, `task`, `config_model` and
    `build(in_dim, label_names, config)` returning a module that owns its loss, predictions and metrics."""


@hookspec
def register_models(register: Register) -> None:
    """Register pretrained model artifacts shipped by a plugin: objects with `name` (registry name)
    and `path` (an artifact directory holding config.json + model.safetensors). They are listed
    beside the local registry's models and load by name."""
