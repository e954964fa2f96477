"""Which raw input feeds which modality, and rebuilding a trained model's extractors from the
fingerprints recorded in its ModalitySpecs.

Raw inputs are given by *kind* (``text``, ``audio``, ``video``, or any kind a plugin declares, e.g.
``eeg``). A modality plugin may declare ``input_kinds`` (a tuple in order of preference: speech reads
``audio`` and falls back to the ``video``'s audio track); plugins that do not are looked up in
`FALLBACK_INPUT_KINDS`, and otherwise read the kind named like the plugin itself.

An extractor is rebuilt from ``fingerprint["config"]``, which the extraction engine writes into every
fingerprint (nothing is guessed from other fields); user overrides (``--set text.model=DIR``) go on top; the rebuilt extractor's fingerprint must then equal the recorded one
(model paths may differ when the weights' sha256 agree).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ..config import apply_overrides, first_few, flatten, validate
from ..errors import ConfigError, ExtractionError, PluginError
from ..files import to_plain
from ..specs import ModalitySpec

if TYPE_CHECKING:
    from ..protocols import ModalityPlugin

# modality plugin name -> raw input kinds it reads, in order of preference.
FALLBACK_INPUT_KINDS: dict[str, tuple[str, ...]] = {
    "text": ("text",),
    "speech": ("audio", "video"),
    "face": ("video",),
}
# Keys that describe where files are, not what the extractor computes.
_PATH_KEYS = ("model", "weights")


def plugin_name(spec: ModalitySpec) -> str | None:
    """The modality plugin that extracted `spec`'s features (None: synthetic/precomputed features)."""
    return (spec.fingerprint or {}).get("modality")


def input_kinds(spec: ModalitySpec, plugin: ModalityPlugin | None = None) -> tuple[str, ...]:
    """Raw input kinds feeding `spec`, best first: the plugin's own `input_kinds`, else the fallback
    table, else the plugin's (or the modality's) name."""
    declared = getattr(plugin, "input_kinds", None)
    if declared:
        return tuple(declared)
    name = plugin_name(spec) or spec.name
    return FALLBACK_INPUT_KINDS.get(name, (name,))


