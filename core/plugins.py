"""Plugin discovery and the per-kind registries (modality, dataset, head, model).

Plugins are loaded lazily, on the first lookup, each in its own try/except: a broken plugin is
recorded with its error and every other plugin still works. `SSEFT_STRICT_PLUGINS=1` makes a load
error fatal; `SSEFT_PLUGINS=a,b` loads only the named entry points.
"""

from __future__ import annotations

import difflib
import os
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .errors import PluginError, UnknownNameError

KINDS = {
    "modality": "register_modalities",
    "dataset": "register_datasets",
    "head": "register_heads",
    "model": "register_models",
}
# What a registered object must have, per kind (checked at registration).
REQUIRED_ATTRS = {
    "modality": ("name", "dim", "provides_cls", "max_len", "config_model", "build_extractor"),
    "dataset": ("name", "config_model", "task", "items"),
    "head": ("name", "task", "config_model", "build"),
    "model": ("name", "path"),
}
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@dataclass
class PluginInfo:
    """What `sseft plugins` shows for one entry point."""

    name: str
    package: str
    version: str
    module: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class _Entry:
    obj: Any
    plugin: str
    package: str


class PluginManager:
    """Loads entry points of the `sseft` group and holds what they register."""

    def __init__(self, group: str = hookspecs.PROJECT) -> None:
        self.group = group
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.registries: dict[str, dict[str, _Entry]] = {k: {} for k in KINDS}
        self._loaded = False

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> PluginManager:
        if self._loaded:
            return self
        self._loaded = True
        only = _env_list("SSEFT_PLUGINS")
        for ep in sorted(metadata.entry_points(group=self.group), key=lambda e: e.name):
            if only is not None and ep.name not in only:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                package=dist.metadata["Name"] if dist is not None else "?",
                version=dist.version if dist is not None else "?",
                module=ep.value,
            )
            self.plugins[ep.name] = info
            try:
                self.add_plugin(ep.load(), info)
            except PluginError:
                raise
            except Exception as e:  # one broken plugin must not break the others
                self._fail(info, e)
        return self

    def add_plugin(self, module: Any, info: PluginInfo) -> None:
        """Register one plugin object (module) and run its hooks. Used for entry points and tests."""
        self.plugins.setdefault(info.name, info)
        self.pm.register(module, name=info.name)
        for kind, hook in KINDS.items():
            impl = getattr(module, hook, None)
            if impl is None:
                continue
            try:
                impl(register=self._registrar(kind, info))
            except PluginError:
                raise
            except Exception as e:
                self._fail(info, e)
                return

    def _fail(self, info: PluginInfo, exc: BaseException) -> None:
        # Point at the plugin's own file and line, not at importlib's machinery.
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith("<")]
        where = f" ({frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno})" if frames else ""
        info.error = f"{type(exc).__name__}: {exc}{where}"
        if os.environ.get("SSEFT_STRICT_PLUGINS", "") not in ("", "0"):
            raise PluginError(
                f"plugin {info.name!r} from package {info.package} failed to load: {info.error} "
                "(SSEFT_STRICT_PLUGINS is set; unset it to skip broken plugins)"
            ) from exc

    def _registrar(self, kind: str, info: PluginInfo):
        def register(obj: Any) -> None:
            self.register(kind, obj, info)

        return register

    def register(self, kind: str, obj: Any, info: PluginInfo) -> None:
        missing = [a for a in REQUIRED_ATTRS[kind] if not hasattr(obj, a)]
        if missing:
            raise ValueError(f"registered {kind} {obj!r} lacks {', '.join(missing)}")
        name = obj.name
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise ValueError(
                f"{kind} name {name!r} is invalid: use lowercase letters, digits, '.', '_' or '-'"
            )
        table = self.registries[kind]
        old = table.get(name)
        if old is not None:
            if old.obj is obj:  # the same object twice (e.g. a plugin loaded under two names): no-op
                return
            raise PluginError(
                f"{kind} name {name!r} is registered twice: by plugin {old.plugin!r} (package {old.package}) "
                f"and by plugin {info.name!r} (package {info.package}); uninstall one or restrict loading "
                "with SSEFT_PLUGINS"
            )
        table[name] = _Entry(obj, info.name, info.package)
        info.registers.setdefault(kind, []).append(name)

    # -- lookups ---------------------------------------------------------------------------
    def get(self, kind: str, name: str) -> Any:
        self.load()
        table = self.registries[kind]
        if name in table:
            return table[name].obj
        raise UnknownNameError(unknown_name_message(kind, name, list(table)))

    def names(self, kind: str) -> list[str]:
        self.load()
        return sorted(self.registries[kind])

    def items(self, kind: str) -> Iterator[tuple[str, Any]]:
        self.load()
        for name in sorted(self.registries[kind]):
            yield name, self.registries[kind][name].obj

    def provider(self, kind: str, name: str) -> str:
        """The package that registered `name` (for error messages and model configs)."""
        self.load()
        return self.registries[kind][name].package


def unknown_name_message(kind: str, name: str, known: list[str]) -> str:
    """`unknown head 'regresion'; did you mean 'regression'? ...` with the closest matches."""
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    where = "sseft models list" if kind == "model" else "sseft plugins"
    avail = f" Known: {', '.join(sorted(known))}." if known and len(known) <= 12 else ""
    return f"unknown {kind} {name!r}{hint}{avail} See `{where}` for what is installed."


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return None
    return {x.strip() for x in raw.split(",") if x.strip()}


_MANAGER: PluginManager | None = None


def get_manager() -> PluginManager:
    """The process-wide plugin manager (loaded on first lookup)."""
    global _MANAGER
    if _MANAGER is None:
        _MANAGER = PluginManager()
    return _MANAGER


def reset_manager() -> None:
    """Forget loaded plugins (tests; after installing a plugin package at run time)."""
    global _MANAGER
    _MANAGER = None


def get_modality(name: str) -> Any:
    return get_manager().get("modality", name)


def get_dataset(name: str) -> Any:
    return get_manager().get("dataset", name)


def get_head(name: str) -> Any:
    return get_manager().get("head", name)
