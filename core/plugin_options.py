"""The config options each plugin takes (`sseft plugins show NAME`): one block per kind the name
is registered as, with its fields described from the plugin's pydantic `config_model`."""

from __future__ import annotations

from typing import Any

from .config import describe_fields
from .errors import UnknownNameError
from .plugins import PluginManager, unknown_name_message

KINDS = ("modality", "dataset", "head", "fusion")

# How a user sets a plugin's options, per kind ({name} is the plugin's name).
SET_WITH = {
    "modality": "sseft extract ... --set {name}.FIELD=VALUE",
    "dataset": "sseft extract/data ... --set FIELD=VALUE",
    "head": "head: {{name: {name}, config: {{FIELD: VALUE}}}} in an experiment config",
    "fusion": "fusion: {{name: {name}, FIELD: VALUE}} in an experiment config",
}


def plugin_options(pm: PluginManager, name: str, kind: str | None = None) -> list[dict[str, Any]]:
    """{kind, name, package, fields} for each kind (only `kind`, when given) `name` is registered
    as; an unknown name raises UnknownNameError listing the known ones."""
    kinds = [kind] if kind else list(KINDS)
    found = [k for k in kinds if name in pm.names(k)]
    if not found:
        known = sorted({n for k in kinds for n in pm.names(k)})
        raise UnknownNameError(unknown_name_message("plugin", name, known))
    blocks: list[dict[str, Any]] = []
    for k in found:
        model = getattr(pm.get(k, name), "config_model", None)
        fields = describe_fields(model) if model is not None else []
        blocks.append({"kind": k, "name": name, "package": pm.provider(k, name), "fields": fields})
    return blocks
