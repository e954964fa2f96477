"""Build the fusion module an experiment or artifact names: plugin lookup, declared support, contract."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError, PluginError
from ..specs import FusionConfig, ModalitySpec
from .base import FusionModule


def build_fusion(
    specs: Sequence[ModalitySpec], cfg: FusionConfig | dict[str, Any] | None = None
) -> FusionModule:
    """The `FusionModule` of fusion `cfg.name` (default SSE-FT) over these modalities."""
    from ..plugins import get_manager

    cfg = FusionConfig.model_validate(cfg if cfg is not None else {})
    plugin = get_manager().get("fusion", cfg.name)
    check_support(plugin, len(list(specs)))
    module = plugin.build(list(specs), plugin.config_model.model_validate(cfg.options()))
    if not isinstance(module, FusionModule):
        raise PluginError(
            f"fusion {cfg.name!r} built a {type(module).__name__}, not a FusionModule "
            "(sseft.core.fusion.base): subclass it and implement fuse()"
        )
    if type(module).forward is not FusionModule.forward:
        raise PluginError(
            f"fusion {cfg.name!r} ({type(module).__name__}) overrides forward(); implement fuse() instead, "
            "so the shared input path (standardise, project, mask) runs first"
        )
    module.fusion_name = cfg.name
    module.handles_missing = bool(getattr(plugin, "handles_missing", True))
    return module


def check_support(plugin: Any, n: int) -> None:
    """One-line ConfigError when the fusion does not take `n` modalities."""
    low = int(getattr(plugin, "min_modalities", 1) or 1)
    high = getattr(plugin, "max_modalities", None)
    if n < low or (high is not None and n > int(high)):
        span = f"{low} or more" if high is None else f"{low} to {high}"
        raise ConfigError(
            f"fusion {plugin.name!r} takes {span} modalities, got {n}; choose another fusion or modalities"
        )
