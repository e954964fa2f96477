"""Model artifacts: a directory that rebuilds an SseftModel from config.json alone.

    <dir>/config.json        format_version, model (the ModelConfig), metrics, training, packages, created
    <dir>/model.safetensors  weights (safetensors.torch.save_model, metadata {"format": "pt"})
    <dir>/README.md          a short model card
    <dir>/checksums.json     sha256 of every other file

Nothing is unpickled: weights are safetensors, everything else JSON. The same directory loads
without sseft's registry code:

    cfg = json.load(open(d / "config.json"))["model"]
    model = sseft.core.model.build_model(cfg)
    safetensors.torch.load_model(model, d / "model.safetensors")

torch is imported inside the functions that need it, so `sseft models list` stays light.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import uuid
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from sseft.core.artifact_info import ArtifactInfo
from sseft.core.config import format_validation_error
from sseft.core.errors import IntegrityError, PluginError, RegistryError, os_errors
from sseft.core.files import to_plain

from .integrity import CHECKSUMS, CONFIG, FORMAT_VERSION, WEIGHTS, check_dir, fsync_tree, read_config
from .integrity import safetensors_header as _header

if TYPE_CHECKING:
    from sseft.core.model import ModelConfig, SseftModel

_PACKAGES = ("sseft", "torch", "safetensors", "pydantic", "numpy", "transformers")


# -- saving ---------------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for dist in _PACKAGES:
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[dist] = metadata.version(dist)
    return out


def _plugin_providers(cfg: ModelConfig) -> dict[str, str]:
    """Which installed package (and version) provided the head, the fusion and each named modality."""
    from sseft.core.plugins import get_manager

    pm = get_manager()
    out: dict[str, str] = {}
    wanted = [("head", cfg.head.name), ("fusion", cfg.fusion.name)] + [
        ("modality", m.fingerprint["modality"])
        for m in cfg.modalities
        if m.fingerprint and "modality" in m.fingerprint
    ]
    for kind, name in wanted:
        try:
            package = pm.provider(kind, name)
        except Exception:  # not installed through an entry point: record nothing
            continue
        version = ""
        with contextlib.suppress(metadata.PackageNotFoundError, ValueError):
            version = " " + metadata.version(package)
        out[f"{kind}:{name}"] = package + version
    return out


def _model_section(cfg: ModelConfig) -> dict[str, Any]:
    """The ModelConfig as JSON with the head config's defaults filled in, so that a later change of
    a head's defaults cannot silently change the model this artifact rebuilds."""
    data = cfg.model_dump(mode="json")
    from sseft.core.plugins import get_head

    with contextlib.suppress(Exception):  # unknown head: keep the config as given
        head_cfg = get_head(cfg.head.name).config_model.model_validate(cfg.head.config)
        data["head"]["config"] = head_cfg.model_dump(mode="json")
    return data


def artifact_config(
    model: SseftModel, metrics: dict[str, Any] | None, training: dict[str, Any] | None
) -> dict[str, Any]:
    """The config.json content for `model`."""
    cfg = model.config
    return {
        "format_version": FORMAT_VERSION,
        "model": _model_section(cfg),
        "metrics": to_plain(metrics or {}, unknown=repr),
        "training": to_plain(training or {}, unknown=repr),
        "packages": _versions(),
        "plugins": _plugin_providers(cfg),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def write_artifact_files(
    model: SseftModel,
    directory: Path,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> None:
    """Write the four artifact files into an existing, empty `directory` (no atomicity here)."""
    from safetensors.torch import save_model

    data = artifact_config(model, metrics, training)
    (directory / CONFIG).write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    save_model(model, str(directory / WEIGHTS), metadata={"format": "pt"})
    from .card import write_card  # the model card, from config.json and the weights (card.py)

    write_card(directory)
    from .integrity import write_checksums

    write_checksums(directory)


def save_artifact(
    model: SseftModel,
    directory: str | os.PathLike[str],
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    *,
    overwrite: bool = False,
) -> Path:
    """Save `model` as an artifact directory, atomically: written beside `directory`, then renamed.

    Refuses a non-empty existing `directory` unless `overwrite=True`.
    """
    if not hasattr(model, "config") or not hasattr(model.config, "model_dump"):
        raise RegistryError(
            f"cannot save {type(model).__name__}: expected an SseftModel (with a ModelConfig .config)"
        )
    target = Path(directory).expanduser().absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())) and not overwrite:
        raise RegistryError(
            f"{target}: already exists and is not empty; pass overwrite=True or choose a new directory"
        )
    tmp = target.parent / f".{target.name}.tmp-{uuid.uuid4().hex[:12]}"
    with os_errors(target, f"nothing was written to {target}"):
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
        try:
            write_artifact_files(model, tmp, metrics, training)
            fsync_tree(tmp)
            old = None
            if target.exists():  # move the old one aside first so the swap is two renames
                old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:12]}"
                target.rename(old)
            tmp.rename(target)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return target


