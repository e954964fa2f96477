"""Model names and references (`name`, `name@3`, `name@prod`, `name@latest`), validated as strings.

Everything here is pure string work: a reference is checked against a strict pattern BEFORE the
registry touches the filesystem, so `../x`, `/etc`, `a/b`, empty names and odd characters never
reach a path join. Names are lowercase so that registries on case-insensitive filesystems
(macOS, Windows) cannot hold two models that map to one directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sseft.core.errors import RegistryError

# Always used with fullmatch: `re.match` + `$` would accept a trailing newline ("evil\n").
# One path component: starts with a letter or digit, then letters, digits, '.', '_' or '-'.
NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# Aliases start with a letter so that they can never be mistaken for a version number.
ALIAS_RE = re.compile(r"[a-z][a-z0-9._-]{0,31}")
VERSION_RE = re.compile(r"[1-9][0-9]{0,8}")
LATEST = "latest"

_NAME_HELP = (
    "use 1-64 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit (e.g. meld-text)"
)
_ALIAS_HELP = "use 1-32 lowercase letters, digits, '.', '_' or '-', starting with a letter (e.g. prod)"


@dataclass(frozen=True)
class ModelRef:
    """A parsed reference: `version` set for `name@3`, `alias` set for `name@prod`, neither for latest."""

    name: str
    version: int | None = None
    alias: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.version is None and self.alias is None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}@{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name


def validate_name(name: Any) -> str:
    """Return `name` if it is a valid model name, else raise RegistryError saying why."""
    if not isinstance(name, str) or not name:
        raise RegistryError(f"invalid model name {name!r}: the name is empty; {_NAME_HELP}")
    if not NAME_RE.fullmatch(name) or ".." in name:
        raise RegistryError(f"invalid model name {name!r}: {_NAME_HELP}")
    return name


def name_of_folder(directory: str | os.PathLike[str]) -> str:
    """The model name a folder is imported under when none is given: its own name, lowercased."""
    candidate = Path(directory).resolve().name.lower()
    try:
        return validate_name(candidate)
    except RegistryError:
        raise RegistryError(
            f"{directory}: {candidate!r} is not a valid model name; pass NAME explicitly"
        ) from None


def validate_alias(alias: Any) -> str:
    """Return `alias` if it is a valid, non-reserved alias, else raise RegistryError."""
    if not isinstance(alias, str) or not ALIAS_RE.fullmatch(alias) or ".." in alias:
        raise RegistryError(f"invalid alias {alias!r}: {_ALIAS_HELP}")
    if alias == LATEST:
        raise RegistryError(f"alias {LATEST!r} is reserved: it always means the newest version")
    return alias


def parse_ref(ref: Any) -> ModelRef:
    """Parse `name`, `name@N`, `name@latest` or `name@alias`; raise RegistryError on anything else."""
    if not isinstance(ref, str):
        raise RegistryError(
            f"invalid model reference {ref!r}: expected a string like 'name', 'name@3' or 'name@prod'"
        )
    name, sep, sel = ref.partition("@")
    validate_name(name)
    if not sep:
        return ModelRef(name)
    if sel == LATEST:
        return ModelRef(name)
    if VERSION_RE.fullmatch(sel):
        return ModelRef(name, version=int(sel))
    if ALIAS_RE.fullmatch(sel) and ".." not in sel:
        return ModelRef(name, alias=sel)
    raise RegistryError(
        f"invalid model reference {ref!r}: after '@' put a version number (name@3), 'latest' or an alias (name@prod)"
    )


def looks_like_path(ref: Any) -> bool:
    """True when `ref` should be read as a directory path rather than a registry reference.

    Path objects always are; strings are when they contain a path separator or start with '.' or
    '~' and hold no '@' (a string with '@' is always a reference, so `a@../x` is rejected, not opened).
    """
    if isinstance(ref, os.PathLike):
        return True
    if not isinstance(ref, str) or "@" in ref:
        return False
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return any(s in ref for s in seps) or ref.startswith((".", "~"))
