"""The Python API, re-exported lazily as `sseft.load`, `sseft.list_models`, `sseft.save`, `sseft.publish`.

model = sseft.load("meld-text")            # newest version; also "meld-text@3", "meld-text@prod"
model = sseft.load("runs/exp1/model")      # an artifact directory (anything with a path separator)
sseft.save(model, "out/model", metrics={"weighted_f1": 0.61})
ref = sseft.publish("out/model", "meld-text")   # -> "meld-text@4"
[e.ref for e in sseft.list_models("meld-*")]
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sseft.core.errors import UnknownNameError

from .artifact import ArtifactInfo, load_artifact, save_artifact, write_artifact_files
from .integrity import verify_dir
from .names import looks_like_path, parse_ref
from .store import ModelEntry, Registry

if TYPE_CHECKING:
    from sseft.core.model import SseftModel

__all__ = ["ArtifactInfo", "ModelEntry", "Registry", "list_models", "load", "publish", "save", "verify"]


def load(ref: str | os.PathLike[str], device: str = "cpu", *, verify: bool = True) -> SseftModel:
    """A ready model in eval mode from a registry reference or an artifact directory.

    Strings with '@' or without a path separator are registry references, validated before the
    filesystem is touched; Path objects and strings like './dir' or 'runs/x' are directories.
    `model.config`, `model.head`, `model.label_names` and `model.artifact_info` describe it.
    `hf:ORG/REPO[@REVISION]` loads a Hugging Face repository through huggingface_hub (hub.py); a
    folder written by `sseft models export --format onnx` gives an onnxruntime-backed model with
    the same `predict` (sseft.core.export).
    """
    from .hub import is_hf_ref, load_hf

    if is_hf_ref(ref):
        return load_hf(str(ref), device, verify=verify)  # type: ignore[no-any-return]
    if looks_like_path(ref):
        from sseft.core.export.meta import is_onnx_export

        if is_onnx_export(ref):
            from sseft.core.export.runtime import load_onnx

            return load_onnx(ref, device, verify=verify)  # type: ignore[return-value]
        return load_artifact(ref, device, verify=verify)
    r = parse_ref(ref)
    try:
        entry = Registry().resolve(r)
    except UnknownNameError as e:
        if Path(str(ref)).is_dir():  # `sseft.load("mymodel")` meant the directory beside us
            raise UnknownNameError(
                f"{e} A directory {ref!r} exists here: pass './{ref}' to load it."
            ) from None
        raise
    model = load_artifact(entry.path, device, verify=verify)
    if model.artifact_info is not None:  # always set by load_artifact
        model.artifact_info.name = entry.name
        model.artifact_info.version, model.artifact_info.source = entry.version, entry.source
    return model


def list_models(pattern: str = "*") -> list[ModelEntry]:
    """Local versions and plugin-shipped artifacts whose name matches `pattern` (fnmatch wildcards;
    with an '@' the pattern matches 'name@version')."""
    return Registry().list(pattern)


# `sseft.save(model, directory, metrics=None, training=None, *, overwrite=False)`: the artifact
# writer itself (registry/artifact.py), atomic, refusing a non-empty directory unless overwrite.
save = save_artifact


def publish(
    source: SseftModel | str | os.PathLike[str],
    name: str,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
) -> str:
    """Publish an artifact directory or a model as the next version of `name`; returns 'name@N'."""
    reg = Registry()
    if isinstance(source, (str, os.PathLike)):
        entry = reg.publish_dir(source, name)
    else:
        entry = reg.publish_with(lambda d: write_artifact_files(source, d, metrics, training), name)
    return entry.ref


def verify(ref: str | os.PathLike[str] = "*") -> dict[str, list[str]]:
    """{ref or path: problems} for an artifact directory, a reference, or every model matching a pattern."""
    if looks_like_path(ref):
        return {str(ref): verify_dir(ref)}
    if not any(c in str(ref) for c in "*?["):
        parse_ref(ref)
    return Registry().verify(str(ref))
