"""Config plumbing: strict pydantic models, YAML/JSON loading, `--set a.b=c` overrides.

Every validation error is reported at once, each with its location, in one line.
"""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import ConfigError
from .files import atomic_write_text, to_plain

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every config model: unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.SafeLoader that refuses a mapping with the same key twice (PyYAML keeps the last one
    silently, so `epochs: 5 ... epochs: 50` would train 50 epochs without a word)."""


def _unique_mapping(loader: UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: keys it brings may be overridden
            continue
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (lines {seen[key]} and {line})", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as one level of dotted keys (`{"a": {"b": 1}}` -> `{"a.b": 1}`, the spelling
    `--set` takes); anything else is `{prefix: data}`."""
    if not isinstance(data, Mapping):
        return {prefix: data}
    out: dict[str, Any] = {}
    for k, v in data.items():
        out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def first_few(lines: Sequence[str], n: int = 3) -> str:
    """The first `n` of `lines` joined with "; ", and how many more there are."""
    return "; ".join(lines[:n]) + (f" (+{len(lines) - n} more)" if len(lines) > n else "")


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yaml/.yml) or JSON file that must hold a mapping; a missing `configs/NAME.yaml`
    is the shipped config of that name (core/shipped.py)."""
    from .shipped import shipped_config, shipped_hint

    p = Path(path)
    source = p if p.is_file() else shipped_config(p)
    if source is None:
        raise ConfigError(
            f"{p}: config file not found; pass the path of a .yaml or .json file{shipped_hint()}"
        )
    text = source.read_text(encoding="utf-8")
    try:
        if p.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_json_keys)
        else:
            data = yaml.load(text, UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except yaml.constructor.ConstructorError as e:
        if e.problem and e.problem.startswith("duplicate key"):
            raise ConfigError(f"{p}: {e.problem}; keep one of them") from None
        raise ConfigError(f"{p}: not valid YAML: {e}") from None
    except DuplicateKeyError as e:
        raise ConfigError(f"{p}: duplicate key {e.args[0]!r}; keep one of them") from None
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{p}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: {e}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of fields, got {type(data).__name__}")
    return data


class DuplicateKeyError(ValueError):
    """A JSON object with the same key twice (json keeps the last one silently)."""


def _unique_json_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(k)
        out[k] = v
    return out


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply `path.to.field=value` overrides; values are parsed as YAML scalars/flow collections.

    A path component that is an integer indexes into a list (`modalities.0.name=text`).
    """
    out = json.loads(json.dumps(data))  # deep copy of plain data
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected path.to.field=value")
        key, raw = item.split("=", 1)
        parts = [k for k in key.strip().split(".") if k]
        if not parts:
            raise ConfigError(f"--set {item!r}: empty field path")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            if raw.strip()[:1] in ("[", "{", '"', "'"):  # meant as YAML (a list, a mapping, quoted)
                problem = getattr(e, "problem", None) or str(e).splitlines()[0]
                raise ConfigError(
                    f"--set {item!r}: the value {raw!r} is not valid YAML ({problem}); "
                    "close the brackets/quotes, or quote the whole value for a plain string"
                ) from None
            value = raw
        node: Any = out
        for i, part in enumerate(parts[:-1]):
            node = _child(node, part, parts[: i + 1], item, create=True)
        last = parts[-1]
        if isinstance(node, list):
            node[_index(node, last, item)] = value
        else:
            node[last] = value
    return out


def _index(node: list[Any], part: str, item: str) -> int:
    try:
        idx = int(part)
        node[idx]  # noqa: B018 - bounds check
        return idx
    except (ValueError, IndexError):
        raise ConfigError(
            f"--set {item!r}: {part!r} is not a valid index into a list of {len(node)}"
        ) from None


def _child(node: Any, part: str, path: list[str], item: str, create: bool) -> Any:
    if isinstance(node, list):
        return node[_index(node, part, item)]
    if not isinstance(node, dict):
        raise ConfigError(f"--set {item!r}: {'.'.join(path[:-1])} is not a mapping")
    if part not in node or node[part] is None:
        node[part] = {}
    return node[part]


def _model_classes(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation can hold (through Optional, unions, lists and dicts)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for a in typing.get_args(annotation) for m in _model_classes(a)]


