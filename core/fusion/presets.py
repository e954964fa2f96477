"""The ablations of the paper's Table 8 as named presets, generic over the declared modalities.

For modalities [a, b, c] (declared order):

    "a-only", "b-only", "c-only"   unimodal: the modality's step-1 CLS
    "a+b", "a+c", "b+c"            dual-modal: the two cross tokens CLS_{a->b}, CLS_{b->a}
    "no-ima"                       all modalities, step-1 CLS tokens concatenated (pre-IMA ablation)
    "concat"                       all modalities, the N(N-1) cross tokens concatenated (post-IMA ablation)
    "full"                         the complete model (Hadamard product per query modality)

A preset is a `Preset(modalities, fusion)` named tuple: (modality subset, fusion-config overrides).
"full" comes first; with one modality only "<m>-only" and "full" exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any, NamedTuple

from ..errors import ConfigError, UnknownNameError
from ..specs import FusionConfig, ModalitySpec


class Preset(NamedTuple):
    """One Table 8 row: which modalities (declared order) and which FusionConfig fields to override."""

    modalities: list[str]
    fusion: dict[str, Any]

    def model_dump(self) -> dict[str, Any]:
        """Plain-data form {"modalities": [...], "fusion": {...}} (as pydantic models dump)."""
        return {"modalities": list(self.modalities), "fusion": dict(self.fusion)}


def table8_presets(names: Sequence[str]) -> dict[str, Preset]:
    """Every Table 8 row for these modality names: {preset name: (modality subset, fusion overrides)}."""
    names = list(names)
    if not names:
        raise ConfigError("presets: at least one modality name is needed")
    presets = {"full": Preset(names, {})}
    presets.update({f"{m}-only": Preset([m], {}) for m in names})
    if len(names) > 2:  # with two modalities the pair is the full model
        presets.update({f"{a}+{b}": Preset([a, b], {}) for a, b in combinations(names, 2)})
    if len(names) > 1:  # with one modality there is no IMA to ablate
        presets["no-ima"] = Preset(names, {"ima": False})
        presets["concat"] = Preset(names, {"reduce": "concat"})
    return presets


def apply_preset(
    specs: Sequence[ModalitySpec], cfg: FusionConfig, name: str
) -> tuple[list[ModalitySpec], FusionConfig]:
    """The specs (subset, declared order kept) and fusion config of the preset `name`."""
    from ..plugins import unknown_name_message

    presets = table8_presets([s.name for s in specs])
    if name not in presets:
        raise UnknownNameError(unknown_name_message("fusion preset", name, list(presets)))
    subset, overrides = presets[name]
    chosen = [s for s in specs if s.name in subset]
    return chosen, cfg.model_copy(update=overrides)
