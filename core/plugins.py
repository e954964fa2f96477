"""Plugin discovery and the per-kind registries (modality, dataset, head, model, fusion).

Plugins are loaded lazily, on the first lookup, each in its own try/except: a broken plugin is
recorded with its error and every other plugin still works. `SSEFT_STRICT_PLUGINS=1` makes a load
error fatal; `SSEFT_PLUGINS=a,b` loads only the named entry points.
"""

from __future__ import annotations

import difflib
import inspect
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
from .fusion.protocol import FusionPlugin
from .protocols import DatasetPlugin, HeadPlugin, ModalityPlugin, ModelPlugin

KINDS = {
    "modality": "register_modalities",
    "dataset": "register_datasets",
    "head": "register_heads",
    "model": "register_models",
    "fusion": "register_fusions",
}
# The contract of each kind is its Protocol (core/protocols.py); what a registered object must
# have is derived from it (see `contract`), never repeated here.
PROTOCOLS: dict[str, type] = {
    "modality": ModalityPlugin,
    "dataset": DatasetPlugin,
    "head": HeadPlugin,
    "model": ModelPlugin,
    "fusion": FusionPlugin,
}
COMMANDS_HOOK = "register_commands"
HOOKS = (*KINDS.values(), COMMANDS_HOOK)
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_DEFAULT_IMPL_OPTS = {
    "wrapper": False, "hookwrapper": False, "optionalhook": False, "tryfirst": False,
    "trylast": False, "specname": None,
}  # fmt: skip


def contract(protocol: type) -> tuple[list[str], list[str]]:
    """(required, optional) members of a plugin Protocol: methods and attributes declared without
    a value are required; attributes declared with a default value (`suffixes: tuple = ()`) are
    optional, the default standing in for a plugin that lacks them."""
    required: list[str] = []
    optional: list[str] = []
    for klass in reversed(protocol.__mro__):
        if klass is object or not getattr(klass, "_is_protocol", False):
            continue
        if klass.__name__ in ("Protocol", "Generic"):
            continue
        names = [*getattr(klass, "__annotations__", {}), *vars(klass)]
        for name in names:
            if name.startswith("_") or name in required or name in optional:
                continue
            value = vars(klass).get(name, inspect.Parameter.empty)
            if value is inspect.Parameter.empty or inspect.isfunction(value) or isinstance(value, property):
                required.append(name)
            else:
                optional.append(name)
    return required, optional


class _Pluggy(pluggy.PluginManager):
    """pluggy, also accepting a plain function named exactly like a hook (a plugin that forgot
    `@hookimpl`); a *marked* function with a misspelled name is refused by `check_pending`."""

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        opts = super().parse_hookimpl_opts(plugin, name)
        if opts is None and name in HOOKS and inspect.isroutine(getattr(plugin, name, None)):
            return dict(_DEFAULT_IMPL_OPTS)
        return opts


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
        self.pm = _Pluggy(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.registries: dict[str, dict[str, _Entry]] = {k: {} for k in KINDS}
        self.commands: dict[str, dict[str, _Entry]] = {}  # parent group ("" = top level) -> name -> command
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
        """Register one plugin object (module) with pluggy and run its hooks, each through pluggy
        restricted to this plugin (so what it registers, and any error, is attributed to it).
        Used for entry points and tests."""
        self.plugins.setdefault(info.name, info)
        try:
            self.pm.register(module, name=info.name)
            self.pm.check_pending()  # a @hookimpl whose name is no hook: an error naming it
        except pluggy.PluginValidationError as e:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._fail(info, PluginError(f"{e}; the hooks are {', '.join(HOOKS)} (core/hookspecs.py)"))
            return
        others = [p for p in self.pm.get_plugins() if p is not module]
        for hook in HOOKS:
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            if not caller.get_hookimpls():
                continue
            register = self._command_registrar(info) if hook == COMMANDS_HOOK else None
            kind = next((k for k, h in KINDS.items() if h == hook), None)
            try:
                caller(register=register or self._registrar(str(kind), info))
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

    def _command_registrar(self, info: PluginInfo):
        def register(command: Any, group: str | None = None) -> None:
            self.register_command(command, group, info)

        return register

    def register(self, kind: str, obj: Any, info: PluginInfo) -> None:
        required, _ = contract(PROTOCOLS[kind])
        missing = [a for a in required if not hasattr(obj, a)]
        if missing:
            raise ValueError(
                f"registered {kind} {obj!r} lacks {', '.join(missing)} (see {PROTOCOLS[kind].__name__} "
                "in sseft/core/protocols.py)"
            )
        name = obj.name
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            raise ValueError(
                f"{kind} name {name!r} is invalid: use lowercase letters, digits, '.', '_' or '-'"
            )
        self._add(self.registries[kind], kind, name, obj, info)

    def register_command(self, command: Any, group: str | None, info: PluginInfo) -> None:
        """A plugin's CLI command (a click.Command), under `sseft GROUP` (None: top level)."""
        name = getattr(command, "name", None)
        if not callable(getattr(command, "main", None)) or not isinstance(name, str):
            raise ValueError(f"register_commands: {command!r} is not a click command")
        self._add(self.commands.setdefault(group or "", {}), "command", name, command, info)

    @staticmethod
    def _add(table: dict[str, _Entry], kind: str, name: str, obj: Any, info: PluginInfo) -> None:
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

    def group_commands(self, group: str | None) -> dict[str, Any]:
        """The click commands plugins registered under `sseft GROUP` (None: top level)."""
        self.load()
        return {n: e.obj for n, e in sorted(self.commands.get(group or "", {}).items())}

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
    end = "" if hint else "."  # a hint ends with its question mark
    return f"unknown {kind} {name!r}{hint}{end}{avail} See `{where}` for what is installed."


def missing_plugin_message(kind: str, name: str, package: str | None = None) -> str:
    """Why the `kind` plugin `name` (recorded as provided by `package`) is not available here:
    installed but failed to load (with its error), or not installed. A phrase for error messages."""
    pm = get_manager().load()
    pkg = package.split()[0] if package else None
    broken = [i for i in pm.plugins.values() if i.error and (pkg is None or i.package.lower() == pkg.lower())]
    if broken:
        b = broken[0]
        return (
            f"the {kind} plugin {name!r} is installed (package {b.package}, plugin {b.name!r}) but failed "
            f"to load: {b.error}; fix or reinstall {b.package} (see `sseft plugins`)"
        )
    known = ", ".join(pm.names(kind)) or "none"
    get = (
        f"install the package {package!r} that provides it"
        if package
        else "install the package that provides it"
    )
    return f"the {kind} plugin {name!r} is not installed (installed: {known}); {get}, see `sseft plugins`"


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


def get_fusion(name: str) -> Any:
    return get_manager().get("fusion", name)
