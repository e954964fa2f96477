"""The `fusion:` section of a config: which fusion plugin, and its options checked by the plugin.

No torch here: configs validate without building a model. `core/specs.py`'s `FusionConfig` calls
`resolve_options`; the plugin's own config model (`extra="forbid"`) checks every option.
"""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import Field, ValidationError
from pydantic_core import PydanticCustomError

from ..config import StrictModel

DEFAULT_FUSION = "sseft"


class PoolingConfig(StrictModel):
    """Options of the pooled baselines (concat-pool has no weights: `init_std` is late-fusion's)."""

    dropout: float = Field(default=0.1, ge=0.0, lt=1.0, description="dropout on the fused vector")
    init_std: float = Field(default=0.02, gt=0.0, description="N(0, std) init of late-fusion's Linears")


def fusion_plugin(name: str) -> Any:
    """The registered fusion plugin `name`; a validation error at `name` (with close names) otherwise."""
    from ..errors import UnknownNameError
    from ..plugins import get_manager

    try:
        return get_manager().get("fusion", name)
    except UnknownNameError as e:
        msg = str(e.args[0] if e.args else e)
        raise ValidationError.from_exception_data(
            "FusionConfig",
            [{"type": PydanticCustomError("unknown_fusion", msg), "loc": ("name",), "input": name}],
        ) from None


def resolve_options(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(name, complete options) of a `fusion:` mapping. A mapping without `name` is SSE-FT's; the old
    spelling `kind: X` reads as `name: X`, keeping only the options fusion X has (the old pooled
    baselines ignored SSE-FT's options). Errors keep their location (`fusion.n_self: ...`)."""
    kind = data.pop("kind", None)
    if kind is not None and "name" in data:
        raise ValueError(
            f"`kind: {kind}` is the old spelling of `name` (also given: `name: {data['name']}`); give one, "
            f"e.g. `fusion: {{name: {kind}}}`"
        )
    legacy = kind is not None
    name = str(kind if legacy else data.pop("name", DEFAULT_FUSION))
    plugin = fusion_plugin(name)
    model = plugin.config_model
    if legacy:
        data = {k: v for k, v in data.items() if k in model.model_fields}
    try:
        cfg = model.model_validate(data)
    except ValidationError as e:
        raise _with_option_names(e, name, list(model.model_fields)) from None
    return name, cfg.model_dump(mode="json")


def _with_option_names(err: ValidationError, name: str, options: list[str]) -> ValidationError:
    """The plugin config's errors, an unknown option saying which one was meant (or which exist)."""
    details: list[Any] = []
    for e in err.errors():
        if e["type"] == "extra_forbidden" and len(e["loc"]) == 1:
            close = difflib.get_close_matches(str(e["loc"][0]), options, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else f"fusion {name!r} has {', '.join(options)}"
            details.append(
                {"type": PydanticCustomError("unknown_option", f"unknown field; {hint}"), "loc": e["loc"],
                 "input": e["input"]}
            )  # fmt: skip
        else:
            details.append({k: e[k] for k in ("type", "loc", "input", "ctx") if k in e})
    return ValidationError.from_exception_data("FusionConfig", details)