def fields_at(model: type[BaseModel] | None, loc: Sequence[Any]) -> list[str] | None:
    """Field names allowed at `loc` (the location of a field's parent) inside `model`, or None when
    the location does not lead to one pydantic model (a dict of free keys, an unknown union arm)."""
    if model is None:
        return None
    current: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):  # a list index: same models
            continue
        by_name = [m for m in current if m.__name__ == part]  # a union arm pydantic names by class
        if by_name:
            current = by_name
            continue
        nxt = [
            m2
            for m in current
            if part in m.model_fields
            for m2 in _model_classes(m.model_fields[part].annotation)
        ]
        if not nxt:  # a free dict key (e.g. a modality name): the value's models stay
            if any(part in m.model_fields for m in current):
                return None
            continue
        current = nxt
    if len(current) != 1:
        return None
    return list(current[0].model_fields)


def _unknown_field_message(field: str, allowed: list[str] | None) -> str:
    if not allowed:
        return "unknown field (check the spelling; `sseft plugins show NAME` lists a plugin's fields)"
    close = difflib.get_close_matches(field, allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown field; did you mean {close[0]!r}?"
    shown = ", ".join(allowed[:15]) + (", ..." if len(allowed) > 15 else "")
    return f"unknown field (allowed here: {shown})"


def _override_paths(overrides: Iterable[str]) -> dict[tuple[str, ...], str]:
    out = {}
    for item in overrides:
        key = item.split("=", 1)[0]
        out[tuple(k for k in key.strip().split(".") if k)] = item
    return out


def format_validation_error(
    err: ValidationError,
    source: str = "config",
    model: type[BaseModel] | None = None,
    overrides: Iterable[str] = (),
) -> str:
    """All errors of a pydantic ValidationError, each with its location, on one line.

    With `model`, an unknown field gets a did-you-mean from the fields allowed where it stands;
    with `overrides` (the `--set` items), an error at an overridden path names the override.
    """
    by_path = _override_paths(overrides)
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = _unknown_field_message(str(e["loc"][-1]), fields_at(model, e["loc"][:-1]))
        path = tuple(str(x) for x in e["loc"])
        blamed = next((item for p, item in by_path.items() if path[: len(p)] == p), None)
        if blamed is not None:
            msg += f" (from --set {blamed!r})"
        parts.append(f"{loc}: {msg}")
    n = len(parts)
    return f"{source}: {n} invalid field{'s' if n != 1 else ''}: " + "; ".join(parts)


def validate(
    model: type[M], data: Mapping[str, Any], source: str = "config", overrides: Iterable[str] = ()
) -> M:
    """Validate plain data into `model`, turning every error into one ConfigError line (with a
    did-you-mean for unknown fields, and naming the `--set` override an error comes from)."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as e:
        raise ConfigError(format_validation_error(e, source, model, overrides)) from None


def load_config(model: type[M], path: str | Path | None = None, overrides: Iterable[str] = ()) -> M:
    """Read `path` (YAML/JSON, optional), apply overrides, validate into `model`."""
    overrides = list(overrides)
    data = read_mapping(path) if path is not None else {}
    data = apply_overrides(data, overrides)
    return validate(model, data, source=str(path) if path is not None else "config", overrides=overrides)


def write_resolved(cfg: BaseModel, path: str | Path) -> Path:
    """Write the resolved config (every default filled in) as YAML next to a run's outputs."""
    return atomic_write_text(path, yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))


def _type_name(annotation: Any) -> str:
    """A short, readable type: `int`, `str | None`, `fabnet|fer`, `list[str]`."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:  # constraints (ge=0 ...) are in the description, if anywhere
        return _type_name(args[0])
    if origin is typing.Literal:
        return "|".join(str(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None and args:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(_type_name(a) for a in args)}]"
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation).replace("typing.", ""))


def describe_fields(model: type[BaseModel], prefix: str = "") -> list[dict[str, str]]:
    """Every field of a config model as {field, type, default, description}; fields that hold
    one nested model are expanded as `parent.child` (what `--set` takes)."""
    from pydantic_core import PydanticUndefined

    rows: list[dict[str, str]] = []
    for name, f in model.model_fields.items():
        nested = _model_classes(f.annotation)
        if f.annotation is not None and len(nested) == 1 and nested[0] is f.annotation:
            rows += describe_fields(nested[0], f"{prefix}{name}.")
            continue
        if f.default is not PydanticUndefined:
            default = json.dumps(to_plain(f.default, unknown=str))
        elif f.default_factory is not None:
            default = json.dumps(to_plain(f.default_factory(), unknown=str))  # type: ignore[call-arg]
        else:
            default = "(required)"
        rows.append(
            {
                "field": prefix + name,
                "type": _type_name(f.annotation),
                "default": default,
                "description": " ".join((f.description or "").split()),
            }
        )
    return rows
