"""The hooks a sseft plugin can implement. One entry-point group: `sseft`.

A plugin is a module listed under `[project.entry-points.sseft]` in its package's pyproject.toml
that implements any of these hooks with `@sseft.core.hookspecs.hookimpl`. Each hook receives a
`register` callback; the plugin calls `register(obj)` once per thing it provides, so that the core
validates objects and resolves name clashes in one place. What a registered object must have is
its Protocol in `core/protocols.py` (checked at registration; attributes the Protocol declares
with a default are optional). A `@hookimpl` whose name is not one of these hooks is an error
naming it. Plugin modules must import cheaply (no torch/transformers/numpy at import time):
`sseft plugins` and `sseft --help` load every plugin.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

PROJECT = "sseft"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

Register = Callable[..., None]


@hookspec
def register_modalities(register: Register) -> None:
    """Register modality plugins (`ModalityPlugin`): `build_extractor(config)` returns an extractor
    that turns a batch of raw items into `(L_i, dim)` features (`Extracted`, with per-item notes)."""


@hookspec
def register_datasets(register: Register) -> None:
    """Register dataset plugins (`DatasetPlugin`): `task(config)` (task type and label names) and
    `items(config)` yielding items (id, split, labels, raw inputs or `Precomputed` features, meta)."""


@hookspec
def register_heads(register: Register) -> None:
    """Register prediction heads (`HeadPlugin`): `build(in_dim, label_names, config)` returns a
    module that owns its loss, predictions and metrics."""


@hookspec
def register_fusions(register: Register) -> None:
    """Register fusion plugins (`FusionPlugin`, core/fusion/protocol.py): a `name`, a pydantic
    `config_model` and `build(specs, config)` returning a `FusionModule` (core/fusion/base.py) that
    turns the prepared modality sequences into one vector per item. Optional: `description`,
    `min_modalities`, `max_modalities`, `handles_missing`."""


@hookspec
def register_models(register: Register) -> None:
    """Register pretrained model artifacts shipped by a plugin (`ModelPlugin`: `name`, `path`).
    They are listed beside the local registry's models and load by name."""


@hookspec
def register_commands(register: Register) -> None:
    """Register plugin-specific CLI commands: `register(command, group=None)` with a
    `click.Command`, shown as `sseft GROUP NAME` (group None: `sseft NAME`). The command's module
    must import cheaply; import heavy code inside the command's function."""