def route_inputs(
    specs: Sequence[ModalitySpec], raw: Mapping[str, Any], plugins: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """raw inputs by kind (or by modality name) -> ({modality: raw}, {modality: kind used}, unused kinds).

    A key equal to a modality name feeds that modality directly (manifest columns `speech`, `face`).
    """
    plugins = plugins or {}
    given = {k: v for k, v in raw.items() if v is not None}
    routed: dict[str, Any] = {}
    used_kind: dict[str, str] = {}
    for s in specs:
        for kind in (s.name, *input_kinds(s, plugins.get(s.name))):
            if kind in given:
                routed[s.name], used_kind[s.name] = given[kind], kind
                break
    consumed = set(used_kind.values())
    unused = sorted(k for k in given if k not in consumed)
    return routed, used_kind, unused


# -- rebuilding extractors -------------------------------------------------------------------------
def extractor_config(
    plugin: ModalityPlugin, spec: ModalitySpec, overrides: Iterable[str] = (), where: str = "model"
) -> BaseModel:
    """The extractor config that reproduces `spec.fingerprint`, with `overrides` (`field=value`) applied."""
    fp = dict(spec.fingerprint or {})
    if not isinstance(fp.get("config"), dict):
        # The extraction engine records the config in every fingerprint it writes; without it the
        # extractor could only be guessed, and a guess may compute other features.
        raise ExtractionError(
            f"{where}: the fingerprint of modality {spec.name!r} records no extractor config (its features "
            "were made outside the extraction engine or by an older sseft); re-extract the store and retrain"
        )
    values = apply_overrides(dict(fp["config"]), overrides)
    return validate(plugin.config_model, values, source=f"{where}: extractor of modality {spec.name!r}")


def fingerprint_diff(recorded: Mapping[str, Any], rebuilt: Mapping[str, Any]) -> list[str]:
    """`key: recorded -> rebuilt` for every difference that changes the features.

    Ignored: the recorded `config` (settings and weights carry the identity), and file locations
    (`model`, `weights`) when both sides record the same weights sha256.
    """
    a = flatten({k: v for k, v in to_plain(dict(recorded), unknown=str).items() if k != "config"})
    b = flatten({k: v for k, v in to_plain(dict(rebuilt), unknown=str).items() if k != "config"})
    same_weights = bool(a.get("weights_sha256")) and a.get("weights_sha256") == b.get("weights_sha256")
    diffs = []
    for k in sorted(set(a) | set(b)):
        leaf = k.rsplit(".", 1)[-1]
        if same_weights and leaf in _PATH_KEYS:
            continue
        if a.get(k) != b.get(k):
            diffs.append(f"{k}: {a.get(k)!r} -> {b.get(k)!r}")
    return diffs


def _provide_hint(plugin: ModalityPlugin, spec: ModalitySpec) -> str:
    """`--set text.model=PATH`, or every weights field (`face.detector_weights`, `face.fabnet_weights`)."""
    fields = list(getattr(plugin.config_model, "model_fields", {}))
    chosen = ["model"] if "model" in fields else [f for f in fields if f.endswith("weights")] or ["FIELD"]
    return " / ".join(f"--set {spec.name}.{f}=PATH" for f in chosen)


def build_extractor(
    spec: ModalitySpec,
    overrides: Iterable[str] = (),
    device: str = "cpu",
    where: str = "model",
    verify: bool = True,
    fp_plugins: Mapping[str, str] | None = None,
) -> Any:
    """Rebuild the extractor recorded in `spec.fingerprint`; ExtractionError naming the encoder and
    how to provide it when it cannot be built here, or when the rebuilt one computes other features.
    `fp_plugins`: the artifact's {"modality:NAME": "package version"} record (for error messages)."""
    from ..plugins import get_manager

    name = plugin_name(spec)
    if name is None:
        src = (spec.fingerprint or {}).get("source", "precomputed")
        raise ExtractionError(
            f"{where}: modality {spec.name!r} was trained on {src} features (no extractor recorded), so raw "
            "inputs cannot be turned into its features; use model.predict_features(...) with such features"
        )
    pm = get_manager()
    if name not in pm.names("modality"):
        from ..plugins import missing_plugin_message  # installed-but-broken vs absent, with the package

        package = (fp_plugins or {}).get(f"modality:{name}")
        raise PluginError(
            f"{where}: modality {spec.name!r} needs {missing_plugin_message('modality', name, package)}"
        )
    plugin = pm.get("modality", name)
    overrides = list(overrides)
    cfg = extractor_config(plugin, spec, overrides, where)
    fp = spec.fingerprint or {}
    ident = fp.get("model", name)
    version = fp.get("revision") or (fp.get("weights_sha256") or "")[:12] or "?"
    precision = fp.get("mixed_precision")  # features extracted under autocast: predict the same way
    key = (name, cfg.model_dump_json(), f"{device}:{precision or 'no'}")
    try:
        ex = _SHARED[key] if key in _SHARED else plugin.build_extractor(cfg, device=device)
    except ExtractionError as e:
        raise ExtractionError(
            f"{where}: the {name} encoder {ident!r} ({version}) of modality {spec.name!r} is not available "
            f"here: {e}. Provide it locally and point at it with {_provide_hint(plugin, spec)}"
        ) from None
    if precision and key not in _SHARED:
        from ..extraction.batching import autocast_encoders

        autocast_encoders(ex, str(device), str(precision))
    if verify and fp:
        diffs = fingerprint_diff(fp, ex.fingerprint() | ({"mixed_precision": precision} if precision else {}))
        if diffs:
            raise ExtractionError(
                f"{where}: the rebuilt {name} extractor of modality {spec.name!r} differs from the one the "
                f"model was trained with ({first_few(diffs)}); use the same encoder and settings"
                + (f" (overrides given: {', '.join(overrides)})" if overrides else "")
            )
    if int(getattr(ex, "dim", spec.dim)) != spec.dim:
        raise ExtractionError(
            f"{where}: the {name} extractor gives {ex.dim}-d features but modality {spec.name!r} expects {spec.dim}"
        )
    _SHARED[key] = ex
    return ex


# Built extractors, shared by every Predictor of this process with the same plugin, config and device
# (two models on RoBERTa-large features hold one RoBERTa-large). `clear_extractor_cache()` frees them.
_SHARED: dict[tuple[str, str, str], Any] = {}


def clear_extractor_cache() -> None:
    """Drop the extractors shared between Predictors (frees their encoders' memory)."""
    _SHARED.clear()


def modality_overrides(sets: Iterable[str], modalities: Sequence[str]) -> dict[str, list[str]]:
    """`text.model=DIR` -> {"text": ["model=DIR"]}; ConfigError for an unknown modality."""
    per: dict[str, list[str]] = {m: [] for m in modalities}
    for s in sets:
        head, _, rest = s.partition(".")
        if head not in per or not rest or "=" not in rest:
            raise ConfigError(
                f"--set {s!r}: expected MODALITY.FIELD=VALUE with a modality of this model ({', '.join(modalities)})"
            )
        per[head].append(rest)
    return per