# -- loading --------------------------------------------------------------------------------------
def _artifact_dir(path: str | os.PathLike[str]) -> Path:
    p = Path(path).expanduser()
    if p.is_file():
        if p.name in (CONFIG, WEIGHTS, CHECKSUMS) and (p.parent / CONFIG).is_file():
            return p.parent
        kind = "a single .safetensors file" if p.suffix == ".safetensors" else "a file"
        raise IntegrityError(
            f"{p}: is {kind}; sseft loads an artifact directory (config.json + model.safetensors + checksums.json), "
            "as written by sseft.save"
        )
    if not p.is_dir():
        raise RegistryError(f"{p}: no such artifact directory")
    return p


def check_plugins(cfg: ModelConfig, path: Path, recorded: dict[str, str] | None = None) -> None:
    """Raise PluginError naming the head/modality plugin a model needs but this install lacks, the
    package the artifact records for it, and whether it is absent or installed but broken."""
    from sseft.core.plugins import get_manager, missing_plugin_message

    pm = get_manager()
    recorded = recorded or {}
    if cfg.head.name not in pm.names("head"):
        why = missing_plugin_message("head", cfg.head.name, recorded.get(f"head:{cfg.head.name}"))
        raise PluginError(f"{path}: this model needs a head plugin: {why}")
    mods = pm.names("modality")
    for spec in cfg.modalities:
        plugin = (spec.fingerprint or {}).get("modality")
        if plugin is not None and plugin not in mods:
            why = missing_plugin_message("modality", plugin, recorded.get(f"modality:{plugin}"))
            raise PluginError(
                f"{path}: modality {spec.name!r} of this model was extracted by a plugin: {why}"
            )


def _some_keys(keys: list[str], n: int = 8) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def load_weights(model: Any, path: Path, device: str = "cpu") -> None:
    """Load safetensors weights into `model`; IntegrityError listing missing/unexpected keys or bad shapes."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    _header(path)  # truncated / garbled files get a clear message before safetensors sees them
    try:
        missing, unexpected = load_model(model, str(path), strict=False, device=device)
    except SafetensorError as e:
        raise IntegrityError(f"{path}: unreadable safetensors file ({e})") from None
    except RuntimeError as e:  # shape mismatches from load_state_dict
        detail = " ".join(line.strip() for line in str(e).splitlines()[1:4])
        raise IntegrityError(f"{path}: weights do not fit the model in config.json: {detail}") from None
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing keys: {_some_keys(list(missing))}")
        if unexpected:
            parts.append(f"unexpected keys: {_some_keys(list(unexpected))}")
        raise IntegrityError(
            f"{path}: weights do not match the model described by config.json; {'; '.join(parts)}"
        )


def load_artifact(path: str | os.PathLike[str], device: str = "cpu", *, verify: bool = True) -> SseftModel:
    """Rebuild the model of an artifact directory, load its weights, return it in eval mode.

    Checks checksums first (unless verify=False), then the config, the plugins it names, and
    the weights' keys and shapes. The result carries its metadata in `model.artifact_info`
    (core/artifact_info.py ArtifactInfo).
    """
    from sseft.core import model as core_model

    d = _artifact_dir(path)
    checksums = check_dir(d) if verify else {}
    data = read_config(d)
    try:
        cfg = core_model.ModelConfig.model_validate(data["model"])
    except ValidationError as e:
        raise IntegrityError(format_validation_error(e, f"{d / CONFIG} (model section)")) from None
    check_plugins(cfg, d, data.get("plugins") if isinstance(data.get("plugins"), dict) else None)
    try:
        model = core_model.build_model(cfg)
    except ValidationError as e:  # the head's own config model rejected config.head.config
        raise IntegrityError(format_validation_error(e, f"{d / CONFIG} (head config)")) from None
    model.to(device)
    load_weights(model, d / WEIGHTS, device=device)
    model.eval()
    model.artifact_info = ArtifactInfo(
        path=d.absolute(),
        format_version=data["format_version"],
        created=str(data.get("created", "")),
        metrics=dict(data.get("metrics") or {}),
        training=dict(data.get("training") or {}),
        packages=dict(data.get("packages") or {}),
        plugins=dict(data.get("plugins") or {}),
        checksums=checksums,
        label_names=list(cfg.label_names),
        task=cfg.task,
    )
    return model
